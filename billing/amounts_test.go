package billing

import (
	"testing"

	"github.com/apiws/apiws"
)

var taxTests = []struct {
	rate   string
	amount int
	want   int
}{
	{"0", 4900, 0},
	{"19", 4900, 931},
	{"19", 1050, 200}, // 199.5 rounds up
	{"19", 1049, 199}, // 199.31
	{"7.7", 1000, 77},
	{"7.7", 6500, 501}, // 500.5 rounds up
	{"7.7", 6493, 500}, // 499.961
	{"20", 1, 0},       // 0.2
	{"50", 1, 1},       // 0.5 rounds up
	{"100", 333, 333},
}

func TestTaxRoundsHalfUp(t *testing.T) {
	for _, tt := range taxTests {
		r, err := ParseTaxRate(tt.rate)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.Tax(tt.amount); got != tt.want {
			t.Errorf("%s%% of %d = %d; want %d", tt.rate, tt.amount, got, tt.want)
		}
	}
}

func TestParseTaxRateRefuses(t *testing.T) {
	for _, s := range []string{"-1", "101", "abc", "1/3", "1e2", "19%"} {
		if _, err := ParseTaxRate(s); err == nil {
			t.Errorf("ParseTaxRate(%q) accepted", s)
		}
	}
}

func TestCompute(t *testing.T) {
	two := 2
	rate, _ := ParseTaxRate("19")
	terms := &apiws.PlanTerms{Name: "Pro", MonthlyMessages: 100, MonthlyPriceMinor: 4900, OveragePriceMinor: &two}
	b := compute(terms, 130, "November 2026", rate)
	if len(b.lines) != 2 || b.lines[1].Quantity != 30 || b.lines[1].AmountMinor != 60 || b.subtotal != 4960 || b.tax != 942 || b.tot != 5902 {
		t.Fatalf("Pro with 30 messages over = %+v %+v", b, b.lines)
	}
	if b := compute(terms, 100, "November 2026", rate); len(b.lines) != 1 || b.tot != 5831 {
		t.Fatalf("Pro within its messages = %+v", b)
	}
	free := &apiws.PlanTerms{Name: "free", MonthlyMessages: 100}
	if b := compute(free, 500, "November 2026", rate); len(b.lines) != 0 || b.tot != 0 {
		t.Fatalf("a free plan without overage = %+v", b)
	}
}
