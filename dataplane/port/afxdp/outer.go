// SPDX-License-Identifier: Apache-2.0

package afxdp

import (
	"encoding/binary"
	"net/netip"

	"github.com/skiffnet/skiff/dataplane/packet"
)

// This file is pure: it checks and strips the outer Ethernet/IP/UDP headers
// of a datagram the underlay program redirected, and builds them for one
// skiff sends. No syscalls, no allocation; fuzz_test.go fuzzes parseOuter.

// outerFault says why a redirected frame is not a datagram for skiff.
type outerFault uint8

const (
	outerOK          outerFault = iota
	outerTruncated              // shorter than its headers say
	outerNotIP                  // an EtherType other than IPv4 or IPv6 (after at most two VLAN tags)
	outerBadIP                  // wrong version, header length, total length or IPv4 header checksum
	outerFragment               // an IPv4 fragment (the program passes those to the kernel)
	outerNotUDP                 // not UDP, or IPv6 with extension headers
	outerOtherPort              // UDP to another port or address
	outerBadUDP                 // UDP length that disagrees with the IP length
	outerBadChecksum            // a UDP checksum that does not verify
	numOuterFaults
)

var outerFaultNames = [numOuterFaults]string{
	outerOK: "ok", outerTruncated: "truncated", outerNotIP: "not-ip", outerBadIP: "bad-ip",
	outerFragment: "ip-fragment", outerNotUDP: "not-udp", outerOtherPort: "other-port",
	outerBadUDP: "bad-udp-length", outerBadChecksum: "bad-udp-checksum",
}

func (f outerFault) String() string {
	if f < numOuterFaults {
		return outerFaultNames[f]
	}
	return "unknown"
}

const (
	ethLen  = packet.EthernetHeaderLen
	ip4Len  = 20
	ip6Len  = 40
	udpLen  = 8
	maxTags = 2

	outerTTL = 64
)

// outerLen is the length of the headers skiff puts in front of a datagram
// to addr's family.
func outerLen(v6 bool) int {
	if v6 {
		return ethLen + ip6Len + udpLen
	}
	return ethLen + ip4Len + udpLen
}

// parseOuter checks frame as a UDP datagram to port (and to local, if
// local is valid) and returns its payload and source. IPv4 datagrams carry
// a UDP checksum or 0; IPv6 ones must carry one.
//
// A checksum field that holds only the pseudo-header sum (partial) is what
// a sender's kernel leaves when it counts on checksum offload and the link
// is virtual; such datagrams are taken, and partial is true. skiff's AEAD,
// not the UDP checksum, is what protects the payload.
func parseOuter(frame []byte, local netip.Addr, port uint16) (payload []byte, src netip.AddrPort, f outerFault, partial bool) {
	if len(frame) < ethLen {
		return nil, src, outerTruncated, false
	}
	off := packet.EthernetTypeOffset
	et := binary.BigEndian.Uint16(frame[off:])
	for range maxTags {
		if et != packet.EtherTypeVLAN && et != packet.EtherTypeQinQ {
			break
		}
		off += packet.VLANTagLen
		if len(frame) < off+2 {
			return nil, src, outerTruncated, false
		}
		et = binary.BigEndian.Uint16(frame[off:])
	}
	off += 2
	var (
		l4      []byte
		pseudo  uint32
		srcAddr netip.Addr
		dstAddr netip.Addr
		v6      bool
	)
	switch et {
	case packet.EtherTypeIPv4:
		ip := frame[off:]
		if len(ip) < ip4Len {
			return nil, src, outerTruncated, false
		}
		hl := int(ip[0]&0x0f) * 4
		tl := int(binary.BigEndian.Uint16(ip[2:]))
		if ip[0]>>4 != 4 || hl < ip4Len || tl < hl {
			return nil, src, outerBadIP, false
		}
		if len(ip) < tl {
			return nil, src, outerTruncated, false
		}
		if packet.Checksum(ip[:hl], 0) != 0xffff {
			return nil, src, outerBadIP, false
		}
		if binary.BigEndian.Uint16(ip[6:])&0x3fff != 0 { // MF or an offset
			return nil, src, outerFragment, false
		}
		if ip[9] != packet.ProtoUDP {
			return nil, src, outerNotUDP, false
		}
		s4, d4 := [4]byte(ip[12:16]), [4]byte(ip[16:20])
		srcAddr, dstAddr = netip.AddrFrom4(s4), netip.AddrFrom4(d4)
		l4 = ip[hl:tl]
		pseudo = packet.PseudoHeader4(packet.ProtoUDP, s4, d4, uint16(len(l4)))
	case packet.EtherTypeIPv6:
		ip := frame[off:]
		if len(ip) < ip6Len {
			return nil, src, outerTruncated, false
		}
		if ip[0]>>4 != 6 {
			return nil, src, outerBadIP, false
		}
		pl := int(binary.BigEndian.Uint16(ip[4:]))
		if len(ip) < ip6Len+pl {
			return nil, src, outerTruncated, false
		}
		if ip[6] != packet.ProtoUDP {
			return nil, src, outerNotUDP, false
		}
		s6, d6 := [16]byte(ip[8:24]), [16]byte(ip[24:40])
		srcAddr, dstAddr = netip.AddrFrom16(s6), netip.AddrFrom16(d6)
		l4 = ip[ip6Len : ip6Len+pl]
		pseudo = packet.PseudoHeader6(packet.ProtoUDP, s6, d6, uint32(len(l4)))
		v6 = true
	default:
		return nil, src, outerNotIP, false
	}
	if len(l4) < udpLen {
		return nil, src, outerBadUDP, false
	}
	ul := int(binary.BigEndian.Uint16(l4[4:]))
	if ul < udpLen || ul != len(l4) {
		return nil, src, outerBadUDP, false
	}
	if binary.BigEndian.Uint16(l4[2:]) != port || local.IsValid() && dstAddr != local {
		return nil, src, outerOtherPort, false
	}
	if c := binary.BigEndian.Uint16(l4[6:]); c != 0 || v6 {
		switch {
		case c != 0 && packet.Checksum(l4, pseudo) == 0xffff:
		case c != 0 && c == packet.Checksum(nil, pseudo):
			// A partial checksum: the pseudo-header sum only, as a
			// sender with checksum offload leaves it on a virtual link
			// (veth), where no NIC completes it.
			partial = true
		default:
			return nil, src, outerBadChecksum, false
		}
	}
	return l4[udpLen:], netip.AddrPortFrom(srcAddr, binary.BigEndian.Uint16(l4[0:])), outerOK, partial
}

// outerHeader is what buildOuter needs to know about one destination.
type outerHeader struct {
	dstMAC, srcMAC [6]byte
	src            netip.Addr // our address, same family as the destination
}

// buildOuter writes the Ethernet, IP and UDP headers for payload (which
// the caller has placed at dst[outerLen(v6):]) to to from h.src:sport into
// dst, checksums included, and returns the frame's length. IPv4 goes with
// DF set, skiff fragments itself.
func buildOuter(dst []byte, h *outerHeader, sport uint16, to netip.AddrPort, plen int) int {
	v6 := !to.Addr().Is4()
	n := outerLen(v6) + plen
	f := dst[:n:n]
	copy(f[0:6], h.dstMAC[:])
	copy(f[6:12], h.srcMAC[:])
	var l4 []byte
	var pseudo uint32
	if !v6 {
		binary.BigEndian.PutUint16(f[12:], packet.EtherTypeIPv4)
		ip := f[ethLen : ethLen+ip4Len]
		ip[0], ip[1] = 0x45, 0
		binary.BigEndian.PutUint16(ip[2:], uint16(ip4Len+udpLen+plen))
		binary.BigEndian.PutUint32(ip[4:], 0x00004000) // id 0, DF
		ip[8], ip[9] = outerTTL, packet.ProtoUDP
		ip[10], ip[11] = 0, 0
		s4, d4 := h.src.As4(), to.Addr().As4()
		copy(ip[12:16], s4[:])
		copy(ip[16:20], d4[:])
		binary.BigEndian.PutUint16(ip[10:], ^packet.Checksum(ip, 0))
		l4 = f[ethLen+ip4Len:]
		pseudo = packet.PseudoHeader4(packet.ProtoUDP, s4, d4, uint16(udpLen+plen))
	} else {
		binary.BigEndian.PutUint16(f[12:], packet.EtherTypeIPv6)
		ip := f[ethLen : ethLen+ip6Len]
		binary.BigEndian.PutUint32(ip[0:], 6<<28)
		binary.BigEndian.PutUint16(ip[4:], uint16(udpLen+plen))
		ip[6], ip[7] = packet.ProtoUDP, outerTTL
		s6, d6 := h.src.As16(), to.Addr().As16()
		copy(ip[8:24], s6[:])
		copy(ip[24:40], d6[:])
		l4 = f[ethLen+ip6Len:]
		pseudo = packet.PseudoHeader6(packet.ProtoUDP, s6, d6, uint32(udpLen+plen))
	}
	binary.BigEndian.PutUint16(l4[0:], sport)
	binary.BigEndian.PutUint16(l4[2:], to.Port())
	binary.BigEndian.PutUint16(l4[4:], uint16(udpLen+plen))
	l4[6], l4[7] = 0, 0
	c := ^packet.Checksum(l4, pseudo)
	if c == 0 {
		c = 0xffff
	}
	binary.BigEndian.PutUint16(l4[6:], c)
	return n
}
