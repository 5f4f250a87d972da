// SPDX-License-Identifier: Apache-2.0

package afpacket

import (
	"encoding/binary"

	"github.com/skiffnet/skiff/dataplane/packet"
)

// This file is pure: it turns a frame as the kernel hands it over with its
// virtio_net_hdr (PACKET_VNET_HDR) into frames that can go on a wire, with no
// syscalls and no allocation. The port calls it; gso_test.go tests it on
// hand-built super-frames.

// virtio_net_hdr (include/uapi/linux/virtio_net.h), the legacy 10-byte form
// that packet sockets use, in host byte order:
//
//	0      1         2        4         6           8            10
//	| flags | gso_type | hdr_len | gso_size | csum_start | csum_offset |
const (
	vnetHdrLen = 10

	vnetNeedsCsum = 0x01 // the L4 checksum is a partial (pseudo-header) sum: complete it
	vnetDataValid = 0x02 // the checksum was verified on receive

	gsoNone  = 0x00
	gsoTCPv4 = 0x01
	gsoUDP   = 0x03 // UFO: IP fragmentation offload, no longer produced by Linux
	gsoTCPv6 = 0x04
	gsoUDPL4 = 0x05 // UDP segmentation (USO)
	gsoECN   = 0x80 // TCP with ECN: the CWR flag belongs to the first segment only

	// maxTags bounds the VLAN tags walked in front of L3: two in the frame
	// (QinQ) plus one restored from auxdata, with one to spare.
	maxTags = 4
)

// vnetHdr is a decoded virtio_net_hdr. csumStart counts from the first byte
// of the Ethernet frame; when the port inserts a VLAN tag in front of it, it
// adds 4.
type vnetHdr struct {
	flags      uint8
	gsoType    uint8
	hdrLen     uint16 // on receive: the length of the skb's linear part, not a header length; unused
	gsoSize    uint16
	csumStart  uint16
	csumOffset uint16
}

func decodeVnetHdr(b []byte) vnetHdr {
	_ = b[vnetHdrLen-1]
	return vnetHdr{
		flags:      b[0],
		gsoType:    b[1],
		hdrLen:     binary.NativeEndian.Uint16(b[2:]),
		gsoSize:    binary.NativeEndian.Uint16(b[4:]),
		csumStart:  binary.NativeEndian.Uint16(b[6:]),
		csumOffset: binary.NativeEndian.Uint16(b[8:]),
	}
}

func (h vnetHdr) encode(b []byte) {
	_ = b[vnetHdrLen-1]
	b[0], b[1] = h.flags, h.gsoType
	binary.NativeEndian.PutUint16(b[2:], h.hdrLen)
	binary.NativeEndian.PutUint16(b[4:], h.gsoSize)
	binary.NativeEndian.PutUint16(b[6:], h.csumStart)
	binary.NativeEndian.PutUint16(b[8:], h.csumOffset)
}

// offloadErr says why a frame's offload request could not be carried out.
type offloadErr uint8

const (
	offloadOK      offloadErr = iota
	offloadGSOType            // a gso_type other than TCPV4, TCPV6, UDP_L4 (or ECN on UDP)
	offloadBad                // offsets or headers that do not describe the frame: truncated, wrong L3/L4, bad csum_start
)

// l3Offset walks the VLAN tags (802.1Q, 802.1ad, and the old 0x9100 QinQ
// TPID) after the MAC addresses and returns where the L3 header starts and
// its EtherType.
func l3Offset(frame []byte) (off int, etherType uint16, ok bool) {
	off = packet.EthernetTypeOffset
	for range maxTags + 1 {
		if len(frame) < off+2 {
			return 0, 0, false
		}
		t := binary.BigEndian.Uint16(frame[off:])
		if t != packet.EtherTypeVLAN && t != packet.EtherTypeQinQ && t != 0x9100 {
			return off + 2, t, true
		}
		off += packet.VLANTagLen
	}
	return 0, 0, false
}

// completeCsum finishes the checksum of a frame received with NEEDS_CSUM and
// no GSO, as the kernel's skb_checksum_help would have: the field at
// csumStart+csumOffset holds the pseudo-header sum, the data from csumStart
// to the end of the frame is summed with it in place, and the complement is
// stored (a zero result is sent as 0xFFFF, which is what UDP needs and TCP
// accepts).
func completeCsum(h vnetHdr, frame []byte) offloadErr {
	if !packet.CompleteChecksum(frame, int(h.csumStart), int(h.csumOffset)) {
		return offloadBad
	}
	return offloadOK
}

// segmenter cuts one GSO super-frame (TCP over IPv4 or IPv6, or UDP_L4) into
// frames of at most gso_size payload bytes, the way the kernel's software
// GSO (tcp_gso_segment, __udp_gso_segment) would: every segment gets a copy
// of the L2+L3+L4 headers with its own lengths, IPv4 id (incremented per
// segment) and header checksum, TCP sequence number, flags (FIN and PSH only
// on the last segment, CWR only on the first) and a complete L4 checksum.
//
// Segments are cut one at a time into caller buffers so that a reader can
// stop when its batch is full and go on with the next batch.
type segmenter struct {
	frame  []byte
	end    int    // end of the L3 packet in frame (Ethernet padding excluded)
	l3, l4 int    // offsets of the IP and the TCP or UDP header
	hdrLen int    // bytes of headers in front of every segment's payload
	mss    int    // payload bytes per segment
	n      int    // number of segments
	pseudo uint32 // pseudo-header sum without the length
	seq    uint32 // first segment's TCP sequence number
	id     uint16 // first segment's IPv4 id
	flags  uint8  // TCP flags of the super-frame
	v6     bool
	udp    bool
}

// init validates a super-frame against its vnet header and prepares to cut
// it. The frame is only read, never written, so a caller may keep cutting
// from a buffer it does not own.
func (s *segmenter) init(h vnetHdr, frame []byte) offloadErr {
	*s = segmenter{}
	gt := h.gsoType &^ gsoECN
	switch gt {
	case gsoTCPv4:
	case gsoTCPv6:
		s.v6 = true
	case gsoUDPL4:
		if h.gsoType&gsoECN != 0 {
			return offloadGSOType
		}
		s.udp = true
	default:
		return offloadGSOType
	}
	if h.gsoSize == 0 {
		return offloadBad
	}
	l3, et, ok := l3Offset(frame)
	if !ok {
		return offloadBad
	}
	end := len(frame)
	var proto uint8
	var l4 int
	switch et {
	case packet.EtherTypeIPv4:
		if gt == gsoTCPv6 {
			return offloadBad
		}
		ip := packet.IPv4(frame[l3:])
		hl := ip.HeaderLen()
		if len(ip) < packet.IPv4MinHeaderLen || ip.Version() != packet.IPv4Version ||
			hl < packet.IPv4MinHeaderLen || hl > len(ip) || ip.IsFragment() {
			return offloadBad
		}
		// Total Length 0 is what BIG TCP puts in frames over 64 KiB: the
		// frame's length is the packet's then.
		if tl := int(ip.TotalLength()); tl != 0 {
			if tl < hl || l3+tl > len(frame) {
				return offloadBad
			}
			end = l3 + tl
		}
		proto, l4 = ip.Protocol(), l3+hl
		s.pseudo = packet.PseudoHeader4(0, ip.Src(), ip.Dst(), 0)
		s.id = ip.ID()
	case packet.EtherTypeIPv6:
		if gt == gsoTCPv4 {
			return offloadBad
		}
		s.v6 = true
		ip := packet.IPv6(frame[l3:])
		if ip.Version() != packet.IPv6Version || ip.PayloadLength() == 0 {
			return offloadBad // jumbograms (BIG TCP) are not supported
		}
		ext, ok := ip.Walk()
		if !ok || ext.Fragment != 0 {
			return offloadBad
		}
		end = l3 + packet.IPv6HeaderLen + int(ip.PayloadLength())
		proto, l4 = ext.Proto, l3+ext.Offset
		s.pseudo = packet.PseudoHeader6(0, ip.Src(), ip.Dst(), 0)
	default:
		return offloadBad
	}
	csumOff := packet.TCPChecksumOffset
	if s.udp {
		if proto != packet.ProtoUDP || l4+packet.UDPHeaderLen > end {
			return offloadBad
		}
		s.hdrLen = l4 + packet.UDPHeaderLen
		csumOff = packet.UDPChecksumOffset
	} else {
		if proto != packet.ProtoTCP || l4+packet.TCPMinHeaderLen > end {
			return offloadBad
		}
		tcp := packet.TCP(frame[l4:end])
		thl := tcp.HeaderLen()
		if thl < packet.TCPMinHeaderLen || l4+thl > end {
			return offloadBad
		}
		s.hdrLen = l4 + thl
		s.seq, s.flags = tcp.Seq(), tcp.Flags()
	}
	// The kernel's csum_start is the transport header; anything else means
	// the header and the frame disagree (or a tag was not accounted for).
	if h.flags&vnetNeedsCsum != 0 && (int(h.csumStart) != l4 || int(h.csumOffset) != csumOff) {
		return offloadBad
	}
	s.frame, s.end, s.l3, s.l4 = frame, end, l3, l4
	s.pseudo += uint32(proto)
	s.mss = int(h.gsoSize)
	s.n = max(1, (end-s.hdrLen+s.mss-1)/s.mss)
	return offloadOK
}

// maxSegLen is the length of the longest segment: headers plus gso_size
// bytes, or less if the whole payload is shorter.
func (s *segmenter) maxSegLen() int { return s.hdrLen + min(s.mss, s.end-s.hdrLen) }

// cut writes segment i (0 <= i < s.n) into dst and returns its length, or 0
// if i is out of range or dst is too short.
func (s *segmenter) cut(i int, dst []byte) int {
	if i < 0 || i >= s.n {
		return 0
	}
	start := s.hdrLen + i*s.mss
	plen := min(s.mss, s.end-start)
	total := s.hdrLen + plen
	if total > len(dst) {
		return 0
	}
	seg := dst[:total:total]
	copy(seg, s.frame[:s.hdrLen])
	copy(seg[s.hdrLen:], s.frame[start:start+plen])

	if s.v6 {
		packet.IPv6(seg[s.l3:]).SetPayloadLength(uint16(total - s.l3 - packet.IPv6HeaderLen))
	} else {
		ip := packet.IPv4(seg[s.l3:])
		ip.SetTotalLength(uint16(total - s.l3))
		ip.SetID(s.id + uint16(i))
		ip.UpdateHeaderChecksum()
	}
	l4 := seg[s.l4:]
	l4len := total - s.l4
	var c uint16
	if s.udp {
		u := packet.UDP(l4)
		u.SetLength(uint16(l4len))
		u.SetChecksum(0)
		if c = ^packet.Checksum(l4, s.pseudo+uint32(l4len)); c == 0 {
			c = 0xFFFF
		}
		u.SetChecksum(c)
		return total
	}
	t := packet.TCP(l4)
	binary.BigEndian.PutUint32(l4[packet.TCPSeqOffset:], s.seq+uint32(i*s.mss))
	f := s.flags
	if i > 0 {
		f &^= packet.TCPFlagCWR
	}
	if i < s.n-1 {
		f &^= packet.TCPFlagFIN | packet.TCPFlagPSH
	}
	t.SetFlags(f)
	t.SetChecksum(0)
	t.SetChecksum(^packet.Checksum(l4, s.pseudo+uint32(l4len)))
	return total
}
