package storage

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/uptrace/bun"

	"github.com/apiws/apiws"
)

// CreateInvoice writes an invoice. Its AccountRef is the account's
// pseudonym: the one its earlier invoices carry, or a new random one, so
// that the financial records of a purged account still belong together
// while naming nobody.
func (db *DB) CreateInvoice(ctx context.Context, inv *apiws.Invoice) error {
	return db.RunInTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		return insertInvoice(ctx, tx, inv)
	})
}

// insertInvoice writes inv in tx, with the account's pseudonym.
func insertInvoice(ctx context.Context, tx bun.Tx, inv *apiws.Invoice) error {
	if inv.Status == "" {
		inv.Status = apiws.InvoiceOpen
	}
	if inv.Lines == nil {
		inv.Lines = []*apiws.InvoiceLine{}
	}
	if inv.TaxRate == "" {
		inv.TaxRate = "0"
	}
	if inv.AccountRef == "" && inv.AccountID != nil {
		var refs []string
		err := tx.NewSelect().Model((*apiws.Invoice)(nil)).Column("account_ref").
			Where("account_id = ?", *inv.AccountID).Limit(1).Scan(ctx, &refs)
		if err != nil {
			return err
		}
		if len(refs) > 0 {
			inv.AccountRef = refs[0]
		}
	}
	if inv.AccountRef == "" {
		var b [10]byte
		_, _ = rand.Read(b[:])
		inv.AccountRef = "ref_" + hex.EncodeToString(b[:])
	}
	_, err := tx.NewInsert().Model(inv).Exec(ctx)
	return err
}

// Invoices lists the account's invoices, oldest first.
func (db *DB) Invoices(ctx context.Context, accountID string) ([]*apiws.Invoice, error) {
	var invs []*apiws.Invoice
	err := db.Bun.NewSelect().Model(&invs).Where("account_id = ?", accountID).OrderExpr("issued_at, id").Scan(ctx)
	return invs, translate(err)
}
