package main

import (
	"fmt"
	"maps"
	"slices"
	"testing"
)

const sendManyMutation = `mutation($is: [SendMessageInput!]!) { sendMessages(inputs: $is) {
  results { message { id status } userErrors { field code message } } userErrors { field code message } } }`

// sendMany posts sendMessages and answers each result as the message id or
// its first user error (code@field), failing on GraphQL errors.
func sendMany(t *testing.T, base, token string, ins ...map[string]any) []string {
	t.Helper()
	list := make([]any, len(ins))
	for i, in := range ins {
		list[i] = in
	}
	r := gql(t, base, token, sendManyMutation, map[string]any{"is": list})
	if len(r.Errors) > 0 {
		t.Fatalf("sendMessages: %+v", r.Errors)
	}
	if ues := userErrorCodes(get(r.Data, "sendMessages")); len(ues) > 0 {
		t.Fatalf("sendMessages refused as a whole: %v", ues)
	}
	results, _ := get(r.Data, "sendMessages", "results").([]any)
	out := make([]string, len(results))
	for i, res := range results {
		if id := str(res, "message", "id"); id != "" {
			out[i] = id
			if ue := firstUserError(res); ue != "" {
				t.Fatalf("result %d has a message and %s", i, ue)
			}
			continue
		}
		out[i] = firstUserError(res)
	}
	if len(out) != len(ins) {
		t.Fatalf("%d results for %d inputs", len(out), len(ins))
	}
	return out
}

func TestSendMessages(t *testing.T) {
	for name, dbEnv := range databases(t) {
		t.Run(name, func(t *testing.T) {
			env := dbEnv(t)
			if env == nil {
				env = map[string]string{}
			}
			env["APIWS_PLAN_MONTHLY_MESSAGES"] = "6"
			base := startServer(t, env)
			token, _ := signUp(t, base, "bulk@example.com")
			num := connectedNumber(t, base, token)
			text := func(s string) map[string]any { return map[string]any{"numberId": num, "to": "+14155550123", "text": s} }
			keyed := func(s, key string) map[string]any { in := text(s); in["idempotencyKey"] = key; return in }

			first := sendMany(t, base, token,
				keyed("a", "k1"), map[string]any{"numberId": num, "to": "12345", "text": "x"}, text("b"), keyed("a", "k1"),
				keyed("other", "k1"), map[string]any{"numberId": "num_01M8A9N1KD0002AGDFB2MH75JP", "to": "+14155550123", "text": "x"}, keyed("c", "k2"))
			want := []string{first[0], "INVALID@inputs.1.to", first[2], first[0], "CONFLICT@inputs.4.idempotencyKey", "NOT_FOUND@inputs.5.numberId", first[6]}
			if !slices.Equal(first, want) || first[0] == first[2] || first[2] == first[6] {
				t.Fatalf("first request: %v; want %v (three distinct messages)", first, want)
			}

			// 3 of the 6 messages of the plan are left.
			second := sendMany(t, base, token, keyed("c", "k2"), text("d"), text("e"), text("f"), text("g"), text(" "))
			if second[0] != first[6] || !slices.Equal(second[4:], []string{"QUOTA_EXCEEDED@inputs.4", "INVALID@inputs.5.text"}) {
				t.Fatalf("second request: %v", second)
			}
			accepted := []string{first[0], first[2], first[6], second[1], second[2], second[3]}

			for _, n := range []int{0, 101} {
				list := make([]any, n)
				for i := range list {
					list[i] = text(fmt.Sprint(i))
				}
				r := gql(t, base, token, sendManyMutation, map[string]any{"is": list})
				if got := userErrorCodes(get(r.Data, "sendMessages")); !slices.Equal(got, []string{"INVALID@inputs"}) ||
					len(get(r.Data, "sendMessages", "results").([]any)) != 0 {
					t.Fatalf("%d inputs: %v %v", n, r.Data, r.Errors)
				}
			}

			ms := waitMessages(t, base, token, "every accepted message read", func(ms map[string]any) bool {
				for _, id := range accepted {
					if statusOf(ms, id) != "READ" {
						return false
					}
				}
				return true
			})
			if len(ms) != len(accepted) {
				t.Fatalf("%d messages; want %d: %v", len(ms), len(accepted), slices.Collect(maps.Keys(ms)))
			}
			for _, id := range accepted {
				if got := eventStatuses(ms[id]); !slices.Equal(got, []string{"QUEUED", "SENT", "DELIVERED", "READ"}) {
					t.Errorf("message %s went %v", id, got)
				}
			}
			dbURL := serverOf(t, base).dbURL
			sent := transmissions(t, dbURL)
			for id, wa := range waIDs(t, dbURL, accepted...) {
				if sent[wa] != 1 {
					t.Errorf("message %s transmitted %d times", id, sent[wa])
				}
			}
			if len(sent) != len(accepted) {
				t.Errorf("%d messages transmitted; want %d", len(sent), len(accepted))
			}
		})
	}
}
