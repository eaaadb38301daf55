package apiws

import "net/netip"

// ClientNetwork is the network a client address stands for in rate
// limits: an IPv4 address itself, an IPv6 address's /64 (one host usually
// holds a whole /64, and could otherwise step around a limit by changing
// address within it). Anything that is not an address is returned as it is.
func ClientNetwork(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}
