package server

import (
	"fmt"
	"strings"
	"testing"
)

// The attack of issue 13: 8,000 duplicated fields (88 KB) took 5.3 s of
// CPU in the overlapping-fields rule. It is now refused by the parser's
// token limit, and documents under it by their field count, before that
// rule runs; compare BenchmarkDuplicatedFields before and after.
func TestLargeDocumentsAreRefusedAsComplexity(t *testing.T) {
	s := newTestServer(t, Config{})
	for _, tt := range []struct {
		name, query, code string
	}{
		{"8000 duplicated fields", repeated(8000), "COMPLEXITY_LIMIT"},
		{"one name repeated, under the token limit", repeated(maxSameName + 1), "COMPLEXITY_LIMIT"},
		{"one name repeated in inline fragments", "{" + strings.Repeat(" ... on Query { __typename }", maxSameName+1) + " }", "COMPLEXITY_LIMIT"},
		{"one name repeated in nested selections", "{" + strings.Repeat(" a: __type(name: \"A\") { name }", maxSameName+1) + " }", "COMPLEXITY_LIMIT"},
		{"one name repeated as often as allowed", repeated(maxSameName), ""},
		{"too many fields", "{" + distinct(maxFields+1) + " }", "COMPLEXITY_LIMIT"},
		{"as many fields as allowed", "{" + distinct(maxFields) + " }", ""},
		{"too many fragments", "{ __typename }" + fragments(maxFragments+1), "COMPLEXITY_LIMIT"},
		{"conflicting fields are still found", `{ a: __typename a: privacyPolicy { version } }`, "GRAPHQL_VALIDATION_FAILED"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := codeOf(t, post(s, tt.query)); got != tt.code {
				t.Fatalf("code %q, want %q", got, tt.code)
			}
		})
	}
}

func TestIntrospectionInProductionIsTheClientsMistake(t *testing.T) {
	for _, q := range []string{`{ __schema { types { name } } }`, `{ __type(name: "Account") { name } }`,
		`query { ...F } fragment F on Query { __schema { queryType { name } } }`} {
		s := newTestServer(t, Config{Production: true})
		if got := codeOf(t, post(s, q)); got != "GRAPHQL_VALIDATION_FAILED" {
			t.Errorf("%s in production: code %q", q, got)
		}
		if got := codeOf(t, post(newTestServer(t, Config{}), q)); got != "" {
			t.Errorf("%s in development: code %q", q, got)
		}
	}
}

// distinct is a selection of at least n fields and at most one more,
// none repeated more than maxSameName times in a selection, without
// aliases: levels of __type { ofType { ... } }, each with 99 scalars.
func distinct(n int) string {
	scalars := []string{"kind", "name", "description", "specifiedByURL", "isOneOf"}
	var b strings.Builder
	b.WriteString(` __type(name: "A") {`)
	levels, written := 1, 1
	for {
		i := 0
		for ; i < 99 && written < n; i++ {
			b.WriteString(" " + scalars[i%len(scalars)])
			written++
		}
		if written >= n {
			if i == 0 {
				b.WriteString(" kind") // a selection is never empty
			}
			break
		}
		b.WriteString(" ofType {")
		written++
		levels++
	}
	return b.String() + strings.Repeat(" }", levels)
}

// fragments is n fragment definitions, each spread by the one before.
func fragments(n int) string {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, " fragment F%d on Query { __typename }", i)
	}
	return b.String()
}

// BenchmarkDuplicatedFields measures what one anonymous request of n
// duplicated fields costs the server. Before the limits: n=8000 took
// 5.4 s.
func BenchmarkDuplicatedFields(b *testing.B) {
	s := newTestServer(b, Config{})
	for _, n := range []int{250, 500, 1000, 8000} {
		q := repeated(n)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			i := 0
			for b.Loop() {
				i++ // a new document each time, as an attacker would send: no cache
				post(s, fmt.Sprintf("%s # %d", q, i))
			}
		})
	}
	// The most the overlap rule may now be given: 1,000 fields, 50 names
	// each written maxSameName times in one selection.
	var worst strings.Builder
	worst.WriteString("{")
	for i := range maxFields {
		fmt.Fprintf(&worst, " a%d: __typename", i%(maxFields/maxSameName))
	}
	worst.WriteString(" }")
	b.Run("largest-validated", func(b *testing.B) {
		i := 0
		for b.Loop() {
			i++
			post(s, fmt.Sprintf("%s # %d", worst.String(), i))
		}
	})
}
