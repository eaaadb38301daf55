package main

import (
	"strings"
	"testing"
	"time"
)

var whatsappConfigTests = []struct {
	key, value string
	ok         bool
}{
	{"APIWS_WA_VERSION", "2.3000.1023456789", true},
	{"APIWS_WA_VERSION", "2.3000", false},
	{"APIWS_WA_VERSION", "latest", false},
	{"APIWS_WA_VERSION", "2.3000.-5", false},
	{"APIWS_TRANSIT_TTL", "24h", true},
	{"APIWS_TRANSIT_TTL", "72h", true},
	{"APIWS_TRANSIT_TTL", "73h", false},
	{"APIWS_TRANSIT_TTL", "30s", false},
	{"APIWS_TRANSIT_TTL", "a day", false},
}

func TestWhatsAppConfig(t *testing.T) {
	for _, tt := range whatsappConfigTests {
		cfg, err := loadConfig(func(k string) string {
			if k == tt.key {
				return tt.value
			}
			return ""
		})
		if (err == nil) != tt.ok {
			t.Errorf("%s=%q: err = %v, want ok=%v", tt.key, tt.value, err, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), tt.key) {
			t.Errorf("%s=%q: the error %q does not name the setting", tt.key, tt.value, err)
		}
		if tt.ok && tt.key == "APIWS_WA_VERSION" && cfg.WAVersion != tt.value {
			t.Errorf("WAVersion = %q", cfg.WAVersion)
		}
	}
	cfg, err := loadConfig(func(string) string { return "" })
	if err != nil || cfg.TransitTTL != 24*time.Hour || cfg.WAVersion != "" {
		t.Errorf("defaults: %+v, %v", cfg, err)
	}
}
