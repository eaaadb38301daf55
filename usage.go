package apiws

import (
	"context"
	"time"
)

// APICall is one GraphQL operation made with an account's credentials,
// refused ones included. Calls are kept 12 months.
type APICall struct {
	ID        string  `bun:"id,pk"`
	AccountID string  `bun:"account_id,notnull"`
	APIKeyID  *string `bun:"api_key_id"` // nil for a dashboard session
	// OperationName is the name the client gave, nil for an anonymous one.
	OperationName *string `bun:"operation_name"`
	// OperationType is "query", "mutation" or "subscription".
	OperationType string `bun:"operation_type,notnull"`
	// Duration runs from the start of the operation to its first response
	// (for a subscription: its first event, or its end).
	Duration time.Duration `bun:"duration_ns,notnull"`
	OK       bool          `bun:"ok,notnull"`
	// ErrorCode is the first error's extensions.code when OK is false.
	ErrorCode *string   `bun:"error_code"`
	IP        *string   `bun:"ip"`
	UserAgent *string   `bun:"user_agent"`
	At        time.Time `bun:"at,notnull"`
}

// DurationMs is the duration in milliseconds.
func (c *APICall) DurationMs() float64 { return float64(c.Duration) / float64(time.Millisecond) }

// APICallFilter narrows an account's call log; nil fields match everything.
type APICallFilter struct {
	Since         *time.Time // inclusive
	Until         *time.Time // exclusive
	OK            *bool
	APIKeyID      *string
	OperationName *string
}

// Granularity is the size of a usage bucket.
type Granularity string

// Granularities; buckets start on UTC boundaries.
const (
	Hour  Granularity = "HOUR"
	Day   Granularity = "DAY"
	Month Granularity = "MONTH"
)

// Truncate returns the start of the bucket of size g that holds t, in UTC.
func (g Granularity) Truncate(t time.Time) time.Time {
	t = t.UTC()
	switch g {
	case Hour:
		return t.Truncate(time.Hour)
	case Month:
		return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	}
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// Next returns the start of the bucket after the one starting at start.
func (g Granularity) Next(start time.Time) time.Time {
	switch g {
	case Hour:
		return start.Add(time.Hour)
	case Month:
		return start.AddDate(0, 1, 0)
	}
	return start.AddDate(0, 0, 1)
}

// Valid reports whether g is one of the granularities.
func (g Granularity) Valid() bool { return g == Hour || g == Day || g == Month }

// LatencyBoundsMs are the upper bounds, in milliseconds, of the fixed buckets
// of the API-call latency histogram kept in the rollups; one more bucket
// holds everything slower.
var LatencyBoundsMs = [LatencyBuckets - 1]float64{5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000}

// LatencyBuckets is the number of buckets of the latency histogram.
const LatencyBuckets = 12

// LatencyBucket returns the histogram bucket of a duration.
func LatencyBucket(d time.Duration) int {
	ms := float64(d) / float64(time.Millisecond)
	for i, b := range LatencyBoundsMs {
		if ms <= b {
			return i
		}
	}
	return LatencyBuckets - 1
}

// UsageCounts are the additive counters of one account over a period: what
// the rollups keep per hour and per day.
type UsageCounts struct {
	APICalls int64
	Errors   int64
	// Accepted counts messages queued for sending; quotas count these.
	Accepted  int64
	Sent      int64
	Delivered int64
	Read      int64
	Failed    int64
	Received  int64
	Latency   [LatencyBuckets]int64
}

// Add adds o to c.
func (c *UsageCounts) Add(o *UsageCounts) {
	c.APICalls += o.APICalls
	c.Errors += o.Errors
	c.Accepted += o.Accepted
	c.Sent += o.Sent
	c.Delivered += o.Delivered
	c.Read += o.Read
	c.Failed += o.Failed
	c.Received += o.Received
	for i := range c.Latency {
		c.Latency[i] += o.Latency[i]
	}
}

// LatencyQuantile estimates the q-quantile (0 < q < 1) of the latency in
// milliseconds from the histogram, interpolating within the bucket that
// holds it; nil when there were no calls. A quantile in the overflow bucket
// is reported as that bucket's lower bound.
func (c *UsageCounts) LatencyQuantile(q float64) *float64 {
	var total int64
	for _, n := range c.Latency {
		total += n
	}
	if total == 0 {
		return nil
	}
	rank := q * float64(total)
	var seen int64
	for i, n := range c.Latency {
		if n == 0 || float64(seen+n) < rank {
			seen += n
			continue
		}
		lower := 0.0
		if i > 0 {
			lower = LatencyBoundsMs[i-1]
		}
		if i == LatencyBuckets-1 {
			return &lower
		}
		v := lower + (LatencyBoundsMs[i]-lower)*(rank-float64(seen))/float64(n)
		return &v
	}
	last := LatencyBoundsMs[len(LatencyBoundsMs)-1]
	return &last
}

// UsageBucket is an account's usage over one hour, day or month.
type UsageBucket struct {
	Start             time.Time
	APICalls          int
	Errors            int
	MessagesSent      int
	MessagesDelivered int
	MessagesRead      int
	MessagesFailed    int
	MessagesReceived  int
	P50LatencyMs      *float64
	P95LatencyMs      *float64
}

// Quota is how much of its plan's monthly messages an account has used.
type Quota struct {
	// Used counts messages accepted this calendar month (UTC).
	Used  int
	Limit int
	// ResetsAt is the first instant of next month (UTC).
	ResetsAt time.Time
}

// UsageService records API calls and message activity, and answers usage,
// quota and call-log questions. Readers take the account id and trust the
// caller to have checked access.
type UsageService interface {
	// RecordCall queues a call for writing; it never blocks on the
	// database, and drops (and counts) calls when its buffer is full.
	RecordCall(c *APICall)
	// RecordMessage counts a message reaching status at the given time in
	// the account's rollups: QUEUED counts as accepted (and towards the
	// quota), SENT, DELIVERED, READ, FAILED and RECEIVED as such; other
	// statuses count nothing.
	RecordMessage(ctx context.Context, accountID string, status MessageStatus, at time.Time) error
	// CheckQuota returns EQUOTAEXCEEDED (field ["input"]) when the account
	// has no messages left this month.
	CheckQuota(ctx context.Context, accountID string) error
	// Plan returns the account's plan (RequireRead).
	Plan(ctx context.Context, accountID string) (*Plan, error)
	// Quota returns the account's use of its plan this month (RequireRead).
	Quota(ctx context.Context, accountID string) (*Quota, error)
	// Usage returns one bucket per granularity step whose start lies in
	// [from truncated to g, to), empty ones included; EINVALID for an empty
	// or too long range (RequireRead).
	Usage(ctx context.Context, accountID string, from, to time.Time, g Granularity) ([]*UsageBucket, error)
	// APICalls pages the account's call log, newest first; the cursor is a
	// call id. Total counts the calls matching the filter (RequireRead).
	APICalls(ctx context.Context, accountID string, page Page, f APICallFilter) (List[*APICall], error)
	// APICall returns one call of the caller's account (ScopeRead), or
	// ENOTFOUND.
	APICall(ctx context.Context, id string) (*APICall, error)
}
