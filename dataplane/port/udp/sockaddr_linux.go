// SPDX-License-Identifier: Apache-2.0

package udp

import (
	"net"
	"net/netip"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Socket addresses are kept in unix.RawSockaddrInet6 slots, which are large
// enough for both families; an AF_INET address uses the first
// SizeofSockaddrInet4 bytes. The port is in network byte order in both.

// putSockaddr writes ap into sa as a destination for a socket of family and
// returns the address length, or 0 if ap cannot be sent to from such a
// socket: invalid address, port 0, the other family (an IPv4-mapped address
// counts as IPv4), or an unknown zone.
func (z *zones) putSockaddr(sa *unix.RawSockaddrInet6, ap netip.AddrPort, family int) uint32 {
	a := ap.Addr()
	if !a.IsValid() || ap.Port() == 0 {
		return 0
	}
	if family == unix.AF_INET {
		a = a.Unmap()
		if !a.Is4() {
			return 0
		}
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		s4.Family = unix.AF_INET
		putPort(&s4.Port, ap.Port())
		s4.Addr = a.As4()
		s4.Zero = [8]uint8{}
		return unix.SizeofSockaddrInet4
	}
	if !a.Is6() || a.Is4In6() {
		return 0
	}
	scope, ok := z.scope(a.Zone())
	if !ok {
		return 0
	}
	sa.Family = unix.AF_INET6
	putPort(&sa.Port, ap.Port())
	sa.Flowinfo = 0
	sa.Addr = a.As16()
	sa.Scope_id = scope
	return unix.SizeofSockaddrInet6
}

// addrPort decodes the source address the kernel wrote into sa. IPv4
// addresses (also IPv4-mapped IPv6 ones) come back as 4-byte addresses; a
// link-local IPv6 source carries its interface index as a numeric zone.
func (z *zones) addrPort(sa *unix.RawSockaddrInet6) netip.AddrPort {
	switch sa.Family {
	case unix.AF_INET:
		s4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		return netip.AddrPortFrom(netip.AddrFrom4(s4.Addr), getPort(&s4.Port))
	case unix.AF_INET6:
		a := netip.AddrFrom16(sa.Addr)
		if a.Is4In6() {
			a = a.Unmap()
		} else if sa.Scope_id != 0 {
			a = a.WithZone(z.name(sa.Scope_id))
		}
		return netip.AddrPortFrom(a, getPort(&sa.Port))
	}
	return netip.AddrPort{}
}

func putPort(dst *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(dst))
	b[0], b[1] = byte(port>>8), byte(port)
}

func getPort(src *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(src))
	return uint16(b[0])<<8 | uint16(b[1])
}

// zones converts between IPv6 zones and interface indexes, remembering the
// last conversion each way so a steady flow to or from one link-local peer
// does not allocate. It is not safe for concurrent use: each direction of a
// Port has its own.
type zones struct {
	lastName  string // zone -> index
	lastIndex uint32
	lastID    uint32 // index -> zone
	lastZone  string
}

// scope returns the interface index for an IPv6 zone: "" is 0, a decimal
// zone is the index itself, anything else is an interface name.
func (z *zones) scope(zone string) (uint32, bool) {
	if zone == "" {
		return 0, true
	}
	if zone == z.lastName {
		return z.lastIndex, true
	}
	if n, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(n), true
	}
	ifi, err := net.InterfaceByName(zone)
	if err != nil {
		return 0, false
	}
	z.lastName, z.lastIndex = zone, uint32(ifi.Index)
	return z.lastIndex, true
}

// name returns the zone for an interface index: its decimal form, which
// netip and scope accept and which needs no interface lookup.
func (z *zones) name(id uint32) string {
	if id != z.lastID || z.lastZone == "" {
		z.lastID, z.lastZone = id, strconv.FormatUint(uint64(id), 10)
	}
	return z.lastZone
}
