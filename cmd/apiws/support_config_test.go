package main

import (
	"strings"
	"testing"
)

var supportEmailTests = []struct {
	value string
	ok    bool
}{
	{"", true},
	{"support@example.com", true},
	{"Support <support@example.com>", false},
	{"support", false},
	{"a@example.com, b@example.com", false},
}

func TestSupportEmailConfig(t *testing.T) {
	for _, tt := range supportEmailTests {
		cfg, err := loadConfig(func(k string) string {
			if k == "APIWS_SUPPORT_EMAIL" {
				return tt.value
			}
			return ""
		})
		if (err == nil) != tt.ok {
			t.Errorf("APIWS_SUPPORT_EMAIL=%q: err = %v, want ok=%v", tt.value, err, tt.ok)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), "APIWS_SUPPORT_EMAIL") {
			t.Errorf("%q: the error %q does not name the setting", tt.value, err)
		}
		if err == nil && cfg.SupportEmail != tt.value {
			t.Errorf("%q: SupportEmail = %q", tt.value, cfg.SupportEmail)
		}
	}
}
