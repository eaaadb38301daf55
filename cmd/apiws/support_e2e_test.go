package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

const ticketFields = `supportTicket { id subject status createdAt updatedAt messages { id fromStaff body createdAt } account { id email } }
  userErrors { field code message }`

const openTicketMutation = `mutation($i: OpenSupportTicketInput!) { openSupportTicket(input: $i) { ` + ticketFields + ` } }`
const replyTicketMutation = `mutation($id: ID!, $body: String!) { replyToSupportTicket(id: $id, body: $body) { ` + ticketFields + ` } }`
const closeTicketMutation = `mutation($id: ID!) { closeSupportTicket(id: $id) { ` + ticketFields + ` } }`
const supportQueueQuery = `query($s: [SupportTicketStatus!]) { supportQueue(status: $s) { id subject status messages { fromStaff body } account { id email } } }`

// supportEmail is where the test servers mail staff.
const supportEmail = "help@support.test"

// openTicket opens a ticket with the session token and returns it.
func openTicket(t *testing.T, base, token, subject, body string) map[string]any {
	t.Helper()
	r := gql(t, base, token, openTicketMutation, map[string]any{"i": map[string]any{"subject": subject, "body": body}})
	tkt, _ := get(r.Data, "openSupportTicket", "supportTicket").(map[string]any)
	if !strings.HasPrefix(str(tkt, "id"), "tkt_") || str(tkt, "status") != "OPEN" {
		t.Fatalf("openSupportTicket = %+v", r)
	}
	return tkt
}

// ticketChange runs a ticket mutation (reply or close) and returns its
// payload.
func ticketChange(t *testing.T, base, token, mutation string, vars map[string]any) map[string]any {
	t.Helper()
	r := gql(t, base, token, mutation, vars)
	if len(r.Errors) > 0 {
		t.Fatalf("%s: %+v", mutation, r)
	}
	for _, p := range r.Data {
		return p.(map[string]any)
	}
	t.Fatalf("no payload: %+v", r)
	return nil
}

func TestSupportTickets(t *testing.T) {
	for name, dbEnv := range databases(t) {
		t.Run(name, func(t *testing.T) {
			env, sink := privacyEnv(t, dbEnv(t))
			env["APIWS_SUPPORT_EMAIL"] = supportEmail
			env["APIWS_PUBLIC_URL"] = "https://apiws.example.com"
			base := startServer(t, env)
			const email = "asks@example.com"
			token, accID := signUp(t, base, email)
			other, _ := signUp(t, base, "other@example.com")
			op := testOperatorKey(t, serverOf(t, base).dbURL)
			key, _ := createAPIKey(t, base, token, "READ", "SEND", "MANAGE_NUMBERS", "MANAGE_WEBHOOKS")

			tkt := openTicket(t, base, token, "  Messages stay QUEUED  ", "Since noon every message stays QUEUED.\nWhat is wrong?")
			id := str(tkt, "id")
			t.Run("a new ticket is the customer's message, mailed to support", func(t *testing.T) {
				if str(tkt, "subject") != "Messages stay QUEUED" || get(tkt, "account") != nil ||
					get(tkt, "messages", 0, "fromStaff") != false || str(tkt, "messages", 0, "body") != "Since noon every message stays QUEUED.\nWhat is wrong?" {
					t.Errorf("ticket = %v", tkt)
				}
				m := sink.waitMail(t, supportEmail, id)
				for _, want := range []string{"Messages stay QUEUED", "Since noon every message stays QUEUED", email, accID, "https://apiws.example.com/operator"} {
					if !strings.Contains(m.Data, want) {
						t.Errorf("the mail to support lacks %q:\n%s", want, m.Data)
					}
				}
			})

			t.Run("only a dashboard session opens one", func(t *testing.T) {
				in := map[string]any{"i": map[string]any{"subject": "s", "body": "b"}}
				for who, tok := range map[string]string{"an API key": key, "an operator": op} {
					if r := gql(t, base, tok, openTicketMutation, in); r.code() != "FORBIDDEN" {
						t.Errorf("openSupportTicket with %s = %+v", who, r)
					}
				}
				if r := gql(t, base, "", openTicketMutation, in); r.code() != "UNAUTHENTICATED" {
					t.Errorf("openSupportTicket without credentials = %+v", r)
				}
			})

			t.Run("bad input changes nothing", func(t *testing.T) {
				long := strings.Repeat("é", 201)
				for _, c := range []struct {
					subject, body string
					want          string
				}{
					{"", "help", "INVALID@input.subject"},
					{"   ", "help", "INVALID@input.subject"},
					{long, "help", "INVALID@input.subject"},
					{"two\nlines", "help", "INVALID@input.subject"},
					{"help", "", "INVALID@input.body"},
					{"help", strings.Repeat("x", 10001), "INVALID@input.body"},
					{"", " \n ", "INVALID@input.subject,INVALID@input.body"},
				} {
					r := gql(t, base, token, openTicketMutation, map[string]any{"i": map[string]any{"subject": c.subject, "body": c.body}})
					if got := strings.Join(userErrorCodes(get(r.Data, "openSupportTicket")), ","); got != c.want || get(r.Data, "openSupportTicket", "supportTicket") != nil {
						t.Errorf("open(%.20q, %.20q) = %s; want %s", c.subject, c.body, got, c.want)
					}
				}
				// The limits themselves are allowed.
				edge := openTicket(t, base, other, strings.Repeat("s", 200), strings.Repeat("b", 10000))
				ticketChange(t, base, other, closeTicketMutation, map[string]any{"id": str(edge, "id")})
				for _, c := range []struct {
					id, body, want string
				}{
					{id, "", "INVALID@body"},
					{id, strings.Repeat("x", 10001), "INVALID@body"},
					{"tkt_01AAAAAAAAAAAAAAAAAAAAAAAA", "hi", "NOT_FOUND@id"},
					{"nope", "hi", "NOT_FOUND@id"},
				} {
					p := ticketChange(t, base, token, replyTicketMutation, map[string]any{"id": c.id, "body": c.body})
					if got := strings.Join(userErrorCodes(p), ","); got != c.want || p["supportTicket"] != nil {
						t.Errorf("reply(%q, %.20q) = %s; want %s", c.id, c.body, got, c.want)
					}
				}
				r := gql(t, base, token, `{ viewer { supportTickets { id messages { id } } } }`, nil)
				if list, _ := get(r.Data, "viewer", "supportTickets").([]any); len(list) != 1 || get(list[0], "messages", 1) != nil {
					t.Errorf("the account's tickets after bad input = %+v", r)
				}
			})

			t.Run("another account's ticket does not exist", func(t *testing.T) {
				for what, p := range map[string]map[string]any{
					"reply": ticketChange(t, base, other, replyTicketMutation, map[string]any{"id": id, "body": "mine now"}),
					"close": ticketChange(t, base, other, closeTicketMutation, map[string]any{"id": id}),
				} {
					if got := strings.Join(userErrorCodes(p), ","); got != "NOT_FOUND@id" {
						t.Errorf("%s by another account = %s", what, got)
					}
				}
				if r := gql(t, base, other, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": id}); get(r.Data, "node") != nil {
					t.Errorf("node of another account's ticket = %+v", r)
				}
				r := gql(t, base, token, `query($id: ID!) { node(id: $id) { ... on SupportTicket { subject status } } }`, map[string]any{"id": id})
				if str(r.Data, "node", "subject") != "Messages stay QUEUED" {
					t.Errorf("node of the own ticket = %+v", r)
				}
			})

			t.Run("the queue is for operators only", func(t *testing.T) {
				for who, tok := range map[string]string{"a session": token, "an API key": key} {
					if r := gql(t, base, tok, supportQueueQuery, nil); r.code() != "FORBIDDEN" {
						t.Errorf("supportQueue with %s = %+v", who, r)
					}
				}
				r := gql(t, base, op, supportQueueQuery, map[string]any{"s": []string{"OPEN"}})
				list, _ := get(r.Data, "supportQueue").([]any)
				if len(list) != 1 || str(list[0], "id") != id || str(list[0], "account", "email") != email {
					t.Errorf("supportQueue(OPEN) = %+v", r)
				}
				r = gql(t, base, op, supportQueueQuery, nil)
				if list, _ := get(r.Data, "supportQueue").([]any); len(list) != 2 || str(list[0], "id") != id || str(list[1], "status") != "CLOSED" {
					t.Errorf("supportQueue, oldest update first = %+v", r)
				}
			})

			t.Run("answers move the status and mail the other side", func(t *testing.T) {
				if r := gql(t, base, key, replyTicketMutation, map[string]any{"id": id, "body": "from a script"}); r.code() != "FORBIDDEN" {
					t.Errorf("reply with an API key = %+v", r)
				}
				p := ticketChange(t, base, op, replyTicketMutation, map[string]any{"id": id, "body": "Your number was logged out; reconnect it."})
				if str(p, "supportTicket", "status") != "WAITING_ON_CUSTOMER" || get(p, "supportTicket", "messages", 1, "fromStaff") != true ||
					str(p, "supportTicket", "account", "id") != accID {
					t.Fatalf("staff answer = %v", p)
				}
				m := sink.waitMail(t, email, "Your number was logged out; reconnect it.")
				if !strings.Contains(m.Data, "Messages stay QUEUED") || !strings.Contains(m.Data, "https://apiws.example.com/#/support") {
					t.Errorf("the mail to the customer:\n%s", m.Data)
				}

				p = ticketChange(t, base, token, replyTicketMutation, map[string]any{"id": id, "body": "Done, it works. Thanks!"})
				if str(p, "supportTicket", "status") != "OPEN" || get(p, "supportTicket", "messages", 2, "fromStaff") != false || get(p, "supportTicket", "account") != nil {
					t.Fatalf("customer answer = %v", p)
				}
				sink.waitMail(t, supportEmail, "Done, it works. Thanks!")

				r := gql(t, base, key, `{ viewer { supportTickets(status: [OPEN]) { id messages { body fromStaff } } } }`, nil)
				if got := get(r.Data, "viewer", "supportTickets", 0, "messages"); len(got.([]any)) != 3 {
					t.Errorf("the account's open tickets, read with a READ key = %+v", r)
				}
			})

			t.Run("a closed ticket takes no answer", func(t *testing.T) {
				if r := gql(t, base, key, closeTicketMutation, map[string]any{"id": id}); r.code() != "FORBIDDEN" {
					t.Errorf("close with an API key = %+v", r)
				}
				p := ticketChange(t, base, token, closeTicketMutation, map[string]any{"id": id})
				if str(p, "supportTicket", "status") != "CLOSED" {
					t.Fatalf("close = %v", p)
				}
				for who, tok := range map[string]string{"the customer": token, "an operator": op} {
					p := ticketChange(t, base, tok, replyTicketMutation, map[string]any{"id": id, "body": "one more thing"})
					if got := strings.Join(userErrorCodes(p), ","); got != "INVALID@id" {
						t.Errorf("answer to a closed ticket by %s = %s", who, got)
					}
				}
				if p := ticketChange(t, base, op, closeTicketMutation, map[string]any{"id": id}); str(p, "supportTicket", "status") != "CLOSED" || len(userErrorCodes(p)) != 0 {
					t.Errorf("closing again = %v", p)
				}
				r := gql(t, base, token, `{ viewer { supportTickets(status: [OPEN, WAITING_ON_CUSTOMER]) { id } closed: supportTickets(status: [CLOSED]) { id messages { id } } } }`, nil)
				if open, _ := get(r.Data, "viewer", "supportTickets").([]any); len(open) != 0 || str(r.Data, "viewer", "closed", 0, "id") != id ||
					len(get(r.Data, "viewer", "closed", 0, "messages").([]any)) != 3 {
					t.Errorf("tickets by status = %+v", r)
				}
			})

			t.Run("every step is audited", func(t *testing.T) {
				db := openDB(t, serverOf(t, base).dbURL)
				var actions []string
				if err := db.Bun.NewSelect().Table("audit_entries").Column("action").Where("account_id = ? AND details = ?", accID, id).
					OrderExpr("id").Scan(t.Context(), &actions); err != nil {
					t.Fatal(err)
				}
				if got := strings.Join(actions, ","); got != "support_ticket.open,support_ticket.reply,support_ticket.reply,support_ticket.close" {
					t.Errorf("audit = %s", got)
				}
			})

			t.Run("a customer opens at most 10 tickets an hour", func(t *testing.T) {
				busy, _ := signUp(t, base, "busy@example.com")
				for i := range 10 {
					openTicket(t, base, busy, fmt.Sprintf("question %d", i), "help")
				}
				r := gql(t, base, busy, openTicketMutation, map[string]any{"i": map[string]any{"subject": "one more", "body": "help"}})
				if r.code() != "RATE_LIMITED" {
					t.Errorf("the 11th ticket = %+v", r)
				}
			})

			t.Run("tickets are in the export and go with the account", func(t *testing.T) {
				access := carryOut(t, base, sink, token, email, "ACCESS", false)
				status, body := download(t, base, str(access, "downloadUrl"), token)
				if status != http.StatusOK {
					t.Fatalf("export = %d %s", status, body)
				}
				var doc map[string]any
				if err := json.Unmarshal(body, &doc); err != nil {
					t.Fatal(err)
				}
				if str(doc, "supportTickets", 0, "id") != id || str(doc, "supportTickets", 0, "status") != "CLOSED" ||
					str(doc, "supportTickets", 0, "messages", 1, "body") != "Your number was logged out; reconnect it." ||
					get(doc, "supportTickets", 0, "messages", 1, "fromStaff") != true {
					t.Errorf("the export's tickets = %v", doc["supportTickets"])
				}

				carryOut(t, base, sink, token, email, "ERASURE", false)
				retentionRun(t, base, time.Now().Add(31*24*time.Hour))
				db := openDB(t, serverOf(t, base).dbURL)
				for _, needle := range []string{id, "Since noon every message", "Done, it works"} {
					if where := findInDatabase(t, db, needle); where != "" {
						t.Errorf("%q of the erased account's ticket is still in %s", needle, where)
					}
				}
				if n := countRows(t, serverOf(t, base).dbURL, "support_tickets"); n != 11 {
					t.Errorf("tickets after the purge = %d; want the other accounts' 11", n)
				}
			})
		})
	}
}
