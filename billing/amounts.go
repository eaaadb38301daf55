package billing

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/apiws/apiws"
)

// TaxRate is a tax rate in percent, kept as the decimal text it was given
// so that invoices state it exactly and compute with it exactly.
type TaxRate struct {
	text string
	rat  *big.Rat
}

// ParseTaxRate reads a rate in percent from 0 to 100, e.g. "19" or "7.7".
func ParseTaxRate(s string) (TaxRate, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		s = "0"
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok || strings.ContainsAny(s, "/eE") || r.Sign() < 0 || r.Cmp(big.NewRat(100, 1)) > 0 {
		return TaxRate{}, fmt.Errorf("a tax rate is a percentage from 0 to 100, e.g. 19 or 7.7, not %q", s)
	}
	return TaxRate{text: s, rat: r}, nil
}

// String is the rate as given, e.g. "7.7".
func (t TaxRate) String() string {
	if t.rat == nil {
		return "0"
	}
	return t.text
}

// Tax is the tax on amount (minor units): amount times the rate, rounded
// half up to a whole minor unit.
func (t TaxRate) Tax(amount int) int {
	if t.rat == nil || amount == 0 {
		return 0
	}
	v := new(big.Rat).Mul(new(big.Rat).SetInt64(int64(amount)), t.rat)
	v.Quo(v, big.NewRat(100, 1))
	// Half up: floor(v + 1/2), amounts being positive.
	v.Add(v, big.NewRat(1, 2))
	q := new(big.Int).Quo(v.Num(), v.Denom())
	return int(q.Int64())
}

// bill is what a month costs one account.
type bill struct {
	lines              []*apiws.InvoiceLine
	subtotal, tax, tot int
}

// compute prices a month: the plan's price, and each message accepted
// beyond the included ones at the overage price, plus tax.
func compute(terms *apiws.PlanTerms, accepted int, period string, rate TaxRate) bill {
	var b bill
	if terms.MonthlyPriceMinor > 0 {
		b.lines = append(b.lines, &apiws.InvoiceLine{Description: fmt.Sprintf("%s plan, %s", terms.Name, period),
			Quantity: 1, UnitPriceMinor: terms.MonthlyPriceMinor, AmountMinor: terms.MonthlyPriceMinor})
	}
	if over := accepted - terms.MonthlyMessages; over > 0 && terms.OveragePriceMinor != nil && *terms.OveragePriceMinor > 0 {
		b.lines = append(b.lines, &apiws.InvoiceLine{Description: fmt.Sprintf("Messages beyond the %d included", terms.MonthlyMessages),
			Quantity: over, UnitPriceMinor: *terms.OveragePriceMinor, AmountMinor: over * *terms.OveragePriceMinor})
	}
	for _, l := range b.lines {
		b.subtotal += l.AmountMinor
	}
	b.tax = rate.Tax(b.subtotal)
	b.tot = b.subtotal + b.tax
	return b
}
