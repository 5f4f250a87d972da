// SPDX-License-Identifier: Apache-2.0

package packet

import (
	"encoding/binary"
	"net/netip"
)

// IP protocol numbers (IANA "Assigned Internet Protocol Numbers"), as found in
// the IPv4 Protocol field and the IPv6 Next Header field.
const (
	ProtoHopByHop uint8 = 0   // IPv6 Hop-by-Hop Options
	ProtoICMP     uint8 = 1   // ICMP for IPv4
	ProtoIGMP     uint8 = 2   // IGMP
	ProtoIPIP     uint8 = 4   // IPv4 in IP
	ProtoTCP      uint8 = 6   // TCP
	ProtoUDP      uint8 = 17  // UDP
	ProtoIPv6     uint8 = 41  // IPv6 in IP
	ProtoRouting  uint8 = 43  // IPv6 Routing header
	ProtoFragment uint8 = 44  // IPv6 Fragment header
	ProtoGRE      uint8 = 47  // Generic Routing Encapsulation
	ProtoESP      uint8 = 50  // Encapsulating Security Payload
	ProtoAH       uint8 = 51  // Authentication Header
	ProtoICMPv6   uint8 = 58  // ICMP for IPv6
	ProtoNoNext   uint8 = 59  // IPv6 No Next Header
	ProtoDstOpts  uint8 = 60  // IPv6 Destination Options
	ProtoSCTP     uint8 = 132 // SCTP
	ProtoUDPLite  uint8 = 136 // UDP-Lite
)

// IPv4 is a view of an IPv4 header (RFC 791, section 3.1):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version|  IHL  |Type of Service|          Total Length         |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Identification        |Flags|      Fragment Offset    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Time to Live |    Protocol   |         Header Checksum       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                       Source Address                          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Destination Address                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Options                    |    Padding    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Flags are reserved (0), DF and MF. IHL counts 32-bit words (5..15);
// Fragment Offset counts 8-byte units. The view may extend past Total Length
// (Ethernet padding); Payload stops at Total Length.
type IPv4 []byte

// IPv4 header field offsets, lengths and flags.
const (
	IPv4VersionIHLOffset         = 0
	IPv4TOSOffset                = 1
	IPv4TotalLengthOffset        = 2
	IPv4IDOffset                 = 4
	IPv4FlagsFragOffset          = 6
	IPv4TTLOffset                = 8
	IPv4ProtocolOffset           = 9
	IPv4ChecksumOffset           = 10
	IPv4SrcOffset                = 12
	IPv4DstOffset                = 16
	IPv4MinHeaderLen             = 20
	IPv4MaxHeaderLen             = 60
	IPv4Version                  = 4
	IPv4FlagDF            uint16 = 0x4000 // don't fragment, in the Flags/Fragment Offset word
	IPv4FlagMF            uint16 = 0x2000 // more fragments
	ipv4FragMask          uint16 = 0x1FFF
)

// Valid reports whether b is a well-formed IPv4 header and packet: version 4,
// 20 <= header length <= Total Length <= len(b).
func (b IPv4) Valid() bool {
	if len(b) < IPv4MinHeaderLen {
		return false
	}
	hl := int(b[0]&0x0F) * 4
	tl := int(binary.BigEndian.Uint16(b[IPv4TotalLengthOffset:]))
	return b[0]>>4 == IPv4Version && hl >= IPv4MinHeaderLen && hl <= tl && tl <= len(b)
}

// Version returns the version field (4 for IPv4).
func (b IPv4) Version() uint8 {
	if len(b) < 1 {
		return 0
	}
	return b[0] >> 4
}

// HeaderLen returns the header length in bytes (IHL * 4), options included.
func (b IPv4) HeaderLen() int {
	if len(b) < 1 {
		return 0
	}
	return int(b[0]&0x0F) * 4
}

// TOS returns the type of service (DSCP and ECN) byte.
func (b IPv4) TOS() uint8 {
	if len(b) < IPv4MinHeaderLen {
		return 0
	}
	return b[IPv4TOSOffset]
}

// TotalLength returns the total length field: header plus payload, in bytes.
func (b IPv4) TotalLength() uint16 { return b.u16(IPv4TotalLengthOffset) }

// ID returns the identification field.
func (b IPv4) ID() uint16 { return b.u16(IPv4IDOffset) }

// Flags returns the flag bits (IPv4FlagDF, IPv4FlagMF and the reserved bit)
// in their position in the Flags/Fragment Offset word.
func (b IPv4) Flags() uint16 { return b.u16(IPv4FlagsFragOffset) &^ ipv4FragMask }

// DF reports whether the don't-fragment flag is set.
func (b IPv4) DF() bool { return b.u16(IPv4FlagsFragOffset)&IPv4FlagDF != 0 }

// MF reports whether the more-fragments flag is set.
func (b IPv4) MF() bool { return b.u16(IPv4FlagsFragOffset)&IPv4FlagMF != 0 }

// FragmentOffset returns the fragment offset in bytes (the field times 8).
func (b IPv4) FragmentOffset() int { return int(b.u16(IPv4FlagsFragOffset)&ipv4FragMask) * 8 }

// IsFragment reports whether b is a fragment: MF set or a non-zero offset.
func (b IPv4) IsFragment() bool {
	return b.u16(IPv4FlagsFragOffset)&(IPv4FlagMF|ipv4FragMask) != 0
}

// TTL returns the time to live.
func (b IPv4) TTL() uint8 {
	if len(b) < IPv4MinHeaderLen {
		return 0
	}
	return b[IPv4TTLOffset]
}

// Protocol returns the payload's IP protocol number (ProtoTCP, ...).
func (b IPv4) Protocol() uint8 {
	if len(b) < IPv4MinHeaderLen {
		return 0
	}
	return b[IPv4ProtocolOffset]
}

// Checksum returns the header checksum field.
func (b IPv4) Checksum() uint16 { return b.u16(IPv4ChecksumOffset) }

// Src returns the source address.
func (b IPv4) Src() (a [4]byte) {
	if len(b) >= IPv4MinHeaderLen {
		copy(a[:], b[IPv4SrcOffset:IPv4SrcOffset+4])
	}
	return a
}

// Dst returns the destination address.
func (b IPv4) Dst() (a [4]byte) {
	if len(b) >= IPv4MinHeaderLen {
		copy(a[:], b[IPv4DstOffset:IPv4DstOffset+4])
	}
	return a
}

// SrcAddr returns the source address as a netip.Addr.
func (b IPv4) SrcAddr() netip.Addr { return netip.AddrFrom4(b.Src()) }

// DstAddr returns the destination address as a netip.Addr.
func (b IPv4) DstAddr() netip.Addr { return netip.AddrFrom4(b.Dst()) }

// Options returns the options area (between the fixed header and IHL*4),
// or nil if the header length is out of range or exceeds the view.
func (b IPv4) Options() []byte {
	hl := b.HeaderLen()
	if hl < IPv4MinHeaderLen || hl > len(b) {
		return nil
	}
	return b[IPv4MinHeaderLen:hl]
}

// Payload returns the bytes from the end of the header to Total Length, or
// nil unless Valid.
func (b IPv4) Payload() []byte {
	if !b.Valid() {
		return nil
	}
	return b[b.HeaderLen():b.TotalLength()]
}

// HeaderChecksumValid reports whether the header checksum verifies. It is
// false unless the header length is in range and within the view.
func (b IPv4) HeaderChecksumValid() bool {
	hl := b.HeaderLen()
	if hl < IPv4MinHeaderLen || hl > len(b) {
		return false
	}
	return Checksum(b[:hl], 0) == 0xFFFF
}

// SetTOS sets the type of service byte.
func (b IPv4) SetTOS(v uint8) {
	if len(b) >= IPv4MinHeaderLen {
		b[IPv4TOSOffset] = v
	}
}

// SetTotalLength sets the total length field.
func (b IPv4) SetTotalLength(v uint16) { b.put16(IPv4TotalLengthOffset, v) }

// SetID sets the identification field.
func (b IPv4) SetID(v uint16) { b.put16(IPv4IDOffset, v) }

// SetTTL sets the time to live.
func (b IPv4) SetTTL(v uint8) {
	if len(b) >= IPv4MinHeaderLen {
		b[IPv4TTLOffset] = v
	}
}

// SetChecksum sets the header checksum field.
func (b IPv4) SetChecksum(v uint16) { b.put16(IPv4ChecksumOffset, v) }

// SetSrc sets the source address.
func (b IPv4) SetSrc(a [4]byte) {
	if len(b) >= IPv4MinHeaderLen {
		copy(b[IPv4SrcOffset:IPv4SrcOffset+4], a[:])
	}
}

// SetDst sets the destination address.
func (b IPv4) SetDst(a [4]byte) {
	if len(b) >= IPv4MinHeaderLen {
		copy(b[IPv4DstOffset:IPv4DstOffset+4], a[:])
	}
}

// UpdateHeaderChecksum recomputes the header checksum field from the header
// bytes. It does nothing if the header length is out of range or exceeds the
// view.
func (b IPv4) UpdateHeaderChecksum() {
	hl := b.HeaderLen()
	if hl < IPv4MinHeaderLen || hl > len(b) {
		return
	}
	b[IPv4ChecksumOffset], b[IPv4ChecksumOffset+1] = 0, 0
	b.put16(IPv4ChecksumOffset, ^Checksum(b[:hl], 0))
}

// u16 reads the big-endian word at off, a fixed-header offset.
func (b IPv4) u16(off int) uint16 {
	if len(b) < IPv4MinHeaderLen {
		return 0
	}
	return binary.BigEndian.Uint16(b[off:])
}

func (b IPv4) put16(off int, v uint16) {
	if len(b) >= IPv4MinHeaderLen {
		binary.BigEndian.PutUint16(b[off:], v)
	}
}
