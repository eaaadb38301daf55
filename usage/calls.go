package usage

import (
	"context"

	"github.com/apiws/apiws"
)

// APICalls implements apiws.UsageService.
func (s *Service) APICalls(ctx context.Context, accountID string, page apiws.Page, f apiws.APICallFilter) ([]*apiws.APICall, bool, int, error) {
	if page.After != "" && !apiws.ValidID(page.After, apiws.PrefixAPICall) {
		return nil, false, 0, apiws.Errorf(apiws.EINVALID, "after is not an api call cursor")
	}
	return s.db.APICalls(ctx, accountID, page, f)
}

// APICall implements apiws.UsageService.
func (s *Service) APICall(ctx context.Context, accountID, id string) (*apiws.APICall, error) {
	return s.db.APICall(ctx, accountID, id)
}
