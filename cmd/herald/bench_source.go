package main

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"
)

// benchPortsPerSource is how many connections bench puts on one source
// address: below the 28,232 ephemeral ports of Linux's default
// net.ipv4.ip_local_port_range (32768-60999), with room for the server
// API's requests and ports in TIME_WAIT.
const benchPortsPerSource = 25000

// benchSources spreads the subscribers' connections over several local
// addresses, each dialed from its own port range: one address has only
// the ephemeral ports, so 100,000 connections to one server port need
// four. nil dials from the address the kernel picks.
type benchSources struct {
	addrs []*net.TCPAddr
	next  atomic.Uint64
}

// local returns the next source address, round-robin, or nil to let the
// kernel pick.
func (s *benchSources) local() net.Addr {
	if s == nil {
		return nil
	}
	return s.addrs[(s.next.Add(1)-1)%uint64(len(s.addrs))]
}

func (s *benchSources) String() string {
	if s == nil {
		return ""
	}
	parts := make([]string, len(s.addrs))
	for i, a := range s.addrs {
		parts[i] = a.IP.String()
	}
	return strings.Join(parts, ",")
}

// parseBenchSources reads --source-addrs: a range (127.0.0.2-127.0.0.5),
// a list (127.0.0.2,127.0.0.3) or a count N, which is 127.0.0.1 to
// 127.0.0.N. "" with more connections than one address has ports picks
// the count needed when the server is on IPv4 loopback.
func parseBenchSources(spec string, conns int, serverHost string) (*benchSources, error) {
	var addrs []netip.Addr
	switch {
	case spec == "":
		server, err := netip.ParseAddr(serverHost)
		if conns <= benchPortsPerSource || err != nil || !server.Is4() || !server.IsLoopback() {
			return nil, nil
		}
		n := (conns + benchPortsPerSource - 1) / benchPortsPerSource
		addrs = benchLoopbackRange(n)
	case !strings.ContainsAny(spec, ".:"):
		n, err := strconv.Atoi(spec)
		if err != nil || n < 1 || n > 254 {
			return nil, fmt.Errorf("--source-addrs %s: give a count from 1 to 254, a range such as 127.0.0.2-127.0.0.5 or a list of addresses", spec)
		}
		addrs = benchLoopbackRange(n)
	case strings.Contains(spec, "-"):
		from, to, _ := strings.Cut(spec, "-")
		a, err1 := netip.ParseAddr(strings.TrimSpace(from))
		b, err2 := netip.ParseAddr(strings.TrimSpace(to))
		if err1 != nil || err2 != nil || a.BitLen() != b.BitLen() || b.Less(a) {
			return nil, fmt.Errorf("--source-addrs %s: a range is two addresses of one family, the lower first, e.g. 127.0.0.2-127.0.0.5", spec)
		}
		for x := a; ; x = x.Next() {
			addrs = append(addrs, x)
			if x == b || len(addrs) > 1024 {
				break
			}
		}
		if len(addrs) > 1024 {
			return nil, fmt.Errorf("--source-addrs %s: at most 1024 addresses", spec)
		}
	default:
		for _, p := range strings.Split(spec, ",") {
			a, err := netip.ParseAddr(strings.TrimSpace(p))
			if err != nil {
				return nil, fmt.Errorf("--source-addrs: %q is not an IP address", p)
			}
			addrs = append(addrs, a)
		}
	}
	if need := (conns + benchPortsPerSource - 1) / benchPortsPerSource; len(addrs) < need {
		return nil, fmt.Errorf("--source-addrs %s: %d connections need at least %d source addresses (%d connections each)", spec, conns, need, benchPortsPerSource)
	}
	s := &benchSources{}
	for _, a := range addrs {
		s.addrs = append(s.addrs, &net.TCPAddr{IP: a.AsSlice()})
	}
	return s, nil
}

// benchLoopbackRange is 127.0.0.1 to 127.0.0.n: Linux answers on all of
// 127.0.0.0/8 without configuration.
func benchLoopbackRange(n int) []netip.Addr {
	addrs := make([]netip.Addr, n)
	for i := range addrs {
		addrs[i] = netip.AddrFrom4([4]byte{127, 0, 0, byte(i + 1)})
	}
	return addrs
}
