package usage

import (
	"sort"
	"sync"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
)

// pending holds message counts not yet written: RecordMessage adds to it,
// the background writer moves it to the rollups with the next batch of
// calls. Reads (usage, quota) add it to what the rollups hold, so this
// instance sees its counts at once.
type pending struct {
	mu   sync.Mutex
	rows map[pendingKey]*apiws.UsageCounts
}

type pendingKey struct {
	accountID, period string
	start             time.Time
}

func (p *pending) add(rows []storage.UsageRow) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.rows == nil {
		p.rows = map[pendingKey]*apiws.UsageCounts{}
	}
	for _, r := range rows {
		k := pendingKey{r.AccountID, r.Period, r.Start}
		c := p.rows[k]
		if c == nil {
			c = new(apiws.UsageCounts)
			p.rows[k] = c
		}
		c.Add(&r.Counts)
	}
}

// take empties the pending counts and returns them as rows.
func (p *pending) take() []storage.UsageRow {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]storage.UsageRow, 0, len(p.rows))
	for k, c := range p.rows {
		out = append(out, storage.UsageRow{AccountID: k.accountID, Period: k.period, Start: k.start, Counts: *c})
	}
	p.rows = nil
	return out
}

// of returns the account's pending rows of a period in [from, to), oldest
// first.
func (p *pending) of(accountID, period string, from, to time.Time) []storage.UsageRow {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []storage.UsageRow
	for k, c := range p.rows {
		if k.accountID == accountID && k.period == period && !k.start.Before(from) && k.start.Before(to) {
			out = append(out, storage.UsageRow{AccountID: k.accountID, Period: k.period, Start: k.start, Counts: *c})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}
