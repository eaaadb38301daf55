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

// Released lets the number go once its sends under way have ended and are
// recorded, and closes the channel it returns after: only then may its
// lease go to another instance (the Manager keeps it meanwhile), which
// would otherwise find those messages still queued and send them again.
// The connection stays until then, since a send cut by a disconnect may
// have reached WhatsApp without this instance learning it.
func (o ownedNumbers) Released(n *apiws.Number) <-chan struct{} {
	sent := o.messages.Release(n.ID)
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-sent // closes at the latest when the messaging service stops
		o.numbers.DisconnectReleased(n)
	}()
	return done
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
