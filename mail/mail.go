// Package mail delivers apiws's mail: verification codes and policy
// notices. Mail is first written to the database outbox (in the same
// transaction as what it reports), then a Sender hands it to a Transport
// and deletes it once accepted, retrying with backoff until then, so none
// is lost when the mail server is down or apiws restarts.
package mail

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is one mail to one recipient, in plain text.
type Message struct {
	// ID identifies the mail; a transport may use it to make a retry
	// replace rather than duplicate (the .eml file name).
	ID      string
	From    string
	To      string
	Subject string
	Body    string
	Date    time.Time
}

// Transport hands a message to the world.
type Transport interface {
	Send(ctx context.Context, m *Message) error
}

// Open returns the transport configured: SMTP when smtpURL is set
// (smtp://user:pass@host:port with STARTTLS when the server offers it,
// smtps://... with implicit TLS), otherwise .eml files under dir.
func Open(smtpURL, dir string) (Transport, error) {
	if smtpURL == "" {
		return &Dir{Path: dir}, nil
	}
	return NewSMTP(smtpURL)
}

// DefaultFrom is the sender address for a deployment at publicURL.
func DefaultFrom(publicURL string) string {
	host := "apiws.localhost"
	if u, err := url.Parse(publicURL); err == nil && u.Hostname() != "" {
		host = u.Hostname()
	}
	return "apiws <no-reply@" + host + ">"
}

// compose builds the RFC 5322 form of m.
func compose(m *Message) (*gomail.Msg, error) {
	msg := gomail.NewMsg()
	if err := msg.From(m.From); err != nil {
		return nil, fmt.Errorf("from %q: %w", m.From, err)
	}
	if err := msg.To(m.To); err != nil {
		return nil, fmt.Errorf("to: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetBodyString(gomail.TypeTextPlain, m.Body)
	msg.SetDateWithValue(m.Date)
	msg.SetMessageIDWithValue(strings.ReplaceAll(m.ID, "_", ".") + "@apiws")
	return msg, nil
}

// write writes the RFC 5322 form of m to w.
func write(w io.Writer, m *Message) error {
	msg, err := compose(m)
	if err != nil {
		return err
	}
	_, err = msg.WriteTo(w)
	return err
}
