package main

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/mail"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/apiws/apiws/documents"
	"github.com/apiws/apiws/server"
	"github.com/apiws/apiws/whatsapp"
)

// Config is apiws's whole configuration, read once from the environment
// (flags may override the address and database).
type Config struct {
	Addr           string
	DatabaseURL    string
	RedisURL       string
	RedisKeyPrefix string
	SMTPURL        string
	MailDir        string
	// SupportEmail is where new support tickets and the customers'
	// answers are mailed; "" mails staff nothing.
	SupportEmail        string
	AllowedOrigins      []string
	TrustedProxies      []netip.Prefix
	PublicURL           string
	SecretKey           []byte
	Production          bool
	PlanMonthlyMessages int
	PlanSendsPerSecond  float64
	PlanNumbers         int
	// Billing: see billingConfig.
	Billing             billingConfig
	RateLimitPerSecond  float64
	SandboxDelay        float64
	PprofAddr           string
	ShutdownGracePeriod time.Duration
	LeaseTTL            time.Duration
	WSAuthRecheck       time.Duration
	MetricsAddr         string
	// AllowPrivateURLs lets media URLs and webhook endpoints reach loopback and private
	// addresses, over plain http too: development and tests only.
	AllowPrivateURLs     bool
	MaxSockets           int
	MaxSubscriptions     int
	SendsInFlight        int // messages of one number sent at once
	secretKeyWasProvided bool

	// WAVersion overrides the WhatsApp web version apiws presents.
	WAVersion string
	// TransitTTL bounds how long a sent message's content is kept for
	// WhatsApp's retry receipts (until DELIVERED or FAILED otherwise).
	TransitTTL time.Duration
	// OTLPEndpoint, from OTEL_EXPORTER_OTLP_ENDPOINT, is where spans are
	// exported over OTLP/HTTP; "" makes none.
	OTLPEndpoint string
	// tracer, when set, takes the spans instead (tests give the SDK's
	// in-memory exporter).
	tracer trace.TracerProvider
	// TrustedDocuments, from the files of APIWS_TRUSTED_DOCUMENTS, is the
	// allow-list of documents the API runs; nil runs any.
	TrustedDocuments documents.AllowList
}

// publicURL is where people reach apiws: APIWS_PUBLIC_URL, else http to
// the address it listens on (localhost for every interface).
func (cfg *Config) publicURL(addr net.Addr) string {
	if cfg.PublicURL != "" {
		return cfg.PublicURL
	}
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "http://" + addr.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// loadConfig reads the environment through getenv.
func loadConfig(getenv func(string) string) (*Config, error) {
	get := func(key, def string) string {
		if v := strings.TrimSpace(getenv(key)); v != "" {
			return v
		}
		return def
	}
	var errs []error
	number := func(key string, def float64) float64 {
		s := get(key, "")
		if s == "" {
			return def
		}
		f, err := strconv.ParseFloat(s, 64)
		if err != nil || f < 0 {
			errs = append(errs, fmt.Errorf("%s must be a non-negative number, not %q", key, s))
		}
		return f
	}
	cfg := &Config{
		Addr:                get("APIWS_ADDR", ":8080"),
		DatabaseURL:         get("APIWS_DATABASE_URL", "./data/apiws.db"),
		RedisURL:            get("APIWS_REDIS_URL", ""),
		RedisKeyPrefix:      get("APIWS_REDIS_KEY_PREFIX", "apiws:"),
		SMTPURL:             get("APIWS_SMTP_URL", ""),
		MailDir:             get("APIWS_MAIL_DIR", "./data/mail"),
		SupportEmail:        get("APIWS_SUPPORT_EMAIL", ""),
		PublicURL:           strings.TrimSuffix(get("APIWS_PUBLIC_URL", ""), "/"),
		Production:          get("APIWS_ENV", "") == "production",
		PlanMonthlyMessages: int(number("APIWS_PLAN_MONTHLY_MESSAGES", 1000)),
		PlanSendsPerSecond:  number("APIWS_PLAN_SENDS_PER_SECOND", 5),
		RateLimitPerSecond:  number("APIWS_RATE_LIMIT_PER_SECOND", 20),
		SandboxDelay:        number("APIWS_SANDBOX_DELAY", 1),
		PprofAddr:           get("APIWS_PPROF_ADDR", ""),
		MetricsAddr:         get("APIWS_METRICS_ADDR", ""),
		AllowPrivateURLs:    get("APIWS_ALLOW_PRIVATE_URLS", "") == "true",
		ShutdownGracePeriod: 15 * time.Second,
	}
	if s := get("APIWS_LEASE_TTL", ""); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Second {
			errs = append(errs, fmt.Errorf("APIWS_LEASE_TTL must be a duration of at least 1s, e.g. 6s, not %q", s))
		}
		cfg.LeaseTTL = d
	}
	count := func(key string, def int) int {
		s := get(key, "")
		if s == "" {
			return def
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			errs = append(errs, fmt.Errorf("%s must be a whole number of at least 1, not %q", key, s))
		}
		return n
	}
	cfg.PlanNumbers = int(number("APIWS_PLAN_NUMBERS", 10))
	cfg.Billing, errs = loadBillingConfig(get, errs)
	cfg.MaxSockets = count("APIWS_MAX_SOCKETS", 100)
	cfg.SendsInFlight = count("APIWS_SENDS_IN_FLIGHT", 8)
	cfg.MaxSubscriptions = count("APIWS_MAX_SUBSCRIPTIONS", 100)
	if s := get("APIWS_WS_AUTH_RECHECK", ""); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < 100*time.Millisecond {
			errs = append(errs, fmt.Errorf("APIWS_WS_AUTH_RECHECK must be a duration of at least 100ms, e.g. 30s, not %q", s))
		}
		cfg.WSAuthRecheck = d
	}
	if s := get("APIWS_WA_VERSION", ""); s != "" {
		if _, err := whatsapp.ParseVersion(s); err != nil {
			errs = append(errs, fmt.Errorf("APIWS_WA_VERSION: %w", err))
		}
		cfg.WAVersion = s
	}
	cfg.TransitTTL = 24 * time.Hour
	if s := get("APIWS_TRANSIT_TTL", ""); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Minute || d > 72*time.Hour {
			errs = append(errs, fmt.Errorf("APIWS_TRANSIT_TTL must be a duration from 1m to 72h, e.g. 24h, not %q", s))
		}
		cfg.TransitTTL = d
	}
	for _, o := range strings.Split(get("APIWS_ALLOWED_ORIGINS", ""), ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if !server.ValidOrigin(o) {
			// It would never match an Origin header, silently.
			errs = append(errs, fmt.Errorf("APIWS_ALLOWED_ORIGINS: %q is not an origin such as https://app.example.com (scheme, host and port only)", o))
			continue
		}
		cfg.AllowedOrigins = append(cfg.AllowedOrigins, o)
	}
	for _, p := range strings.Split(get("APIWS_TRUSTED_PROXIES", ""), ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		if !strings.Contains(p, "/") {
			p += map[bool]string{true: "/128", false: "/32"}[strings.Contains(p, ":")]
		}
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("APIWS_TRUSTED_PROXIES: %q is not an address or CIDR", p))
			continue
		}
		cfg.TrustedProxies = append(cfg.TrustedProxies, prefix)
	}
	if cfg.PprofAddr != "" && !isLoopback(cfg.PprofAddr) {
		errs = append(errs, fmt.Errorf("APIWS_PPROF_ADDR must be a loopback address such as 127.0.0.1:6060, not %q", cfg.PprofAddr))
	}
	if s := get("APIWS_SECRET_KEY", ""); s != "" {
		key, err := hex.DecodeString(s)
		if err != nil || len(key) != 32 {
			errs = append(errs, errors.New("APIWS_SECRET_KEY must be 32 bytes as 64 hex characters"))
		}
		cfg.SecretKey, cfg.secretKeyWasProvided = key, true
	}
	if cfg.SupportEmail != "" {
		if a, err := mail.ParseAddress(cfg.SupportEmail); err != nil || a.Name != "" {
			errs = append(errs, fmt.Errorf("APIWS_SUPPORT_EMAIL must be one address such as support@example.com, not %q", cfg.SupportEmail))
		}
	}
	cfg.OTLPEndpoint = get("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	if s := get("APIWS_TRUSTED_DOCUMENTS", ""); s != "" {
		list, err := documents.LoadAllowList(filepath.SplitList(s)...)
		if err != nil {
			errs = append(errs, fmt.Errorf("APIWS_TRUSTED_DOCUMENTS: %w", err))
		}
		cfg.TrustedDocuments = list
	}
	return cfg, errors.Join(errs...)
}

// isLoopback reports whether addr (host:port) names a loopback host, so
// that profiles, which reveal the program's internals, stay on the machine.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// isPostgres reports whether the database is PostgreSQL (else SQLite).
func (c *Config) isPostgres() bool {
	return strings.HasPrefix(c.DatabaseURL, "postgres://") || strings.HasPrefix(c.DatabaseURL, "postgresql://")
}

// ensureSecretKey gives the embedded default a key of its own, kept beside
// the SQLite file. A shared deployment (PostgreSQL) must set one, because
// every instance has to use the same key.
func (c *Config) ensureSecretKey() error {
	if c.secretKeyWasProvided {
		return nil
	}
	if c.isPostgres() {
		return errors.New("APIWS_SECRET_KEY is required with PostgreSQL: every instance must share it (generate one with: openssl rand -hex 32)")
	}
	path := filepath.Join(filepath.Dir(strings.TrimPrefix(c.DatabaseURL, "sqlite://")), "secret.key")
	key, err := readSecretKey(path)
	if errors.Is(err, fs.ErrNotExist) {
		key, err = createSecretKey(path)
	}
	c.SecretKey = key
	return err
}

func readSecretKey(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("%s does not hold 32 bytes as 64 hex characters", path)
	}
	return key, nil
}

// createSecretKey writes a new key to path, readable by its owner only, in
// a folder made 0700 if needed. The file appears whole or not at all, and
// when another process (a CLI beside the server) made one first, that one
// is used.
func createSecretKey(path string) ([]byte, error) {
	key := make([]byte, 32)
	if _, err := io.ReadFull(randReader, key); err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(dir, ".secret.key-*") // 0600
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.WriteString(hex.EncodeToString(key) + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if err = errors.Join(err, tmp.Close()); err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Link(tmp.Name(), path); errors.Is(err, fs.ErrExist) {
		return readSecretKey(path)
	} else if err != nil {
		return nil, fmt.Errorf("write %s: %w", path, err)
	}
	return key, nil
}

// parseFlags lets flags override the environment for the serve command.
func (c *Config) parseFlags(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("apiws serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.Addr, "addr", c.Addr, "listen address (APIWS_ADDR)")
	fs.StringVar(&c.DatabaseURL, "database-url", c.DatabaseURL, "postgres:// URL or SQLite path (APIWS_DATABASE_URL)")
	fs.StringVar(&c.RedisURL, "redis-url", c.RedisURL, "redis:// URL; unset: in-process events (APIWS_REDIS_URL)")
	return fs.Parse(args)
}
