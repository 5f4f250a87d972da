// SPDX-License-Identifier: Apache-2.0

package packet

import (
	"encoding/binary"
	"math/bits"
)

// Checksum returns the Internet checksum sum (RFC 1071) of b: the 16-bit
// one's-complement sum of b read as big-endian 16-bit words (an odd last byte
// is padded with a zero), plus initial, folded to 16 bits but not
// complemented.
//
// initial is a partial sum to continue from: 0, a PseudoHeader4 or
// PseudoHeader6 value, or the result of Checksum over an earlier, even-length
// part of the same data. Any uint32 is accepted and folded.
//
// The result is 0 only if b and initial are all zero; otherwise it is in
// [1, 0xFFFF]. To fill a checksum field, zero it and store ^Checksum(...); to
// verify one, sum the data with the field in place: it verifies if the result
// is 0xFFFF.
//
// The sum runs eight bytes at a time with carries (math/bits.Add64), loading
// words in little-endian order and swapping the folded result: the
// one's-complement sum is byte-order independent (RFC 1071 section 2(B)).
func Checksum(b []byte, initial uint32) uint16 {
	s := bits.ReverseBytes16(fold64(sum64(b)))
	return fold64(uint64(s) + uint64(initial))
}

// sum64 returns a 64-bit one's-complement sum of b, loaded as little-endian
// words. Folding it gives the byte-swapped 16-bit sum of b.
func sum64(b []byte) uint64 {
	b = b[:len(b):len(b)]
	var s, c uint64
	for len(b) >= 64 {
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[0:8]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[8:16]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[16:24]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[24:32]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[32:40]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[40:48]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[48:56]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[56:64]), c)
		b = b[64:]
	}
	if len(b) >= 32 {
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[0:8]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[8:16]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[16:24]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[24:32]), c)
		b = b[32:]
	}
	if len(b) >= 16 {
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[0:8]), c)
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[8:16]), c)
		b = b[16:]
	}
	if len(b) >= 8 {
		s, c = bits.Add64(s, binary.LittleEndian.Uint64(b[0:8]), c)
		b = b[8:]
	}
	// At most 7 bytes left: they fit one 64-bit word, so no more carries
	// to chain. In little-endian order an odd last byte is the low byte
	// of its (zero-padded) big-endian word.
	var t uint64
	if len(b) >= 4 {
		t = uint64(binary.LittleEndian.Uint32(b[0:4]))
		b = b[4:]
	}
	if len(b) >= 2 {
		t += uint64(binary.LittleEndian.Uint16(b[0:2]))
		b = b[2:]
	}
	if len(b) >= 1 {
		t += uint64(b[0])
	}
	s, c = bits.Add64(s, t, c)
	// End-around carry. Adding it back carries only if s was all ones, in
	// which case s becomes 0 and the second carry makes it 1.
	s, c = bits.Add64(s, c, 0)
	return s + c
}

// fold64 folds a 64-bit one's-complement sum to 16 bits. It returns 0 only
// for 0.
func fold64(s uint64) uint16 {
	s = (s >> 32) + (s & 0xFFFFFFFF) // <= 0x1_FFFF_FFFE
	s = (s >> 16) + (s & 0xFFFF)     // <= 0x2_FFFE
	s = (s >> 16) + (s & 0xFFFF)     // <= 0x1_0001
	s = (s >> 16) + (s & 0xFFFF)     // <= 0xFFFF
	return uint16(s)
}

// PseudoHeader4 returns the partial sum of the IPv4 pseudo-header (RFC 9293
// section 3.1, RFC 768) for a TCP or UDP checksum: source and destination
// addresses, protocol, and length, the length of the TCP or UDP header plus
// data. Pass it as Checksum's initial value.
func PseudoHeader4(proto uint8, src, dst [4]byte, length uint16) uint32 {
	return uint32(binary.BigEndian.Uint16(src[0:])) + uint32(binary.BigEndian.Uint16(src[2:])) +
		uint32(binary.BigEndian.Uint16(dst[0:])) + uint32(binary.BigEndian.Uint16(dst[2:])) +
		uint32(proto) + uint32(length)
}

// PseudoHeader6 returns the partial sum of the IPv6 pseudo-header (RFC 8200
// section 8.1) for a TCP, UDP or ICMPv6 checksum: source and destination
// addresses (the final destination, if there is a Routing header), the
// upper-layer packet length (without extension headers), and the protocol.
// Pass it as Checksum's initial value.
func PseudoHeader6(proto uint8, src, dst [16]byte, length uint32) uint32 {
	var s uint32
	for i := 0; i < 16; i += 2 {
		s += uint32(binary.BigEndian.Uint16(src[i:])) + uint32(binary.BigEndian.Uint16(dst[i:]))
	}
	// 16 words of at most 0xFFFF plus three more: no uint32 overflow.
	return s + length>>16 + length&0xFFFF + uint32(proto)
}

// UpdateChecksum16 returns a checksum field's new value after a 16-bit word
// it covers changes from old to new (RFC 1624, equation 3:
// HC' = ~(~HC + ~m + m')). sum is the field's current value, as stored in the
// header. The word must sit at an even offset from where the checksummed data
// starts; for a field at an odd offset, pass bits.ReverseBytes16 of old and
// new.
func UpdateChecksum16(sum, old, updated uint16) uint16 {
	s := uint32(^sum) + uint32(^old) + uint32(updated)
	s = (s >> 16) + (s & 0xFFFF)
	s += s >> 16
	return ^uint16(s)
}

// CompleteChecksum finishes a partial (offload) L4 checksum in frame: the
// field at start+offset holds the pseudo-header sum, and the checksum runs
// from start to the end of the frame, as the kernel's skb_checksum_help
// does. A result of 0 is written as 0xFFFF (UDP's "no checksum" is 0; for
// TCP both are the same value). It reports false, touching nothing, when
// the offsets do not fit the frame.
func CompleteChecksum(frame []byte, start, offset int) bool {
	if start < EthernetHeaderLen || offset < 0 || start+offset+2 > len(frame) {
		return false
	}
	c := ^Checksum(frame[start:], 0)
	if c == 0 {
		c = 0xFFFF
	}
	frame[start+offset] = byte(c >> 8)
	frame[start+offset+1] = byte(c)
	return true
}
