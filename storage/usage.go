package storage

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/apiws/apiws"
)

// Rollup periods: every count is kept per hour and per day, so no usage
// question ever scans more than a year of days or a range of hours.
const (
	PeriodHour = "hour"
	PeriodDay  = "day"
)

// UsageRow is one account's counts over one rollup period.
type UsageRow struct {
	AccountID string
	Period    string
	Start     time.Time
	Counts    apiws.UsageCounts
}

// usageRollup is the table's row; its counters are listed in the order of
// counters().
type usageRollup struct {
	bun.BaseModel `bun:"table:usage_rollups,alias:r"`

	AccountID string    `bun:"account_id,pk"`
	Period    string    `bun:"period,pk"`
	Start     time.Time `bun:"start,pk"`
	APICalls  int64     `bun:"api_calls"`
	Errors    int64     `bun:"errors"`
	Accepted  int64     `bun:"accepted"`
	Sent      int64     `bun:"sent"`
	Delivered int64     `bun:"delivered"`
	Read      int64     `bun:"read"`
	Failed    int64     `bun:"failed"`
	Received  int64     `bun:"received"`
	Lat0      int64     `bun:"lat_0"`
	Lat1      int64     `bun:"lat_1"`
	Lat2      int64     `bun:"lat_2"`
	Lat3      int64     `bun:"lat_3"`
	Lat4      int64     `bun:"lat_4"`
	Lat5      int64     `bun:"lat_5"`
	Lat6      int64     `bun:"lat_6"`
	Lat7      int64     `bun:"lat_7"`
	Lat8      int64     `bun:"lat_8"`
	Lat9      int64     `bun:"lat_9"`
	Lat10     int64     `bun:"lat_10"`
	Lat11     int64     `bun:"lat_11"`
}

var rollupColumns = []string{"api_calls", "errors", "accepted", "sent", "delivered", `"read"`, "failed", "received",
	"lat_0", "lat_1", "lat_2", "lat_3", "lat_4", "lat_5", "lat_6", "lat_7", "lat_8", "lat_9", "lat_10", "lat_11"}

func (r *usageRollup) counters() []*int64 {
	return []*int64{&r.APICalls, &r.Errors, &r.Accepted, &r.Sent, &r.Delivered, &r.Read, &r.Failed, &r.Received,
		&r.Lat0, &r.Lat1, &r.Lat2, &r.Lat3, &r.Lat4, &r.Lat5, &r.Lat6, &r.Lat7, &r.Lat8, &r.Lat9, &r.Lat10, &r.Lat11}
}

func countsCounters(c *apiws.UsageCounts) []*int64 {
	ps := []*int64{&c.APICalls, &c.Errors, &c.Accepted, &c.Sent, &c.Delivered, &c.Read, &c.Failed, &c.Received}
	for i := range c.Latency {
		ps = append(ps, &c.Latency[i])
	}
	return ps
}

func rollupOf(u *UsageRow) *usageRollup {
	r := &usageRollup{AccountID: u.AccountID, Period: u.Period, Start: u.Start.UTC()}
	src := countsCounters(&u.Counts)
	for i, p := range r.counters() {
		*p = *src[i]
	}
	return r
}

func (r *usageRollup) row() UsageRow {
	u := UsageRow{AccountID: r.AccountID, Period: r.Period, Start: r.Start.UTC()}
	dst := countsCounters(&u.Counts)
	for i, p := range r.counters() {
		*dst[i] = *p
	}
	return u
}

// rollupUpsertSet adds each row's counts to what the table holds.
var rollupUpsertSet = func() string {
	var b strings.Builder
	for i, c := range rollupColumns {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s = r.%s + EXCLUDED.%s", c, c, c)
	}
	return b.String()
}()

// WriteUsage writes a batch of API calls and adds the usage rows to the
// rollups, in one transaction. Rows with the same account, period and start
// are merged first, since one statement may not update a row twice.
func (db *DB) WriteUsage(ctx context.Context, calls []*apiws.APICall, rows []UsageRow) error {
	if len(calls) == 0 && len(rows) == 0 {
		return nil
	}
	return db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if len(calls) > 0 {
			if _, err := tx.NewInsert().Model(&calls).Exec(ctx); err != nil {
				return fmt.Errorf("insert api calls: %w", err)
			}
		}
		return addUsage(ctx, tx, rows)
	})
}

// AddUsage adds the usage rows to the rollups.
func (db *DB) AddUsage(ctx context.Context, rows []UsageRow) error {
	return db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error { return addUsage(ctx, tx, rows) })
}

func addUsage(ctx context.Context, tx bun.IDB, rows []UsageRow) error {
	if len(rows) == 0 {
		return nil
	}
	type key struct {
		account, period string
		start           int64
	}
	merged := map[key]*UsageRow{}
	var order []key
	for i := range rows {
		k := key{rows[i].AccountID, rows[i].Period, rows[i].Start.UnixNano()}
		if m, ok := merged[k]; ok {
			m.Counts.Add(&rows[i].Counts)
			continue
		}
		r := rows[i]
		merged[k] = &r
		order = append(order, k)
	}
	// A fixed order makes concurrent writers lock rows in the same order,
	// so PostgreSQL never sees them deadlock.
	sort.Slice(order, func(i, j int) bool {
		a, b := order[i], order[j]
		if a.account != b.account {
			return a.account < b.account
		}
		if a.period != b.period {
			return a.period < b.period
		}
		return a.start < b.start
	})
	models := make([]*usageRollup, len(order))
	for i, k := range order {
		models[i] = rollupOf(merged[k])
	}
	_, err := tx.NewInsert().Model(&models).
		On("CONFLICT (account_id, period, start) DO UPDATE").
		Set(rollupUpsertSet).Exec(ctx)
	if err != nil {
		return fmt.Errorf("add usage: %w", err)
	}
	return nil
}

// UsageRows returns the account's rollup rows of the period whose start lies
// in [from, to), oldest first.
func (db *DB) UsageRows(ctx context.Context, accountID, period string, from, to time.Time) ([]UsageRow, error) {
	var rs []*usageRollup
	err := db.Bun.NewSelect().Model(&rs).
		Where("account_id = ? AND period = ? AND start >= ? AND start < ?", accountID, period, from.UTC(), to.UTC()).
		OrderExpr("start").Scan(ctx)
	if err != nil {
		return nil, translate(err)
	}
	out := make([]UsageRow, len(rs))
	for i, r := range rs {
		out[i] = r.row()
	}
	return out, nil
}

// AcceptedMessages sums the messages the account had accepted from the day
// rows whose start lies in [from, to).
func (db *DB) AcceptedMessages(ctx context.Context, accountID string, from, to time.Time) (int64, error) {
	// Read by sends, for their quota: a hot statement.
	q := db.hotQuery("AcceptedMessages", func() string {
		return db.Bun.NewSelect().Model((*usageRollup)(nil)).ColumnExpr("COALESCE(SUM(accepted), 0)").
			Where("account_id = ? AND period = ? AND start >= ? AND start < ?", placeholder, placeholder, placeholder, placeholder).String()
	})
	var n int64
	err := db.queryHot(ctx, q, &n, accountID, PeriodDay, from.UTC(), to.UTC())
	return n, translate(err)
}

// APICalls pages the account's call log, newest first, after the call id
// page.After; it returns the calls, whether more follow, and how many match
// the filter in all.
func (db *DB) APICalls(ctx context.Context, accountID string, page apiws.Page, f apiws.APICallFilter) ([]*apiws.APICall, bool, int, error) {
	filter := func(q *bun.SelectQuery) *bun.SelectQuery {
		q = q.Where("account_id = ?", accountID)
		if f.Since != nil {
			q = q.Where("at >= ?", f.Since.UTC())
		}
		if f.Until != nil {
			q = q.Where("at < ?", f.Until.UTC())
		}
		if f.OK != nil {
			q = q.Where("ok = ?", *f.OK)
		}
		if f.APIKeyID != nil {
			q = q.Where("api_key_id = ?", *f.APIKeyID)
		}
		if f.OperationName != nil {
			q = q.Where("operation_name = ?", *f.OperationName)
		}
		return q
	}
	total, err := filter(db.Bun.NewSelect().Model((*apiws.APICall)(nil))).Count(ctx)
	if err != nil {
		return nil, false, 0, translate(err)
	}
	calls := []*apiws.APICall{}
	if page.First <= 0 {
		return calls, false, int(total), nil
	}
	q := filter(db.Bun.NewSelect().Model(&calls))
	if page.After != "" {
		q = q.Where("id < ?", page.After)
	}
	if err := q.OrderExpr("id DESC").Limit(int64(page.First + 1)).Scan(ctx); err != nil {
		return nil, false, 0, translate(err)
	}
	more := len(calls) > page.First
	if more {
		calls = calls[:page.First]
	}
	return calls, more, int(total), nil
}

// APICall returns one call of the account, or ENOTFOUND (also when it
// belongs to another account).
func (db *DB) APICall(ctx context.Context, accountID, id string) (*apiws.APICall, error) {
	return selectOwned[apiws.APICall](ctx, db.Bun, "api call", accountID, id)
}
