// SPDX-License-Identifier: Apache-2.0

package packet

import "encoding/binary"

// TCP is a view of a TCP header (RFC 9293, section 3.1):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|          Source Port          |       Destination Port        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                        Sequence Number                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                    Acknowledgment Number                      |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|  Data |       |C|E|U|A|P|R|S|F|                               |
//	| Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//	|       |       |R|E|G|K|H|T|N|N|                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|           Checksum            |         Urgent Pointer        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                           [Options]                           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                             Data                              :
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Data Offset counts 32-bit words (5..15). The checksum covers a
// pseudo-header (PseudoHeader4, PseudoHeader6), the header and the data. TCP
// has no length field: the segment ends where the IP payload ends, so slice
// the view to the IP payload.
type TCP []byte

// TCP header field offsets and lengths.
const (
	TCPSrcPortOffset    = 0
	TCPDstPortOffset    = 2
	TCPSeqOffset        = 4
	TCPAckOffset        = 8
	TCPDataOffsetOffset = 12
	TCPFlagsOffset      = 13
	TCPWindowOffset     = 14
	TCPChecksumOffset   = 16
	TCPUrgentOffset     = 18
	TCPMinHeaderLen     = 20
	TCPMaxHeaderLen     = 60
)

// TCP flags, as returned by TCP.Flags.
const (
	TCPFlagFIN uint8 = 1 << iota
	TCPFlagSYN
	TCPFlagRST
	TCPFlagPSH
	TCPFlagACK
	TCPFlagURG
	TCPFlagECE
	TCPFlagCWR
)

// TCP option kinds (IANA "TCP Option Kind Numbers") and the lengths of the
// fixed-size ones, kind and length bytes included.
const (
	TCPOptionEOL           uint8 = 0  // End of Option List
	TCPOptionNOP           uint8 = 1  // No-Operation
	TCPOptionMSS           uint8 = 2  // Maximum Segment Size
	TCPOptionWindowScale   uint8 = 3  // Window Scale
	TCPOptionSACKPermitted uint8 = 4  // SACK Permitted
	TCPOptionSACK          uint8 = 5  // SACK
	TCPOptionTimestamps    uint8 = 8  // Timestamps
	TCPOptionFastOpen      uint8 = 34 // TCP Fast Open cookie

	TCPOptionMSSLen           = 4
	TCPOptionWindowScaleLen   = 3
	TCPOptionSACKPermittedLen = 2
	TCPOptionTimestampsLen    = 10
)

// Valid reports whether b holds a TCP header whose Data Offset is at least 20
// bytes and fits in the view.
func (b TCP) Valid() bool {
	if len(b) < TCPMinHeaderLen {
		return false
	}
	hl := int(b[TCPDataOffsetOffset]>>4) * 4
	return hl >= TCPMinHeaderLen && hl <= len(b)
}

// SrcPort returns the source port.
func (b TCP) SrcPort() uint16 { return b.u16(TCPSrcPortOffset) }

// DstPort returns the destination port.
func (b TCP) DstPort() uint16 { return b.u16(TCPDstPortOffset) }

// Seq returns the sequence number.
func (b TCP) Seq() uint32 { return b.u32(TCPSeqOffset) }

// Ack returns the acknowledgment number.
func (b TCP) Ack() uint32 { return b.u32(TCPAckOffset) }

// HeaderLen returns the header length in bytes (Data Offset * 4), options
// included.
func (b TCP) HeaderLen() int {
	if len(b) < TCPMinHeaderLen {
		return 0
	}
	return int(b[TCPDataOffsetOffset]>>4) * 4
}

// Flags returns the flag byte: TCPFlagFIN ... TCPFlagCWR.
func (b TCP) Flags() uint8 {
	if len(b) < TCPMinHeaderLen {
		return 0
	}
	return b[TCPFlagsOffset]
}

// Window returns the window field (unscaled).
func (b TCP) Window() uint16 { return b.u16(TCPWindowOffset) }

// Checksum returns the checksum field.
func (b TCP) Checksum() uint16 { return b.u16(TCPChecksumOffset) }

// Urgent returns the urgent pointer.
func (b TCP) Urgent() uint16 { return b.u16(TCPUrgentOffset) }

// Options returns the options area, from byte 20 to the Data Offset, or nil
// unless Valid. Iterate it with NewTCPOptionIter.
func (b TCP) Options() []byte {
	if !b.Valid() {
		return nil
	}
	return b[TCPMinHeaderLen:b.HeaderLen()]
}

// Payload returns the data after the header, or nil unless Valid.
func (b TCP) Payload() []byte {
	if !b.Valid() {
		return nil
	}
	return b[b.HeaderLen():]
}

// SetSrcPort sets the source port.
func (b TCP) SetSrcPort(v uint16) { b.put16(TCPSrcPortOffset, v) }

// SetDstPort sets the destination port.
func (b TCP) SetDstPort(v uint16) { b.put16(TCPDstPortOffset, v) }

// SetFlags sets the flag byte.
func (b TCP) SetFlags(f uint8) {
	if len(b) >= TCPMinHeaderLen {
		b[TCPFlagsOffset] = f
	}
}

// SetWindow sets the window field.
func (b TCP) SetWindow(v uint16) { b.put16(TCPWindowOffset, v) }

// SetChecksum sets the checksum field.
func (b TCP) SetChecksum(v uint16) { b.put16(TCPChecksumOffset, v) }

func (b TCP) u16(off int) uint16 {
	if len(b) < TCPMinHeaderLen {
		return 0
	}
	return binary.BigEndian.Uint16(b[off:])
}

func (b TCP) u32(off int) uint32 {
	if len(b) < TCPMinHeaderLen {
		return 0
	}
	return binary.BigEndian.Uint32(b[off:])
}

func (b TCP) put16(off int, v uint16) {
	if len(b) >= TCPMinHeaderLen {
		binary.BigEndian.PutUint16(b[off:], v)
	}
}

// TCPOptionIter walks a TCP options area (RFC 9293, section 3.1), in the
// style of bufio.Scanner:
//
//	it := packet.NewTCPOptionIter(tcp.Options())
//	for it.Next() {
//		switch it.Kind() { ... it.Data() ... }
//	}
//	if it.Malformed() { ... }
//
// Every option but End of Option List and No-Operation is kind, length
// (counting kind and length bytes), then length-2 bytes of data. The walk ends
// at the end of the area or at End of Option List; it stops early, with
// Malformed set, at an option whose length byte is missing, below 2, or runs
// past the area. It never reads outside the slice it was given and takes at
// most len(opts) steps.
type TCPOptionIter struct {
	opts      []byte
	off       int // start of the next option
	cur       int // start of the current option
	malformed bool
}

// NewTCPOptionIter returns an iterator over opts, an options area such as
// TCP.Options returns.
func NewTCPOptionIter(opts []byte) TCPOptionIter {
	return TCPOptionIter{opts: opts[:len(opts):len(opts)]}
}

// Next advances to the next option, skipping No-Operation options. It
// returns false when there are no more options or the area is malformed.
func (it *TCPOptionIter) Next() bool {
	opts := it.opts
	for off := it.off; off < len(opts); {
		switch opts[off] {
		case TCPOptionEOL:
			it.cur, it.off = len(opts), len(opts)
			return false
		case TCPOptionNOP:
			off++
			continue
		}
		if off+1 >= len(opts) {
			return it.fail()
		}
		l := int(opts[off+1])
		if l < 2 || off+l > len(opts) {
			return it.fail()
		}
		it.cur, it.off = off, off+l
		return true
	}
	it.cur, it.off = len(opts), len(opts)
	return false
}

// Kind returns the current option's kind, or TCPOptionEOL unless the last
// call to Next returned true.
func (it *TCPOptionIter) Kind() uint8 {
	if it.cur >= it.off {
		return TCPOptionEOL
	}
	return it.opts[it.cur]
}

// Data returns the current option's value, without kind and length bytes. It
// aliases the packet, so writing to it rewrites the option in place; its
// capacity ends with the option. It is nil unless the last call to Next
// returned true.
func (it *TCPOptionIter) Data() []byte {
	if it.cur+2 > it.off {
		return nil
	}
	return it.opts[it.cur+2 : it.off : it.off]
}

// Offset returns where the current option's kind byte sits, from the start
// of the options area (add TCPMinHeaderLen for an offset in the TCP header).
func (it *TCPOptionIter) Offset() int { return it.cur }

// Malformed reports whether Next stopped at a malformed option.
func (it *TCPOptionIter) Malformed() bool { return it.malformed }

func (it *TCPOptionIter) fail() bool {
	it.malformed = true
	it.cur, it.off = len(it.opts), len(it.opts)
	return false
}
