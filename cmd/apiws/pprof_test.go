package main

import (
	"net"
	"net/http"
	"testing"
)

var pprofAddrTests = []struct {
	addr string
	ok   bool
}{
	{"127.0.0.1:6060", true},
	{"localhost:6060", true},
	{"[::1]:0", true},
	{"0.0.0.0:6060", false},
	{":6060", false},
	{"10.1.2.3:6060", false},
	{"127.0.0.1", false},
}

func TestPprofAddrMustBeLoopback(t *testing.T) {
	for _, tt := range pprofAddrTests {
		_, err := loadConfig(func(k string) string {
			if k == "APIWS_PPROF_ADDR" {
				return tt.addr
			}
			return ""
		})
		if (err == nil) != tt.ok {
			t.Errorf("APIWS_PPROF_ADDR=%q: err = %v, want ok=%v", tt.addr, err, tt.ok)
		}
	}
}

func TestPprofServedOnItsOwnListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := startServer(t, map[string]string{"APIWS_PPROF_ADDR": addr})
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("pprof answered %d", resp.StatusCode)
	}
	resp, err = http.Get(base + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Error("the API listener serves pprof")
	}
}
