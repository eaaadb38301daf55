package publicnet

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
)

var publicTests = []struct {
	ip     string
	public bool
}{
	{"93.184.216.34", true},
	{"1.1.1.1", true},
	{"2606:2800:220:1:248:1893:25c8:1946", true},
	{"2a00:1450:4001:830::200e", true},
	{"::ffff:93.184.216.34", true}, // IPv4-mapped: the IPv4 address it reaches

	// IPv4 special-purpose registry.
	{"0.0.0.0", false}, {"0.255.255.255", false},
	{"10.0.0.1", false}, {"10.255.255.255", false},
	{"100.64.0.1", false}, {"100.127.255.255", false},
	{"127.0.0.1", false}, {"127.255.255.254", false},
	{"169.254.169.254", false},
	{"172.16.5.4", false}, {"172.31.255.255", false},
	{"192.0.0.9", false}, {"192.0.0.170", false},
	{"192.0.2.1", false},
	{"192.31.196.1", false},
	{"192.52.193.1", false},
	{"192.88.99.1", false},
	{"192.168.1.1", false},
	{"192.175.48.1", false},
	{"198.18.0.1", false}, {"198.19.255.255", false},
	{"198.51.100.1", false},
	{"203.0.113.1", false},
	{"240.0.0.1", false},
	{"255.255.255.255", false},
	{"224.0.0.1", false},                                              // multicast
	{"172.32.0.1", true}, {"100.128.0.1", true}, {"198.20.0.1", true}, // just outside

	// IPv6 special-purpose registry.
	{"::", false},
	{"::1", false},
	{"::7f00:1", false},         // IPv4-compatible 127.0.0.1
	{"::5db8:d822", false},      // IPv4-compatible, even of a public IPv4
	{"::ffff:127.0.0.1", false}, // IPv4-mapped loopback
	{"::ffff:10.0.0.1", false},
	{"::ffff:169.254.169.254", false},
	{"64:ff9b::a00:1", false},     // NAT64 into 10.0.0.1
	{"64:ff9b::5db8:d822", false}, // NAT64, whatever the IPv4
	{"64:ff9b:1::a00:1", false},   // local-use NAT64
	{"100::1", false},
	{"100:0:0:1::1", false},
	{"2001::1", false},                              // Teredo
	{"2001:0:4136:e378:8000:63bf:3fff:fdd2", false}, // Teredo, with an embedded server and client
	{"2001:2::1", false},                            // benchmarking
	{"2001:10::1", false},                           // ORCHID
	{"2001:db8::1", false},                          // documentation
	{"2002:7f00:1::1", false},                       // 6to4 of 127.0.0.1
	{"2002:5db8:d822::1", false},                    // 6to4, whatever the IPv4
	{"2620:4f:8000::1", false},
	{"3fff::1", false},
	{"5f00::1", false},
	{"fc00::1", false}, {"fd00:ec2::254", false}, // unique local (AWS metadata)
	{"fe80::1", false}, {"fe80::1%eth0", false},
	{"fec0::1", false}, {"feff::1", false}, // site-local
	{"ff02::1", false},    // multicast
	{"2001:200::1", true}, // just past 2001::/23
}

func TestPublic(t *testing.T) {
	for _, tt := range publicTests {
		if got := Public(netip.MustParseAddr(tt.ip)); got != tt.public {
			t.Errorf("Public(%s) = %v; want %v", tt.ip, got, tt.public)
		}
	}
}

// A real connection to a loopback listener is refused by the policy, and
// allowed when private addresses are.
func TestControlRefusesConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	strict := &net.Dialer{Control: Policy{}.Control}
	if _, err := strict.DialContext(context.Background(), "tcp", ln.Addr().String()); !errors.Is(err, ErrBlocked) {
		t.Fatalf("dial loopback: %v, want ErrBlocked", err)
	}
	// A name that resolves to loopback is judged by its address.
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	if _, err := strict.DialContext(context.Background(), "tcp", net.JoinHostPort("localhost", port)); !errors.Is(err, ErrBlocked) {
		t.Fatalf("dial localhost: %v, want ErrBlocked", err)
	}
	open := &net.Dialer{Control: Policy{AllowPrivate: true}.Control}
	c, err := open.DialContext(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("dial loopback with private addresses allowed: %v", err)
	}
	c.Close()
}
