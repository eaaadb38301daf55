package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// child is an apiws the tool built and started: on a free loopback port,
// over a fresh PostgreSQL schema and Redis.
type child struct {
	base        string // http://127.0.0.1:port
	pprofAddr   string
	metricsAddr string // the server's APIWS_METRICS_ADDR
	binary      string
	pid         int
	logPath     string

	cmd    *exec.Cmd
	exited chan struct{}
	schema string
	pgURL  string
}

// childOptions configure startChild.
type childOptions struct {
	Binary      string // a prebuilt apiws; empty: go build it
	PostgresURL string
	RedisURL    string
	Dir         string // for the binary, the log and mail
	LogPath     string // the server's log; default in Dir
}

// startChild builds apiws (unless given), creates a fresh schema and runs
// the server until stop.
func startChild(ctx context.Context, o childOptions) (*child, error) {
	c := &child{pgURL: o.PostgresURL, exited: make(chan struct{}), binary: o.Binary}
	if c.binary == "" {
		c.binary = filepath.Join(o.Dir, "apiws")
		build := exec.CommandContext(ctx, "go", "build", "-o", c.binary, "github.com/apiws/apiws/cmd/apiws")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return nil, fmt.Errorf("go build apiws: %w", err)
		}
	}
	// A database of its own, not a schema: whatsmeow's device store looks
	// its tables up database-wide.
	var dbURL string
	var err error
	if c.schema, dbURL, err = createDatabase(ctx, o.PostgresURL, "apiws_bench_"); err != nil {
		return nil, err
	}
	pprofAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	c.pprofAddr = pprofAddr
	// /metrics on a listener of its own: on the main port it needs an
	// operator key.
	if c.metricsAddr, err = freeAddr(); err != nil {
		return nil, err
	}
	env := []string{
		"APIWS_ADDR=127.0.0.1:0",
		"APIWS_DATABASE_URL=" + dbURL,
		"APIWS_REDIS_URL=" + o.RedisURL,
		"APIWS_SECRET_KEY=" + randomHex(32),
		"APIWS_MAIL_DIR=" + filepath.Join(o.Dir, "mail"),
		"APIWS_SANDBOX_DELAY=0",
		"APIWS_PLAN_SENDS_PER_SECOND=1000000",
		"APIWS_PLAN_MONTHLY_MESSAGES=1000000000",
		"APIWS_RATE_LIMIT_PER_SECOND=0",
		// The fan-out's thousands of subscribers share one credential.
		"APIWS_MAX_SOCKETS=1000000",
		// The webhook scenario's receiver is on loopback.
		"APIWS_ALLOW_PRIVATE_URLS=true",
		"APIWS_PPROF_ADDR=" + pprofAddr,
		"APIWS_METRICS_ADDR=" + c.metricsAddr,
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "APIWS_") {
			env = append(env, kv)
		}
	}
	c.logPath = o.LogPath
	if c.logPath == "" {
		c.logPath = filepath.Join(o.Dir, "apiws.log")
	}
	logFile, err := os.Create(c.logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close()
	cmd := exec.Command(c.binary, "serve")
	cmd.Env, cmd.Stderr, cmd.Dir = env, logFile, o.Dir
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c.cmd, c.pid = cmd, cmd.Process.Pid
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "apiws listening on "); ok {
				addr <- a
			}
		}
	}()
	go func() {
		_ = cmd.Wait()
		close(c.exited)
	}()
	select {
	case c.base = <-addr:
	case <-c.exited:
		c.dropSchema()
		return nil, fmt.Errorf("apiws exited at start; see %s", c.logPath)
	case <-time.After(60 * time.Second):
		c.stop()
		return nil, errors.New("apiws did not start within 60s")
	case <-ctx.Done():
		c.stop()
		return nil, ctx.Err()
	}
	return c, nil
}

// stop shuts the server down (SIGTERM, then SIGKILL after 20 s) and drops
// its schema.
func (c *child) stop() {
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.exited:
	case <-time.After(20 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.exited
	}
	c.dropSchema()
}

func (c *child) dropSchema() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := dropDatabase(ctx, c.pgURL, c.schema); err != nil {
		fmt.Fprintf(os.Stderr, "apiws-bench: %v\n", err)
	}
}

// createDatabase creates a database named prefix and a random suffix on
// pgURL's server, and returns its name and URL.
func createDatabase(ctx context.Context, pgURL, prefix string) (name, url string, err error) {
	name = prefix + randomHex(6)
	if url, err = withPath(pgURL, name); err != nil {
		return "", "", err
	}
	if err := pgExec(ctx, pgURL, "CREATE DATABASE "+name); err != nil {
		return "", "", err
	}
	return name, url, nil
}

// dropDatabase drops the database name of pgURL's server, ending its
// sessions.
func dropDatabase(ctx context.Context, pgURL, name string) error {
	if err := pgExec(ctx, pgURL, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// pgExec runs statements on a connection of its own.
func pgExec(ctx context.Context, pgURL string, stmts ...string) error {
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("%.60s: %w", s, err)
		}
	}
	return nil
}

// withParam sets a query parameter of a URL.
// withPath returns the URL of another database on the same server.
func withPath(raw, database string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("bad URL %q: %w", raw, err)
	}
	u.Path = "/" + database
	return u.String(), nil
}

// freeAddr returns a loopback address nobody listens on right now.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
