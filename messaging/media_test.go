package messaging

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/apiws/apiws"
)

func TestFetchMedia(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/ok.png", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("\x89PNG image bytes")) })
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) { w.Write(make([]byte, 2048)) })
	mux.HandleFunc("/missing", http.NotFound)
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()

	f := newMediaFetcher(true)
	f.client.Transport.(*http.Transport).TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
	ctx := context.Background()
	if b, err := f.fetch(ctx, srv.URL+"/ok.png", 1024); err != nil || string(b) != "\x89PNG image bytes" {
		t.Fatalf("fetch = %q, %v", b, err)
	}
	for path, want := range map[string]string{"/big": "larger", "/missing": "HTTP 404", "/loop": "redirects"} {
		_, err := f.fetch(ctx, srv.URL+path, 1024)
		if apiws.ErrorCodeOf(err) != apiws.EINVALID || !strings.Contains(apiws.ErrorMessage(err), want) {
			t.Errorf("fetch %s = %v; want INVALID mentioning %q", path, err, want)
		}
	}

	// The production policy refuses the same server: it is on loopback.
	strict := newMediaFetcher(false)
	_, err := strict.fetch(ctx, srv.URL+"/ok.png", 1024)
	if apiws.ErrorCodeOf(err) != apiws.EINVALID || !strings.Contains(apiws.ErrorMessage(err), "private") {
		t.Fatalf("strict fetch from loopback = %v", err)
	}
	// The IPv6 forms the filter used to miss, refused before connecting.
	for _, host := range []string{"[::7f00:1]", "[2002:7f00:1::1]", "[fec0::1]", "[64:ff9b:1::a00:1]", "[2001::1]", "[::ffff:169.254.169.254]"} {
		_, err := strict.fetch(ctx, "https://"+host+"/x.png", 1024)
		if apiws.ErrorCodeOf(err) != apiws.EINVALID || !strings.Contains(apiws.ErrorMessage(err), "private") {
			t.Errorf("fetch from %s = %v; want INVALID, private", host, err)
		}
	}
}

func TestSealer(t *testing.T) {
	s, err := newSealer(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	sealed := s.seal("msg_1", []byte("secret text"))
	if strings.Contains(string(sealed), "secret text") {
		t.Fatal("sealed content holds the text in clear")
	}
	if plain, err := s.open("msg_1", sealed); err != nil || string(plain) != "secret text" {
		t.Fatalf("open = %q, %v", plain, err)
	}
	if _, err := s.open("msg_2", sealed); err == nil {
		t.Fatal("content sealed for one message opened as another")
	}
	if _, err := newSealer(make([]byte, 16)); err == nil {
		t.Fatal("a 16-byte key was accepted")
	}
}
