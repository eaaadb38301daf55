package usage

import (
	"context"
	"math"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
)

// Quota implements apiws.UsageService: messages accepted since the start of
// this calendar month (UTC), from the day rollups.
func (s *Service) Quota(ctx context.Context, accountID string) (*apiws.Quota, error) {
	if err := apiws.RequireRead(ctx, accountID); err != nil {
		return nil, err
	}
	q, _, err := s.quota(ctx, accountID)
	return q, err
}

// quota is Quota for the service's own use: CheckQuota runs for a sender,
// who need not hold ScopeRead.
func (s *Service) quota(ctx context.Context, accountID string) (*apiws.Quota, *apiws.Plan, error) {
	plan, err := s.plan(ctx, accountID)
	if err != nil {
		return nil, nil, err
	}
	now := s.now()
	start := apiws.Month.Truncate(now)
	next := apiws.Month.Next(start)
	s.writing.RLock()
	used, err := s.acceptedThisMonth(ctx, accountID, now, start, next)
	if err != nil {
		s.writing.RUnlock()
		return nil, nil, err
	}
	for _, r := range s.pending.of(accountID, storage.PeriodDay, start, next) {
		used += r.Counts.Accepted
	}
	s.writing.RUnlock()
	return &apiws.Quota{Used: int(used), Limit: plan.MonthlyMessages, ResetsAt: next}, plan, nil
}

// CheckQuota implements apiws.UsageService. A plan with an overage price
// lets sends go on beyond its monthly messages (they are billed). The
// messaging service calls it
// before queueing a message and RecordMessage(QUEUED) after; two sends racing
// past the last free message may both pass, so the limit can be overrun by
// the number of concurrent sends, never more.
func (s *Service) CheckQuota(ctx context.Context, accountID string) error {
	left, refusal, err := s.QuotaLeft(ctx, accountID)
	if err != nil {
		return err
	}
	if left == 0 {
		return refusal
	}
	return nil
}

// QuotaLeft returns how many more messages the account may send this month
// (math.MaxInt when its plan allows overage) and the EQUOTAEXCEEDED error
// (field ["input"]) that refuses a send beyond them: CheckQuota for a
// request of many sends, which spends the count itself.
func (s *Service) QuotaLeft(ctx context.Context, accountID string) (int, *apiws.Error, error) {
	q, plan, err := s.quota(ctx, accountID)
	if err != nil {
		return 0, nil, err
	}
	refusal := apiws.FieldError(apiws.EQUOTAEXCEEDED, []string{"input"},
		"the plan's %d messages this month are used up; the quota resets at %s", q.Limit, q.ResetsAt.Format("2006-01-02T15:04:05Z"))
	if plan.AllowsOverage() {
		return math.MaxInt, refusal, nil
	}
	return max(q.Limit-q.Used, 0), refusal, nil
}

// acceptedRead is an account's count of accepted messages in the month
// starting at month, as the database had it at the rollup write generation
// gen, read at at.
type acceptedRead struct {
	month, at time.Time
	gen       uint64
	used      int64
}

// acceptedReadFor is how long a count read from the database is reused,
// while no rollup write of this process began or ended meanwhile. Sends
// are checked against the quota on every request; under load this spares
// the database one query per send. Another instance's writes show up
// within it, as its counts do only once it writes them anyway.
const acceptedReadFor = time.Second

// acceptedThisMonth returns the account's messages accepted in the month
// [start, next) as written to the database.
func (s *Service) acceptedThisMonth(ctx context.Context, accountID string, now, start, next time.Time) (int64, error) {
	gen := s.written.Load()
	if v, ok := s.accepted.Load(accountID); ok {
		r := v.(acceptedRead)
		if r.gen == gen && r.month.Equal(start) && now.Sub(r.at) >= 0 && now.Sub(r.at) < acceptedReadFor {
			return r.used, nil
		}
	}
	used, err := s.db.AcceptedMessages(ctx, accountID, start, next)
	if err != nil {
		return 0, err
	}
	s.accepted.Store(accountID, acceptedRead{month: start, at: now, gen: gen, used: used})
	return used, nil
}
