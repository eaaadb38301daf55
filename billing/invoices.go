package billing

import (
	"context"

	"github.com/apiws/apiws"
)

// Invoices implements apiws.BillingService.
func (s *Service) Invoices(ctx context.Context, accountID string, page apiws.Page) (apiws.List[*apiws.Invoice], error) {
	if err := apiws.RequireRead(ctx, accountID); err != nil {
		return apiws.List[*apiws.Invoice]{}, err
	}
	return s.db.AccountInvoices(ctx, accountID, page)
}

// Invoice implements apiws.BillingService.
func (s *Service) Invoice(ctx context.Context, id string) (*apiws.Invoice, error) {
	c := apiws.CallerFrom(ctx)
	if c.Kind != apiws.CredentialOperator {
		if _, err := apiws.RequireAccount(ctx, apiws.ScopeRead); err != nil {
			return nil, err
		}
	}
	inv, err := s.db.Invoice(ctx, id)
	if err != nil {
		return nil, err
	}
	if inv.Number == "" || c.Kind != apiws.CredentialOperator && (inv.AccountID == nil || *inv.AccountID != c.AccountID) {
		return nil, apiws.Errorf(apiws.ENOTFOUND, "invoice not found")
	}
	return inv, nil
}

// PDFURL implements apiws.BillingService.
func (s *Service) PDFURL(inv *apiws.Invoice) string {
	return s.opt.PublicURL + "/invoices/" + inv.ID + ".pdf"
}
