package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/accounts"
	"github.com/apiws/apiws/usage"
)

const operatorKeyUsage = `usage:
  apiws operator-key create [--name NAME] [--expires 2027-01-02T15:04:05Z]
  apiws operator-key list
  apiws operator-key revoke ID`

// operatorKey runs `apiws operator-key create|list|revoke`.
func operatorKey(ctx context.Context, cfg *Config, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New(operatorKeyUsage)
	}
	sub, args := args[0], args[1:]
	var do func(svc *accounts.Service) error
	switch sub {
	case "create":
		fs := flag.NewFlagSet("apiws operator-key create", flag.ContinueOnError)
		fs.SetOutput(stderr)
		name := fs.String("name", "operator", "a name to recognise the key by")
		expires := fs.String("expires", "", "when the key stops working, RFC 3339 (default: never)")
		if err := fs.Parse(args); err != nil {
			return err
		}
		if fs.NArg() > 0 {
			return fmt.Errorf("unexpected %q\n%s", fs.Arg(0), operatorKeyUsage)
		}
		var expiresAt *time.Time
		if *expires != "" {
			t, err := time.Parse(time.RFC3339Nano, *expires)
			if err != nil {
				return fmt.Errorf("--expires must be an RFC 3339 time, e.g. 2027-01-02T15:04:05Z, not %q", *expires)
			}
			expiresAt = &t
		}
		do = func(svc *accounts.Service) error {
			k, secret, err := svc.CreateOperatorKey(ctx, *name, expiresAt)
			if err != nil {
				return cliError(err)
			}
			fmt.Fprintf(stderr, "operator key %s (%s) created; the secret is shown once:\n", k.ID, k.Name)
			fmt.Fprintln(stdout, secret)
			return nil
		}
	case "list":
		if len(args) > 0 {
			return fmt.Errorf("unexpected %q\n%s", args[0], operatorKeyUsage)
		}
		do = func(svc *accounts.Service) error {
			ks, err := svc.OperatorKeys(ctx)
			if err != nil {
				return err
			}
			for _, k := range ks {
				fmt.Fprintln(stdout, operatorKeyLine(k))
			}
			return nil
		}
	case "revoke":
		if len(args) != 1 {
			return errors.New(operatorKeyUsage)
		}
		do = func(svc *accounts.Service) error {
			k, err := svc.RevokeOperatorKey(ctx, args[0])
			if err != nil {
				return cliError(err)
			}
			fmt.Fprintf(stdout, "operator key %s (%s) revoked at %s\n", k.ID, k.Name, k.RevokedAt.UTC().Format(time.RFC3339))
			return nil
		}
	default:
		return fmt.Errorf("unknown operator-key command %q\n%s", sub, operatorKeyUsage)
	}
	db, err := openMigrated(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	return do(accounts.New(db, accounts.Options{Limiter: usage.NewMemoryLimiter(), Log: log}))
}

// operatorKeyLine is a key as `operator-key list` shows it: id, name,
// created, expires and revoked, separated by tabs; a time that is not set
// is "-".
func operatorKeyLine(k *apiws.OperatorKey) string {
	at := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	return fmt.Sprintf("%s\t%s\t%s\t%s\t%s", k.ID, k.Name, at(&k.CreatedAt), at(k.ExpiresAt), at(k.RevokedAt))
}

// cliError shows an apiws error as its message; anything else as it is.
func cliError(err error) error {
	var ae *apiws.Error
	if errors.As(err, &ae) {
		return errors.New(ae.Message)
	}
	return err
}
