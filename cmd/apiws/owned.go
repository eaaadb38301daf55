package main

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/messaging"
	"github.com/apiws/apiws/numbers"
	"github.com/apiws/apiws/ownership"
)

// ownedNumbers connects the numbers this instance comes to own and starts
// sending their queues; it lets go of the ones it loses.
type ownedNumbers struct {
	numbers  *numbers.Service
	messages *messaging.Service
}

func (o ownedNumbers) Acquired(ctx context.Context, n *apiws.Number) {
	o.numbers.ConnectOwned(ctx, n)
	o.messages.Nudge(n.ID)
}

func (o ownedNumbers) Released(n *apiws.Number) {
	// The number's sends under way end, and are recorded, before its lease
	// can go to another instance.
	o.messages.Release(n.ID)
	o.numbers.DisconnectReleased(n)
}

// ownershipCollectors export the numbers this instance owns, its lease
// takeovers and the outbox depth.
func ownershipCollectors(m *ownership.Manager, messages *messaging.Service) []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "apiws_owned_numbers", Help: "Numbers this instance holds the lease of.",
			ConstLabels: prometheus.Labels{"instance_id": m.ID()},
		}, func() float64 { return float64(m.Stats().Owned) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "apiws_lease_takeovers_total", Help: "Leases this instance took over from another (dead or paused) instance.",
		}, func() float64 { return float64(m.Stats().Takeovers) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "apiws_leases_lost_total", Help: "Leases this instance failed to renew in time.",
		}, func() float64 { return float64(m.Stats().Lost) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "apiws_outbox_depth", Help: "Messages queued for sending, over every instance, as of the last outbox scan (every 2s).",
		}, func() float64 { return float64(messages.OutboxDepth()) }),
	}
}
