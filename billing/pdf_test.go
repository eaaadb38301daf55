package billing

import (
	"strings"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/billing/pdftext"
)

var moneyTests = []struct {
	minor int
	code  string
	want  string
}{
	{4900, "EUR", "49.00 EUR"},
	{5, "EUR", "0.05 EUR"},
	{123456, "USD", "1234.56 USD"},
	{500, "JPY", "500 JPY"},
	{1234, "BHD", "1.234 BHD"},
}

func TestMoney(t *testing.T) {
	for _, tt := range moneyTests {
		if got := Money(tt.minor, tt.code); got != tt.want {
			t.Errorf("Money(%d, %s) = %q; want %q", tt.minor, tt.code, got, tt.want)
		}
	}
}

func TestPDFShowsTheStoredInvoice(t *testing.T) {
	nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	inv := &apiws.Invoice{ID: "inv_x", Number: "ACME-2026-000042", PeriodStart: nov, PeriodEnd: nov.AddDate(0, 1, 0),
		IssuedAt: nov.AddDate(0, 1, 0), DueAt: nov.AddDate(0, 1, 14), Status: apiws.InvoiceOpen, Currency: "EUR",
		Lines: []*apiws.InvoiceLine{
			{Description: "Pro plan, November 2026", Quantity: 1, UnitPriceMinor: 4900, AmountMinor: 4900},
			{Description: "Messages beyond the 1000 included", Quantity: 130, UnitPriceMinor: 2, AmountMinor: 260},
		},
		SubtotalMinor: 5160, TaxRate: "19", TaxMinor: 980, Amount: 6140}
	b, err := renderPDF(inv, []string{"apiws GmbH", "Hauptstraße 1 (Hof)"}, []string{"Acme Ltd", "VAT ID DE123"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "%PDF-") {
		t.Fatalf("not a PDF: %q", b[:20])
	}
	text, err := pdftext.Text(b)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Invoice ACME-2026-000042", "apiws GmbH", "Hof)", "Acme Ltd", "VAT ID DE123", "1 November 2026 to 30 November 2026",
		"15 December 2026", "Messages beyond the 1000 included", "130", "2.60 EUR", "51.60 EUR", "Tax (19 %)", "9.80 EUR", "61.40 EUR"} {
		if !strings.Contains(text, want) {
			t.Errorf("the PDF's text lacks %q:\n%s", want, text)
		}
	}
	// fpdf's bytes vary (its object order), what it shows does not.
	again, _ := renderPDF(inv, []string{"apiws GmbH", "Hauptstraße 1 (Hof)"}, []string{"Acme Ltd", "VAT ID DE123"})
	if text2, _ := pdftext.Text(again); text2 != text {
		t.Errorf("rendering the same invoice again shows:\n%s", text2)
	}
}
