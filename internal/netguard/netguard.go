// Package netguard keeps the worker's HTTP clients away from link-local and
// cloud metadata addresses. A runbook picks the URLs of its checks, hooks
// and providers; from the worker, 169.254.169.254 and its kin answer with the
// host's cloud credentials. CheckHost refuses such a host as written (also
// in the decimal, octal and hex forms a C resolver accepts); Control refuses
// the address a connection is actually made to, after DNS resolution, so a
// name that resolves (or rebinds) there does not pass either.
package netguard

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
)

// ErrBlocked marks a refused host or address.
var ErrBlocked = errors.New("link-local or cloud metadata address refused")

// blockedNets are link-local ranges (where AWS, GCP, Azure and OCI serve
// instance metadata) and other providers' metadata addresses.
var blockedNets = []netip.Prefix{
	netip.MustParsePrefix("169.254.0.0/16"),     // IPv4 link-local, EC2/GCE/Azure/OCI metadata
	netip.MustParsePrefix("fe80::/10"),          // IPv6 link-local
	netip.MustParsePrefix("100.100.100.200/32"), // Alibaba Cloud metadata
	netip.MustParsePrefix("fd00:ec2::254/128"),  // EC2 metadata over IPv6
	netip.MustParsePrefix("168.63.129.16/32"),   // Azure wire server
}

// blockedNames are metadata host names; a trailing dot and case are ignored.
var blockedNames = []string{
	"metadata", "metadata.google.internal", "metadata.goog",
	"instance-data", "instance-data.ec2.internal", "metadata.azure.internal",
}

// nat64 is the well-known NAT64 prefix, which embeds an IPv4 address.
var nat64 = netip.MustParsePrefix("64:ff9b::/96")

// Blocked reports whether ip is link-local or a metadata address, looking
// through IPv4-mapped, IPv4-compatible and NAT64 forms of IPv4 addresses.
func Blocked(ip netip.Addr) bool {
	ip = ip.WithZone("").Unmap()
	if ip.Is6() {
		b := ip.As16()
		if nat64.Contains(ip) || v4Compatible(b) {
			ip = netip.AddrFrom4([4]byte(b[12:]))
		}
	}
	for _, p := range blockedNets {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// v4Compatible reports an IPv4-compatible IPv6 address (::a.b.c.d), which
// some stacks still route to the IPv4 address.
func v4Compatible(b [16]byte) bool {
	for _, x := range b[:12] {
		if x != 0 {
			return false
		}
	}
	return b[12] != 0
}

// CheckHost refuses a URL's host (as url.URL.Hostname returns it) when it is
// a metadata name or an address Blocked refuses, written in any form.
func CheckHost(host string) error {
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	for _, n := range blockedNames {
		if h == n {
			return fmt.Errorf("%w: host %s is a cloud metadata service", ErrBlocked, host)
		}
	}
	if ip, ok := ParseIP(h); ok && Blocked(ip) {
		if ip.String() != strings.Trim(h, "[]") {
			host = fmt.Sprintf("%s (%s)", host, ip)
		}
		return fmt.Errorf("%w: host %s is a link-local or cloud metadata address", ErrBlocked, host)
	}
	return nil
}

// ParseIP parses an IP address as a URL host may carry it: IPv6 (with or
// without brackets and zone), dotted IPv4, and the inet_aton forms C
// resolvers accept (2852039166, 0xa9fea9fe, 0251.0376.0251.0376, 169.254.43518).
func ParseIP(host string) (netip.Addr, bool) {
	h := strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if ip, err := netip.ParseAddr(h); err == nil {
		return ip, true
	}
	return parseInetAton(h)
}

// parseInetAton reads 1 to 4 dot-separated numbers, each decimal, octal
// (leading 0) or hex (0x); the last one fills the remaining bytes.
func parseInetAton(h string) (netip.Addr, bool) {
	parts := strings.Split(h, ".")
	if len(parts) > 4 || h == "" {
		return netip.Addr{}, false
	}
	var nums []uint64
	for _, p := range parts {
		n, err := strconv.ParseUint(p, 0, 32) // base 0: 0x hex, 0 octal, else decimal
		if err != nil || p == "" || strings.ContainsAny(p, "_+-") || strings.HasPrefix(strings.ToLower(p), "0b") || strings.HasPrefix(strings.ToLower(p), "0o") {
			return netip.Addr{}, false
		}
		nums = append(nums, n)
	}
	var v uint64
	last := len(nums) - 1
	for i, n := range nums[:last] {
		if n > 255 {
			return netip.Addr{}, false
		}
		v |= n << (8 * (3 - i))
	}
	if nums[last] >= 1<<(8*(4-last)) {
		return netip.Addr{}, false
	}
	v |= nums[last]
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)}), true
}

// Control is a net.Dialer Control func: it runs after name resolution, on
// the address the socket is about to connect to, and refuses Blocked ones.
func Control(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		host = address
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return fmt.Errorf("%w: cannot tell the address of %s %s", ErrBlocked, network, address)
	}
	if Blocked(ip) {
		return fmt.Errorf("%w: %s resolves to %s", ErrBlocked, network, ip)
	}
	return nil
}
