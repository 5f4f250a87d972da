// SPDX-License-Identifier: Apache-2.0

package udp

import (
	"net/netip"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

func TestSockaddr(t *testing.T) {
	for _, c := range []struct {
		in, want string
		family   int
		len      uint32
	}{
		{"127.0.0.1:4800", "127.0.0.1:4800", unix.AF_INET, unix.SizeofSockaddrInet4},
		{"[::ffff:192.0.2.1]:1", "192.0.2.1:1", unix.AF_INET, unix.SizeofSockaddrInet4},
		{"255.255.255.255:65535", "255.255.255.255:65535", unix.AF_INET, unix.SizeofSockaddrInet4},
		{"[::1]:4800", "[::1]:4800", unix.AF_INET6, unix.SizeofSockaddrInet6},
		{"[2001:db8::1]:258", "[2001:db8::1]:258", unix.AF_INET6, unix.SizeofSockaddrInet6},
		{"[fe80::1%7]:4800", "[fe80::1%7]:4800", unix.AF_INET6, unix.SizeofSockaddrInet6},
		{"[fe80::1%lo]:4800", "[fe80::1%1]:4800", unix.AF_INET6, unix.SizeofSockaddrInet6},
	} {
		var z zones
		var sa unix.RawSockaddrInet6
		ap := netip.MustParseAddrPort(c.in)
		if n := z.putSockaddr(&sa, ap, c.family); n != c.len {
			t.Errorf("%s: length %d, want %d", c.in, n, c.len)
			continue
		}
		if got := z.addrPort(&sa); got.String() != c.want {
			t.Errorf("%s: round trip gives %v, want %s", c.in, got, c.want)
		}
	}

	// Network byte order, as the kernel has it.
	var z zones
	var sa unix.RawSockaddrInet6
	z.putSockaddr(&sa, netip.MustParseAddrPort("[::1]:258"), unix.AF_INET6)
	if b := unsafeBytes(&sa.Port); b[0] != 1 || b[1] != 2 {
		t.Errorf("port bytes %v, want [1 2]", b)
	}

	for _, c := range []struct {
		in     netip.AddrPort
		family int
	}{
		{netip.AddrPort{}, unix.AF_INET},
		{netip.AddrPort{}, unix.AF_INET6},
		{netip.MustParseAddrPort("127.0.0.1:0"), unix.AF_INET},
		{netip.MustParseAddrPort("[::1]:1"), unix.AF_INET},
		{netip.MustParseAddrPort("127.0.0.1:1"), unix.AF_INET6},
		{netip.MustParseAddrPort("[::ffff:127.0.0.1]:1"), unix.AF_INET6},
		{netip.MustParseAddrPort("[fe80::1%skiff-no-such-if]:1"), unix.AF_INET6},
	} {
		if n := z.putSockaddr(&sa, c.in, c.family); n != 0 {
			t.Errorf("%v on family %d: length %d, want 0", c.in, c.family, n)
		}
	}

	var unknown unix.RawSockaddrInet6
	unknown.Family = unix.AF_UNIX
	if got := z.addrPort(&unknown); got.IsValid() {
		t.Errorf("AF_UNIX decodes to %v", got)
	}
}

// A link-local peer, seen again and again, costs no allocation either way.
func TestSockaddrZoneAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	var z zones
	var sa unix.RawSockaddrInet6
	for _, s := range []string{"[fe80::1%1234]:4800", "[fe80::1%lo]:4800"} {
		ap := netip.MustParseAddrPort(s)
		f := func() {
			z.putSockaddr(&sa, ap, unix.AF_INET6)
			z.addrPort(&sa)
		}
		f()
		if n := testing.AllocsPerRun(100, f); n != 0 {
			t.Errorf("%s: allocs = %v", s, n)
		}
	}
}

func unsafeBytes(p *uint16) *[2]byte { return (*[2]byte)(unsafe.Pointer(p)) }
