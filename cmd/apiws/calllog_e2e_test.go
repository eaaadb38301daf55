package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A 900 KB User-Agent and a long operation name are cut before the call
// log keeps them (12 months).
func TestCallLogCutsUserAgentAndOperationName(t *testing.T) {
	base := startServer(t, nil)
	token, _ := signUp(t, base, "calllog@example.com")
	ua := strings.Repeat("A", 900*1024)
	name := strings.Repeat("N", 1000)
	body, _ := json.Marshal(map[string]any{"query": "query " + name + " { viewer { id } }"})
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("User-Agent", ua)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if !bodyHasErrors(resp) && resp.StatusCode != http.StatusOK {
		t.Fatalf("the request answered %d", resp.StatusCode)
	}

	q := `query($f: ApiCallFilter) { viewer { apiCalls(first: 5, filter: $f) { edges { node { operationName userAgent } } } } }`
	var node any
	eventually(t, "a call named with the first 128 bytes of the name logged", 10*time.Second, func() bool {
		r := gql(t, base, token, q, map[string]any{"f": map[string]any{"operationName": name[:128]}})
		node = get(r.Data, "viewer", "apiCalls", "edges", 0, "node")
		return node != nil
	})
	if got := str(node, "userAgent"); got != ua[:512] {
		t.Fatalf("user agent stored as %d bytes, want the first 512", len(got))
	}
	if got := str(node, "operationName"); got != name[:128] {
		t.Fatalf("operation name stored as %d bytes, want the first 128", len(got))
	}
}
