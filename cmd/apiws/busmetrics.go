package main

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/apiws/apiws/events"
)

// busCollectors export the local fan-out of a bus that reports its Stats
// (both of events' buses do): how many subscriptions it feeds, how many it
// dropped as too slow.
func busCollectors(bus events.Bus) []prometheus.Collector {
	b, ok := bus.(interface{ Stats() events.Stats })
	if !ok {
		return nil
	}
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "apiws_bus_subscribers", Help: "Local subscriptions to the event bus still receiving.",
		}, func() float64 { return float64(b.Stats().Subscribers) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "apiws_bus_dropped_subscribers_total", Help: "Bus subscriptions dropped as too slow.",
		}, func() float64 { return float64(b.Stats().Dropped) }),
	}
}
