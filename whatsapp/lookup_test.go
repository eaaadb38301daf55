package whatsapp

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"go.mau.fi/whatsmeow/types"
)

func TestSandboxLID(t *testing.T) {
	for phone, want := range map[string]string{
		"+15550100001":     "100015550100001",
		"+4915123456789":   "104915123456789",
		"+442071838750":    "100442071838750",
		"+123456789012345": "1123456789012345",
	} {
		if got := SandboxLID(phone); got != want {
			t.Errorf("SandboxLID(%s) = %s, want %s", phone, got, want)
		}
	}
}

func TestChunks(t *testing.T) {
	phones := make([]string, 120)
	for i := range phones {
		phones[i] = fmt.Sprintf("+1415555%04d", i)
	}
	for _, tc := range []struct {
		n    int
		want []int
	}{{0, nil}, {1, []int{1}}, {50, []int{50}}, {51, []int{50, 1}}, {120, []int{50, 50, 20}}} {
		var sizes []int
		next := 0
		for _, c := range chunks(phones[:tc.n], MaxLookup) {
			sizes = append(sizes, len(c))
			if c[0] != phones[next] {
				t.Errorf("%d phones: a chunk starts with %s, want %s", tc.n, c[0], phones[next])
			}
			next += len(c)
		}
		if !reflect.DeepEqual(sizes, tc.want) {
			t.Errorf("chunks of %d phones: sizes %v, want %v", tc.n, sizes, tc.want)
		}
	}
}

// TestMapOnWhatsApp matches whatsmeow's answers to the phones asked, by
// query or, without one, by the JID.
func TestMapOnWhatsApp(t *testing.T) {
	asked := []string{"+14155550001", "+14155550002", "+14155550003", "+14155550004"}
	resp := []types.IsOnWhatsAppResponse{
		{Query: "+14155550001", IsIn: true, JID: types.JID{User: "14155550001", Server: types.DefaultUserServer}},
		// No query: the JID names the phone; a device part is dropped.
		{IsIn: true, JID: types.JID{User: "14155550002", Device: 3, Server: types.DefaultUserServer}},
		{Query: "+14155550003", IsIn: false, JID: types.JID{User: "14155550003", Server: types.DefaultUserServer},
			VerifiedName: &types.VerifiedName{}},
		// Not asked: dropped.
		{Query: "+14155559999", IsIn: true, JID: types.JID{User: "14155559999", Server: types.DefaultUserServer}},
	}
	got := mapOnWhatsApp(asked, resp)
	want := map[string]recipient{
		"+14155550001": {isIn: true, jid: types.NewJID("14155550001", types.DefaultUserServer)},
		"+14155550002": {isIn: true, jid: types.NewJID("14155550002", types.DefaultUserServer)},
		"+14155550003": {isIn: false},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mapOnWhatsApp = %+v, want %+v", got, want)
	}
}

func TestLookupResultOf(t *testing.T) {
	pn := types.NewJID("14155550001", types.DefaultUserServer)
	lid := types.NewJID("123456789012345", types.HiddenUserServer)
	info := map[types.JID]types.UserInfo{pn: {LID: lid}, types.NewJID("14155550002", types.DefaultUserServer): {}}
	if got := lidOf(info, pn); got != lid {
		t.Errorf("lidOf = %v, want %v", got, lid)
	}
	if got := lidOf(info, types.NewJID("14155550002", types.DefaultUserServer)); !got.IsEmpty() {
		t.Errorf("lidOf without a LID = %v", got)
	}
	if got := lidOf(info, types.NewJID("14155550003", types.DefaultUserServer)); !got.IsEmpty() {
		t.Errorf("lidOf of a phone not answered = %v", got)
	}
	for _, tc := range []struct {
		r    recipient
		want LookupResult
	}{
		{recipient{isIn: true, jid: pn, lid: lid, lidAsked: true}, LookupResult{Phone: "+14155550001", OnWhatsApp: true, LID: "123456789012345"}},
		{recipient{isIn: true, jid: pn, lidAsked: true}, LookupResult{Phone: "+14155550001", OnWhatsApp: true}},
		{recipient{isIn: false, lid: lid}, LookupResult{Phone: "+14155550001"}},
	} {
		if got := lookupResult("+14155550001", tc.r); got != tc.want {
			t.Errorf("lookupResult(%+v) = %+v, want %+v", tc.r, got, tc.want)
		}
	}
}

// TestLookup: one request asks about the new phones, once each; the LIDs
// come from the device store where it knows them, else from one
// GetUserInfo of the phones on WhatsApp; the answers are cached a day,
// shared with sends.
func TestLookup(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	n, fc := h.pair(t)
	const a, b, c, d = "+14155550001", "+14155550002", "+14155550003", "+14155550004"
	lidA := types.NewJID("111111111111111", types.HiddenUserServer)
	lidB := types.NewJID("222222222222222", types.HiddenUserServer)
	fc.mu.Lock()
	fc.onWA[a], fc.onWA[b], fc.onWA[d] = true, true, true
	fc.lids["14155550001"] = lidA
	fc.mu.Unlock()
	// The store already knows b's LID; d is on WhatsApp with none given.
	if err := fc.device.LIDs.PutLIDMapping(ctx, lidB, types.NewJID("14155550002", types.DefaultUserServer)); err != nil {
		t.Fatal(err)
	}
	got, err := h.w.Lookup(ctx, n, []string{a, "+1 (415) 555-0002", c, a, d})
	if err != nil {
		t.Fatal(err)
	}
	want := []LookupResult{
		{Phone: a, OnWhatsApp: true, LID: "111111111111111"},
		{Phone: b, OnWhatsApp: true, LID: "222222222222222"},
		{Phone: c},
		{Phone: a, OnWhatsApp: true, LID: "111111111111111"},
		{Phone: d, OnWhatsApp: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Lookup = %+v\nwant %+v", got, want)
	}
	if want := [][]string{{a, b, c, d}}; !reflect.DeepEqual(fc.asked, want) {
		t.Errorf("asked WhatsApp %v, want %v", fc.asked, want)
	}
	wantInfo := [][]types.JID{{types.NewJID("14155550001", types.DefaultUserServer), types.NewJID("14155550004", types.DefaultUserServer)}}
	if len(fc.infoCalls) != 1 || !sameJIDs(fc.infoCalls[0], wantInfo[0]) {
		t.Errorf("GetUserInfo calls %v, want %v", fc.infoCalls, wantInfo)
	}

	// Within the day: from the cache, nothing asked, no turn waited for.
	h.clock.Advance(recipientTTL - time.Minute)
	if again, err := h.w.Lookup(ctx, n, []string{d, c, b, a}); err != nil || again[3] != want[0] || again[1] != want[2] {
		t.Fatalf("Lookup from the cache = %+v, %v", again, err)
	}
	if len(fc.asked) != 1 || len(fc.infoCalls) != 1 {
		t.Errorf("the cache asked WhatsApp: %d lookups, %d info requests", len(fc.asked), len(fc.infoCalls))
	}
	// A send uses the lookup's answer.
	if _, err := h.w.Send(ctx, n, OutgoingMessage{ID: NewMessageID(), To: a, Kind: apiws.KindText, Text: "x"}); err != nil || len(fc.asked) != 1 {
		t.Fatalf("send after the lookup: %v, %d lookups", err, len(fc.asked))
	}
	// After the day: asked again.
	h.clock.Advance(2 * time.Minute)
	fc.mu.Lock()
	fc.onWA[c] = true
	fc.mu.Unlock()
	if again, err := h.w.Lookup(ctx, n, []string{c}); err != nil || !again[0].OnWhatsApp || len(fc.asked) != 2 {
		t.Fatalf("Lookup after a day = %+v, %v, %d lookups", again, err, len(fc.asked))
	}
}

func sameJIDs(a, b []types.JID) bool {
	if len(a) != len(b) {
		return false
	}
	set := make(map[types.JID]bool, len(a))
	for _, j := range a {
		set[j] = true
	}
	for _, j := range b {
		if !set[j] {
			return false
		}
	}
	return true
}

// TestLookupAfterSend: a phone a send looked up is not asked about again,
// only for its LID.
func TestLookupAfterSend(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	n, fc := h.pair(t)
	const a = "+14155550001"
	fc.onWA[a], fc.lids["14155550001"] = true, types.NewJID("111111111111111", types.HiddenUserServer)
	if _, err := h.w.Send(ctx, n, OutgoingMessage{ID: NewMessageID(), To: a, Kind: apiws.KindText, Text: "x"}); err != nil {
		t.Fatal(err)
	}
	h.clock.Advance(lookupInterval)
	got, err := h.w.Lookup(ctx, n, []string{a})
	if err != nil || got[0].LID != "111111111111111" {
		t.Fatalf("Lookup = %+v, %v", got, err)
	}
	if len(fc.asked) != 1 || len(fc.infoCalls) != 1 {
		t.Errorf("%d lookups, %d info requests; want 1 and 1", len(fc.asked), len(fc.infoCalls))
	}
}

// TestLookupPacing: each WhatsApp request waits for the number's next
// turn, lookupInterval after the last; a lookup of more than MaxLookup
// phones is split into requests of MaxLookup.
func TestLookupPacing(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	n, fc := h.pair(t)
	phones := make([]string, 120)
	for i := range phones {
		phones[i] = fmt.Sprintf("+1415555%04d", i+1)
	}
	if _, err := h.w.Lookup(ctx, n, phones[:1]); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		res, err := h.w.Lookup(ctx, n, phones)
		if err == nil && len(res) != len(phones) {
			err = fmt.Errorf("%d results for %d phones", len(res), len(phones))
		}
		done <- err
	}()
	// 119 new phones: three requests, each waiting its turn.
	for i, size := range []int{50, 50, 19} {
		h.clock.awaitWaiters(t, 1)
		fc.mu.Lock()
		asked := len(fc.asked)
		fc.mu.Unlock()
		if asked != i+1 {
			t.Fatalf("%d requests before turn %d", asked, i+1)
		}
		h.clock.Advance(lookupInterval)
		eventually(t, "the next request", func() bool {
			fc.mu.Lock()
			defer fc.mu.Unlock()
			return len(fc.asked) == i+2 && len(fc.asked[i+1]) == size
		})
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TestLookupCancelledWhileWaiting: a lookup waiting for its turn ends with
// its context and asks nothing.
func TestLookupCancelledWhileWaiting(t *testing.T) {
	h := newHarness(t)
	n, fc := h.pair(t)
	if _, err := h.w.Lookup(context.Background(), n, []string{"+14155550001"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, err := h.w.Lookup(ctx, n, []string{"+14155550002"}); done <- err }()
	h.clock.awaitWaiters(t, 1)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled lookup: %v", err)
	}
	if len(fc.asked) != 1 {
		t.Errorf("%d requests, want 1", len(fc.asked))
	}
}

func TestLookupRefusals(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	if _, err := h.w.Lookup(ctx, &apiws.Number{ID: "num_0"}, []string{"+14155550001"}); !errors.Is(err, ErrNotConnected) {
		t.Errorf("lookup through an unknown number: %v", err)
	}
	n, fc := h.pair(t)
	if _, err := h.w.Lookup(ctx, n, []string{"+14155550001", "12"}); !errors.Is(err, ErrInvalidPhone) {
		t.Errorf("lookup of an invalid phone: %v", err)
	}
	// No answer is no answer: not cached as "not on WhatsApp".
	fc.mu.Lock()
	fc.silent, fc.onWA["+14155550001"] = true, true
	fc.mu.Unlock()
	var se *SendError
	if _, err := h.w.Lookup(ctx, n, []string{"+14155550001"}); !errors.As(err, &se) || !se.Retryable {
		t.Errorf("lookup with no answer: %v", err)
	}
	fc.mu.Lock()
	fc.silent = false
	fc.mu.Unlock()
	h.clock.Advance(lookupInterval)
	if got, err := h.w.Lookup(ctx, n, []string{"+14155550001"}); err != nil || !got[0].OnWhatsApp {
		t.Errorf("lookup after no answer = %+v, %v", got, err)
	}
	if err := h.w.Disconnect(ctx, n); err != nil {
		t.Fatal(err)
	}
	if _, err := h.w.Lookup(ctx, n, []string{"+14155550001"}); !errors.Is(err, ErrNotConnected) {
		t.Errorf("lookup through a disconnected number: %v", err)
	}
}

// TestSandboxLookup: phones ending 0000 are not on WhatsApp, every other is,
// with its sandbox LID; only through a connected number.
func TestSandboxLookup(t *testing.T) {
	ctx := context.Background()
	s := NewSandbox(nil, 0)
	defer s.Close()
	n := pairSandbox(t, s, "num_1")
	got, err := s.Lookup(ctx, n, []string{"+15550100001", "+1 555 010 0000", "+15550100001"})
	want := []LookupResult{
		{Phone: "+15550100001", OnWhatsApp: true, LID: "100015550100001"},
		{Phone: "+15550100000"},
		{Phone: "+15550100001", OnWhatsApp: true, LID: "100015550100001"},
	}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("Lookup = %+v, %v\nwant %+v", got, err, want)
	}
	if _, err := s.Lookup(ctx, n, []string{"nope"}); !errors.Is(err, ErrInvalidPhone) {
		t.Errorf("lookup of an invalid phone: %v", err)
	}
	if err := s.Disconnect(ctx, n); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Lookup(ctx, n, []string{"+15550100001"}); !errors.Is(err, ErrNotConnected) {
		t.Errorf("lookup through a disconnected number: %v", err)
	}
}

// TestConcurrentSends: a number's dispatcher sends several messages at
// once (to different chats); each reaches WhatsApp once, under its own id
// (run with -race: the adapter's per-number state is shared by the sends).
func TestConcurrentSends(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	n, fc := h.pair(t)
	const sends = 8
	ids := make([]string, sends)
	errs := make(chan error, sends)
	for i := range ids {
		ids[i] = NewMessageID()
		go func() {
			lid := fmt.Sprintf("1110000000000%02d", i)
			_, err := h.w.Send(ctx, n, OutgoingMessage{ID: ids[i], ToLID: lid, Kind: apiws.KindText, Text: "x"})
			errs <- err
		}()
	}
	for range ids {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	fc.mu.Lock()
	defer fc.mu.Unlock()
	got := map[string]int{}
	for _, s := range fc.sent {
		got[string(s.id)]++
	}
	for _, id := range ids {
		if got[id] != 1 {
			t.Errorf("message %s reached WhatsApp %d times; want once", id, got[id])
		}
	}
}
