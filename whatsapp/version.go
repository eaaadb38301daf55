package whatsapp

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"
)

// versionTimeout bounds asking WhatsApp for its current web client version:
// a start must not hang on it, and the compiled-in version is a fallback.
const versionTimeout = 5 * time.Second

// versionFetcher asks WhatsApp for the current web client version.
type versionFetcher func(ctx context.Context) (store.WAVersionContainer, error)

// fetchLatestVersion is whatsmeow's GetLatestVersion over a client with a
// short timeout.
func fetchLatestVersion(ctx context.Context) (store.WAVersionContainer, error) {
	ctx, cancel := context.WithTimeout(ctx, versionTimeout)
	defer cancel()
	v, err := whatsmeow.GetLatestVersion(ctx, &http.Client{Timeout: versionTimeout})
	if err != nil {
		return store.WAVersionContainer{}, err
	}
	return *v, nil
}

// ParseVersion checks a WhatsApp web client version given by the operator
// (APIWS_WA_VERSION): three dot-separated numbers, the first two non-zero,
// such as "2.3000.1023456789".
func ParseVersion(s string) (store.WAVersionContainer, error) {
	v, err := store.ParseVersion(strings.TrimSpace(s))
	if err != nil || v[0] == 0 || v[1] == 0 || strings.ContainsAny(s, "+-") {
		return store.WAVersionContainer{}, fmt.Errorf("%q is not a WhatsApp web version such as 2.3000.1023456789", s)
	}
	return v, nil
}

// chooseVersion decides which WhatsApp web client version apiws presents and
// sets it in whatsmeow (a process-wide setting): the operator's override
// when set, else the version WhatsApp serves now, else (WhatsApp out of
// reach) the version compiled into whatsmeow. It returns the version and
// where it came from.
func chooseVersion(ctx context.Context, override string, fetch versionFetcher, log *slog.Logger) (store.WAVersionContainer, string, error) {
	if override != "" {
		v, err := ParseVersion(override)
		if err != nil {
			return v, "", fmt.Errorf("APIWS_WA_VERSION: %w", err)
		}
		store.SetWAVersion(v)
		return v, "APIWS_WA_VERSION", nil
	}
	v, err := fetch(ctx)
	if err == nil && !v.IsZero() {
		store.SetWAVersion(v)
		return v, "whatsapp", nil
	}
	compiled := store.GetWAVersion()
	if log != nil {
		log.Warn("could not ask whatsapp for its current web version; using the one compiled in", "version", compiled.String(), "err", err)
	}
	return compiled, "compiled in", nil
}
