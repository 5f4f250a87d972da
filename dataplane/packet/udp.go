// SPDX-License-Identifier: Apache-2.0

package packet

import "encoding/binary"

// UDP is a view of a UDP header (RFC 768):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|          Source Port          |       Destination Port        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|            Length             |           Checksum            |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Length covers header and data. The checksum covers a pseudo-header
// (PseudoHeader4, PseudoHeader6), the header and the data. Over IPv4 a zero
// checksum means none was computed, so a computed 0 is sent as 0xFFFF; over
// IPv6 the checksum is mandatory.
type UDP []byte

// UDP header field offsets and length.
const (
	UDPSrcPortOffset  = 0
	UDPDstPortOffset  = 2
	UDPLengthOffset   = 4
	UDPChecksumOffset = 6
	UDPHeaderLen      = 8
)

// Valid reports whether b holds a UDP header whose Length is at least 8 and
// fits in the view.
func (b UDP) Valid() bool {
	if len(b) < UDPHeaderLen {
		return false
	}
	l := int(binary.BigEndian.Uint16(b[UDPLengthOffset:]))
	return l >= UDPHeaderLen && l <= len(b)
}

// SrcPort returns the source port.
func (b UDP) SrcPort() uint16 { return b.u16(UDPSrcPortOffset) }

// DstPort returns the destination port.
func (b UDP) DstPort() uint16 { return b.u16(UDPDstPortOffset) }

// Length returns the length field: header plus data, in bytes.
func (b UDP) Length() uint16 { return b.u16(UDPLengthOffset) }

// Checksum returns the checksum field.
func (b UDP) Checksum() uint16 { return b.u16(UDPChecksumOffset) }

// Payload returns the data up to Length, or nil unless Valid.
func (b UDP) Payload() []byte {
	if !b.Valid() {
		return nil
	}
	return b[UDPHeaderLen:b.Length()]
}

// SetSrcPort sets the source port.
func (b UDP) SetSrcPort(v uint16) { b.put16(UDPSrcPortOffset, v) }

// SetDstPort sets the destination port.
func (b UDP) SetDstPort(v uint16) { b.put16(UDPDstPortOffset, v) }

// SetLength sets the length field.
func (b UDP) SetLength(v uint16) { b.put16(UDPLengthOffset, v) }

// SetChecksum sets the checksum field.
func (b UDP) SetChecksum(v uint16) { b.put16(UDPChecksumOffset, v) }

func (b UDP) u16(off int) uint16 {
	if len(b) < UDPHeaderLen {
		return 0
	}
	return binary.BigEndian.Uint16(b[off:])
}

func (b UDP) put16(off int, v uint16) {
	if len(b) >= UDPHeaderLen {
		binary.BigEndian.PutUint16(b[off:], v)
	}
}
