package mail

import (
	"bytes"
	"net/mail"
	"strings"
	"testing"
	"time"
)

func TestParseSMTPURL(t *testing.T) {
	tests := []struct {
		url  string
		want smtpConfig
		err  string // a part of the error; "" for none
	}{
		{"smtp://mail.example.com", smtpConfig{host: "mail.example.com", port: 587}, ""},
		{"smtp://mail.example.com:2525", smtpConfig{host: "mail.example.com", port: 2525}, ""},
		{"smtps://mail.example.com", smtpConfig{host: "mail.example.com", port: 465, implicitTLS: true}, ""},
		{"smtps://mail.example.com:10465", smtpConfig{host: "mail.example.com", port: 10465, implicitTLS: true}, ""},
		{"smtp://ann:s%3Acret@mail.example.com", smtpConfig{host: "mail.example.com", port: 587, user: "ann", password: "s:cret"}, ""},
		{"smtp://ann@mail.example.com", smtpConfig{host: "mail.example.com", port: 587, user: "ann"}, ""},
		{"smtp://[::1]:25", smtpConfig{host: "::1", port: 25}, ""},
		{"http://mail.example.com", smtpConfig{}, "scheme must be smtp or smtps"},
		{"mail.example.com:25", smtpConfig{}, "no host"},
		{"smtp://", smtpConfig{}, "no host"},
		{"smtp://:pw@:25", smtpConfig{}, "no host"},
		{"smtp://mail.example.com:port", smtpConfig{}, "port"},
		{"smtp://ann:pw@mail.example.com:x", smtpConfig{}, "port"},
		{"smtp://mail example.com", smtpConfig{}, "invalid character"},
		{"smtp://ann:secret@mail.example.com:x", smtpConfig{}, "invalid port"},
	}
	for _, tt := range tests {
		got, err := parseSMTPURL(tt.url)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("parseSMTPURL(%q): %v", tt.url, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("parseSMTPURL(%q) = %+v, %v; want an error about %q", tt.url, got, err, tt.err)
		case tt.err == "" && got != tt.want:
			t.Errorf("parseSMTPURL(%q) = %+v; want %+v", tt.url, got, tt.want)
		}
	}
	if _, err := NewSMTP("smtp://ann:pw@mail.example.com:x"); err == nil || strings.Contains(err.Error(), "pw") ||
		!strings.HasPrefix(err.Error(), "APIWS_SMTP_URL: ") {
		t.Errorf("NewSMTP's error names the setting and hides the password: %v", err)
	}
}

func TestDefaultFrom(t *testing.T) {
	tests := []struct{ publicURL, want string }{
		{"", "apiws <no-reply@apiws.localhost>"},
		{"https://api.example.com", "apiws <no-reply@api.example.com>"},
		{"https://api.example.com:8443/base", "apiws <no-reply@api.example.com>"},
		{"http://[::1]:8080", "apiws <no-reply@::1>"},
		{"not a url", "apiws <no-reply@apiws.localhost>"},
		{"://broken", "apiws <no-reply@apiws.localhost>"},
	}
	for _, tt := range tests {
		if got := DefaultFrom(tt.publicURL); got != tt.want {
			t.Errorf("DefaultFrom(%q) = %q; want %q", tt.publicURL, got, tt.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	tests := []struct {
		attempts int
		want     time.Duration
	}{
		{0, firstRetry},
		{1, firstRetry},
		{2, 2 * firstRetry},
		{3, 4 * firstRetry},
		{9, 256 * firstRetry}, // 42m40s
		{10, maxRetry},        // 512 × 10s is past the hour
		{1000, maxRetry},
	}
	for _, tt := range tests {
		if got := backoff(tt.attempts); got != tt.want {
			t.Errorf("backoff(%d) = %v; want %v", tt.attempts, got, tt.want)
		}
	}
}

func TestWrite(t *testing.T) {
	m := &Message{ID: "mail_01ABC", From: DefaultFrom("https://api.example.com"), To: "ann@example.com",
		Subject: "apiws: your code", Body: "Hello Ann,\n\nyour code is 123456.\n", Date: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	var buf bytes.Buffer
	if err := write(&buf, m); err != nil {
		t.Fatal(err)
	}
	parsed, err := mail.ReadMessage(&buf)
	if err != nil {
		t.Fatalf("not RFC 5322: %v", err)
	}
	for header, want := range map[string]string{
		"From": `"apiws" <no-reply@api.example.com>`, "To": "<ann@example.com>", "Subject": "apiws: your code",
		"Message-Id": "<mail.01ABC@apiws>",
	} {
		if got := parsed.Header.Get(header); got != want {
			t.Errorf("%s: %q; want %q", header, got, want)
		}
	}
	if date, err := parsed.Header.Date(); err != nil || !date.Equal(m.Date) {
		t.Errorf("Date: %v, %v; want %v", date, err, m.Date)
	}
	var body bytes.Buffer
	_, _ = body.ReadFrom(parsed.Body)
	if got := strings.ReplaceAll(body.String(), "\r\n", "\n"); got != m.Body {
		t.Errorf("body %q; want %q", got, m.Body)
	}

	for name, bad := range map[string]*Message{
		"a sender that is no address":    {ID: "mail_1", From: "nobody", To: "ann@example.com"},
		"a recipient that is no address": {ID: "mail_1", From: "a@example.com", To: "ann at example"},
	} {
		if err := write(&bytes.Buffer{}, bad); err == nil {
			t.Errorf("%s: written", name)
		}
	}
}
