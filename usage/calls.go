package usage

import (
	"context"

	"github.com/apiws/apiws"
)

// APICalls implements apiws.UsageService.
func (s *Service) APICalls(ctx context.Context, accountID string, page apiws.Page, f apiws.APICallFilter) (apiws.List[*apiws.APICall], error) {
	if err := apiws.RequireRead(ctx, accountID); err != nil {
		return apiws.List[*apiws.APICall]{}, err
	}
	if page.After != "" && !apiws.ValidID(page.After, apiws.PrefixAPICall) {
		return apiws.List[*apiws.APICall]{}, apiws.Errorf(apiws.EINVALID, "after is not an api call cursor")
	}
	calls, more, total, err := s.db.APICalls(ctx, accountID, page, f)
	return apiws.List[*apiws.APICall]{Items: calls, More: more, Total: total}, err
}

// APICall implements apiws.UsageService.
func (s *Service) APICall(ctx context.Context, id string) (*apiws.APICall, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeRead)
	if err != nil {
		return nil, err
	}
	return s.db.APICall(ctx, c.AccountID, id)
}
