package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/events"
	"github.com/apiws/apiws/publicnet"
	"github.com/apiws/apiws/storage"
)

// Defaults of DelivererOptions.
const (
	DefaultTimeout  = 10 * time.Second
	DefaultPoll     = 5 * time.Second
	DefaultLease    = 30 * time.Second
	DefaultParallel = 16
)

// failingLimit is how long an endpoint may fail without one success
// before it is disabled.
const failingLimit = 72 * time.Hour

// responseLimit is how much of a response body is read.
const responseLimit = 4 << 10

// leaseMargin is the time a lease must hold beyond an attempt's timeout
// for the attempt to start: enough to record its outcome.
const leaseMargin = 5 * time.Second

// dueBatch is how many due deliveries of an endpoint are read at a time.
const dueBatch = 50

// wakeTopic is the bus topic on which a commit that queued deliveries
// wakes the deliverers of every instance.
const wakeTopic = "webhooks"

// DelivererOptions configure a Deliverer.
type DelivererOptions struct {
	// Owner names this instance in the leases it takes.
	Owner string
	// SecretKey opens the endpoints' signing secrets.
	SecretKey []byte
	// AllowPrivate lets connections reach private addresses
	// (APIWS_ALLOW_PRIVATE_URLS: development and tests only).
	AllowPrivate bool
	// Data renders the data of logged events.
	Data EventData
	// Bus carries the wake-ups between instances; without one, only
	// this process's commits wake it early.
	Bus events.Bus
	// MailQueued is called after a mail was queued (an endpoint disabled).
	MailQueued func()
	Log        *slog.Logger
	// Now is the clock and Jitter draws a number in [0, 1) for the retry
	// schedule; the real ones by default.
	Now    func() time.Time
	Jitter func() float64
	// Timeout bounds an attempt (DefaultTimeout); Lease is how long a
	// claim of an endpoint lasts (DefaultLease, more than Timeout); Poll is
	// the longest the deliverer sleeps without a nudge (DefaultPoll; it
	// wakes by itself when a retry is due or a lease that holds one back
	// ends); Parallel is how many endpoints are served at once
	// (DefaultParallel).
	Timeout  time.Duration
	Lease    time.Duration
	Poll     time.Duration
	Parallel int
	// Tracer makes a span of every delivery attempt; nil makes none.
	Tracer trace.TracerProvider
}

// Deliverer posts the pending webhook deliveries of every account. Any
// number of instances may run one: an endpoint is served by the instance
// that holds its lease, its due deliveries in cursor order, each attempt
// made and recorded once.
type Deliverer struct {
	db      *storage.DB
	seal    *sealer
	client  *http.Client
	opt     DelivererOptions
	bodies  *bodyCache
	metrics *metrics
	tracer  trace.Tracer
	// kick asks for a wake-up of every instance; wake wakes this one.
	kick, wake chan struct{}
}

// NewDeliverer returns a deliverer over the database.
func NewDeliverer(db *storage.DB, opt DelivererOptions) (*Deliverer, error) {
	s, err := newSealer(opt.SecretKey)
	if err != nil {
		return nil, err
	}
	if opt.Data == nil {
		return nil, errors.New("webhooks: a deliverer needs its EventData")
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Jitter == nil {
		opt.Jitter = rand.Float64
	}
	if opt.MailQueued == nil {
		opt.MailQueued = func() {}
	}
	opt.Timeout = cmp(opt.Timeout, DefaultTimeout)
	opt.Lease = max(cmp(opt.Lease, DefaultLease), 2*opt.Timeout)
	opt.Poll = cmp(opt.Poll, DefaultPoll)
	if opt.Parallel <= 0 {
		opt.Parallel = DefaultParallel
	}
	transport := publicnet.Policy{AllowPrivate: opt.AllowPrivate}.Transport()
	transport.MaxIdleConnsPerHost = opt.Parallel
	if opt.Tracer == nil {
		opt.Tracer = noop.NewTracerProvider()
	}
	return &Deliverer{
		db: db, seal: s, opt: opt, tracer: opt.Tracer.Tracer("github.com/apiws/apiws/webhooks"),
		client: &http.Client{
			Transport: transport,
			// Redirects are not followed: a 3xx is a failed attempt.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		bodies:  newBodyCache(4096, time.Minute),
		metrics: newMetrics(db),
		kick:    make(chan struct{}, 1),
		wake:    make(chan struct{}, 1),
	}, nil
}

// cmp is v, or def when v is not positive.
func cmp(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}

// Nudge tells the deliverers of every instance that deliveries were
// queued. It never blocks; nudges that come while one is under way
// merge.
func (d *Deliverer) Nudge() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

func (d *Deliverer) wakeUp() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx ends, then lets the attempts under way end (or
// be cut short: they are tried again) and releases its leases.
func (d *Deliverer) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { d.relay(ctx) })
	wg.Go(func() { d.follow(ctx) })
	wg.Go(func() {
		tick := time.NewTicker(tableRefresh)
		defer tick.Stop()
		for {
			d.metrics.refresh(ctx)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	slots := make(chan struct{}, d.opt.Parallel)
	timer := time.NewTimer(d.opt.Poll)
	defer timer.Stop()
	for {
		if free := cap(slots) - len(slots); free > 0 {
			now := d.opt.Now().UTC()
			eps, err := d.db.ClaimWebhookEndpoints(ctx, d.opt.Owner, now, now.Add(d.opt.Lease), free)
			if err != nil && ctx.Err() == nil {
				d.opt.Log.Error("claim webhook endpoints", "err", err)
			}
			for _, e := range eps {
				slots <- struct{}{}
				wg.Go(func() {
					defer func() { <-slots; d.wakeUp() }()
					d.serve(ctx, e)
				})
			}
		}
		timer.Reset(d.nextWake(ctx))
		select {
		case <-ctx.Done():
			return nil
		case <-d.wake:
		case <-timer.C:
		}
	}
}

// minWake bounds how often the deliverer wakes by itself.
const minWake = 20 * time.Millisecond

// nextWake is how long to sleep unless woken: until the next retry is due
// or a lease that holds one back ends, at most Poll (which catches a lost
// nudge).
func (d *Deliverer) nextWake(ctx context.Context) time.Duration {
	now := d.opt.Now()
	next, err := d.db.NextWebhookWake(ctx, now.UTC())
	if err != nil || next.IsZero() {
		return d.opt.Poll
	}
	return min(max(next.Sub(now), minWake), d.opt.Poll)
}

// relay passes nudges on to every instance through the bus (or, without
// one, to this instance).
func (d *Deliverer) relay(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.kick:
			if d.opt.Bus == nil {
				d.wakeUp()
			} else if err := d.opt.Bus.Publish(ctx, wakeTopic, apiws.Event{Kind: apiws.EventWebhooks}); err != nil {
				d.wakeUp()
			}
		}
	}
}

// follow wakes this instance for the nudges of every instance.
func (d *Deliverer) follow(ctx context.Context) {
	if d.opt.Bus == nil {
		return
	}
	err := events.Follow(ctx, d.opt.Bus, wakeTopic, func(apiws.Event) { d.wakeUp() }, apiws.EventWebhooks)
	if err != nil {
		d.opt.Log.Warn("webhook wake-ups stopped; polling only", "err", err)
	}
}

// serve delivers the due deliveries of a claimed endpoint until none is
// due, its lease is lost or ctx ends, then releases the lease.
func (d *Deliverer) serve(ctx context.Context, e *storage.WebhookEndpoint) {
	lease := storage.LeaseOf(e, d.opt.Owner)
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := d.db.ReleaseWebhookLease(rctx, lease); err != nil {
			d.opt.Log.Warn("release webhook lease", "endpoint", e.ID, "err", err)
		}
	}()
	keys, err := d.keys(e)
	if err != nil {
		d.opt.Log.Error("open webhook secret", "endpoint", e.ID, "err", err)
		return
	}
	r := &results{d: d, e: e, lease: lease}
	if e.LeaseUntil != nil {
		r.until = *e.LeaseUntil
	}
	defer r.flush(ctx) // what ctx's end cut short is tried again later
	for ctx.Err() == nil {
		due, err := d.db.DueDeliveries(ctx, e.ID, d.opt.Now().UTC(), dueBatch)
		if err != nil || len(due) == 0 {
			if err != nil && ctx.Err() == nil {
				d.opt.Log.Error("due webhook deliveries", "endpoint", e.ID, "err", err)
			}
			return
		}
		bodies := d.render(ctx, e, due)
		for _, del := range due {
			// An attempt starts only with time enough left on the lease to
			// be recorded under it.
			if !r.leaseFor(ctx, d.opt.Timeout+leaseMargin) || ctx.Err() != nil {
				return
			}
			gone := d.attempt(ctx, e, del, bodies[del.ID], keys)
			if ctx.Err() != nil {
				return // cut short by shutdown: tried again later
			}
			r.add(del)
			if gone || r.full() {
				if !r.flush(ctx) {
					return
				}
			}
			if gone {
				d.disable(ctx, e, lease, "the endpoint answered 410 Gone", *del.LastAttemptAt)
				return
			}
		}
		// The next read must see these outcomes.
		if !r.flush(ctx) {
			return
		}
	}
}

// results are the outcomes of an endpoint's attempts not yet recorded:
// several are recorded in one transaction when the endpoint answers
// quickly, each at once when it is slow.
type results struct {
	d     *Deliverer
	e     *storage.WebhookEndpoint
	lease storage.WebhookLease
	until time.Time // the end of the lease
	ds    []*apiws.WebhookDelivery
	since time.Time // when the first of ds was added
	// stopped is set once the lease was lost or the endpoint disabled.
	stopped bool
}

// Bounds of the outcomes recorded together.
const (
	recordBatch = 50
	recordDelay = 20 * time.Millisecond
)

func (r *results) add(del *apiws.WebhookDelivery) {
	if len(r.ds) == 0 {
		r.since = r.d.opt.Now()
	}
	r.ds = append(r.ds, del)
}

func (r *results) full() bool {
	return len(r.ds) >= recordBatch || r.d.opt.Now().Sub(r.since) >= recordDelay
}

// leaseFor makes sure the lease holds for at least need, recording the
// outcomes (which extends it) or renewing it; false when it is lost.
func (r *results) leaseFor(ctx context.Context, need time.Duration) bool {
	now := r.d.opt.Now().UTC()
	if r.stopped {
		return false
	}
	if r.until.Sub(now) >= need {
		return true
	}
	if len(r.ds) > 0 {
		return r.flush(ctx)
	}
	held, err := r.d.db.RenewWebhookLease(ctx, r.lease, now, now.Add(r.d.opt.Lease))
	if err != nil || !held {
		r.stopped = true
		return false
	}
	r.until = now.Add(r.d.opt.Lease)
	return true
}

// flush records the outcomes under the lease, extending it, and disables
// an endpoint that failed for 3 days; false when the endpoint's service
// should stop.
func (r *results) flush(ctx context.Context) bool {
	if len(r.ds) == 0 || r.stopped {
		return !r.stopped
	}
	d, ds := r.d, r.ds
	r.ds = nil
	now := d.opt.Now().UTC()
	until := now.Add(d.opt.Lease)
	held, failingSince, err := d.db.RecordAttempts(context.WithoutCancel(ctx), r.lease, ds, now, until)
	if err != nil {
		d.opt.Log.Error("record webhook attempts", "endpoint", r.e.ID, "err", err)
	}
	if err != nil || !held {
		r.stopped = true
		return false
	}
	r.until = until
	for _, del := range ds {
		switch {
		case del.Status == apiws.DeliverySucceeded:
			d.metrics.outcome("succeeded")
			if del.EventCursor != nil {
				d.metrics.latency.Observe(del.LastAttemptAt.Sub(del.EventAt).Seconds())
			}
		case del.Status == apiws.DeliveryFailed:
			d.metrics.outcome("failed")
		default:
			d.metrics.outcome("retrying")
		}
	}
	last := ds[len(ds)-1]
	if last.Status != apiws.DeliverySucceeded && failingSince != nil && last.LastAttemptAt.Sub(*failingSince) >= failingLimit {
		r.stopped = true
		d.disable(ctx, r.e, r.lease, "the endpoint failed for 3 days without one success", now)
		return false
	}
	return true
}

// keys returns the HMAC keys that sign for e now: its secret's, and the
// previous one's during a rotation.
func (d *Deliverer) keys(e *storage.WebhookEndpoint) ([][]byte, error) {
	sealed := [][]byte{e.Secret}
	if e.PreviousSecret != nil && e.PreviousUntil != nil && d.opt.Now().Before(*e.PreviousUntil) {
		sealed = append(sealed, e.PreviousSecret)
	}
	var keys [][]byte
	for _, s := range sealed {
		secret, err := d.seal.open(e.ID, s)
		if err != nil {
			return nil, err
		}
		k, err := secretKey(secret)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// render returns the bodies of the deliveries by delivery id; a delivery
// whose body could not be made has none.
func (d *Deliverer) render(ctx context.Context, e *storage.WebhookEndpoint, due []*apiws.WebhookDelivery) map[string][]byte {
	out := make(map[string][]byte, len(due))
	now := d.opt.Now().UTC()
	var missing []int64
	for _, del := range due {
		if del.EventCursor == nil {
			b, err := pingBody(e.ID, del.EventAt)
			if err == nil {
				out[del.ID] = b
			}
			continue
		}
		if b, ok := d.bodies.get(eventKey{e.AccountID, *del.EventCursor}, now); ok {
			out[del.ID] = b
		} else {
			missing = append(missing, *del.EventCursor)
		}
	}
	if len(missing) > 0 {
		d.renderEvents(ctx, e.AccountID, missing, now)
		for _, del := range due {
			if del.EventCursor != nil && out[del.ID] == nil {
				if b, ok := d.bodies.get(eventKey{e.AccountID, *del.EventCursor}, now); ok {
					out[del.ID] = b
				}
			}
		}
	}
	return out
}

// renderEvents renders the bodies of the account's events with the
// cursors into the cache, all at once, or one by one when that fails, so
// that an event that cannot be rendered (it gets no body) holds back no
// other.
func (d *Deliverer) renderEvents(ctx context.Context, accountID string, seqs []int64, now time.Time) {
	evs, err := d.db.LogEvents(ctx, accountID, seqs)
	if err != nil {
		d.opt.Log.Error("read logged events", "account", accountID, "err", err)
		return
	}
	if d.renderBatch(ctx, evs, now) == nil || len(evs) == 1 {
		return
	}
	for _, ev := range evs {
		if err := d.renderBatch(ctx, []*apiws.LogEvent{ev}, now); err != nil && ctx.Err() == nil {
			d.opt.Log.Error("render a webhook body", "account", accountID, "cursor", ev.Seq, "err", err)
		}
	}
}

func (d *Deliverer) renderBatch(ctx context.Context, evs []*apiws.LogEvent, now time.Time) error {
	if len(evs) == 0 {
		return nil
	}
	data, err := d.opt.Data.EventData(ctx, evs)
	if err != nil {
		return err
	}
	for i, ev := range evs {
		b, err := eventBody(ev, data[i])
		if err != nil {
			return err
		}
		d.bodies.put(eventKey{ev.AccountID, ev.Seq}, b, now)
	}
	return nil
}

// attempt makes one attempt of del and sets its outcome (not yet
// recorded); gone reports a 410 Gone, which disables the endpoint.
func (d *Deliverer) attempt(ctx context.Context, e *storage.WebhookEndpoint, del *apiws.WebhookDelivery, body []byte, keys [][]byte) (gone bool) {
	ctx, span := d.tracer.Start(ctx, "webhook.deliver", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("apiws.webhook.delivery.id", del.ID), attribute.String("apiws.webhook.endpoint.id", e.ID),
		attribute.String("apiws.event.type", string(del.EventType)), attribute.Int("apiws.webhook.attempt", del.Attempts+1)))
	defer span.End()
	var status int
	var failure string
	if body == nil {
		failure = "the event could not be rendered"
	} else {
		status, failure = d.post(ctx, e.URL, del.ID, body, keys)
	}
	if status != 0 {
		span.SetAttributes(attribute.Int("http.response.status_code", status))
	}
	if failure != "" {
		span.SetStatus(otelcodes.Error, failure)
	}
	end := d.opt.Now().UTC()
	del.Attempts++
	del.LastAttemptAt = &end
	del.ResponseStatus = nil
	if status != 0 {
		del.ResponseStatus = &status
	}
	if failure == "" {
		del.Status, del.NextAttemptAt, del.Error = apiws.DeliverySucceeded, nil, nil
		return false
	}
	del.Error = &failure
	if next, ok := NextAttempt(del.Attempts, end, d.opt.Jitter()); ok {
		del.NextAttemptAt = &next
	} else {
		del.Status, del.NextAttemptAt = apiws.DeliveryFailed, nil
	}
	return status == http.StatusGone
}

// post makes one POST of body; it returns the response's status (0
// without one) and why the attempt failed ("" for a 2xx).
func (d *Deliverer) post(ctx context.Context, endpoint, id string, body []byte, keys [][]byte) (int, string) {
	ctx, cancel := context.WithTimeout(ctx, d.opt.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return 0, "invalid URL"
	}
	now := d.opt.Now()
	req.Header.Set("content-type", "application/json")
	req.Header.Set("user-agent", "apiws-webhooks/1")
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", Signature(id, now, body, keys...))
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, describe(err, d.opt.Timeout)
	}
	defer resp.Body.Close()
	// A few KiB at most: a huge or endless body costs nothing more.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, responseLimit))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return resp.StatusCode, ""
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		return resp.StatusCode, fmt.Sprintf("HTTP %d: redirects are not followed", resp.StatusCode)
	}
	return resp.StatusCode, fmt.Sprintf("HTTP %d", resp.StatusCode)
}

// describe says why a request failed, without the URL.
func describe(err error, timeout time.Duration) string {
	var ne net.Error
	switch {
	case errors.Is(err, publicnet.ErrBlocked):
		return "refused: the address is not public"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Sprintf("no response within %s", timeout)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return "connection failed: " + err.Error()
}

// disable disables the endpoint for reason, with a notice and a mail to
// its account.
func (d *Deliverer) disable(ctx context.Context, e *storage.WebhookEndpoint, lease storage.WebhookLease, reason string, now time.Time) {
	held, err := d.db.DisableWebhookEndpoint(context.WithoutCancel(ctx), lease, reason, now, func(acc *apiws.Account, ep *apiws.WebhookEndpoint) (*apiws.Notice, *storage.OutgoingMail) {
		body := fmt.Sprintf("apiws disabled your webhook endpoint %s (%s): %s. Its pending deliveries failed.\n\n"+
			"Once it works again, enable it with updateWebhookEndpoint (enabled: true) and ask for what it missed with "+
			"replayWebhookDeliveries.", ep.URL, ep.ID, reason)
		return &apiws.Notice{ID: apiws.NewID(apiws.PrefixNotice), AccountID: acc.ID, Title: "Webhook endpoint disabled", Body: body, CreatedAt: now},
			&storage.OutgoingMail{ID: apiws.NewID("mail"), AccountID: &acc.ID, To: acc.Email,
				Subject: "apiws: webhook endpoint disabled", Body: fmt.Sprintf("Hello %s,\n\n%s\n\napiws\n", acc.Name, body),
				CreatedAt: now, NextAttemptAt: now}
	})
	if err != nil {
		d.opt.Log.Error("disable webhook endpoint", "endpoint", e.ID, "err", err)
		return
	}
	if held {
		d.opt.Log.Info("webhook endpoint disabled", "endpoint", e.ID, "reason", reason)
		d.metrics.disabled.Inc()
		d.opt.MailQueued()
	}
}
