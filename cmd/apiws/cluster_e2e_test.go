package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/documents"
	"github.com/apiws/apiws/usage"
)

// freeClusterPort returns a free port whose cluster bus port (port+10000)
// is free too.
func freeClusterPort(t *testing.T) string {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		if port+10000 > 65535 {
			ln.Close()
			continue
		}
		bus, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port+10000))
		ln.Close()
		if err != nil {
			continue
		}
		bus.Close()
		return strconv.Itoa(port)
	}
	t.Fatal("no free port pair for a cluster node")
	return ""
}

// redisCluster starts a Redis Cluster of three masters on free ports and
// returns its go-redis cluster URL; the nodes stop when the test ends. The
// test is skipped when redis-server is not installed.
func redisCluster(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server is not installed: the Redis Cluster test needs it")
	}
	dir := t.TempDir()
	var addrs []string
	for range 3 {
		port := freeClusterPort(t)
		cmd := exec.Command("redis-server", "--port", port, "--bind", "127.0.0.1", "--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, "nodes-"+port+".conf"), "--dir", dir,
			"--save", "", "--appendonly", "no")
		if err := cmd.Start(); err != nil {
			t.Fatalf("start redis-server: %v", err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		addr := "127.0.0.1:" + port
		eventually(t, "redis-server on "+addr, 5*time.Second, func() bool {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
		addrs = append(addrs, addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	out, err := exec.Command("redis-cli", append(args, "--cluster-replicas", "0", "--cluster-yes")...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	for _, addr := range addrs {
		node := redis.NewClient(&redis.Options{Addr: addr})
		eventually(t, "the cluster to be ok on "+addr, 10*time.Second, func() bool {
			info, err := node.ClusterInfo(context.Background()).Result()
			return err == nil && strings.Contains(info, "cluster_state:ok")
		})
		node.Close()
	}
	return "redis://" + addrs[0] + "?addr=" + addrs[1] + "&addr=" + addrs[2]
}

func TestRedisCluster(t *testing.T) {
	clusterURL := redisCluster(t)

	t.Run("rate limits on keys of every node", func(t *testing.T) {
		opts, err := redis.ParseClusterURL(clusterURL)
		if err != nil {
			t.Fatal(err)
		}
		rdb := redis.NewClusterClient(opts)
		defer rdb.Close()
		lim := usage.NewRedisLimiter(rdb, "test:rl:")
		nodes := map[string]bool{}
		for i := range 12 {
			key := fmt.Sprintf("key-%d", i)
			for n := range 3 {
				ok, _, err := lim.Allow(t.Context(), key, apiws.Limit{Rate: 0.1, Burst: 2})
				if err != nil {
					t.Fatalf("Allow(%s): %v", key, err)
				}
				if want := n < 2; ok != want {
					t.Fatalf("Allow(%s) #%d = %v; want %v", key, n+1, ok, want)
				}
			}
			node, err := rdb.MasterForKey(t.Context(), "test:rl:"+key)
			if err != nil {
				t.Fatal(err)
			}
			nodes[node.Options().Addr] = true
		}
		if len(nodes) != 3 {
			t.Fatalf("the keys fell on %d nodes; want all 3", len(nodes))
		}
	})

	env := sharedEnv(t, clusterURL)
	one, two := startServer(t, env), startServer(t, env)

	t.Run("events reach the other instance", func(t *testing.T) {
		token, _ := signUp(t, one, "cluster@example.com")
		num := connectedNumber(t, one, token)
		ws := openWS(t, two, "graphql-transport-ws", token)
		subscribed(t, two, func() { ws.subscribe("s", statusSub, nil) })
		id := send(t, one, token, map[string]any{"numberId": num, "to": "+14155550123", "text": "across the cluster"})
		evs := statusEvents(t, ws, "s", func(evs []map[string]any) bool { return readCount(evs) == 1 })
		for _, e := range evs {
			if str(e, "messageId") != id {
				t.Fatalf("event of another message: %v", e)
			}
		}
	})
	t.Run("persisted queries are shared", func(t *testing.T) {
		query := `query ClusterPolicy { privacyPolicy { version } }`
		hash := documents.Hash(query)
		if r := persistedQuery(t, one, "", query, hash, nil); str(r.Data, "privacyPolicy", "version") != "1.0" {
			t.Fatalf("learning on one instance = %+v", r)
		}
		if r := persistedQuery(t, two, "", "", hash, nil); str(r.Data, "privacyPolicy", "version") != "1.0" {
			t.Fatalf("the hash alone on the other instance = %+v", r)
		}
	})
	t.Run("ready", func(t *testing.T) {
		if code := statusCode(t, two+"/readyz"); code != 200 {
			t.Fatalf("/readyz on a cluster: %d", code)
		}
	})
}

func TestMalformedRedisURLStopsTheStart(t *testing.T) {
	for _, u := range []string{
		"http://127.0.0.1:6379",
		"redis://127.0.0.1:6379?addr=nowhere",
		"redis://127.0.0.1:6379/3?addr=127.0.0.1:6380",
		"redis://127.0.0.1:6379?addr=127.0.0.1:6380&bogus=1",
		"redis://:s3cret@127.0.0.1:6379?addr=127.0.0.1:6380&dial_timeout=soon",
		"redis://127.0.0.1:6379/x",
		"redis://%zz",
	} {
		t.Run(u, func(t *testing.T) {
			env := serverEnv(t, map[string]string{"APIWS_REDIS_URL": u})
			var stdout, stderr bytes.Buffer
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			err := run(ctx, nil, func(k string) string { return env[k] }, &stdout, &stderr)
			if err == nil || !strings.Contains(err.Error(), "APIWS_REDIS_URL") {
				t.Fatalf("run = %v; want an APIWS_REDIS_URL error", err)
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Fatalf("the error shows the password: %v", err)
			}
			if strings.Contains(stdout.String(), "listening") {
				t.Fatal("the server started")
			}
		})
	}
}
