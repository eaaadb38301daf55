// Package eventlog follows the accounts' event logs: every event of an
// account (message status changes, inbound messages, number status, ...)
// is a row of its log, written by the service that makes the change in the
// same transaction, then published on the events Bus through Publish. The
// subscriptions (events, messageStatus, incomingMessages, numberStatus)
// follow the log through Follow: the logged events after a cursor first,
// then live ones, with no gap and no duplicate, across Bus outages and
// instances.
//
// Content that comes with an event (an inbound message's text) is not in
// the log: it is sealed into the transit table (storage.InboundTransit) by
// Seal, in the event's transaction, and opened again for followers while it
// is held. Events carry it in LogEvent.Content.
package eventlog

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/events"
	"github.com/apiws/apiws/storage"
)

// sealPurpose names the key transit content is sealed with, derived from
// the secret key (apiws.DeriveKey).
const sealPurpose = "apiws event content v1: AES-256-GCM"

// Log follows the accounts' event logs for the subscriptions of this
// process, and publishes what the services log.
type Log struct {
	db      *storage.DB
	bus     events.Bus
	log     *slog.Logger
	sealer  *apiws.Sealer
	links   *apiws.MediaLinks // nil: no media links
	ctx     context.Context   // the streams' life; ends at Close
	stop    context.CancelFunc
	streams streams
	// spillLimit is how many events a follower may have waiting for room
	// in its channel before it reads the log (defaultSpillLimit).
	spillLimit int
	// delays observes, per event published, the time from its at to its
	// publication. For what apiws does (a send, a status it records) at is
	// when the write was asked for, and this is the wait for its commit,
	// which subscribers wait too; for what WhatsApp reports (receipts,
	// inbound messages) at is WhatsApp's time, and this includes its lag.
	delays prometheus.Histogram
	// behind counts the followers that fell behind their stream (their
	// channel and spill full) and read the log again.
	behind prometheus.Counter
}

// New returns the event log of db, published on bus; secret (32 bytes)
// keys the sealing of transit content, which db keeps for transitTTL.
func New(db *storage.DB, bus events.Bus, secret []byte, transitTTL time.Duration, log *slog.Logger) (*Log, error) {
	sealer, err := apiws.NewSealer(secret, sealPurpose)
	if err != nil {
		return nil, fmt.Errorf("eventlog: %w", err)
	}
	ctx, stop := context.WithCancel(context.Background())
	l := &Log{db: db, bus: bus, log: log, sealer: sealer, ctx: ctx, stop: stop, spillLimit: defaultSpillLimit,
		delays: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "apiws_event_publish_delay_seconds",
			Help:    "Time from an event's at to its publication to subscribers, per event this instance published: the commit's wait for what apiws did; for receipts and inbound messages, whose at is WhatsApp's, WhatsApp's lag too.",
			Buckets: []float64{.001, .002, .005, .0075, .01, .015, .02, .03, .05, .075, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		behind: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "apiws_event_followers_behind_total",
			Help: "Subscriptions to events that fell behind their stream (more events waiting than they hold) and read the log again to catch up.",
		})}
	db.KeepContent(l.Seal, l.sealMedia, transitTTL)
	return l, nil
}

// LinkMedia makes the content of events show each inbound file's link
// (MediaInfo.URL) while it is in transit, signed by links. Call it before
// any event is read.
func (l *Log) LinkMedia(links *apiws.MediaLinks) { l.links = links }

// Close ends every stream of this process; their followers' channels
// close.
func (l *Log) Close() { l.stop() }

// aad binds sealed content to its event: it cannot be moved to another.
func aad(ev *apiws.LogEvent) []byte { return fmt.Appendf(nil, "%s/%d", ev.AccountID, ev.Seq) }

// mediaAAD binds a sealed media reference to its event, and tells it from
// the event's content.
func mediaAAD(accountID string, seq int64) []byte {
	return fmt.Appendf(nil, "%s/%d/media", accountID, seq)
}

// heldMedia is what the transit table keeps of an inbound file until the
// TTL: what fetches it, and what its download is served as.
type heldMedia struct {
	Ref      []byte `json:"ref"`
	MimeType string `json:"mimeType"`
	FileName string `json:"fileName,omitempty"`
}

// Seal returns ev.Content sealed for the transit table (nil when ev has no
// content). Call it once ev has its cursor: inside the transaction that
// logs it (storage hands the event over then).
func (l *Log) Seal(ev *apiws.LogEvent) []byte {
	if ev.Content == nil {
		return nil
	}
	plain, err := json.Marshal(ev.Content)
	if err != nil {
		panic("eventlog: encode content: " + err.Error()) // plain data: cannot fail
	}
	return l.sealer.Seal(aad(ev), plain)
}

// sealMedia returns the media reference of ev's inbound file sealed for
// the transit table (nil when it has none).
func (l *Log) sealMedia(ev *apiws.LogEvent) []byte {
	if ev.Content == nil || ev.Content.Media == nil || ev.Content.Media.Ref == nil {
		return nil
	}
	m := ev.Content.Media
	h := heldMedia{Ref: m.Ref, MimeType: m.MimeType}
	if m.FileName != nil {
		h.FileName = *m.FileName
	}
	plain, _ := json.Marshal(h)
	return l.sealer.Seal(mediaAAD(ev.AccountID, ev.Seq), plain)
}

// Media returns the inbound file of the link's event as the transit table
// holds it now (its Ref, MimeType and FileName) and the number it came to;
// nil when it is held no more.
func (l *Log) Media(ctx context.Context, link apiws.MediaLink) (numberID string, m *apiws.InboundMedia, err error) {
	numberID, sealed, err := l.db.TransitMedia(ctx, link.AccountID, link.Seq, time.Now())
	if err != nil || sealed == nil {
		return "", nil, err
	}
	plain, err := l.sealer.Open(mediaAAD(link.AccountID, link.Seq), sealed)
	if err != nil {
		return "", nil, fmt.Errorf("open media of event %d: %w", link.Seq, err)
	}
	var h heldMedia
	if err := json.Unmarshal(plain, &h); err != nil {
		return "", nil, err
	}
	return numberID, &apiws.InboundMedia{Ref: h.Ref, MimeType: h.MimeType, FileName: h.FileName}, nil
}

// open sets ev.Content from what Seal sealed, with the link of its inbound
// file while ev.MediaUntil says it can be fetched.
func (l *Log) open(ev *apiws.LogEvent, sealed []byte) error {
	plain, err := l.sealer.Open(aad(ev), sealed)
	if err != nil {
		return fmt.Errorf("open content of event %d: %w", ev.Seq, err)
	}
	c := new(apiws.MessageContent)
	if err := json.Unmarshal(plain, c); err != nil {
		return err
	}
	if c.Mentions == nil {
		c.Mentions = []apiws.Peer{}
	}
	if c.Media != nil && ev.MediaUntil != nil && l.links != nil && time.Now().Before(*ev.MediaUntil) {
		url := l.links.URL(apiws.MediaLink{AccountID: ev.AccountID, Seq: ev.Seq, Expires: *ev.MediaUntil})
		c.Media.URL = &url
	}
	ev.Content = c
	return nil
}

// published is an event as the Bus carries it: its row, and its content
// sealed again (the Bus never carries content in clear).
type published struct {
	*apiws.LogEvent
	Sealed []byte `json:"sealed,omitempty"`
	// More are the events published with it, after it: a run of the
	// account's. Versions before runs read the first event alone and fill
	// the gap the others leave from the log.
	More []published `json:"more,omitempty"`
}

// maxPublished bounds the events one Bus message carries.
const maxPublished = 128

// Publish announces committed events on the Bus, in one round trip. An
// account's consecutive events travel in one Bus message (up to
// maxPublished): a commit of a hundred events reaches each instance as one
// message, not a hundred that overflow its subscription's buffer and send
// its stream back to the log. This process's stream of the account gets
// them at once, as the Bus would deliver them, and skips the Bus's copy.
// A Bus failure is logged, not returned: the log is the source of truth,
// and followers read it again when the Bus is back.
func (l *Log) Publish(ctx context.Context, evs ...*apiws.LogEvent) {
	if len(evs) == 0 {
		return
	}
	var batch []events.Published
	for run := range runs(evs) {
		items := make([]published, len(run))
		numberID := run[0].NumberID
		for i, ev := range run {
			items[i] = published{LogEvent: ev, Sealed: l.Seal(ev)}
			if ev.NumberID != numberID {
				numberID = ""
			}
		}
		l.deliverHere(items)
		first := items[0]
		first.More = items[1:]
		data, _ := json.Marshal(first)
		last := run[len(run)-1]
		batch = append(batch, events.Published{Topic: last.AccountID, Event: apiws.Event{
			Kind: apiws.EventLogged, AccountID: last.AccountID, NumberID: numberID, Cursor: last.Seq, Data: data,
		}})
	}
	if err := l.bus.PublishBatch(ctx, batch); err != nil {
		l.log.Warn("publish events", "err", err, "events", len(evs), "account", evs[0].AccountID, "cursor", evs[0].Seq)
		return
	}
	now := time.Now()
	for _, ev := range evs {
		l.delays.Observe(max(now.Sub(ev.At), 0).Seconds()) // another clock's at may be ahead
	}
}

// runs splits evs into runs of one account's consecutive events, each of
// at most maxPublished.
func runs(evs []*apiws.LogEvent) iter.Seq[[]*apiws.LogEvent] {
	return func(yield func([]*apiws.LogEvent) bool) {
		for len(evs) > 0 {
			n := 1
			for n < len(evs) && n < maxPublished && evs[n].AccountID == evs[0].AccountID {
				n++
			}
			if !yield(evs[:n]) {
				return
			}
			evs = evs[n:]
		}
	}
}

// Collectors export the delay of the events published here and how often
// a subscription fell behind.
func (l *Log) Collectors() []prometheus.Collector { return []prometheus.Collector{l.delays, l.behind} }

// decode reads the events of a Bus message, in the order they were
// published (one alone from versions before runs); none if it is not one.
func (l *Log) decode(ev apiws.Event) []*apiws.LogEvent {
	var first published
	if json.Unmarshal(ev.Data, &first) != nil || first.LogEvent == nil {
		return nil
	}
	evs := []*apiws.LogEvent{l.received(first)}
	for _, p := range first.More {
		if p.LogEvent != nil {
			evs = append(evs, l.received(p))
		}
	}
	return evs
}

// received is the event a follower gets for p: what the Bus does not carry
// left out, the content opened from its seal.
func (l *Log) received(p published) *apiws.LogEvent {
	ev := *p.LogEvent
	ev.WAMessageID, ev.Content = "", nil
	if p.Sealed != nil {
		if err := l.open(&ev, p.Sealed); err != nil {
			l.log.Warn("open published content", "err", err, "account", ev.AccountID, "cursor", ev.Seq)
		}
	}
	return &ev
}

// deliverHere hands a run of one account's events to the account's stream
// in this process, if one runs.
func (l *Log) deliverHere(run []published) {
	var st *accountStream
	l.streams.mu.Lock()
	if ref := l.streams.m[run[0].AccountID]; ref != nil {
		st = ref.st
	}
	l.streams.mu.Unlock()
	if st == nil {
		return
	}
	for _, p := range run {
		st.offer(l.received(p))
	}
	if held, spilled := st.waiting(); held || spilled {
		st.wake()
	}
}

// read returns up to limit logged events of the account after cursor
// after, with the content the transit table still holds.
func (l *Log) read(ctx context.Context, account string, after int64, limit int) ([]*apiws.LogEvent, error) {
	evs, err := l.db.EventsAfter(ctx, account, after, "", limit)
	if err != nil {
		return nil, err
	}
	return evs, l.attach(ctx, account, evs)
}

// attach sets the Content of those evs whose content is in transit.
func (l *Log) attach(ctx context.Context, account string, evs []*apiws.LogEvent) error {
	var seqs []int64
	for _, ev := range evs {
		if HasContent(ev.Type) {
			seqs = append(seqs, ev.Seq)
		}
	}
	if len(seqs) == 0 {
		return nil
	}
	held, err := l.db.TransitContents(ctx, account, seqs, time.Now())
	if err != nil {
		return err
	}
	for _, ev := range evs {
		if h, ok := held[ev.Seq]; ok {
			ev.MediaUntil = h.MediaUntil
			if err := l.open(ev, h.Content); err != nil {
				l.log.Warn("open transit content", "err", err, "account", account, "cursor", ev.Seq)
			}
		}
	}
	return nil
}

// HasContent reports whether events of type t may carry content in
// transit.
func HasContent(t apiws.EventType) bool { return t.CarriesContent() }
