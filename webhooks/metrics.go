package webhooks

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/apiws/apiws/storage"
)

// metrics are the deliverer's Prometheus collectors.
type metrics struct {
	deliveries *prometheus.CounterVec
	latency    prometheus.Histogram
	disabled   prometheus.Counter
	tables     tables
	db         *storage.DB
}

func newMetrics(db *storage.DB) *metrics {
	return &metrics{
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "apiws_webhook_attempts_total",
			Help: "Webhook delivery attempts by outcome: succeeded, retrying (failed, tried again later) or failed (the last attempt failed).",
		}, []string{"outcome"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "apiws_webhook_delivery_latency_seconds",
			Help:    "From an event to the success of its webhook delivery (retries included).",
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 7200, 36000},
		}),
		disabled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "apiws_webhook_endpoints_disabled_total", Help: "Webhook endpoints apiws disabled (410 Gone, or failing for 3 days).",
		}),
		db: db,
	}
}

func (m *metrics) outcome(o string) { m.deliveries.WithLabelValues(o).Inc() }

// tableRefresh is how often the gauges of the tables are read.
const tableRefresh = 5 * time.Second

// tables holds the gauges that the database holds, read every
// tableRefresh by the deliverer rather than at each scrape, so a scrape
// runs no statement.
type tables struct {
	pending, inbound, outbound atomic.Int64
}

// refresh reads the gauges of the tables.
func (m *metrics) refresh(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if n, err := m.db.PendingDeliveries(ctx); err == nil {
		m.tables.pending.Store(int64(n))
	}
	if in, out, err := m.db.TransitRows(ctx); err == nil {
		m.tables.inbound.Store(int64(in))
		m.tables.outbound.Store(int64(out))
	}
}

// Collectors are the deliverer's metrics, and the gauges of its tables.
func (d *Deliverer) Collectors() []prometheus.Collector {
	t := &d.metrics.tables
	gauge := func(v *atomic.Int64) func() float64 { return func() float64 { return float64(v.Load()) } }
	return []prometheus.Collector{
		d.metrics.deliveries, d.metrics.latency, d.metrics.disabled,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "apiws_webhook_pending_deliveries", Help: "Webhook deliveries not yet succeeded or failed, of every instance.",
		}, gauge(&t.pending)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "apiws_transit_rows", Help: "Rows of content in transit: the events' inbound content, and sent content kept for retry receipts.",
			ConstLabels: prometheus.Labels{"table": "inbound_transit"},
		}, gauge(&t.inbound)),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "apiws_transit_rows", Help: "Rows of content in transit: the events' inbound content, and sent content kept for retry receipts.",
			ConstLabels: prometheus.Labels{"table": "transit"},
		}, gauge(&t.outbound)),
	}
}
