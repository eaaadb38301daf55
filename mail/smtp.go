package mail

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// SMTP sends messages to a mail server.
type SMTP struct {
	host string
	opts []gomail.Option
}

// NewSMTP returns a transport for smtp://[user:pass@]host[:port] (port 587
// by default; STARTTLS whenever the server offers it, which a server on
// the open internet does) or smtps://[user:pass@]host[:port] (port 465,
// TLS from the first byte). With a user, it authenticates with PLAIN,
// which every server offers and which go-mail refuses to send unencrypted
// except to localhost, so a password never crosses the network in clear.
func NewSMTP(rawURL string) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("APIWS_SMTP_URL: %w", err)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("APIWS_SMTP_URL: no host in %q", u.Redacted())
	}
	opts := []gomail.Option{gomail.WithTimeout(30 * time.Second)}
	port := 587
	switch u.Scheme {
	case "smtp":
		// Opportunistic: STARTTLS is used whenever offered; a local relay
		// without it still works.
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	case "smtps":
		port = 465
		opts = append(opts, gomail.WithSSL())
	default:
		return nil, fmt.Errorf("APIWS_SMTP_URL: scheme must be smtp or smtps, not %q", u.Scheme)
	}
	if p := u.Port(); p != "" {
		if port, err = strconv.Atoi(p); err != nil {
			return nil, fmt.Errorf("APIWS_SMTP_URL: port %q: %w", p, err)
		}
	}
	opts = append(opts, gomail.WithPort(port))
	if u.User != nil && u.User.Username() != "" {
		pass, _ := u.User.Password()
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain),
			gomail.WithUsername(u.User.Username()), gomail.WithPassword(pass))
	}
	return &SMTP{host: u.Hostname(), opts: opts}, nil
}

// Send implements Transport: one connection per message, which suits the
// few mails apiws sends.
func (s *SMTP) Send(ctx context.Context, m *Message) error {
	msg, err := compose(m)
	if err != nil {
		return err
	}
	c, err := gomail.NewClient(s.host, s.opts...)
	if err != nil {
		return err
	}
	return c.DialAndSendWithContext(ctx, msg)
}
