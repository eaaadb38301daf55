// Package publicnet reaches addresses that clients choose (media URLs,
// webhook endpoints) on the public internet only: every connection is
// checked after DNS resolution, redirects included, against the IANA
// special-purpose address registries, so a name that resolves to a
// private, loopback, link-local, metadata, documentation or translation
// address is refused as well as the address itself.
package publicnet

import (
	"errors"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// ErrBlocked is the error of a connection to an address that is not
// public.
var ErrBlocked = errors.New("address not allowed")

// Policy decides which addresses a connection may reach.
type Policy struct {
	// AllowPrivate lets connections reach any address (development and
	// tests only: APIWS_ALLOW_PRIVATE_URLS).
	AllowPrivate bool
}

// Allows reports whether the policy lets a connection reach ip.
func (p Policy) Allows(ip netip.Addr) bool {
	return p.AllowPrivate || Public(ip)
}

// Control is a net.Dialer's Control function: it runs for every connection
// after DNS resolution and refuses, with ErrBlocked, an address the policy
// does not allow.
func (p Policy) Control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return err
	}
	if !p.Allows(ip) {
		return ErrBlocked
	}
	return nil
}

// Transport is an HTTP transport whose every connection is checked by the
// policy. It uses no proxy, which would hide the real destination; the
// caller chooses its client's timeout and redirects.
func (p Policy) Transport() *http.Transport {
	dialer := &net.Dialer{Timeout: 10 * time.Second, Control: p.Control}
	return &http.Transport{
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 15 * time.Second,
		MaxIdleConns:          10,
		Proxy:                 nil,
	}
}

// Public reports whether ip is a global unicast address outside every
// range of the IANA IPv4 and IPv6 special-purpose address registries (and
// the deprecated site-local and IPv4-compatible IPv6 ranges). An
// IPv4-mapped IPv6 address is judged by its IPv4 address, which is what a
// connection to it reaches; every other IPv6 form that embeds or
// translates an IPv4 address (NAT64, 6to4, Teredo) is refused whole, as
// it may lead into private IPv4 space.
func Public(ip netip.Addr) bool {
	ip = ip.Unmap().WithZone("")
	if !ip.IsValid() || !ip.IsGlobalUnicast() {
		return false
	}
	ranges := specialIPv6
	if ip.Is4() {
		ranges = specialIPv4
	}
	for _, p := range ranges {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// specialIPv4 are the ranges of the IANA IPv4 Special-Purpose Address
// Registry, whether or not it marks them globally reachable: none is a
// place to fetch a customer's media from.
var specialIPv4 = prefixes(
	"0.0.0.0/8",          // "this network"
	"10.0.0.0/8",         // private
	"100.64.0.0/10",      // shared address space (carrier-grade NAT)
	"127.0.0.0/8",        // loopback
	"169.254.0.0/16",     // link-local (cloud metadata)
	"172.16.0.0/12",      // private
	"192.0.0.0/24",       // IETF protocol assignments
	"192.0.2.0/24",       // documentation (TEST-NET-1)
	"192.31.196.0/24",    // AS112-v4
	"192.52.193.0/24",    // AMT
	"192.88.99.0/24",     // deprecated 6to4 relay anycast
	"192.168.0.0/16",     // private
	"192.175.48.0/24",    // direct delegation AS112 service
	"198.18.0.0/15",      // benchmarking
	"198.51.100.0/24",    // documentation (TEST-NET-2)
	"203.0.113.0/24",     // documentation (TEST-NET-3)
	"240.0.0.0/4",        // reserved
	"255.255.255.255/32", // limited broadcast
)

// specialIPv6 are the ranges of the IANA IPv6 Special-Purpose Address
// Registry, and the deprecated ranges that some stacks still route.
var specialIPv6 = prefixes(
	"::/128",            // unspecified
	"::1/128",           // loopback
	"::/96",             // IPv4-compatible (deprecated)
	"64:ff9b::/96",      // IPv4/IPv6 translation (NAT64)
	"64:ff9b:1::/48",    // local-use IPv4/IPv6 translation
	"100::/64",          // discard-only
	"100:0:0:1::/64",    // dummy prefix
	"2001::/23",         // IETF protocol assignments, Teredo (2001::/32) among them
	"2001:db8::/32",     // documentation
	"2002::/16",         // 6to4
	"2620:4f:8000::/48", // direct delegation AS112 service
	"3fff::/20",         // documentation
	"5f00::/16",         // segment routing (SRv6) SIDs
	"fc00::/7",          // unique local
	"fe80::/10",         // link-local
	"fec0::/10",         // site-local (deprecated)
)

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}
