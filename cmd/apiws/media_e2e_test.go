package main

import (
	"bytes"
	"encoding/base64"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apiws/apiws/whatsapp"
)

// fetchMedia GETs a media link, with no credentials.
func fetchMedia(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// TestInboundMediaLink: an image the sandbox's 0005 recipient echoes comes
// back with a media.url, the same in the events, incomingMessages and the
// webhook body, that downloads the PNG with no credentials; the link still
// works once the webhook delivery released the content, a tampered one is
// refused, and after the transit TTL it is gone.
func TestInboundMediaLink(t *testing.T) {
	for name, env := range databases(t) {
		t.Run(name, func(t *testing.T) {
			e := env(t)
			if e == nil {
				e = map[string]string{}
			}
			e["APIWS_TRANSIT_TTL"] = "2h"
			e["APIWS_ALLOW_PRIVATE_URLS"] = "true"
			base := startServer(t, e)
			dbURL := serverOf(t, base).dbURL
			token, _ := signUp(t, base, "media-link@example.com")
			num := connectedNumber(t, base, token)
			// The endpoint answers once the replay before its delivery is
			// checked: its success releases the content.
			delivered := make(chan struct{})
			recv := newHookReceiver(t, func(w http.ResponseWriter, path string, n int) {
				select {
				case <-delivered:
				case <-time.After(10 * time.Second):
				}
			})
			recv.createEndpoint(t, base, token, "/received", map[string]any{"types": []string{"MESSAGE_RECEIVED"}})
			ws := openWS(t, base, "graphql-transport-ws", token)
			defer ws.close()
			subscribed(t, base, func() {
				ws.subscribe("in", `subscription { incomingMessages { message { kind } media { url } content { media { url } } } }`, nil)
			})

			send(t, base, token, map[string]any{"numberId": num, "to": "+14155550005",
				"media": map[string]any{"kind": "IMAGE", "mimeType": "image/png", "data": base64.StdEncoding.EncodeToString(whatsapp.SandboxPNG)}})
			in := get(ws.data("in"), "incomingMessages")
			url := str(in, "media", "url")
			if str(in, "message", "kind") != "IMAGE" || !strings.HasPrefix(url, base+"/media/") || str(in, "content", "media", "url") != url {
				t.Fatalf("incomingMessages = %v; want an IMAGE with a link under %s/media/", in, base)
			}
			replayed := func() any {
				ws := openWS(t, base, "graphql-transport-ws", token)
				defer ws.close()
				ws.subscribe("e", `subscription { events(after: "0", types: [MESSAGE_RECEIVED]) { ... on MessageReceivedEvent {
				  content { media { kind mimeType fileName caption sizeBytes url } } } } }`, nil)
				return get(ws.data("e"), "events", "content")
			}
			if m := get(replayed(), "media"); str(m, "url") != url || str(m, "mimeType") != "image/png" || str(m, "caption") != "echo" ||
				get(m, "sizeBytes") != float64(len(whatsapp.SandboxPNG)) {
				t.Fatalf("replayed media = %v; want the link %s", m, url)
			}
			close(delivered)

			t.Run("the link downloads the file, with no credentials", func(t *testing.T) {
				resp, body := fetchMedia(t, url)
				if resp.StatusCode != http.StatusOK || !bytes.Equal(body, whatsapp.SandboxPNG) {
					t.Fatalf("GET the link: %d %q", resp.StatusCode, body)
				}
				for h, want := range map[string]string{
					"Content-Type":        "image/png",
					"Content-Length":      strconv.Itoa(len(whatsapp.SandboxPNG)),
					"Cache-Control":       "private, no-store",
					"Content-Disposition": "attachment",
				} {
					if got := resp.Header.Get(h); got != want {
						t.Errorf("%s: %q, want %q", h, got, want)
					}
				}
			})

			t.Run("the webhook body has the link, which outlives the delivery", func(t *testing.T) {
				eventually(t, "the MESSAGE_RECEIVED delivery", 20*time.Second, func() bool { return len(recv.of("/received")) == 1 })
				if got := str(recv.of("/received")[0].Body.Data, "content", "media", "url"); got != url {
					t.Fatalf("the webhook's media.url = %q, want %q", got, url)
				}
				db := openDB(t, dbURL)
				eventually(t, "the content released, the file's reference kept", 10*time.Second, func() bool {
					var released int
					err := db.SQL().QueryRow("SELECT count(*) FROM inbound_transit WHERE content IS NULL AND media IS NOT NULL").Scan(&released)
					return err == nil && released == 1
				})
				if c := replayed(); c != nil {
					t.Fatalf("content after the delivery: %v, want null", c)
				}
				if resp, body := fetchMedia(t, url); resp.StatusCode != http.StatusOK || !bytes.Equal(body, whatsapp.SandboxPNG) {
					t.Fatalf("GET the link after the delivery: %d %q", resp.StatusCode, body)
				}
			})

			t.Run("a tampered or garbled link is refused", func(t *testing.T) {
				tok := url[strings.LastIndex(url, "/")+1:]
				i := len(tok) / 2
				c := byte('A')
				if tok[i] == 'A' {
					c = 'B'
				}
				for _, bad := range []string{base + "/media/" + tok[:i] + string(c) + tok[i+1:], base + "/media/" + tok + "A", base + "/media/garbled"} {
					if resp, body := fetchMedia(t, bad); resp.StatusCode != http.StatusForbidden || bytes.Contains(body, whatsapp.SandboxPNG) {
						t.Errorf("GET %s: %d %q, want 403", bad, resp.StatusCode, body)
					}
				}
			})

			t.Run("after the transit TTL the link is gone", func(t *testing.T) {
				out := retentionRun(t, base, time.Now().Add(3*time.Hour))
				if n := countRows(t, dbURL, "inbound_transit"); n != 0 {
					t.Fatalf("%d inbound transit rows after the TTL (%s)", n, out)
				}
				if resp, body := fetchMedia(t, url); resp.StatusCode != http.StatusGone || bytes.Contains(body, whatsapp.SandboxPNG) {
					t.Fatalf("GET the link after the TTL: %d %q, want 410", resp.StatusCode, body)
				}
			})
		})
	}
}

// TestMediaLinkThroughTheOwner: a media link asked of the instance that
// does not hold the number's connection is served by the owner, over
// Redis.
func TestMediaLinkThroughTheOwner(t *testing.T) {
	redisURL, _, _ := privateRedis(t)
	env := sharedEnv(t, redisURL)
	a := startProcess(t, env)
	token, _ := signUp(t, a.base, "media-owner@example.com")
	num := connectedNumber(t, a.base, token)
	b := startProcess(t, env)
	if owners(t, env["APIWS_DATABASE_URL"])[num] != a.instanceID(t) {
		t.Fatal("the number is not owned by the instance it paired on")
	}
	send(t, b.base, token, map[string]any{"numberId": num, "to": "+14155550005",
		"media": map[string]any{"kind": "IMAGE", "mimeType": "image/png", "data": base64.StdEncoding.EncodeToString(whatsapp.SandboxPNG)}})
	ws := openWS(t, b.base, "graphql-transport-ws", token)
	defer ws.close()
	ws.subscribe("e", `subscription { events(after: "0", types: [MESSAGE_RECEIVED]) { ... on MessageReceivedEvent { content { media { url } } } } }`, nil)
	url := str(ws.data("e"), "events", "content", "media", "url")
	tok, ok := strings.CutPrefix(url, b.base+"/media/")
	if !ok {
		t.Fatalf("media.url %q is not under %s/media/", url, b.base)
	}
	resp, body := fetchMedia(t, b.base+"/media/"+tok)
	if resp.StatusCode != http.StatusOK || !bytes.Equal(body, whatsapp.SandboxPNG) || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("GET the link from the other instance: %d %q %v", resp.StatusCode, body, resp.Header)
	}
}
