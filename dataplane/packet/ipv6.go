// SPDX-License-Identifier: Apache-2.0

package packet

import (
	"encoding/binary"
	"net/netip"
)

// IPv6 is a view of an IPv6 header (RFC 8200, section 3):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|Version| Traffic Class |           Flow Label                  |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|         Payload Length        |  Next Header  |   Hop Limit   |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	+                                                               +
//	|                                                               |
//	+                         Source Address                        +
//	|                                                               |
//	+                                                               +
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                                                               |
//	+                                                               +
//	|                                                               |
//	+                      Destination Address                      +
//	|                                                               |
//	+                                                               +
//	|                                                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Payload Length counts everything after the fixed 40 bytes, extension
// headers included. Jumbograms (Payload Length 0 plus a Jumbo Payload option)
// are not supported: their payload looks empty. The view may extend past the
// payload (Ethernet padding); Payload stops at Payload Length.
type IPv6 []byte

// IPv6 header field offsets and lengths.
const (
	IPv6PayloadLengthOffset = 4
	IPv6NextHeaderOffset    = 6
	IPv6HopLimitOffset      = 7
	IPv6SrcOffset           = 8
	IPv6DstOffset           = 24
	IPv6HeaderLen           = 40
	IPv6Version             = 6

	// IPv6MaxExtHeaders bounds Walk: a chain with more extension headers is
	// rejected. RFC 8200 allows each header once, Destination Options twice.
	IPv6MaxExtHeaders = 8
)

// Valid reports whether b is a well-formed IPv6 header and packet: version 6
// and 40 + Payload Length <= len(b).
func (b IPv6) Valid() bool {
	if len(b) < IPv6HeaderLen {
		return false
	}
	pl := int(binary.BigEndian.Uint16(b[IPv6PayloadLengthOffset:]))
	return b[0]>>4 == IPv6Version && IPv6HeaderLen+pl <= len(b)
}

// Version returns the version field (6 for IPv6).
func (b IPv6) Version() uint8 {
	if len(b) < 1 {
		return 0
	}
	return b[0] >> 4
}

// TrafficClass returns the traffic class (DSCP and ECN).
func (b IPv6) TrafficClass() uint8 {
	if len(b) < IPv6HeaderLen {
		return 0
	}
	return uint8(binary.BigEndian.Uint16(b[0:]) >> 4)
}

// FlowLabel returns the 20-bit flow label.
func (b IPv6) FlowLabel() uint32 {
	if len(b) < IPv6HeaderLen {
		return 0
	}
	return binary.BigEndian.Uint32(b[0:]) & 0x000FFFFF
}

// PayloadLength returns the payload length field.
func (b IPv6) PayloadLength() uint16 {
	if len(b) < IPv6HeaderLen {
		return 0
	}
	return binary.BigEndian.Uint16(b[IPv6PayloadLengthOffset:])
}

// NextHeader returns the next header field: the first extension header or
// the transport protocol. Walk follows the chain.
func (b IPv6) NextHeader() uint8 {
	if len(b) < IPv6HeaderLen {
		return 0
	}
	return b[IPv6NextHeaderOffset]
}

// HopLimit returns the hop limit.
func (b IPv6) HopLimit() uint8 {
	if len(b) < IPv6HeaderLen {
		return 0
	}
	return b[IPv6HopLimitOffset]
}

// Src returns the source address.
func (b IPv6) Src() (a [16]byte) {
	if len(b) >= IPv6HeaderLen {
		copy(a[:], b[IPv6SrcOffset:IPv6SrcOffset+16])
	}
	return a
}

// Dst returns the destination address (the next hop's, if there is a
// Routing header).
func (b IPv6) Dst() (a [16]byte) {
	if len(b) >= IPv6HeaderLen {
		copy(a[:], b[IPv6DstOffset:IPv6DstOffset+16])
	}
	return a
}

// SrcAddr returns the source address as a netip.Addr.
func (b IPv6) SrcAddr() netip.Addr { return netip.AddrFrom16(b.Src()) }

// DstAddr returns the destination address as a netip.Addr.
func (b IPv6) DstAddr() netip.Addr { return netip.AddrFrom16(b.Dst()) }

// Payload returns the Payload Length bytes after the fixed header, or nil
// unless Valid.
func (b IPv6) Payload() []byte {
	if !b.Valid() {
		return nil
	}
	return b[IPv6HeaderLen : IPv6HeaderLen+int(b.PayloadLength())]
}

// SetPayloadLength sets the payload length field.
func (b IPv6) SetPayloadLength(v uint16) {
	if len(b) >= IPv6HeaderLen {
		binary.BigEndian.PutUint16(b[IPv6PayloadLengthOffset:], v)
	}
}

// SetNextHeader sets the next header field.
func (b IPv6) SetNextHeader(v uint8) {
	if len(b) >= IPv6HeaderLen {
		b[IPv6NextHeaderOffset] = v
	}
}

// SetHopLimit sets the hop limit.
func (b IPv6) SetHopLimit(v uint8) {
	if len(b) >= IPv6HeaderLen {
		b[IPv6HopLimitOffset] = v
	}
}

// SetSrc sets the source address.
func (b IPv6) SetSrc(a [16]byte) {
	if len(b) >= IPv6HeaderLen {
		copy(b[IPv6SrcOffset:IPv6SrcOffset+16], a[:])
	}
}

// SetDst sets the destination address.
func (b IPv6) SetDst(a [16]byte) {
	if len(b) >= IPv6HeaderLen {
		copy(b[IPv6DstOffset:IPv6DstOffset+16], a[:])
	}
}

// IPv6Ext is the result of walking an IPv6 extension header chain. It has
// four fields so that the compiler can keep it in registers.
type IPv6Ext struct {
	// Proto is the first header Walk does not step over: ProtoTCP,
	// ProtoUDP, ProtoICMPv6, ProtoNoNext, ProtoESP, ... or, for a
	// non-first fragment, the Fragment header's Next Header.
	Proto uint8
	// Offset is where that header starts, counted from the start of the
	// IPv6 header. It is at most 40 + Payload Length.
	Offset int
	// Fragment is the offset of the Fragment header, if there is one, or
	// 0. IPv6Fragment(b[Fragment:]) reads its other fields.
	Fragment int
	// FragmentOffset is the Fragment header's offset, in bytes. When it is
	// not 0, what follows the header is the middle of a payload, not a
	// header.
	FragmentOffset int
}

// Walk follows the Next Header chain from the fixed header across Hop-by-Hop
// Options (0), Routing (43), Fragment (44), Destination Options (60) and
// Authentication (51) headers, and stops at the first other header (TCP, UDP,
// ICMPv6, No Next Header, ESP, ...) or after a Fragment header with a non-zero
// offset. Each extension header must lie within the payload.
//
// It returns ok = false if b is not Valid, a header is truncated, or the chain
// has more than IPv6MaxExtHeaders extension headers.
func (b IPv6) Walk() (IPv6Ext, bool) {
	if !b.Valid() {
		return IPv6Ext{}, false
	}
	end := IPv6HeaderLen + int(binary.BigEndian.Uint16(b[IPv6PayloadLengthOffset:]))
	p := b[:end:end]
	next := p[IPv6NextHeaderOffset]
	off := IPv6HeaderLen
	frag, fragOff := 0, 0
	for range IPv6MaxExtHeaders + 1 {
		var hl int
		switch next {
		case ProtoHopByHop, ProtoRouting, ProtoDstOpts:
			if off+2 > len(p) {
				return IPv6Ext{}, false
			}
			hl = (int(p[off+1]) + 1) * 8
		case ProtoAH:
			if off+2 > len(p) {
				return IPv6Ext{}, false
			}
			hl = (int(p[off+1]) + 2) * 4
		case ProtoFragment:
			if off+IPv6FragmentLen > len(p) {
				return IPv6Ext{}, false
			}
			frag = off
			fragOff = IPv6Fragment(p[off:]).FragmentOffset()
			hl = IPv6FragmentLen
		default:
			return IPv6Ext{Proto: next, Offset: off, Fragment: frag, FragmentOffset: fragOff}, true
		}
		if off+hl > len(p) {
			return IPv6Ext{}, false
		}
		next = p[off]
		off += hl
		if fragOff != 0 {
			// A non-first fragment: the rest is payload, not headers.
			return IPv6Ext{Proto: next, Offset: off, Fragment: frag, FragmentOffset: fragOff}, true
		}
	}
	return IPv6Ext{}, false // too many extension headers
}

// IPv6Fragment is a view of an IPv6 Fragment header (RFC 8200, section 4.5):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Next Header  |   Reserved    |      Fragment Offset    |Res|M|
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                         Identification                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Fragment Offset counts 8-byte units.
type IPv6Fragment []byte

// IPv6 Fragment header field offsets and length.
const (
	IPv6FragmentNextHeaderOffset = 0
	IPv6FragmentOffsetOffset     = 2
	IPv6FragmentIDOffset         = 4
	IPv6FragmentLen              = 8
)

// Valid reports whether b holds a whole Fragment header.
func (b IPv6Fragment) Valid() bool { return len(b) >= IPv6FragmentLen }

// NextHeader returns the header that the reassembled payload starts with.
func (b IPv6Fragment) NextHeader() uint8 {
	if len(b) < IPv6FragmentLen {
		return 0
	}
	return b[IPv6FragmentNextHeaderOffset]
}

// FragmentOffset returns the offset of this fragment's data in bytes (the
// field times 8).
func (b IPv6Fragment) FragmentOffset() int {
	if len(b) < IPv6FragmentLen {
		return 0
	}
	return int(binary.BigEndian.Uint16(b[IPv6FragmentOffsetOffset:])>>3) * 8
}

// More reports whether the M (more fragments) flag is set.
func (b IPv6Fragment) More() bool {
	if len(b) < IPv6FragmentLen {
		return false
	}
	return b[IPv6FragmentOffsetOffset+1]&1 != 0
}

// ID returns the identification field.
func (b IPv6Fragment) ID() uint32 {
	if len(b) < IPv6FragmentLen {
		return 0
	}
	return binary.BigEndian.Uint32(b[IPv6FragmentIDOffset:])
}
