package whatsapp

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/phones"
	"go.mau.fi/whatsmeow/types"
)

// MaxLookup is the most phones one WhatsApp request asks about: a lookup of
// more is split into requests of MaxLookup.
const MaxLookup = 50

// LookupResult is what WhatsApp said about one phone.
type LookupResult struct {
	// Phone is the phone asked about, in E.164 form.
	Phone string
	// OnWhatsApp says whether the phone has a WhatsApp account.
	OnWhatsApp bool
	// LID is the user part of the phone's hidden-number id (its LID), when
	// WhatsApp gave one; always "" when OnWhatsApp is false.
	LID string
}

// lookupClient is the part of *whatsmeow.Client lookups use: one usync
// query asks whether phones are on WhatsApp, another (GetUserInfo) for
// their LIDs.
type lookupClient interface {
	IsOnWhatsApp(ctx context.Context, phones []string) ([]types.IsOnWhatsAppResponse, error)
	GetUserInfo(ctx context.Context, jids []types.JID) (map[types.JID]types.UserInfo, error)
}

// knownLIDs returns the LIDs the device store already knows of the phone
// JIDs, keyed by phone JID (store.LIDStore.GetManyLIDsForPNs).
type knownLIDs func(ctx context.Context, pns []types.JID) (map[types.JID]types.JID, error)

// SandboxLID is the LID the sandbox gives a phone: "1" and its digits
// left-padded with zeros to 14, so +15550100001 is 100015550100001.
func SandboxLID(e164 string) string {
	d := phoneDigits(e164)
	if len(d) < 14 {
		d = strings.Repeat("0", 14-len(d)) + d
	}
	return "1" + d
}

// chunks splits phones into runs of at most size, in order.
func chunks(phones []string, size int) [][]string {
	var out [][]string
	for len(phones) > size {
		out = append(out, phones[:size])
		phones = phones[size:]
	}
	if len(phones) > 0 {
		out = append(out, phones)
	}
	return out
}

// mapOnWhatsApp matches WhatsApp's answers to the phones asked. An answer
// names its phone by its query (the phone as sent) or, failing that, by
// the JID's user part. Answers about phones not asked are dropped; phones
// nobody answered about are missing from the map.
func mapOnWhatsApp(asked []string, resp []types.IsOnWhatsAppResponse) map[string]recipient {
	want := make(map[string]bool, len(asked))
	for _, p := range asked {
		want[p] = true
	}
	out := make(map[string]recipient, len(resp))
	for _, r := range resp {
		p, ok := phones.Normalize(r.Query)
		if !ok || !want[p] {
			p = "+" + r.JID.User
		}
		if !want[p] {
			continue
		}
		rec := recipient{isIn: r.IsIn}
		if r.IsIn {
			rec.jid = r.JID.ToNonAD()
		}
		out[p] = rec
	}
	return out
}

// lidOf returns the LID GetUserInfo gave for jid, if any.
func lidOf(info map[types.JID]types.UserInfo, jid types.JID) types.JID {
	if ui, ok := info[jid]; ok && ui.LID.Server == types.HiddenUserServer {
		return ui.LID
	}
	return types.EmptyJID
}

// lookupResult is what a Lookup answers for phone from its cache entry.
func lookupResult(phone string, r recipient) LookupResult {
	res := LookupResult{Phone: phone, OnWhatsApp: r.isIn && !r.jid.IsEmpty()}
	if res.OnWhatsApp && !r.lid.IsEmpty() {
		res.LID = r.lid.User
	}
	return res
}

// Lookup asks WhatsApp through n whether each phone (E.164) is on it, and
// for the LIDs of those that are. Answers are cached per number for
// recipientTTL, shared with Send's; each WhatsApp request (of up to
// MaxLookup phones) waits for the number's next lookup turn. The results
// are in the order of phones, one per phone.
func (w *Whatsmeow) Lookup(ctx context.Context, n *apiws.Number, phones []string) ([]LookupResult, error) {
	ps := make([]string, len(phones))
	for i, phone := range phones {
		p, err := normalizePhone(phone)
		if err != nil {
			return nil, err
		}
		ps[i] = p
	}
	num := w.number(n.ID)
	if num == nil || !num.client.IsConnected() || !num.client.IsLoggedIn() {
		return nil, ErrNotConnected
	}
	known := knownLIDs(func(context.Context, []types.JID) (map[types.JID]types.JID, error) { return nil, nil })
	if num.device != nil && num.device.LIDs != nil {
		known = num.device.LIDs.GetManyLIDsForPNs
	}
	rs, err := w.resolve(ctx, num, ps, known)
	if err != nil {
		return nil, err
	}
	out := make([]LookupResult, len(ps))
	for i, p := range ps {
		out[i] = lookupResult(p, rs[p])
	}
	return out, nil
}

// resolve answers for every phone (E.164) from the cache, asking WhatsApp
// about those it has no fresh answer for. With known set, the LIDs of the
// phones on WhatsApp are wanted too: from the device store where it knows
// them, else from WhatsApp. The phones to ask about go in batches of
// MaxLookup; each batch waits for one turn of the number's pacer and then
// costs one IsOnWhatsApp request and, for LIDs, one GetUserInfo request.
// A phone WhatsApp gave no answer about fails the whole call with a
// retryable TIMEOUT and is not cached: no answer is not "not on WhatsApp".
func (w *Whatsmeow) resolve(ctx context.Context, num *waNumber, phones []string, known knownLIDs) (map[string]recipient, error) {
	out := make(map[string]recipient, len(phones))
	seen := make(map[string]bool, len(phones))
	var fresh, ask []string
	for _, p := range phones {
		if seen[p] {
			continue
		}
		seen[p] = true
		if r, ok := w.cached(num, p); ok {
			out[p] = r
			fresh = append(fresh, p)
		} else {
			ask = append(ask, p)
		}
	}
	if known != nil {
		// Cached answers (a send's) may lack the LID: the store may know it.
		ask = append(ask, w.storedLIDs(ctx, num, fresh, out, known)...)
	}
	for _, batch := range chunks(ask, MaxLookup) {
		if err := w.lookupTurn(ctx, num); err != nil {
			return nil, err
		}
		if err := w.askBatch(ctx, num, batch, out, known); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// askBatch asks WhatsApp about the phones of batch without an answer in
// out, then (with known set) for the LIDs of those on WhatsApp that
// neither the cache nor the store knows.
func (w *Whatsmeow) askBatch(ctx context.Context, num *waNumber, batch []string, out map[string]recipient, known knownLIDs) error {
	var unknown []string
	for _, p := range batch {
		if _, ok := out[p]; !ok {
			unknown = append(unknown, p)
		}
	}
	if len(unknown) > 0 {
		resp, err := num.client.IsOnWhatsApp(ctx, unknown)
		if err != nil {
			return fmt.Errorf("look up %d phones: %w", len(unknown), err)
		}
		got := mapOnWhatsApp(unknown, resp)
		now := w.now()
		for _, p := range unknown {
			r, ok := got[p]
			if !ok {
				return sendErr(CodeTimeout, "whatsapp gave no answer about "+p, true, nil)
			}
			r.at = now
			num.recipients.Store(p, r)
			out[p] = r
		}
	}
	if known == nil {
		return nil
	}
	need := w.storedLIDs(ctx, num, unknown, out, known)
	for _, p := range batch {
		if !slices.Contains(unknown, p) && needsLID(out[p]) {
			need = append(need, p)
		}
	}
	if len(need) == 0 {
		return nil
	}
	jids := make([]types.JID, len(need))
	for i, p := range need {
		jids[i] = out[p].jid
	}
	info, err := num.client.GetUserInfo(ctx, jids)
	if err != nil {
		return fmt.Errorf("look up the LIDs of %d phones: %w", len(jids), err)
	}
	for i, p := range need {
		w.storeLID(num, out, p, lidOf(info, jids[i]))
	}
	return nil
}

// needsLID says whether r is of a phone on WhatsApp whose LID was never
// asked for.
func needsLID(r recipient) bool {
	return r.isIn && !r.jid.IsEmpty() && !r.lidAsked
}

// storedLIDs fills in, from the device store, the LIDs of the phones of ps
// that need one, and returns those it does not know.
func (w *Whatsmeow) storedLIDs(ctx context.Context, num *waNumber, ps []string, out map[string]recipient, known knownLIDs) []string {
	var need []string
	var jids []types.JID
	for _, p := range ps {
		if needsLID(out[p]) {
			need = append(need, p)
			jids = append(jids, out[p].jid)
		}
	}
	if len(need) == 0 {
		return nil
	}
	stored, err := known(ctx, jids)
	if err != nil {
		w.log.Warn("read the known LIDs", "err", err)
	}
	var rest []string
	for i, p := range need {
		if lid, ok := stored[jids[i]]; ok && !lid.IsEmpty() {
			w.storeLID(num, out, p, lid)
		} else {
			rest = append(rest, p)
		}
	}
	return rest
}

// storeLID records that phone's LID was asked for (lid, possibly empty).
func (w *Whatsmeow) storeLID(num *waNumber, rs map[string]recipient, phone string, lid types.JID) {
	r := rs[phone]
	r.lid, r.lidAsked = lid.ToNonAD(), true
	rs[phone] = r
	num.recipients.Store(phone, r)
	if !r.lid.IsEmpty() {
		w.learnLID(num, phone, r.lid.User)
	}
}

// cached returns the fresh cached answer about phone, if any.
func (w *Whatsmeow) cached(num *waNumber, phone string) (recipient, bool) {
	v, ok := num.recipients.Load(phone)
	if !ok {
		return recipient{}, false
	}
	r := v.(recipient)
	return r, w.now().Sub(r.at) < recipientTTL
}

// lookupTurn waits for the number's next turn to ask WhatsApp.
func (w *Whatsmeow) lookupTurn(ctx context.Context, num *waNumber) error {
	d := num.lookups.reserve(w.now())
	if d <= 0 {
		return nil
	}
	select {
	case <-w.after(d):
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting to look phones up: %w", ctx.Err())
	}
}
