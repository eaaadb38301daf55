package main

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// TestHandoverWaitsForSendsUnderWay: a number an instance gives back to
// even out the spread keeps its lease and its connection until its send
// under way (6 s each here, far longer than the old one-second wait) has
// ended and is recorded, so the instance that takes it over never sends
// that message again, and the send is not cut short.
func TestHandoverWaitsForSendsUnderWay(t *testing.T) {
	redisURL, _, _ := privateRedis(t)
	env := sharedEnv(t, redisURL)
	env["APIWS_PLAN_SENDS_PER_SECOND"] = "100"
	// Paired at the sandbox's usual pace...
	first := startProcess(t, env)
	token, _ := signUp(t, first.base, "handover@example.com")
	nums := []string{connectedNumber(t, first.base, token), connectedNumber(t, first.base, token)}
	if err := first.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()
	// ...then sent through an instance whose WhatsApp accepts each send
	// after 6 s (the sandbox's 100 ms, times 60), owning both numbers.
	env["APIWS_SANDBOX_DELAY"] = "60"
	a := startProcess(t, env)
	eventually(t, "a owns both numbers", 20*time.Second, func() bool { return a.owned(t) == 2 })
	var ids []string
	for i := range 4 {
		for j, num := range nums {
			// One chat per number: its sends go one at a time, so one is
			// under way whenever the number moves.
			ids = append(ids, send(t, a.base, token, map[string]any{"numberId": num, "to": fmt.Sprintf("+1415555010%d", j+1), "text": fmt.Sprint("h", i)}))
		}
	}
	eventually(t, "a to be sending", 20*time.Second, func() bool {
		_, _, record := sandboxRecord(t, env["APIWS_DATABASE_URL"])
		return len(record) >= 1
	})
	b := startProcess(t, env)
	eventually(t, "a number handed over to b", 30*time.Second, func() bool {
		leases := owners(t, env["APIWS_DATABASE_URL"])
		return leases[nums[0]] != leases[nums[1]] && leases[nums[0]] != "" && leases[nums[1]] != ""
	})
	if a.owned(t) != 1 || b.owned(t) != 1 {
		t.Fatalf("a owns %d numbers, b %d; want 1 each", a.owned(t), b.owned(t))
	}
	byStatus := map[string]int{}
	eventually(t, "every message sent", 60*time.Second, func() bool {
		ms := messagesByID(t, a.base, token)
		byStatus = map[string]int{}
		for _, id := range ids {
			byStatus[statusOf(ms, id)]++
		}
		return byStatus["QUEUED"] == 0 && byStatus["FAILED"] == 0 && byStatus[""] == 0
	})
	// None was cut short either: a number disconnected under a send fails
	// it (NOT_CONNECTED), and WhatsApp may have taken it all the same.
	ms := messagesByID(t, a.base, token)
	for _, id := range ids {
		if e := get(ms[id], "error"); e != nil {
			t.Errorf("message %s: error %v", id, e)
		}
	}
	once, dups, _ := sandboxRecord(t, env["APIWS_DATABASE_URL"])
	wa := waIDs(t, env["APIWS_DATABASE_URL"], ids...)
	for _, id := range ids {
		if n := once[wa[id]]; n != 1 {
			t.Errorf("message %s transmitted %d times", id, n)
		}
	}
	if dups != 0 {
		t.Fatalf("%d messages sent again after their number moved (statuses %v)", dups, byStatus)
	}
}
