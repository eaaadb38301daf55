package usage

import (
	"context"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
)

// Quota implements apiws.UsageService: messages accepted since the start of
// this calendar month (UTC), from the day rollups.
func (s *Service) Quota(ctx context.Context, accountID string) (*apiws.Quota, error) {
	plan, err := s.Plan(ctx, accountID)
	if err != nil {
		return nil, err
	}
	start := apiws.Month.Truncate(s.now())
	next := apiws.Month.Next(start)
	used, err := s.db.AcceptedMessages(ctx, accountID, start, next)
	if err != nil {
		return nil, err
	}
	for _, r := range s.pending.of(accountID, storage.PeriodDay, start, next) {
		used += r.Counts.Accepted
	}
	return &apiws.Quota{Used: int(used), Limit: plan.MonthlyMessages, ResetsAt: next}, nil
}

// CheckQuota implements apiws.UsageService. The messaging service calls it
// before queueing a message and RecordMessage(QUEUED) after; two sends racing
// past the last free message may both pass, so the limit can be overrun by
// the number of concurrent sends, never more.
func (s *Service) CheckQuota(ctx context.Context, accountID string) error {
	q, err := s.Quota(ctx, accountID)
	if err != nil {
		return err
	}
	if q.Used >= q.Limit {
		return apiws.FieldError(apiws.EQUOTAEXCEEDED, []string{"input"},
			"the plan's %d messages this month are used up; the quota resets at %s", q.Limit, q.ResetsAt.Format("2006-01-02T15:04:05Z"))
	}
	return nil
}
