package mail

import (
	"context"
	"errors"
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
	c, err := parseSMTPURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("APIWS_SMTP_URL: %w", err)
	}
	opts := []gomail.Option{gomail.WithTimeout(30 * time.Second)}
	if c.implicitTLS {
		opts = append(opts, gomail.WithSSL())
	} else {
		// Opportunistic: STARTTLS is used whenever offered; a local relay
		// without it still works.
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	opts = append(opts, gomail.WithPort(c.port))
	if c.user != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthPlain),
			gomail.WithUsername(c.user), gomail.WithPassword(c.password))
	}
	return &SMTP{host: c.host, opts: opts}, nil
}

// smtpConfig is what an SMTP URL says.
type smtpConfig struct {
	host           string
	port           int
	implicitTLS    bool // smtps: TLS from the first byte; smtp: STARTTLS when offered
	user, password string
}

// parseSMTPURL reads smtp://[user:pass@]host[:port] (port 587 by default)
// or smtps://[user:pass@]host[:port] (port 465 by default).
func parseSMTPURL(rawURL string) (smtpConfig, error) {
	var c smtpConfig
	u, err := url.Parse(rawURL)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL, which may hold a password
		}
		return c, err
	}
	if u.Hostname() == "" {
		return c, fmt.Errorf("no host in %q", u.Redacted())
	}
	c.host, c.port = u.Hostname(), 587
	switch u.Scheme {
	case "smtp":
	case "smtps":
		c.port, c.implicitTLS = 465, true
	default:
		return c, fmt.Errorf("scheme must be smtp or smtps, not %q", u.Scheme)
	}
	if p := u.Port(); p != "" {
		if c.port, err = strconv.Atoi(p); err != nil {
			return c, fmt.Errorf("port %q: %w", p, err)
		}
	}
	if u.User != nil {
		c.user = u.User.Username()
		c.password, _ = u.User.Password()
	}
	return c, nil
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
