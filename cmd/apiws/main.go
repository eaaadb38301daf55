// Command apiws runs the apiws server and its maintenance commands.
//
//	apiws [serve]                        run the server (default)
//	apiws migrate                        bring the database schema up to date
//	apiws operator-key create [--name N] [--expires TIME]
//	                                     make an operator key; prints the secret once
//	apiws operator-key list              one line per operator key
//	apiws operator-key revoke ID         revoke an operator key at once
//	apiws retention run [--as-of TIME]   one retention sweep, as if at TIME
//	apiws billing close [--period YYYY-MM] [--as-of TIME]
//	                                     issue the month's invoices (default: last month)
//	apiws version                        print the version
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/apiws/apiws/privacy"
	"github.com/apiws/apiws/storage"
)

var randReader io.Reader = rand.Reader

// version is set at build time with -ldflags "-X main.version=..."; the
// module's build info is used otherwise.
var version = ""

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "apiws:", err)
		os.Exit(1)
	}
}

// run is the whole program: tests call it with their own environment and
// outputs.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, err := loadConfig(getenv)
	if err != nil {
		return err
	}
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	switch cmd {
	case "serve":
		if err := cfg.parseFlags(args, stderr); err != nil {
			return err
		}
		return serve(ctx, cfg, log, stdout)
	case "migrate":
		db, err := storage.Open(ctx, cfg.DatabaseURL)
		if err != nil {
			return err
		}
		defer db.Close()
		names, err := db.Migrate(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "applied %d migrations\n", len(names))
		for _, n := range names {
			fmt.Fprintln(stdout, " ", n)
		}
		return nil
	case "retention":
		return retention(ctx, cfg, args, stdout, stderr)
	case "billing":
		return billingCommand(ctx, cfg, log, args, stdout, stderr)
	case "operator-key":
		return operatorKey(ctx, cfg, log, args, stdout, stderr)
	case "version":
		fmt.Fprintln(stdout, "apiws", versionString())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usageText)
		return nil
	}
	return fmt.Errorf("unknown command %q\n%s", cmd, usageText)
}

const usageText = `usage:
  apiws [serve] [--addr :8080] [--database-url URL] [--redis-url URL]
  apiws migrate
  apiws operator-key create [--name NAME] [--expires 2027-01-02T15:04:05Z]
  apiws operator-key list
  apiws operator-key revoke ID
  apiws retention run [--as-of 2026-01-02T15:04:05Z]
  apiws billing close [--period 2026-01] [--as-of 2026-02-01T00:05:00Z]
  apiws version
Configuration is read from APIWS_* environment variables; see README.md.
`

// retention runs one retention sweep, as if at --as-of (default now).
func retention(ctx context.Context, cfg *Config, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "run" {
		return errors.New("usage: apiws retention run [--as-of TIME]")
	}
	fs := flag.NewFlagSet("apiws retention run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asOf := fs.String("as-of", "", "sweep as if at this RFC 3339 time")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	at, err := asOfTime(*asOf, "2027-01-02T15:04:05Z")
	if err != nil {
		return err
	}
	db, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	r, err := privacy.Sweep(ctx, db, at)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "retention sweep as of %s: %s\n", at.Format(time.RFC3339), r)
	return nil
}

func versionString() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				return "dev-" + s.Value
			}
		}
		if bi.Main.Version != "" {
			return bi.Main.Version
		}
	}
	return "dev"
}

// openMigrated opens the configured database and brings its schema up to
// date, as every command that uses it needs.
func openMigrated(ctx context.Context, cfg *Config) (*storage.DB, error) {
	db, err := storage.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// asOfTime is the time an --as-of flag names (RFC 3339), or now when it
// is empty; example shows the form in the error.
func asOfTime(flag, example string) (time.Time, error) {
	if flag == "" {
		return time.Now().UTC(), nil
	}
	t, err := time.Parse(time.RFC3339Nano, flag)
	if err != nil {
		return time.Time{}, fmt.Errorf("--as-of must be RFC 3339, e.g. %s: %w", example, err)
	}
	return t.UTC(), nil
}
