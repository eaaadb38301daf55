package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// sessionRequest calls /session with the headers given as name, value pairs.
func sessionRequest(t *testing.T, base, method, body string, header ...string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, base+"/session", strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func sessionCookieOf(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	for _, c := range resp.Cookies() {
		if c.Name == "apiws_session" {
			return c
		}
	}
	t.Fatalf("no session cookie in %v", resp.Header)
	return nil
}

// cookieGQL posts an operation with the session cookie and the given
// headers, and no Authorization.
func cookieGQL(t *testing.T, base, cookie, query string, header ...string) *gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(&http.Cookie{Name: "apiws_session", Value: cookie})
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := &gqlResponse{Status: resp.StatusCode}
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("not JSON (%d): %s", resp.StatusCode, raw)
	}
	return out
}

func TestDashboardSessionCookie(t *testing.T) {
	base := startServer(t, nil)
	token, accountID := signUp(t, base, "cookie@example.com")
	body := `{"token":"` + token + `"}`
	const json = "application/json"

	t.Run("POST /session sets an HttpOnly SameSite=Strict cookie", func(t *testing.T) {
		resp := sessionRequest(t, base, http.MethodPost, body, "Content-Type", json, "X-Requested-With", "apiws")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("status %d", resp.StatusCode)
		}
		c := sessionCookieOf(t, resp)
		if c.Value != token || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure || c.Path != "/" || c.MaxAge <= 0 {
			t.Fatalf("cookie %+v", c)
		}
	})
	t.Run("POST /session refuses what a cross-site form could send", func(t *testing.T) {
		for name, header := range map[string][]string{
			"no X-Requested-With": {"Content-Type", json},
			"form body":           {"Content-Type", "application/x-www-form-urlencoded", "X-Requested-With", "apiws"},
			"other origin":        {"Content-Type", json, "X-Requested-With", "apiws", "Origin", "https://evil.example"},
		} {
			if resp := sessionRequest(t, base, http.MethodPost, body, header...); resp.StatusCode < 400 || len(resp.Cookies()) > 0 {
				t.Errorf("%s: status %d, cookies %v", name, resp.StatusCode, resp.Cookies())
			}
		}
	})
	t.Run("POST /session takes only dashboard session tokens", func(t *testing.T) {
		key := gql(t, base, token, `mutation { createApiKey(input: {name: "k", scopes: [READ]}) { secret } }`, nil)
		secret := str(key.Data, "createApiKey", "secret")
		for _, tok := range []string{secret, "apiwss_wrong"} {
			resp := sessionRequest(t, base, http.MethodPost, `{"token":"`+tok+`"}`, "Content-Type", json, "X-Requested-With", "apiws")
			if resp.StatusCode < 400 || len(resp.Cookies()) > 0 {
				t.Errorf("%.10s…: status %d, cookies %v", tok, resp.StatusCode, resp.Cookies())
			}
		}
	})
	t.Run("the cookie authenticates requests carrying X-Requested-With", func(t *testing.T) {
		r := cookieGQL(t, base, token, `{ viewer { id } }`, "X-Requested-With", "apiws")
		if str(r.Data, "viewer", "id") != accountID {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("the cookie without X-Requested-With is FORBIDDEN", func(t *testing.T) {
		r := cookieGQL(t, base, token, `mutation { createApiKey(input: {name: "csrf", scopes: [SEND]}) { secret } }`)
		if r.Status != http.StatusForbidden || r.code() != "FORBIDDEN" {
			t.Fatalf("%+v", r)
		}
		keys := gql(t, base, token, `{ viewer { apiKeys { name } } }`, nil)
		if strings.Contains(str(keys.Data, "viewer", "apiKeys", 1, "name")+str(keys.Data, "viewer", "apiKeys", 0, "name"), "csrf") {
			t.Fatal("the refused mutation ran")
		}
	})
	t.Run("the cookie from another origin is FORBIDDEN", func(t *testing.T) {
		r := cookieGQL(t, base, token, `{ viewer { id } }`, "X-Requested-With", "apiws", "Origin", "https://evil.example")
		if r.code() != "FORBIDDEN" {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("an Authorization header wins over the cookie", func(t *testing.T) {
		other, otherID := signUp(t, base, "other@example.com")
		req, _ := http.NewRequest(http.MethodPost, base+"/graphql", strings.NewReader(`{"query":"{ viewer { id } }"}`))
		req.Header.Set("Content-Type", json)
		req.Header.Set("Authorization", "Bearer "+other)
		req.AddCookie(&http.Cookie{Name: "apiws_session", Value: token})
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var r gqlResponse
		_ = jsonDecode(resp.Body, &r)
		if str(r.Data, "viewer", "id") != otherID {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("a websocket takes the cookie when connection_init has no token", func(t *testing.T) {
		header := http.Header{"Cookie": {"apiws_session=" + token}}
		ws := dialWS(t, base, "graphql-transport-ws", header)
		ws.init("")
		// The subscription runs as the account: its resolver looks the
		// number up (an anonymous caller would be UNAUTHENTICATED).
		ws.subscribe("1", `subscription { pairing(numberId: "num_nope") { __typename } }`, nil)
		if m := ws.next("1"); !strings.Contains(fmtJSON(m), `"code":"NOT_FOUND"`) {
			t.Fatalf("got %v", m)
		}
	})
	t.Run("a websocket from another origin is refused, cookie or not", func(t *testing.T) {
		d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}}
		_, resp, err := d.Dial("ws"+strings.TrimPrefix(base, "http")+"/graphql",
			http.Header{"Cookie": {"apiws_session=" + token}, "Origin": {"https://evil.example"}})
		if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
			t.Fatalf("dial: %v %v", err, resp)
		}
	})
	t.Run("a session that ended makes the cookie anonymous and clears it", func(t *testing.T) {
		if r := cookieGQL(t, base, token, `mutation { logOut }`, "X-Requested-With", "apiws"); get(r.Data, "logOut") != true {
			t.Fatalf("logOut: %+v", r)
		}
		r := cookieGQL(t, base, token, `{ viewer { id } }`, "X-Requested-With", "apiws")
		if r.Status != http.StatusOK || len(r.Errors) > 0 || r.Data["viewer"] != nil {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("DELETE /session removes the cookie", func(t *testing.T) {
		resp := sessionRequest(t, base, http.MethodDelete, "", "X-Requested-With", "apiws")
		if c := sessionCookieOf(t, resp); resp.StatusCode != http.StatusOK || c.MaxAge >= 0 {
			t.Fatalf("status %d, cookie %+v", resp.StatusCode, c)
		}
	})
}

func TestSessionCookieSecureBehindHTTPS(t *testing.T) {
	base := startServer(t, map[string]string{"APIWS_PUBLIC_URL": "https://apiws.example.com"})
	token, _ := signUp(t, base, "secure@example.com")
	resp := sessionRequest(t, base, http.MethodPost, `{"token":"`+token+`"}`, "Content-Type", "application/json", "X-Requested-With", "apiws")
	if c := sessionCookieOf(t, resp); !c.Secure {
		t.Fatalf("cookie %+v is not Secure", c)
	}
}

func TestDashboardIsServed(t *testing.T) {
	base := startServer(t, nil)
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	if resp.StatusCode != http.StatusOK || !strings.Contains(csp, "default-src 'self'") || !strings.Contains(string(body), "/dashboard/assets/app.js") {
		t.Fatalf("/: %d %q", resp.StatusCode, csp)
	}
	if resp, err := http.Get(base + "/nothing-here"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/nothing-here: %v %v", resp, err)
	}
}

func jsonDecode(r io.Reader, v any) error { return json.NewDecoder(r).Decode(v) }

func fmtJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
