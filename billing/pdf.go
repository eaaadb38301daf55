package billing

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"codeberg.org/go-pdf/fpdf"
	"golang.org/x/text/currency"

	"github.com/apiws/apiws"
)

// InvoicePDF implements apiws.BillingService: the invoice rendered from
// what is stored, for the caller allowed to read it (Invoice).
func (s *Service) InvoicePDF(ctx context.Context, id string) ([]byte, error) {
	inv, err := s.Invoice(ctx, id)
	if err != nil {
		return nil, err
	}
	customer := []string{"Customer " + inv.AccountRef}
	if inv.AccountID != nil {
		acc, err := s.db.Account(ctx, *inv.AccountID)
		if err != nil && apiws.ErrorCodeOf(err) != apiws.ENOTFOUND {
			return nil, err
		}
		if acc != nil {
			customer = customerLines(acc)
		}
	}
	return renderPDF(inv, s.opt.Issuer, customer)
}

// customerLines are the account's business details as an invoice shows
// them: the business's name (else the account's), address, country and
// VAT id.
func customerLines(acc *apiws.Account) []string {
	name := acc.Name
	var lines []string
	if b := acc.Business; b != nil {
		if b.Name != nil && *b.Name != "" {
			name = *b.Name
		}
		if b.Address != nil && *b.Address != "" {
			lines = append(lines, strings.Split(*b.Address, "\n")...)
		}
		if b.Country != nil && *b.Country != "" {
			lines = append(lines, *b.Country)
		}
		if b.VatID != nil && *b.VatID != "" {
			lines = append(lines, "VAT ID "+*b.VatID)
		}
	}
	return append([]string{name}, lines...)
}

// Money formats an amount in minor units in its currency, e.g. 4900 EUR
// as "49.00 EUR" and 500 JPY as "500 JPY".
func Money(minor int, code string) string {
	scale := 2
	if u, err := currency.ParseISO(code); err == nil {
		scale, _ = currency.Standard.Rounding(u)
	}
	sign := ""
	if minor < 0 {
		sign, minor = "-", -minor
	}
	if scale == 0 {
		return fmt.Sprintf("%s%d %s", sign, minor, code)
	}
	div := 1
	for range scale {
		div *= 10
	}
	return fmt.Sprintf("%s%d.%0*d %s", sign, minor/div, scale, minor%div, code)
}

// renderPDF draws an invoice on one A4 page: the issuer, the customer,
// the number and dates, the lines, the tax and the total. It draws only
// what is stored, so rendering it again gives the same document.
func renderPDF(inv *apiws.Invoice, issuer, customer []string) ([]byte, error) {
	pdf := fpdf.New("P", "mm", "A4", "")
	pdf.SetCreationDate(inv.IssuedAt)
	pdf.SetModificationDate(inv.IssuedAt)
	pdf.SetTitle("Invoice "+inv.Number, true)
	pdf.SetCreator("apiws", true)
	// The core fonts speak Windows-1252; the rest of Unicode is replaced.
	tr := pdf.UnicodeTranslatorFromDescriptor("")
	pdf.SetMargins(20, 20, 20)
	pdf.AddPage()

	pdf.SetFont("Helvetica", "B", 18)
	pdf.CellFormat(0, 10, tr("Invoice "+inv.Number), "", 1, "L", false, 0, "")
	pdf.Ln(4)

	block := func(title string, lines []string, x float64) {
		pdf.SetX(x)
		pdf.SetFont("Helvetica", "B", 10)
		pdf.CellFormat(80, 5, tr(title), "", 2, "L", false, 0, "")
		pdf.SetFont("Helvetica", "", 10)
		for _, l := range lines {
			pdf.CellFormat(80, 5, tr(l), "", 2, "L", false, 0, "")
		}
	}
	top := pdf.GetY()
	block("From", issuer, 20)
	bottom := pdf.GetY()
	pdf.SetY(top)
	block("Bill to", customer, 110)
	pdf.SetY(max(bottom, pdf.GetY()) + 6)

	const day = "2 January 2006"
	pdf.SetFont("Helvetica", "", 10)
	for _, kv := range [][2]string{
		{"Invoice number", inv.Number},
		{"Issued", inv.IssuedAt.UTC().Format(day)},
		{"Due", inv.DueAt.UTC().Format(day)},
		{"Period", inv.PeriodStart.UTC().Format(day) + " to " + inv.PeriodEnd.UTC().AddDate(0, 0, -1).Format(day)},
		{"Status", string(inv.Status)},
	} {
		pdf.CellFormat(40, 6, tr(kv[0]), "", 0, "L", false, 0, "")
		pdf.CellFormat(0, 6, tr(kv[1]), "", 1, "L", false, 0, "")
	}
	pdf.Ln(6)

	widths := []float64{90, 20, 30, 30}
	pdf.SetFont("Helvetica", "B", 10)
	for i, h := range []string{"Description", "Quantity", "Unit price", "Amount"} {
		align := "R"
		if i == 0 {
			align = "L"
		}
		pdf.CellFormat(widths[i], 7, h, "B", 0, align, false, 0, "")
	}
	pdf.Ln(-1)
	pdf.SetFont("Helvetica", "", 10)
	for _, l := range inv.Lines {
		pdf.CellFormat(widths[0], 7, tr(l.Description), "", 0, "L", false, 0, "")
		pdf.CellFormat(widths[1], 7, fmt.Sprint(l.Quantity), "", 0, "R", false, 0, "")
		pdf.CellFormat(widths[2], 7, Money(l.UnitPriceMinor, inv.Currency), "", 0, "R", false, 0, "")
		pdf.CellFormat(widths[3], 7, Money(l.AmountMinor, inv.Currency), "", 1, "R", false, 0, "")
	}
	pdf.Ln(2)
	sum := func(label, amount string, style string) {
		pdf.SetFont("Helvetica", style, 10)
		pdf.CellFormat(widths[0]+widths[1]+widths[2], 7, label, "", 0, "R", false, 0, "")
		pdf.CellFormat(widths[3], 7, amount, "", 1, "R", false, 0, "")
	}
	sum("Subtotal", Money(inv.SubtotalMinor, inv.Currency), "")
	sum("Tax ("+inv.TaxRate+" %)", Money(inv.TaxMinor, inv.Currency), "")
	sum("Total", Money(inv.Amount, inv.Currency), "B")

	var buf bytes.Buffer
	if err := pdf.Output(&buf); err != nil {
		return nil, fmt.Errorf("render invoice %s: %w", inv.ID, err)
	}
	return buf.Bytes(), nil
}
