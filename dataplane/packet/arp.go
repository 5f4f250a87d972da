// SPDX-License-Identifier: Apache-2.0

package packet

import (
	"encoding/binary"
	"net/netip"
)

// ARP is a view of an ARP packet for IPv4 over Ethernet (RFC 826):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|       Hardware Type (1)       |     Protocol Type (0x0800)    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  HLEN (6)     |   PLEN (4)    |           Operation           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                Sender Hardware Address (bytes 0-3)            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   SHA (bytes 4-5)             |  Sender Protocol Addr (0-1)   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|   SPA (bytes 2-3)             |  Target Hardware Addr (0-1)   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                Target Hardware Address (bytes 2-5)            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                Target Protocol Address                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Only the Ethernet/IPv4 form is described; Valid rejects others.
type ARP []byte

// ARP field offsets, length and values.
const (
	ARPHTypeOffset = 0
	ARPPTypeOffset = 2
	ARPHLenOffset  = 4
	ARPPLenOffset  = 5
	ARPOpOffset    = 6
	ARPSHAOffset   = 8
	ARPSPAOffset   = 14
	ARPTHAOffset   = 18
	ARPTPAOffset   = 24
	ARPLen         = 28

	ARPHTypeEthernet uint16 = 1
	ARPRequest       uint16 = 1
	ARPReply         uint16 = 2
)

// Valid reports whether b is a whole Ethernet/IPv4 ARP packet: hardware type
// 1, protocol type 0x0800, address lengths 6 and 4.
func (b ARP) Valid() bool {
	return len(b) >= ARPLen &&
		binary.BigEndian.Uint16(b[ARPHTypeOffset:]) == ARPHTypeEthernet &&
		binary.BigEndian.Uint16(b[ARPPTypeOffset:]) == EtherTypeIPv4 &&
		b[ARPHLenOffset] == 6 && b[ARPPLenOffset] == 4
}

// Op returns the operation: ARPRequest or ARPReply.
func (b ARP) Op() uint16 {
	if len(b) < ARPLen {
		return 0
	}
	return binary.BigEndian.Uint16(b[ARPOpOffset:])
}

// SenderMAC returns the sender hardware address.
func (b ARP) SenderMAC() (mac [6]byte) {
	if len(b) >= ARPLen {
		copy(mac[:], b[ARPSHAOffset:ARPSHAOffset+6])
	}
	return mac
}

// SenderIP returns the sender protocol address.
func (b ARP) SenderIP() netip.Addr {
	var a [4]byte
	if len(b) >= ARPLen {
		copy(a[:], b[ARPSPAOffset:ARPSPAOffset+4])
	}
	return netip.AddrFrom4(a)
}

// TargetMAC returns the target hardware address.
func (b ARP) TargetMAC() (mac [6]byte) {
	if len(b) >= ARPLen {
		copy(mac[:], b[ARPTHAOffset:ARPTHAOffset+6])
	}
	return mac
}

// TargetIP returns the target protocol address.
func (b ARP) TargetIP() netip.Addr {
	var a [4]byte
	if len(b) >= ARPLen {
		copy(a[:], b[ARPTPAOffset:ARPTPAOffset+4])
	}
	return netip.AddrFrom4(a)
}

// SetOp sets the operation.
func (b ARP) SetOp(op uint16) {
	if len(b) >= ARPLen {
		binary.BigEndian.PutUint16(b[ARPOpOffset:], op)
	}
}

// SetSender sets the sender hardware and protocol addresses. ip must be an
// IPv4 address (an IPv4-mapped IPv6 address is unmapped); otherwise, or if
// b is short, nothing is written.
func (b ARP) SetSender(mac [6]byte, ip netip.Addr) {
	ip = ip.Unmap()
	if len(b) < ARPLen || !ip.Is4() {
		return
	}
	a := ip.As4()
	copy(b[ARPSHAOffset:ARPSHAOffset+6], mac[:])
	copy(b[ARPSPAOffset:ARPSPAOffset+4], a[:])
}

// SetTarget sets the target hardware and protocol addresses, as SetSender.
func (b ARP) SetTarget(mac [6]byte, ip netip.Addr) {
	ip = ip.Unmap()
	if len(b) < ARPLen || !ip.Is4() {
		return
	}
	a := ip.As4()
	copy(b[ARPTHAOffset:ARPTHAOffset+6], mac[:])
	copy(b[ARPTPAOffset:ARPTPAOffset+4], a[:])
}
