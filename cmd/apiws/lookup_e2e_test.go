package main

import (
	"fmt"
	"reflect"
	"testing"
)

const lookupQuery = `query($id: ID!, $phones: [PhoneNumber!]!) { node(id: $id) {
  ... on WhatsAppNumber { lookup(phones: $phones) { phone onWhatsApp lid } } } }`

// TestNumberLookup: the sandbox's lookup rules through the API, on SQLite
// and PostgreSQL: phones ending 0000 are not on WhatsApp, every other is,
// with its sandbox LID; each phone answered once; the bounds and refusals.
func TestNumberLookup(t *testing.T) {
	for name, dbEnv := range databases(t) {
		t.Run(name, func(t *testing.T) {
			env := pairingEnv()
			for k, v := range dbEnv(t) {
				env[k] = v
			}
			testNumberLookup(t, startServer(t, env))
		})
	}
}

func testNumberLookup(t *testing.T, base string) {
	token, _ := signUp(t, base, "lookup@example.com")
	id := connectedNumber(t, base, token)
	lookup := func(token string, phones ...string) *gqlResponse {
		t.Helper()
		if phones == nil {
			phones = []string{}
		}
		return gql(t, base, token, lookupQuery, map[string]any{"id": id, "phones": phones})
	}

	// Mixed phones, one twice (written two ways), answered once each in the
	// order of their first mention.
	r := lookup(token, "+15550100001", "+1 555 010 0000", "+4915123456789", "+1 (555) 010-0001")
	want := []any{
		map[string]any{"phone": "+15550100001", "onWhatsApp": true, "lid": "100015550100001"},
		map[string]any{"phone": "+15550100000", "onWhatsApp": false, "lid": nil},
		map[string]any{"phone": "+4915123456789", "onWhatsApp": true, "lid": "104915123456789"},
	}
	if got := get(r.Data, "node", "lookup"); len(r.Errors) > 0 || !reflect.DeepEqual(got, want) {
		t.Fatalf("lookup = %+v\nwant %v", r, want)
	}
	// An API key with the READ scope may look up.
	key, _ := createAPIKey(t, base, token, "READ")
	if r := lookup(key, "+15550100002"); str(r.Data, "node", "lookup", 0, "lid") != "100015550100002" {
		t.Fatalf("lookup with a READ key = %+v", r)
	}
	if r := lookup(token); len(r.Errors) > 0 || !reflect.DeepEqual(get(r.Data, "node", "lookup"), []any{}) {
		t.Fatalf("lookup of no phones = %+v", r)
	}

	// 50 phones pass, 51 are BAD_REQUEST, and so is a phone that is not one.
	phones := make([]string, 51)
	for i := range phones {
		phones[i] = fmt.Sprintf("+1555020%04d", i)
	}
	if r := lookup(token, phones[:50]...); len(r.Errors) > 0 || len(get(r.Data, "node", "lookup").([]any)) != 50 {
		t.Fatalf("lookup of 50 phones = %+v", r)
	}
	if r := lookup(token, phones...); r.code() != "BAD_REQUEST" {
		t.Fatalf("lookup of 51 phones = %+v, want BAD_REQUEST", r)
	}
	if r := lookup(token, "+15550100001", "12"); r.code() != "BAD_REQUEST" {
		t.Fatalf("lookup of an invalid phone = %+v, want BAD_REQUEST", r)
	}

	// Another account's number behaves as one that does not exist.
	stranger, _ := signUp(t, base, "lookup-stranger@example.com")
	if r := lookup(stranger, "+15550100001"); get(r.Data, "node") != nil || len(r.Errors) > 0 {
		t.Fatalf("stranger's lookup = %+v, want node null", r)
	}

	// A disconnected number cannot ask WhatsApp.
	d := gql(t, base, token, `mutation($id: ID!) { disconnectNumber(id: $id) { number { status } userErrors { code } } }`, map[string]any{"id": id})
	if str(d.Data, "disconnectNumber", "number", "status") != "DISCONNECTED" {
		t.Fatalf("disconnectNumber = %+v", d)
	}
	if r := lookup(token, "+15550100001"); r.code() != "NOT_CONNECTED" {
		t.Fatalf("lookup through a disconnected number = %+v, want NOT_CONNECTED", r)
	}
}

// TestLookupThroughAnotherInstance: an instance that does not hold the
// number's connection forwards the lookup to the one that does.
func TestLookupThroughAnotherInstance(t *testing.T) {
	redisURL, _, _ := privateRedis(t)
	env := sharedEnv(t, redisURL)
	a := startProcess(t, env)
	token, _ := signUp(t, a.base, "lookup-instances@example.com")
	num := connectedNumber(t, a.base, token)
	b := startProcess(t, env)
	if owners(t, env["APIWS_DATABASE_URL"])[num] != a.instanceID(t) {
		t.Fatal("the number is not owned by the instance it paired on")
	}
	r := gql(t, b.base, token, lookupQuery, map[string]any{"id": num, "phones": []string{"+15550100000", "+15550100003"}})
	want := []any{
		map[string]any{"phone": "+15550100000", "onWhatsApp": false, "lid": nil},
		map[string]any{"phone": "+15550100003", "onWhatsApp": true, "lid": "100015550100003"},
	}
	if got := get(r.Data, "node", "lookup"); len(r.Errors) > 0 || !reflect.DeepEqual(got, want) {
		t.Fatalf("lookup through the other instance = %+v\nwant %v", r, want)
	}
	d := gql(t, b.base, token, `mutation($id: ID!) { disconnectNumber(id: $id) { number { status } userErrors { code } } }`, map[string]any{"id": num})
	if str(d.Data, "disconnectNumber", "number", "status") != "DISCONNECTED" {
		t.Fatalf("disconnectNumber = %+v", d)
	}
	if r := gql(t, b.base, token, lookupQuery, map[string]any{"id": num, "phones": []string{"+15550100001"}}); r.code() != "NOT_CONNECTED" {
		t.Fatalf("lookup through a disconnected number = %+v, want NOT_CONNECTED", r)
	}
}
