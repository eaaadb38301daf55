package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

var build struct {
	once sync.Once
	path string
	err  error
}

// binary builds apiws once per test run.
func binary(t *testing.T) string {
	t.Helper()
	build.once.Do(func() {
		dir, err := os.MkdirTemp("", "apiws-bin")
		if err != nil {
			build.err = err
			return
		}
		build.path = filepath.Join(dir, "apiws")
		out, err := exec.Command("go", "build", "-race", "-o", build.path, ".").CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if build.err != nil {
		t.Fatal(build.err)
	}
	return build.path
}

// process is an apiws server running as a process of its own, so a test
// can kill -9 or SIGSTOP it.
type process struct {
	cmd  *exec.Cmd
	base string
}

// startProcess runs the apiws binary with env (over the test defaults) and
// waits until it serves.
func startProcess(t *testing.T, env map[string]string) *process {
	t.Helper()
	full := serverEnv(t, map[string]string{"APIWS_RATE_LIMIT_PER_SECOND": "0", "APIWS_LEASE_TTL": "3s"})
	for k, v := range env {
		full[k] = v
	}
	cmd := exec.Command(binary(t))
	cmd.Env = os.Environ()
	for k, v := range full {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logs := &processLog{}
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the log of the process on %s ends with:\n%s", p.base, logs.tail())
		}
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	lines := bufio.NewScanner(stdout)
	found := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if addr, ok := strings.CutPrefix(lines.Text(), "apiws listening on "); ok {
				found <- addr
			}
		}
	}()
	select {
	case p.base = <-found:
	case <-time.After(30 * time.Second):
		t.Fatal("apiws process did not start within 30s")
	}
	waitHealthy(t, p.base)
	servers.Store(p.base, &testServer{dbURL: full["APIWS_DATABASE_URL"]})
	return p
}

// processLog keeps the end of a process's log, to show when its test fails.
type processLog struct {
	mu  sync.Mutex
	buf []byte
}

// processLogKept bounds what a processLog keeps.
const processLogKept = 64 << 10

func (l *processLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	if over := len(l.buf) - processLogKept; over > 0 {
		l.buf = append(l.buf[:0], l.buf[over:]...)
	}
	return len(p), nil
}

func (l *processLog) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.buf)
}

// instanceID reads the instance's id from its owned-numbers metric.
func (p *process) instanceID(t *testing.T) string {
	t.Helper()
	for _, line := range metricLines(t, p.base, "apiws_owned_numbers{") {
		if _, rest, ok := strings.Cut(line, `instance_id="`); ok {
			id, _, _ := strings.Cut(rest, `"`)
			return id
		}
	}
	t.Fatal("no instance id in /metrics")
	return ""
}

func (p *process) owned(t *testing.T) int {
	t.Helper()
	for _, line := range metricLines(t, p.base, "apiws_owned_numbers{") {
		f, _ := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		return int(f)
	}
	return -1
}

// owners maps each number to the instance holding its live lease.
func owners(t *testing.T, dbURL string) map[string]string {
	t.Helper()
	db, err := storage.Open(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ls, err := db.Leases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range ls {
		if time.Now().Before(l.ExpiresAt) {
			out[l.NumberID] = l.Owner
		}
	}
	return out
}

// sandboxRecord returns the non-duplicate transmissions per message id, the
// duplicate attempts, and the record itself.
func sandboxRecord(t *testing.T, dbURL string) (map[string]int, int, []*storage.SandboxTransmission) {
	t.Helper()
	db, err := storage.Open(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ts, err := db.SandboxTransmissions(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	once, dups := map[string]int{}, 0
	for _, tr := range ts {
		if tr.Duplicate {
			dups++
		} else {
			once[tr.MessageID]++
		}
	}
	return once, dups, ts
}

// sharedEnv is a fresh PostgreSQL schema and a Redis for a group of
// instances.
func sharedEnv(t *testing.T, redisURL string) map[string]string {
	return map[string]string{"APIWS_DATABASE_URL": storagetest.URL(t, storage.Postgres), "APIWS_REDIS_URL": redisURL}
}

func TestNumbersSpreadAndFailOver(t *testing.T) {
	redisURL, _, _ := privateRedis(t)
	env := sharedEnv(t, redisURL)
	env["APIWS_PLAN_SENDS_PER_SECOND"] = "100"
	procs := []*process{startProcess(t, env), startProcess(t, env), startProcess(t, env)}
	token, _ := signUp(t, procs[0].base, "fleet@example.com")
	var nums []string
	for i := 0; i < 6; i++ {
		nums = append(nums, connectedNumber(t, procs[i%3].base, token))
	}
	eventually(t, "the numbers spread over the three instances", 30*time.Second, func() bool {
		for _, p := range procs {
			if p.owned(t) != 2 {
				return false
			}
		}
		return true
	})

	// A subscriber on the instance about to die, and one on a survivor.
	leases := owners(t, env["APIWS_DATABASE_URL"])
	victim, num := procs[0], ""
	for _, n := range nums {
		if leases[n] == victim.instanceID(t) {
			num = n
			break
		}
	}
	survivor := procs[1]
	onVictim := openWS(t, victim.base, "graphql-transport-ws", token)
	onVictim.subscribe("s", statusSub, map[string]any{"after": "0"})
	onSurvivor := openWS(t, survivor.base, "graphql-transport-ws", token)
	onSurvivor.subscribe("s", statusSub, map[string]any{"after": "0"})

	// 200 sends through all three instances while the owner is killed.
	var mu sync.Mutex
	var accepted []string
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < 200; i += 4 {
				p := procs[i%3]
				r, err := tryGQL(p.base, token, sendMutation, map[string]any{"i": map[string]any{"numberId": num, "to": "+14155550123", "text": fmt.Sprint("m", i)}})
				if err != nil {
					continue // the killed instance: sendMessage did not return
				}
				if id := str(r.Data, "sendMessage", "message", "id"); id != "" {
					mu.Lock()
					accepted = append(accepted, id)
					mu.Unlock()
				}
				if i == 60 {
					_ = victim.cmd.Process.Kill() // kill -9 of the owner, mid-stream
				}
			}
		}(w)
	}
	wg.Wait()
	t.Logf("%d of 200 sends accepted", len(accepted))
	if len(accepted) < 100 {
		t.Fatalf("only %d sends accepted", len(accepted))
	}

	byStatus := map[string]int{}
	defer func() {
		if t.Failed() {
			t.Logf("messages by status: %v", byStatus)
		}
	}()
	eventually(t, "every accepted message transmitted", 60*time.Second, func() bool {
		ms := messagesByID(t, survivor.base, token)
		byStatus = map[string]int{}
		for _, id := range accepted {
			byStatus[statusOf(ms, id)]++
		}
		return byStatus["QUEUED"] == 0 && byStatus["FAILED"] == 0 && byStatus[""] == 0
	})
	once, dups, record := sandboxRecord(t, env["APIWS_DATABASE_URL"])
	wa := waIDs(t, env["APIWS_DATABASE_URL"], accepted...)
	for _, id := range accepted {
		if n := once[wa[id]]; n != 1 {
			t.Fatalf("message %s transmitted %d times", id, n)
		}
	}
	t.Logf("%d transmissions, %d repeated sends of an already transmitted id after the kill", len(record), dups)
	if owner := owners(t, env["APIWS_DATABASE_URL"])[num]; owner == "" || owner == leases[num] {
		t.Fatalf("the killed instance's number has owner %q", owner)
	}

	// The subscriber on the survivor saw every event in order; the one on
	// the killed instance resumes on a survivor where it was cut.
	db, _ := storage.Open(t.Context(), env["APIWS_DATABASE_URL"])
	defer db.Close()
	total := func() int64 {
		var n int64
		_ = db.SQL().QueryRow("SELECT count(*) FROM log_events WHERE type IN ('MESSAGE_STATUS', 'MESSAGE_RECEIVED')").Scan(&n)
		return n
	}
	want := total()
	evs := statusEvents(t, onSurvivor, "s", func(evs []map[string]any) bool { return int64(len(evs)) >= want })
	increasing(t, cursors(t, evs), 0)
	if int64(len(evs)) != want {
		t.Fatalf("%d events on the survivor; the log has %d", len(evs), want)
	}
	cut := drain(t, onVictim, "s")
	last := int64(0)
	if len(cut) > 0 {
		cs := cursors(t, cut)
		increasing(t, cs, 0)
		last = cs[len(cs)-1]
	}
	resumed := openWS(t, procs[2].base, "graphql-transport-ws", token)
	resumed.subscribe("s", statusSub, map[string]any{"after": strconv.FormatInt(last, 10)})
	rest := statusEvents(t, resumed, "s", func(evs []map[string]any) bool { return int64(len(cut)+len(evs)) >= want })
	increasing(t, cursors(t, rest), last)
	if int64(len(cut)+len(rest)) != want {
		t.Fatalf("%d events before the kill and %d after; the log has %d", len(cut), len(rest), want)
	}
}

func TestPausedOwnerDoesNotSendAfterItsLeaseMoved(t *testing.T) {
	redisURL, _, _ := privateRedis(t)
	env := sharedEnv(t, redisURL)
	env["APIWS_PLAN_SENDS_PER_SECOND"] = "10"
	a := startProcess(t, env)
	token, _ := signUp(t, a.base, "paused@example.com")
	num := connectedNumber(t, a.base, token) // paired through a: a owns it
	b := startProcess(t, env)
	idA := a.instanceID(t)
	if owners(t, env["APIWS_DATABASE_URL"])[num] != idA {
		t.Fatal("the number is not owned by the instance it paired on")
	}
	var ids []string
	for i := 0; i < 40; i++ {
		ids = append(ids, send(t, a.base, token, map[string]any{"numberId": num, "to": "+14155550001", "text": fmt.Sprint("q", i)}))
	}
	eventually(t, "a to be sending", 10*time.Second, func() bool {
		_, _, record := sandboxRecord(t, env["APIWS_DATABASE_URL"])
		return len(record) >= 3
	})
	if err := a.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stoppedAt := time.Now()
	eventually(t, "b takes the number over", 20*time.Second, func() bool {
		return owners(t, env["APIWS_DATABASE_URL"])[num] == b.instanceID(t)
	})
	eventually(t, "b sends the rest of the queue", 60*time.Second, func() bool {
		ms := messagesByID(t, b.base, token)
		for _, id := range ids {
			if s := statusOf(ms, id); s == "QUEUED" {
				return false
			}
		}
		return true
	})
	if err := a.cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumedAt := time.Now()
	more := send(t, b.base, token, map[string]any{"numberId": num, "to": "+14155550001", "text": "after the resume"})
	ids = append(ids, more)
	// a wakes up with its dispatcher mid-queue; it finds out at its next
	// renewal that the lease moved.
	waitMetric(t, a.base, "apiws_leases_lost_total", func(n float64) bool { return n >= 1 })
	waitMessages(t, b.base, token, "the message after the resume delivered", func(ms map[string]any) bool { return statusOf(ms, more) == "DELIVERED" })
	once, _, record := sandboxRecord(t, env["APIWS_DATABASE_URL"])
	for _, tr := range record {
		if tr.Instance == idA && tr.At.After(stoppedAt.Add(100*time.Millisecond)) && !tr.Duplicate {
			t.Fatalf("the paused instance transmitted %s at %v (stopped %v, resumed %v)", tr.MessageID, tr.At, stoppedAt, resumedAt)
		}
	}
	wa := waIDs(t, env["APIWS_DATABASE_URL"], ids...)
	for _, id := range ids {
		if once[wa[id]] != 1 {
			t.Fatalf("message %s transmitted %d times", id, once[wa[id]])
		}
	}
	byInstance := map[string]int{}
	for _, tr := range record {
		byInstance[tr.Instance]++
	}
	if byInstance[idA] == 0 || byInstance[b.instanceID(t)] == 0 {
		t.Fatalf("transmissions by instance: %v; want both to have sent", byInstance)
	}
}

func TestRedisOutageUnderLoad(t *testing.T) {
	redisURL, stopRedis, startRedis := privateRedis(t)
	env := sharedEnv(t, redisURL)
	env["APIWS_PLAN_SENDS_PER_SECOND"] = "100"
	a, b := startProcess(t, env), startProcess(t, env)
	token, _ := signUp(t, a.base, "redis-down@example.com")
	nums := []string{connectedNumber(t, a.base, token), connectedNumber(t, b.base, token)}
	ws := openWS(t, a.base, "graphql-transport-ws", token)
	ws.subscribe("s", statusSub, map[string]any{"after": "0"})

	var ids []string
	sendSome := func(n int) {
		for i := 0; i < n; i++ {
			p := []*process{a, b}[i%2]
			ids = append(ids, send(t, p.base, token, map[string]any{"numberId": nums[i%2], "to": "+14155550123", "text": "x"}))
		}
	}
	sendSome(10)
	stopRedis()
	for _, p := range []*process{a, b} {
		eventually(t, "/readyz to see the outage", 10*time.Second, func() bool { return statusCode(t, p.base+"/readyz") == 503 })
	}
	for range 5 {
		sendSome(4) // still accepted, and sent: the database is the source of truth
		eventually(t, "the messages sent during the outage", 30*time.Second, func() bool {
			ms := messagesByID(t, a.base, token)
			for _, id := range ids {
				if statusOf(ms, id) == "QUEUED" {
					return false
				}
			}
			return true
		})
		for _, p := range []*process{a, b} {
			if code := statusCode(t, p.base+"/readyz"); code != 503 {
				t.Fatalf("/readyz during the outage: %d", code)
			}
		}
	}
	startRedis()
	sendSome(10)
	eventually(t, "every message read", 60*time.Second, func() bool {
		ms := messagesByID(t, a.base, token)
		for _, id := range ids {
			if statusOf(ms, id) != "READ" {
				return false
			}
		}
		return true
	})
	for _, p := range []*process{a, b} {
		eventually(t, "/readyz back to 200", 10*time.Second, func() bool { return statusCode(t, p.base+"/readyz") == 200 })
	}
	evs := statusEvents(t, ws, "s", func(evs []map[string]any) bool { return readCount(evs) == len(ids) })
	increasing(t, cursors(t, evs), 0)
	if len(evs) != 4*len(ids) {
		per := map[string][]string{}
		for _, e := range evs {
			per[str(e, "messageId")] = append(per[str(e, "messageId")], str(e, "status")+"@"+str(e, "cursor"))
		}
		for id, st := range per {
			if len(st) != 4 {
				t.Logf("%s: %v", id, st)
			}
		}
		t.Fatalf("%d events for %d messages; want %d", len(evs), len(ids), 4*len(ids))
	}
	seen := map[string]bool{}
	for _, e := range evs {
		seen[str(e, "messageId")] = true
	}
	for _, id := range ids {
		if !seen[id] {
			t.Fatalf("no event of %s", id)
		}
	}
}

// drain collects the messageStatus events a websocket got for operation id
// until its connection ended.
func drain(t *testing.T, w *wsClient, id string) []map[string]any {
	t.Helper()
	var out []map[string]any
	take := func(m map[string]any) {
		if mid, _ := m["id"].(string); mid == id && m["type"] == "next" {
			if ev, ok := get(m, "payload", "data", "messageStatus").(map[string]any); ok {
				out = append(out, ev)
			}
		}
	}
	for _, m := range w.held[id] {
		take(m)
	}
	timeout := time.After(15 * time.Second)
	for {
		select {
		case m, ok := <-w.msgs:
			if !ok {
				return out
			}
			take(m)
		case <-timeout:
			t.Fatal("the websocket to the killed instance did not end")
		}
	}
}

// tryGQL is gql for a server that may be gone: it returns the error.
func tryGQL(base, token, query string, vars map[string]any) (*gqlResponse, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := &gqlResponse{Status: resp.StatusCode}
	return out, json.NewDecoder(resp.Body).Decode(out)
}

func statusCode(t *testing.T, url string) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestNumberCommandsReachTheOwner(t *testing.T) {
	redisURL, _, _ := privateRedis(t)
	env := sharedEnv(t, redisURL)
	a := startProcess(t, env)
	token, _ := signUp(t, a.base, "commands@example.com")
	num := connectedNumber(t, a.base, token)
	b := startProcess(t, env)
	if owners(t, env["APIWS_DATABASE_URL"])[num] != a.instanceID(t) {
		t.Fatal("the number is not owned by the instance it paired on")
	}
	r := gql(t, b.base, token, `mutation($id: ID!) { disconnectNumber(id: $id) { number { status } userErrors { code } } }`, map[string]any{"id": num})
	if str(r.Data, "disconnectNumber", "number", "status") != "DISCONNECTED" {
		t.Fatalf("disconnectNumber through the other instance = %+v", r)
	}
	r = gql(t, b.base, token, `mutation($id: ID!) { reconnectNumber(id: $id) { number { status } userErrors { code } } }`, map[string]any{"id": num})
	if len(userErrorCodes(get(r.Data, "reconnectNumber"))) > 0 || r.code() != "" {
		t.Fatalf("reconnectNumber through the other instance = %+v", r)
	}
	eventually(t, "the number connected again", 10*time.Second, func() bool {
		return str(gql(t, b.base, token, numberNode, map[string]any{"id": num}).Data, "node", "status") == "CONNECTED"
	})
	id := send(t, b.base, token, map[string]any{"numberId": num, "to": "+14155550123", "text": "through b"})
	eventually(t, "sent", 10*time.Second, func() bool { return statusOf(messagesByID(t, b.base, token), id) == "READ" })
	_, _, record := sandboxRecord(t, env["APIWS_DATABASE_URL"])
	if len(record) != 1 || record[0].Instance != owners(t, env["APIWS_DATABASE_URL"])[num] {
		t.Fatalf("record %+v; want one transmission by the owner", record)
	}
}

// TestRevokedKeyFailsOnEveryInstance: each instance caches the keys it
// authenticates for up to a second; a key revoked through one instance is
// refused by it at once and by the other within that second.
func TestRevokedKeyFailsOnEveryInstance(t *testing.T) {
	redisURL, _, _ := privateRedis(t)
	env := sharedEnv(t, redisURL)
	a := startProcess(t, env)
	b := startProcess(t, env)
	token, _ := signUp(t, a.base, "revoke-everywhere@example.com")
	key, id := createAPIKey(t, a.base, token, "READ")
	for _, p := range []*process{a, b} {
		if r := gql(t, p.base, key, `{ viewer { id } }`, nil); r.code() != "" {
			t.Fatalf("a new key on %s: %+v", p.base, r)
		}
	}
	r := gql(t, a.base, token, `mutation($id: ID!) { revokeApiKey(id: $id) { apiKey { revokedAt } userErrors { code } } }`, map[string]any{"id": id})
	if get(r.Data, "revokeApiKey", "apiKey", "revokedAt") == nil {
		t.Fatalf("revokeApiKey = %+v", r)
	}
	if r := gql(t, a.base, key, `{ viewer { id } }`, nil); r.code() != "UNAUTHENTICATED" {
		t.Fatalf("the instance that revoked the key: %+v", r)
	}
	eventually(t, "the other instance to refuse the revoked key", time.Second, func() bool {
		return gql(t, b.base, key, `{ viewer { id } }`, nil).code() == "UNAUTHENTICATED"
	})
}
