package server

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/graph/generated"
)

// mediaFiles answers each token with a file or an error of its own.
type mediaFiles map[string]struct {
	file *apiws.MediaFile
	err  error
}

func (m mediaFiles) MediaFile(_ context.Context, token string) (*apiws.MediaFile, error) {
	if a, ok := m[token]; ok {
		return a.file, a.err
	}
	return nil, apiws.Errorf(apiws.EFORBIDDEN, "this media link is not valid")
}

func TestMediaLinkResponses(t *testing.T) {
	png := []byte("\x89PNG")
	files := mediaFiles{
		"named":     {file: &apiws.MediaFile{MimeType: "application/pdf", FileName: `Q3 "final" report.pdf`, Data: []byte("%PDF")}},
		"unicode":   {file: &apiws.MediaFile{MimeType: "image/jpeg", FileName: "café.jpg", Data: []byte("jpeg")}},
		"unnamed":   {file: &apiws.MediaFile{MimeType: "image/png", Data: png}},
		"bad type":  {file: &apiws.MediaFile{MimeType: "text/html\r\nSet-Cookie: a=b", Data: []byte("<p>")}},
		"expired":   {err: apiws.Errorf(apiws.EEXPIRED, "this media link expired")},
		"offline":   {err: apiws.Errorf(apiws.ENOTCONNECTED, "the number is not connected")},
		"no answer": {err: apiws.Errorf(apiws.EUNAVAILABLE, "try again")},
	}
	srv := New(Config{}, Deps{Schema: generated.NewExecutableSchema(generated.Config{}), Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Media: files})
	get := func(token string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/media/"+strings.ReplaceAll(token, " ", "%20"), nil))
		return rec
	}
	tests := []struct {
		token             string
		status            int
		contentType, disp string
		body              []byte
	}{
		{"unnamed", 200, "image/png", "attachment", png},
		{"named", 200, "application/pdf", `attachment; filename="Q3 \"final\" report.pdf"`, []byte("%PDF")},
		{"unicode", 200, "image/jpeg", "attachment; filename*=utf-8''caf%C3%A9.jpg", []byte("jpeg")},
		{"bad type", 200, "application/octet-stream", "attachment", []byte("<p>")},
		{"tampered", 403, "application/json", "", nil},
		{"expired", 410, "application/json", "", nil},
		{"offline", 503, "application/json", "", nil},
		{"no answer", 503, "application/json", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.token, func(t *testing.T) {
			rec := get(tt.token)
			h := rec.Header()
			if rec.Code != tt.status || h.Get("Content-Type") != tt.contentType || h.Get("Content-Disposition") != tt.disp {
				t.Fatalf("GET = %d, %q, %q; want %d, %q, %q", rec.Code, h.Get("Content-Type"), h.Get("Content-Disposition"), tt.status, tt.contentType, tt.disp)
			}
			if tt.status != 200 {
				return
			}
			if !bytes.Equal(rec.Body.Bytes(), tt.body) || h.Get("Content-Length") != strconv.Itoa(len(tt.body)) ||
				h.Get("Cache-Control") != "private, no-store" || h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("GET = %q with %v", rec.Body.Bytes(), h)
			}
		})
	}
}
