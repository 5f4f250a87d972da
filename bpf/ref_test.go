// SPDX-License-Identifier: Apache-2.0

package bpf

import "encoding/binary"

// classifyRef is underlay.c's classify in plain Go, the reference for the
// differential tests: the reason skiff_underlay counts for frame, where
// "redirected" means the frame is ours (and "no_socket" would be counted
// without a socket).
func classifyRef(frame []byte, port uint16) string {
	be16 := func(off int) uint16 { return binary.BigEndian.Uint16(frame[off:]) }
	if len(frame) < 14 {
		return "truncated"
	}
	typ, off := be16(12), 14
	for i := 0; i < 2 && (typ == tpidQ || typ == tpidAD); i++ {
		if len(frame) < off+4 {
			return "truncated"
		}
		typ, off = be16(off+2), off+4
	}
	var udpOff int
	switch typ {
	case etIPv4:
		if len(frame) < off+20 {
			return "truncated"
		}
		if frame[off]>>4 != 4 {
			return "not_ip"
		}
		ihl := int(frame[off] & 0x0f)
		switch {
		case ihl < 5:
			return "truncated"
		case frame[off+9] != protoUDP:
			return "not_udp"
		case be16(off+6)&0x3fff != 0:
			return "ip_fragment"
		}
		udpOff = off + 4*ihl
	case etIPv6:
		if len(frame) < off+40 {
			return "truncated"
		}
		if frame[off]>>4 != 6 {
			return "not_ip"
		}
		switch frame[off+6] {
		case protoUDP:
		case 0, 43, 44, 60, 135, 139, 140, 51, 50: // extension headers
			return "ipv6_ext_header"
		default:
			return "not_udp"
		}
		udpOff = off + 40
	default:
		return "not_ip"
	}
	if len(frame) < udpOff+8 {
		return "truncated"
	}
	if be16(udpOff+2) != port {
		return "other_port"
	}
	return "redirected"
}
