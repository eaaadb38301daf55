package main

import (
	"context"
	"fmt"
	"time"
)

// pageQuery reads a page of messages with nested fields: the number and
// every event of each message.
const pageQuery = `query($n: Int) { viewer { messages(first: $n) { edges { node {
  id status peer sentAt number { id phone status } events { cursor status at } } } } } }`

// viewerQuery is the request path alone: auth, gqlgen, one small read.
const viewerQuery = `query { viewer { id name } }`

// queryResult is one query's latency and statement count.
type queryResult struct {
	latency    *latencies
	statements float64 // the fewest seen over the runs
}

// queries runs the viewer query and pages of 5 and 50, interleaved, reps
// times each, reading /metrics around each for its statement count.
// Background work (the call log, dispatchers) adds statements to some
// runs, so the fewest counts.
func (b *bench) queries(ctx context.Context, reps int) (map[string]*queryResult, error) {
	type query struct {
		name  string
		q     string
		vars  map[string]any
		check int // edges expected, -1 none
	}
	qs := []query{
		{"viewer", viewerQuery, nil, -1},
		{"page of 5", pageQuery, map[string]any{"n": 5}, 5},
		{"page of 50", pageQuery, map[string]any{"n": 50}, 50},
	}
	out := map[string]*queryResult{}
	for _, q := range qs {
		out[q.name] = &queryResult{latency: &latencies{}, statements: -1}
	}
	for range reps {
		for _, q := range qs {
			before, err := b.api.metric(ctx, "apiws_db_statements_total")
			if err != nil {
				return nil, err
			}
			var data struct {
				Viewer struct {
					Messages struct {
						Edges []struct{} `json:"edges"`
					} `json:"messages"`
				} `json:"viewer"`
			}
			t := time.Now()
			if err := b.api.do(ctx, q.q, q.vars, &data); err != nil {
				return nil, fmt.Errorf("%s: %w", q.name, err)
			}
			d := time.Since(t)
			after, err := b.api.metric(ctx, "apiws_db_statements_total")
			if err != nil {
				return nil, err
			}
			if q.check >= 0 && len(data.Viewer.Messages.Edges) != q.check {
				return nil, fmt.Errorf("%s returned %d edges; the account needs at least %d messages", q.name, len(data.Viewer.Messages.Edges), q.check)
			}
			r := out[q.name]
			r.latency.add(d)
			if s := after - before; r.statements < 0 || s < r.statements {
				r.statements = s
			}
		}
	}
	return out, nil
}
