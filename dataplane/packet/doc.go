// SPDX-License-Identifier: Apache-2.0

// Package packet reads and rewrites protocol headers in place: zero-allocation
// views over []byte for Ethernet, 802.1Q and 802.1ad tags, IPv4, IPv6, UDP,
// TCP and ARP, and the Internet checksum.
//
// A view is a named byte slice that starts at its header, in the style of
// gVisor's pkg/tcpip/header:
//
//	ip := packet.IPv4(frame[l2.L3:])
//	if !ip.Valid() {
//		return stage.FrameMalformed
//	}
//	tcp := packet.TCP(ip.Payload())
//
// Valid reports whether the header fits in the view and its length fields are
// consistent with it; call it before trusting what the accessors return.
// Accessors read big-endian fields at the named offsets. They never panic: on a
// view too short for a field, a getter returns the zero value and a setter does
// nothing, so a missing Valid check yields wrong answers, not a crash.
//
// Nothing in this package allocates, logs or keeps a reference to the bytes it
// is given. Parse results (L2, IPv6Ext) are small structs returned by value,
// with at most four fields: the compiler keeps such structs in registers but
// spills larger ones to the stack, and the copy then costs more than the
// parse. TCPOptionIter works like bufio.Scanner for the same reason.
//
// Checksums follow RFC 1071: Checksum returns the folded one's-complement sum
// (not complemented), PseudoHeader4 and PseudoHeader6 give the partial sum to
// start a TCP or UDP checksum with, and UpdateChecksum16 patches a stored
// checksum after a 16-bit field changes (RFC 1624).
package packet
