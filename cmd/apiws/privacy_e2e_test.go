package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
)

// ---- a real SMTP server that keeps what it receives

type sentMail struct {
	From string
	To   []string
	Data string
}

// smtpSink is an SMTP server on a free local port that requires
// authentication and collects every message.
type smtpSink struct {
	mu    sync.Mutex
	mails []sentMail
	added chan struct{}
	url   string
}

func startSMTP(t *testing.T) *smtpSink {
	t.Helper()
	sink := &smtpSink{added: make(chan struct{}, 1000)}
	srv := smtp.NewServer(sink)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	sink.url = "smtp://apiws:s3cret@" + ln.Addr().String()
	return sink
}

// NewSession implements smtp.Backend.
func (s *smtpSink) NewSession(*smtp.Conn) (smtp.Session, error) { return &smtpSession{sink: s}, nil }

type smtpSession struct {
	sink   *smtpSink
	authed bool
	cur    sentMail
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "apiws" || pass != "s3cret" {
			return errors.New("bad credentials")
		}
		s.authed = true
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	s.cur = sentMail{From: from}
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.Data = string(b)
	s.sink.mu.Lock()
	s.sink.mails = append(s.sink.mails, s.cur)
	s.sink.mu.Unlock()
	s.sink.added <- struct{}{}
	return nil
}

func (s *smtpSession) Reset()        { s.cur = sentMail{} }
func (s *smtpSession) Logout() error { return nil }

// waitMail waits for the first mail to the recipient whose text contains
// want and that was not taken before, and takes it.
func (s *smtpSink) waitMail(t *testing.T, to, want string) sentMail {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		s.mu.Lock()
		for i, m := range s.mails {
			if len(m.To) == 1 && m.To[0] == to && strings.Contains(m.Data, want) {
				s.mails = append(s.mails[:i], s.mails[i+1:]...)
				s.mu.Unlock()
				return m
			}
		}
		s.mu.Unlock()
		select {
		case <-s.added:
		case <-deadline:
			t.Fatalf("no mail to %s containing %q within 15s", to, want)
		}
	}
}

var codePattern = regexp.MustCompile(`verification code is: (\d{6})`)

// code waits for the verification mail to the recipient and returns its code.
func (s *smtpSink) code(t *testing.T, to string) string {
	t.Helper()
	m := s.waitMail(t, to, "verification code is")
	c := codePattern.FindStringSubmatch(m.Data)
	if c == nil {
		t.Fatalf("no code in the mail: %s", m.Data)
	}
	return c[1]
}

// ---- helpers

const privacyRequestFields = `privacyRequest { id type status details withdraw submittedAt verifiedAt completedAt dueAt
  resolution downloadUrl downloadExpiresAt account { id } } userErrors { field code message }`

const submitMutation = `mutation($i: PrivacyRequestInput!) { submitPrivacyRequest(input: $i) { ` + privacyRequestFields + ` } }`
const verifyMutation = `mutation($id: ID!, $code: String!) { verifyPrivacyRequest(id: $id, code: $code) { ` + privacyRequestFields + ` } }`

// privacyEnv starts an SMTP sink and returns it with the server's
// environment over env.
func privacyEnv(t *testing.T, env map[string]string) (map[string]string, *smtpSink) {
	t.Helper()
	sink := startSMTP(t)
	full := map[string]string{"APIWS_SMTP_URL": sink.url, "APIWS_RATE_LIMIT_PER_SECOND": "0"}
	for k, v := range env {
		full[k] = v
	}
	return full, sink
}

// submit files a request and returns its id.
func submit(t *testing.T, base, token, typ string, withdraw bool) string {
	t.Helper()
	r := gql(t, base, token, submitMutation, map[string]any{"i": map[string]any{"type": typ, "withdraw": withdraw, "details": "test " + typ}})
	id := str(r.Data, "submitPrivacyRequest", "privacyRequest", "id")
	if id == "" || str(r.Data, "submitPrivacyRequest", "privacyRequest", "status") != "PENDING_VERIFICATION" {
		t.Fatalf("submitPrivacyRequest(%s) = %+v", typ, r)
	}
	return id
}

// carryOut submits a request, verifies it with the mailed code, and
// returns the completed request.
func carryOut(t *testing.T, base string, sink *smtpSink, token, email, typ string, withdraw bool) map[string]any {
	t.Helper()
	id := submit(t, base, token, typ, withdraw)
	r := gql(t, base, token, verifyMutation, map[string]any{"id": id, "code": sink.code(t, email)})
	pr, _ := get(r.Data, "verifyPrivacyRequest", "privacyRequest").(map[string]any)
	if str(pr, "status") != "COMPLETED" || str(pr, "completedAt") == "" || str(pr, "verifiedAt") == "" {
		t.Fatalf("verifyPrivacyRequest(%s) = %+v", typ, r)
	}
	return pr
}

// newOperatorKey makes an operator key with the CLI on the server's database.
func newOperatorKey(t *testing.T, base string) string {
	t.Helper()
	var out bytes.Buffer
	env := map[string]string{"APIWS_DATABASE_URL": serverOf(t, base).dbURL}
	if err := run(t.Context(), []string{"operator-key", "create", "--name", "ops"}, func(k string) string { return env[k] }, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(out.String())
}

// retentionRun runs `apiws retention run --as-of` on the server's database.
func retentionRun(t *testing.T, base string, asOf time.Time) string {
	t.Helper()
	var out bytes.Buffer
	env := map[string]string{"APIWS_DATABASE_URL": serverOf(t, base).dbURL}
	args := []string{"retention", "run", "--as-of", asOf.UTC().Format(time.RFC3339)}
	if err := run(t.Context(), args, func(k string) string { return env[k] }, &out, io.Discard); err != nil {
		t.Fatalf("retention run: %v", err)
	}
	return out.String()
}

// download fetches an export with the token ("" for none).
func download(t *testing.T, base, path, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func openDB(t *testing.T, url string) *storage.DB {
	t.Helper()
	db, err := storage.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// ---- tests

func TestPrivacyRequestsAreCarriedOut(t *testing.T) {
	for name, dbEnv := range databases(t) {
		t.Run(name, func(t *testing.T) {
			env, sink := privacyEnv(t, dbEnv(t))
			base := startServer(t, env)
			const email = "rights@example.com"
			token, accID := signUp(t, base, email)
			other, _ := signUp(t, base, "other@example.com")

			t.Run("access and portability give a JSON export to the owner only", func(t *testing.T) {
				access := carryOut(t, base, sink, token, email, "ACCESS", false)
				url := str(access, "downloadUrl")
				if url != "/exports/"+str(access, "id") || str(access, "downloadExpiresAt") == "" {
					t.Fatalf("access request = %v", access)
				}
				due, _ := time.Parse(time.RFC3339, str(access, "dueAt"))
				if d := time.Until(due); d < 27*24*time.Hour || d > 32*24*time.Hour {
					t.Errorf("dueAt %v is not a month away", due)
				}
				status, body := download(t, base, url, token)
				if status != http.StatusOK {
					t.Fatalf("GET %s = %d %s", url, status, body)
				}
				var doc map[string]any
				if err := json.Unmarshal(body, &doc); err != nil {
					t.Fatal(err)
				}
				if doc["format"] != "apiws.privacy-export" || doc["version"] != float64(1) || str(doc, "account", "email") != email ||
					str(doc, "account", "id") != accID || get(doc, "processing", "retention") == nil || get(doc, "auditLog", 0) == nil {
					t.Errorf("export = %s", body)
				}
				for _, secret := range []string{"password", "Hash", "argon2"} {
					if bytes.Contains(body, []byte(secret)) {
						t.Errorf("the export holds %q", secret)
					}
				}
				if st, _ := download(t, base, url, other); st != http.StatusNotFound {
					t.Errorf("another account's export = %d; want 404", st)
				}
				if st, _ := download(t, base, "/exports/prq_01AAAAAAAAAAAAAAAAAAAAAAAA", token); st != http.StatusNotFound {
					t.Errorf("a missing export = %d; want 404", st)
				}
				if st, _ := download(t, base, url, ""); st != http.StatusUnauthorized {
					t.Errorf("no credentials = %d; want 401", st)
				}

				portability := carryOut(t, base, sink, token, email, "PORTABILITY", false)
				_, body = download(t, base, str(portability, "downloadUrl"), token)
				doc = nil
				if err := json.Unmarshal(body, &doc); err != nil || doc["requestType"] != "PORTABILITY" || doc["processing"] != nil {
					t.Errorf("portability export = %s", body)
				}
			})

			t.Run("rectification points to updateAccount", func(t *testing.T) {
				r := carryOut(t, base, sink, token, email, "RECTIFICATION", false)
				if !strings.Contains(str(r, "resolution"), "updateAccount") {
					t.Errorf("resolution = %q", str(r, "resolution"))
				}
			})

			numberID := connectedNumber(t, base, token)
			t.Run("restriction stops sending until withdrawn", func(t *testing.T) {
				carryOut(t, base, sink, token, email, "RESTRICTION", false)
				r := gql(t, base, token, `{ viewer { processingRestricted } }`, nil)
				if get(r.Data, "viewer", "processingRestricted") != true {
					t.Fatalf("viewer = %+v", r)
				}
				r = gql(t, base, token, sendMutation, map[string]any{"i": map[string]any{"numberId": numberID, "to": "+14155550123", "text": "hi"}})
				if codes := userErrorCodes(get(r.Data, "sendMessage")); len(codes) != 1 || !strings.HasPrefix(codes[0], "RESTRICTED") {
					t.Errorf("send while restricted = %+v", r)
				}
				carryOut(t, base, sink, token, email, "RESTRICTION", true)
				r = gql(t, base, token, `{ viewer { processingRestricted } }`, nil)
				if get(r.Data, "viewer", "processingRestricted") != false {
					t.Fatalf("viewer after withdrawal = %+v", r)
				}
				send(t, base, token, map[string]any{"numberId": numberID, "to": "+14155550123", "text": "hi again"})
			})

			t.Run("objection until withdrawn", func(t *testing.T) {
				carryOut(t, base, sink, token, email, "OBJECTION", false)
				if r := gql(t, base, token, `{ viewer { analyticsObjected } }`, nil); get(r.Data, "viewer", "analyticsObjected") != true {
					t.Fatalf("viewer = %+v", r)
				}
				carryOut(t, base, sink, token, email, "OBJECTION", true)
				if r := gql(t, base, token, `{ viewer { analyticsObjected } }`, nil); get(r.Data, "viewer", "analyticsObjected") != false {
					t.Fatalf("viewer after withdrawal = %+v", r)
				}
			})

			t.Run("erasure revokes keys, stops sending and logs numbers out; restore undoes it", func(t *testing.T) {
				key, _ := createAPIKey(t, base, token, "READ", "SEND")
				carryOut(t, base, sink, token, email, "ERASURE", false)
				r := gql(t, base, token, `{ viewer { status deletionScheduledAt privacyRequests { type status } } }`, nil)
				at, _ := time.Parse(time.RFC3339, str(r.Data, "viewer", "deletionScheduledAt"))
				if str(r.Data, "viewer", "status") != "PENDING_DELETION" || time.Until(at) < 29*24*time.Hour || time.Until(at) > 31*24*time.Hour {
					t.Fatalf("viewer after erasure = %+v", r)
				}
				if r := gql(t, base, key, `{ viewer { id } }`, nil); r.code() != "UNAUTHENTICATED" {
					t.Errorf("API key after erasure: %+v", r)
				}
				r = gql(t, base, token, sendMutation, map[string]any{"i": map[string]any{"numberId": numberID, "to": "+14155550123", "text": "hi"}})
				if r.code() != "FORBIDDEN" {
					t.Errorf("send after erasure: %+v", r)
				}
				grant := `mutation($i: DebugCaptureInput!) { grantDebugCapture(input: $i) { debugCapture { id } userErrors { code } } }`
				capture := map[string]any{"i": map[string]any{"numberId": numberID, "until": time.Now().Add(time.Hour).Format(time.RFC3339), "reason": "support ticket"}}
				if r := gql(t, base, token, grant, capture); r.code() != "FORBIDDEN" {
					t.Errorf("grantDebugCapture after erasure: %+v", r)
				}
				if r := gql(t, base, token, numberNode, map[string]any{"id": numberID}); str(r.Data, "node", "status") != "LOGGED_OUT" {
					t.Errorf("number after erasure: %+v", r)
				}
				r = gql(t, base, token, `mutation { restoreAccount { account { status deletionScheduledAt } userErrors { code } } }`, nil)
				if str(r.Data, "restoreAccount", "account", "status") != "ACTIVE" || get(r.Data, "restoreAccount", "account", "deletionScheduledAt") != nil {
					t.Fatalf("restoreAccount = %+v", r)
				}
				if r := gql(t, base, token, grant, capture); str(r.Data, "grantDebugCapture", "debugCapture", "id") == "" {
					t.Errorf("grantDebugCapture after restore: %+v", r)
				}
			})

			t.Run("every request of the account, and the operator's queue", func(t *testing.T) {
				r := gql(t, base, token, `{ viewer { privacyRequests { status } } }`, nil)
				list, _ := get(r.Data, "viewer", "privacyRequests").([]any)
				if len(list) != 8 {
					t.Fatalf("privacyRequests = %+v", r)
				}
				for _, pr := range list {
					if str(pr, "status") != "COMPLETED" {
						t.Errorf("request %v", pr)
					}
				}
				op := newOperatorKey(t, base)
				r = gql(t, base, op, `{ privacyRequestQueue(status: [COMPLETED]) { id dueAt account { email } } }`, nil)
				q, _ := get(r.Data, "privacyRequestQueue").([]any)
				if len(q) != 8 || str(q[0], "account", "email") != email {
					t.Fatalf("queue = %+v", r)
				}
				for i := 1; i < len(q); i++ {
					if str(q[i-1], "dueAt") > str(q[i], "dueAt") {
						t.Errorf("queue not ordered by dueAt: %v", q)
					}
				}
				if r := gql(t, base, token, `{ privacyRequestQueue { id } }`, nil); r.code() != "FORBIDDEN" {
					t.Errorf("queue as an account: %+v", r)
				}
				if r := gql(t, base, token, `query($id: ID!) { node(id: $id) { ... on PrivacyRequest { id type } } }`,
					map[string]any{"id": str(q[0], "id")}); str(r.Data, "node", "id") != str(q[0], "id") {
					t.Errorf("node(prq) = %+v", r)
				}
				if r := gql(t, base, other, `query($id: ID!) { node(id: $id) { id } }`, map[string]any{"id": str(q[0], "id")}); get(r.Data, "node") != nil {
					t.Errorf("another account's node(prq) = %+v", r)
				}
			})
		})
	}
}

func TestPrivacyVerificationCode(t *testing.T) {
	env, sink := privacyEnv(t, nil)
	base := startServer(t, env)

	t.Run("API keys and anonymous callers cannot file requests", func(t *testing.T) {
		token, _ := signUp(t, base, "keys@example.com")
		key, _ := createAPIKey(t, base, token, "READ", "SEND", "MANAGE_NUMBERS")
		r := gql(t, base, key, submitMutation, map[string]any{"i": map[string]any{"type": "ACCESS"}})
		if r.code() != "FORBIDDEN" {
			t.Errorf("submit with an API key: %+v", r)
		}
		if r := gql(t, base, "", submitMutation, map[string]any{"i": map[string]any{"type": "ACCESS"}}); r.code() != "UNAUTHENTICATED" {
			t.Errorf("submit without credentials: %+v", r)
		}
		id := submit(t, base, token, "ACCESS", false)
		if r := gql(t, base, key, verifyMutation, map[string]any{"id": id, "code": sink.code(t, "keys@example.com")}); r.code() != "FORBIDDEN" {
			t.Errorf("verify with an API key: %+v", r)
		}
		r = gql(t, base, token, submitMutation, map[string]any{"i": map[string]any{"type": "ACCESS", "withdraw": true}})
		if codes := userErrorCodes(get(r.Data, "submitPrivacyRequest")); strings.Join(codes, ",") != "INVALID@input.withdraw" {
			t.Errorf("withdrawing an ACCESS: %v", codes)
		}
	})

	t.Run("a wrong code is refused and counted; the fifth kills the request", func(t *testing.T) {
		const email = "tries@example.com"
		token, _ := signUp(t, base, email)
		id := submit(t, base, token, "ACCESS", false)
		code := sink.code(t, email)
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		for i := 1; i <= 5; i++ {
			r := gql(t, base, token, verifyMutation, map[string]any{"id": id, "code": wrong})
			want := "INVALID@code"
			if i == 5 {
				want = "EXPIRED@code"
			}
			if codes := userErrorCodes(get(r.Data, "verifyPrivacyRequest")); strings.Join(codes, ",") != want {
				t.Fatalf("wrong code #%d: %v; want %s", i, codes, want)
			}
		}
		r := gql(t, base, token, verifyMutation, map[string]any{"id": id, "code": code})
		if codes := userErrorCodes(get(r.Data, "verifyPrivacyRequest")); strings.Join(codes, ",") != "EXPIRED@code" {
			t.Fatalf("the right code after five wrong ones: %v", codes)
		}
		r = gql(t, base, token, `{ viewer { privacyRequests { status resolution } } }`, nil)
		if str(r.Data, "viewer", "privacyRequests", 0, "status") != "REJECTED" {
			t.Errorf("request after five wrong codes: %+v", r)
		}
	})

	t.Run("an expired code is refused", func(t *testing.T) {
		const email = "late@example.com"
		token, _ := signUp(t, base, email)
		id := submit(t, base, token, "OBJECTION", false)
		code := sink.code(t, email)
		retentionRun(t, base, time.Now().Add(31*time.Minute))
		r := gql(t, base, token, verifyMutation, map[string]any{"id": id, "code": code})
		if codes := userErrorCodes(get(r.Data, "verifyPrivacyRequest")); strings.Join(codes, ",") != "EXPIRED@code" {
			t.Fatalf("an expired code: %v", codes)
		}
	})

	t.Run("a request can be cancelled before it is verified", func(t *testing.T) {
		const email = "cancel@example.com"
		token, _ := signUp(t, base, email)
		stranger, _ := signUp(t, base, "stranger2@example.com")
		id := submit(t, base, token, "ERASURE", false)
		code := sink.code(t, email)
		const cancel = `mutation($id: ID!) { cancelPrivacyRequest(id: $id) { privacyRequest { status } userErrors { field code } } }`
		if r := gql(t, base, stranger, cancel, map[string]any{"id": id}); strings.Join(userErrorCodes(get(r.Data, "cancelPrivacyRequest")), ",") != "NOT_FOUND@id" {
			t.Errorf("cancelling another account's request: %+v", r)
		}
		if r := gql(t, base, token, cancel, map[string]any{"id": id}); str(r.Data, "cancelPrivacyRequest", "privacyRequest", "status") != "CANCELLED" {
			t.Fatalf("cancel: %+v", r)
		}
		r := gql(t, base, token, verifyMutation, map[string]any{"id": id, "code": code})
		if codes := userErrorCodes(get(r.Data, "verifyPrivacyRequest")); strings.Join(codes, ",") != "CONFLICT@id" {
			t.Errorf("verify after cancel: %v", codes)
		}
		if r := gql(t, base, token, `{ viewer { status } }`, nil); str(r.Data, "viewer", "status") != "ACTIVE" {
			t.Errorf("a cancelled erasure changed the account: %+v", r)
		}
	})
}

func TestPolicyVersionsAndNotices(t *testing.T) {
	env, sink := privacyEnv(t, nil)
	base := startServer(t, env)
	const email = "notice@example.com"
	token, _ := signUp(t, base, email)
	op := newOperatorKey(t, base)
	const publish = `mutation($i: PublishPolicyInput!) { publishPolicyVersion(input: $i) {
	  policyVersion { version effectiveAt publishedAt material summary } userErrors { field code message } } }`
	in := func(version string, in time.Duration, material bool) map[string]any {
		return map[string]any{"i": map[string]any{"version": version, "effectiveAt": time.Now().Add(in).UTC().Format(time.RFC3339),
			"summary": "We now keep API calls for 12 months.", "material": material}}
	}

	if r := gql(t, base, token, publish, in("2.0", 40*24*time.Hour, true)); r.code() != "FORBIDDEN" {
		t.Errorf("publishing as an account: %+v", r)
	}
	r := gql(t, base, op, publish, in("2.0", 10*24*time.Hour, true))
	if codes := userErrorCodes(get(r.Data, "publishPolicyVersion")); strings.Join(codes, ",") != "INVALID@input.effectiveAt" {
		t.Fatalf("a material change 10 days ahead: %+v", r)
	}
	r = gql(t, base, op, publish, in("2.0", 31*24*time.Hour, true))
	if str(r.Data, "publishPolicyVersion", "policyVersion", "version") != "2.0" {
		t.Fatalf("a material change 31 days ahead: %+v", r)
	}
	r = gql(t, base, op, publish, in("2.0", 40*24*time.Hour, false))
	if codes := userErrorCodes(get(r.Data, "publishPolicyVersion")); strings.Join(codes, ",") != "TAKEN@input.version" {
		t.Fatalf("the same version again: %+v", r)
	}
	r = gql(t, base, op, publish, in("1.1", time.Minute, false))
	if str(r.Data, "publishPolicyVersion", "policyVersion", "version") != "1.1" {
		t.Fatalf("a minor change: %+v", r)
	}

	m := sink.waitMail(t, email, "version 2.0")
	if !strings.Contains(m.Data, "material change") {
		t.Errorf("policy mail = %s", m.Data)
	}
	sink.waitMail(t, email, "version 1.1")

	const notices = `query($u: Boolean) { viewer { notices(unreadOnly: $u) { id title body readAt createdAt } } }`
	r = gql(t, base, token, notices, map[string]any{"u": true})
	list, _ := get(r.Data, "viewer", "notices").([]any)
	if len(list) != 2 || str(list[1], "title") != "Privacy policy 2.0" {
		t.Fatalf("notices = %+v", r)
	}
	id := str(list[1], "id")
	other, _ := signUp(t, base, "late-joiner@example.com")
	if r := gql(t, base, other, `mutation($id: ID!) { dismissNotice(id: $id) }`, map[string]any{"id": id}); get(r.Data, "dismissNotice") != false {
		t.Errorf("dismissing another account's notice: %+v", r)
	}
	if r := gql(t, base, token, `mutation($id: ID!) { dismissNotice(id: $id) }`, map[string]any{"id": id}); get(r.Data, "dismissNotice") != true {
		t.Fatalf("dismissNotice: %+v", r)
	}
	r = gql(t, base, token, notices, map[string]any{"u": true})
	if list, _ := get(r.Data, "viewer", "notices").([]any); len(list) != 1 {
		t.Errorf("unread notices after dismissing one: %+v", r)
	}
	r = gql(t, base, token, notices, map[string]any{"u": false})
	if list, _ := get(r.Data, "viewer", "notices").([]any); len(list) != 2 {
		t.Errorf("all notices: %+v", r)
	}
	r = gql(t, base, token, `mutation { acceptPolicy(version: "2.0") { account { consents { policyVersion } } userErrors { code } } }`, nil)
	if str(r.Data, "acceptPolicy", "account", "consents", 1, "policyVersion") != "2.0" {
		t.Errorf("acceptPolicy(2.0): %+v", r)
	}
}

func TestErasurePurgeAndLegalHold(t *testing.T) {
	for name, dbEnv := range databases(t) {
		t.Run(name, func(t *testing.T) {
			env, sink := privacyEnv(t, dbEnv(t))
			base := startServer(t, env)
			op := newOperatorKey(t, base)
			db := openDB(t, serverOf(t, base).dbURL)

			type person struct{ email, phone, token, id, number string }
			newPerson := func(email, phone string) *person {
				in := signUpInput(email)
				in["phone"] = phone
				r := gql(t, base, "", signUpMutation, map[string]any{"i": in})
				p := &person{email: email, phone: phone, token: str(r.Data, "signUp", "token"), id: str(r.Data, "signUp", "account", "id")}
				if p.id == "" {
					t.Fatalf("signUp: %+v", r)
				}
				p.number = connectedNumber(t, base, p.token)
				groupsOf(t, base, p.token, p.number) // its groups, stored, go with it
				msg := send(t, base, p.token, map[string]any{"numberId": p.number, "to": "+14155550123", "text": "hello"})
				waitMessages(t, base, p.token, "read", func(ms map[string]any) bool { return statusOf(ms, msg) == "READ" })
				createAPIKey(t, base, p.token, "READ")
				carryOut(t, base, sink, p.token, email, "ACCESS", false)
				if err := db.CreateInvoice(t.Context(), &apiws.Invoice{ID: apiws.NewID("inv"), AccountID: &p.id, Amount: 1900, Currency: "EUR", IssuedAt: time.Now().UTC()}); err != nil {
					t.Fatal(err)
				}
				return p
			}
			gone := newPerson("gone@example.com", "+14155550111")
			held := newPerson("held@example.com", "+14155550122")

			r := gql(t, base, op, `mutation($id: ID!) { setLegalHold(accountId: $id, hold: true, reason: "court order 12/34") { account { legalHold } userErrors { field code } } }`,
				map[string]any{"id": held.id})
			if get(r.Data, "setLegalHold", "account", "legalHold") != true {
				t.Fatalf("setLegalHold: %+v", r)
			}
			if r := gql(t, base, op, `mutation { setLegalHold(accountId: "acc_nope", hold: true, reason: "x") { userErrors { field code } } }`, nil); strings.Join(userErrorCodes(get(r.Data, "setLegalHold")), ",") != "NOT_FOUND@accountId" {
				t.Errorf("legal hold on no account: %+v", r)
			}

			for _, p := range []*person{gone, held} {
				carryOut(t, base, sink, p.token, p.email, "ERASURE", false)
			}
			// The calls of the requests above are logged in the background,
			// in order: once a later call is in the log, they are too, and
			// none lands after the purge.
			witness, _ := signUp(t, base, "witness@example.com")
			key, keyID := createAPIKey(t, base, witness, "READ")
			gql(t, base, key, `{ viewer { id } }`, nil)
			waitForCalls(t, base, witness, keyID, 1)

			out := retentionRun(t, base, time.Now().Add(29*24*time.Hour))
			if !strings.Contains(out, " 0 accounts") {
				t.Errorf("a sweep within the grace purged accounts: %s", out)
			}
			out = retentionRun(t, base, time.Now().Add(31*24*time.Hour))
			if !strings.Contains(out, " 1 accounts") {
				t.Errorf("the sweep after the grace: %s", out)
			}

			for _, needle := range []string{gone.id, gone.email, gone.phone, gone.number} {
				if where := findInDatabase(t, db, needle); where != "" {
					t.Errorf("%q of the erased account is still in %s", needle, where)
				}
			}
			for _, needle := range []string{held.id, held.email, held.phone, held.number} {
				if where := findInDatabase(t, db, needle); where == "" {
					t.Errorf("%q of the held account is gone", needle)
				}
			}
			var refs []string
			if err := db.Bun.NewSelect().Model((*apiws.Invoice)(nil)).Column("account_ref").Where("account_id IS NULL").Scan(t.Context(), &refs); err != nil || len(refs) != 1 || !strings.HasPrefix(refs[0], "ref_") {
				t.Errorf("the erased account's invoice, pseudonymised: %v %v", refs, err)
			}
			if r := gql(t, base, "", `mutation($i: LogInInput!) { logIn(input: $i) { userErrors { code } } }`,
				map[string]any{"i": map[string]any{"email": gone.email, "password": "correct horse battery"}}); strings.Join(userErrorCodes(get(r.Data, "logIn")), ",") != "WRONG_CREDENTIALS@" {
				t.Errorf("logging in to a purged account: %+v", r)
			}
			if r := gql(t, base, gone.token, `mutation { restoreAccount { userErrors { code } } }`, nil); r.code() != "UNAUTHENTICATED" {
				t.Errorf("restoring a purged account: %+v", r)
			}

			// Lifting the hold lets the next sweep purge the held account.
			gql(t, base, op, `mutation($id: ID!) { setLegalHold(accountId: $id, hold: false, reason: "case closed") { account { legalHold } } }`,
				map[string]any{"id": held.id})
			retentionRun(t, base, time.Now().Add(31*24*time.Hour))
			if where := findInDatabase(t, db, held.email); where != "" {
				t.Errorf("the released account is still in %s", where)
			}
			if n := countRows(t, serverOf(t, base).dbURL, "invoices"); n != 2 {
				t.Errorf("invoices = %d; want both kept", n)
			}
			// Seven years on, the financial records go too.
			retentionRun(t, base, time.Now().AddDate(7, 0, 1))
			if n := countRows(t, serverOf(t, base).dbURL, "invoices"); n != 0 {
				t.Errorf("invoices after 7 years = %d", n)
			}
		})
	}
}
