// SPDX-License-Identifier: Apache-2.0

package afpacket

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/skiffnet/skiff/dataplane/packet"
)

// frameSpec describes a hand-built frame: Ethernet, optional VLAN tags,
// IPv4 (with options) or IPv6 (with a Destination Options header), TCP
// (with options) or UDP, and a patterned payload.
type frameSpec struct {
	tags    []uint32 // TPID<<16 | TCI, outer first
	v6      bool
	udp     bool
	ipOpts  int  // bytes of IPv4 options, a multiple of 4
	ext     bool // IPv6 Destination Options header before the transport
	tcpOpts []byte
	flags   uint8
	payload int
	id      uint16
	seq     uint32
}

var (
	macDst = []byte{0x02, 0, 0, 0, 0, 0x0b}
	macSrc = []byte{0x02, 0, 0, 0, 0, 0x0a}
	ip4Src = [4]byte{10, 1, 2, 3}
	ip4Dst = [4]byte{10, 1, 2, 4}
	ip6Src = [16]byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}
	ip6Dst = [16]byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2}
	// Timestamps (NOP NOP TS) and a SACK block: 12 + 12 bytes.
	tsOpts   = []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}
	sackOpts = []byte{1, 1, 5, 10, 0, 0, 0x10, 0, 0, 0, 0x20, 0}
)

func payloadByte(i int) byte { return byte(i*7 + i>>8) }

// build returns the frame and the offsets of its L3 and L4 headers.
func build(s frameSpec) (frame []byte, l3, l4 int) {
	var b []byte
	b = append(b, macDst...)
	b = append(b, macSrc...)
	for _, t := range s.tags {
		b = binary.BigEndian.AppendUint32(b, t)
	}
	l3 = len(b) + 2
	l4len := packet.UDPHeaderLen
	if !s.udp {
		l4len = packet.TCPMinHeaderLen + len(s.tcpOpts)
	}
	l4len += s.payload
	proto := packet.ProtoTCP
	if s.udp {
		proto = packet.ProtoUDP
	}
	if s.v6 {
		b = binary.BigEndian.AppendUint16(b, packet.EtherTypeIPv6)
		ext := 0
		if s.ext {
			ext = 8
		}
		next := proto
		if s.ext {
			next = packet.ProtoDstOpts
		}
		b = append(b, 0x60, 0x01, 0x23, 0x45)
		b = binary.BigEndian.AppendUint16(b, uint16(ext+l4len))
		b = append(b, next, 64)
		b = append(b, ip6Src[:]...)
		b = append(b, ip6Dst[:]...)
		if s.ext {
			b = append(b, proto, 0, 1, 4, 0, 0, 0, 0) // PadN
		}
	} else {
		b = binary.BigEndian.AppendUint16(b, packet.EtherTypeIPv4)
		hl := 20 + s.ipOpts
		b = append(b, byte(0x40|hl/4), 0x02) // ECT(0)
		b = binary.BigEndian.AppendUint16(b, uint16(hl+l4len))
		b = binary.BigEndian.AppendUint16(b, s.id)
		b = append(b, 0x40, 0, 64, proto, 0, 0) // DF
		b = append(b, ip4Src[:]...)
		b = append(b, ip4Dst[:]...)
		for i := range s.ipOpts {
			b = append(b, []byte{1, 1, 1, 0}[i%4]) // NOP NOP NOP EOL
		}
		packet.IPv4(b[l3:]).UpdateHeaderChecksum()
	}
	l4 = len(b)
	if s.udp {
		b = append(b, 0x30, 0x39, 0x00, 0x35)
		b = binary.BigEndian.AppendUint16(b, uint16(l4len))
		b = append(b, 0xde, 0xad) // a stale checksum: must be recomputed
	} else {
		b = append(b, 0x30, 0x39, 0x01, 0xbb)
		b = binary.BigEndian.AppendUint32(b, s.seq)
		b = binary.BigEndian.AppendUint32(b, 0x01020304)
		b = append(b, byte((20+len(s.tcpOpts))/4<<4), s.flags, 0x10, 0x00, 0xde, 0xad, 0, 0)
		b = append(b, s.tcpOpts...)
	}
	for i := range s.payload {
		b = append(b, payloadByte(i))
	}
	return b, l3, l4
}

// gsoHdr is the vnet header the kernel would give the super-frame.
func gsoHdr(s frameSpec, l4, mss int) vnetHdr {
	h := vnetHdr{flags: vnetNeedsCsum, gsoSize: uint16(mss), csumStart: uint16(l4), csumOffset: 16, hdrLen: 128}
	switch {
	case s.udp:
		h.gsoType, h.csumOffset = gsoUDPL4, 6
	case s.v6:
		h.gsoType = gsoTCPv6
	default:
		h.gsoType = gsoTCPv4
	}
	return h
}

// refSum is a naive RFC 1071 sum, to check the checksums against an
// implementation other than the one under test.
func refSum(b []byte, initial uint32) uint16 {
	s := initial
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s > 0xFFFF {
		s = s>>16 + s&0xFFFF
	}
	return uint16(s)
}

// l4Verifies reports whether the TCP or UDP checksum of the packet whose L3
// header is at frame[l3:] and L4 header at frame[l4:] verifies.
func l4Verifies(frame []byte, l3, l4 int, v6 bool, proto uint8) bool {
	n := len(frame) - l4
	var ph uint32
	if v6 {
		for i := 8; i < 40; i += 2 {
			ph += uint32(binary.BigEndian.Uint16(frame[l3+i:]))
		}
	} else {
		for i := 12; i < 20; i += 2 {
			ph += uint32(binary.BigEndian.Uint16(frame[l3+i:]))
		}
	}
	ph += uint32(proto) + uint32(n)
	return refSum(frame[l4:], ph) == 0xFFFF
}

func TestGSOSegment(t *testing.T) {
	tests := []struct {
		name string
		spec frameSpec
		mss  int
		ecn  bool
	}{
		{"tcp4 short last", frameSpec{payload: 3*1448 + 100, tcpOpts: tsOpts, flags: packet.TCPFlagACK, id: 0xfffe, seq: 0xffff_f000}, 1448, false},
		{"tcp4 exact multiple", frameSpec{payload: 4 * 1000, flags: packet.TCPFlagACK}, 1000, false},
		{"tcp4 kernel-sized 45 segments", frameSpec{payload: 45 * 1448, tcpOpts: tsOpts, flags: packet.TCPFlagACK | packet.TCPFlagPSH}, 1448, false},
		{"tcp4 one segment", frameSpec{payload: 500, flags: packet.TCPFlagACK | packet.TCPFlagPSH}, 1448, false},
		{"tcp4 no payload", frameSpec{payload: 0, flags: packet.TCPFlagACK}, 1448, false},
		{"tcp4 fin psh cwr ecn", frameSpec{payload: 2*1200 + 1, tcpOpts: sackOpts, flags: packet.TCPFlagACK | packet.TCPFlagPSH | packet.TCPFlagFIN | packet.TCPFlagCWR | packet.TCPFlagECE}, 1200, true},
		{"tcp4 ip options", frameSpec{ipOpts: 8, payload: 3000, tcpOpts: tsOpts, flags: packet.TCPFlagACK}, 1400, false},
		{"tcp4 vlan", frameSpec{tags: []uint32{0x8100<<16 | 5<<13 | 10}, payload: 5000, tcpOpts: tsOpts, flags: packet.TCPFlagACK | packet.TCPFlagPSH}, 1448, false},
		{"tcp4 qinq", frameSpec{tags: []uint32{0x88a8<<16 | 100, 0x8100<<16 | 10}, payload: 5000, flags: packet.TCPFlagACK}, 1448, false},
		{"tcp6", frameSpec{v6: true, payload: 3*1428 + 7, tcpOpts: tsOpts, flags: packet.TCPFlagACK | packet.TCPFlagPSH, seq: 7}, 1428, false},
		{"tcp6 vlan ext header fin", frameSpec{v6: true, ext: true, tags: []uint32{0x8100<<16 | 3<<13 | 42}, payload: 2500, flags: packet.TCPFlagACK | packet.TCPFlagFIN}, 1000, false},
		{"tcp6 cwr ecn", frameSpec{v6: true, payload: 4000, flags: packet.TCPFlagACK | packet.TCPFlagCWR}, 1428, true},
		{"udp4", frameSpec{udp: true, payload: 3*1472 + 3, id: 9}, 1472, false},
		{"udp4 vlan", frameSpec{udp: true, tags: []uint32{0x8100<<16 | 10}, payload: 10 * 1000}, 1000, false},
		{"udp6", frameSpec{udp: true, v6: true, payload: 2*1452 + 1}, 1452, false},
		{"udp6 vlan ext header", frameSpec{udp: true, v6: true, ext: true, tags: []uint32{0x88a8<<16 | 7}, payload: 4096}, 1024, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame, l3, l4 := build(tt.spec)
			h := gsoHdr(tt.spec, l4, tt.mss)
			if tt.ecn {
				h.gsoType |= gsoECN
			}
			orig := bytes.Clone(frame)
			var s segmenter
			if e := s.init(h, frame); e != offloadOK {
				t.Fatalf("init = %d, want ok", e)
			}
			want := max(1, (tt.spec.payload+tt.mss-1)/tt.mss)
			if s.n != want {
				t.Fatalf("%d segments, want %d", s.n, want)
			}
			hdrLen := l4 + packet.UDPHeaderLen
			proto := packet.ProtoUDP
			if !tt.spec.udp {
				hdrLen = l4 + packet.TCPMinHeaderLen + len(tt.spec.tcpOpts)
				proto = packet.ProtoTCP
			}
			var payload []byte
			for i := range s.n {
				dst := make([]byte, 9216)
				if short := s.cut(i, dst[:s.maxSegLen()-1]); short != 0 && i < s.n-1 {
					t.Fatalf("segment %d: cut into a short buffer returned %d", i, short)
				}
				n := s.cut(i, dst)
				if n == 0 || n > hdrLen+tt.mss || n > s.maxSegLen() {
					t.Fatalf("segment %d: length %d, headers %d + mss %d", i, n, hdrLen, tt.mss)
				}
				seg := dst[:n]
				checkSegment(t, i, s.n, seg, orig, tt.spec, l3, l4, hdrLen, tt.mss, proto)
				payload = append(payload, seg[hdrLen:]...)
			}
			if !bytes.Equal(payload, orig[hdrLen:]) {
				t.Errorf("segment payloads do not add up to the super-frame's")
			}
			if !bytes.Equal(frame, orig) {
				t.Errorf("the super-frame was modified")
			}
		})
	}
}

func checkSegment(t *testing.T, i, n int, seg, orig []byte, spec frameSpec, l3, l4, hdrLen, mss int, proto uint8) {
	t.Helper()
	if !bytes.Equal(seg[:l3], orig[:l3]) {
		t.Errorf("segment %d: L2 header and tags differ", i)
	}
	if spec.v6 {
		ip := packet.IPv6(seg[l3:])
		if !ip.Valid() || int(ip.PayloadLength()) != len(seg)-l3-40 {
			t.Errorf("segment %d: IPv6 payload length %d, frame %d", i, ip.PayloadLength(), len(seg))
		}
		if !bytes.Equal(seg[l3+6:l4], orig[l3+6:l4]) || !bytes.Equal(seg[l3:l3+4], orig[l3:l3+4]) {
			t.Errorf("segment %d: IPv6 header or extension headers differ", i)
		}
	} else {
		ip := packet.IPv4(seg[l3:])
		o := packet.IPv4(orig[l3:])
		if !ip.Valid() || int(ip.TotalLength()) != len(seg)-l3 {
			t.Errorf("segment %d: IPv4 total length %d, frame %d", i, ip.TotalLength(), len(seg))
		}
		if ip.ID() != o.ID()+uint16(i) {
			t.Errorf("segment %d: IPv4 id %#x, want %#x", i, ip.ID(), o.ID()+uint16(i))
		}
		if refSum(seg[l3:l3+ip.HeaderLen()], 0) != 0xFFFF {
			t.Errorf("segment %d: IPv4 header checksum does not verify", i)
		}
		if !bytes.Equal(seg[l3+6:l3+10], orig[l3+6:l3+10]) || !bytes.Equal(seg[l3+12:l4], orig[l3+12:l4]) || seg[l3+1] != orig[l3+1] {
			t.Errorf("segment %d: IPv4 header fields or options differ", i)
		}
	}
	if !l4Verifies(seg, l3, l4, spec.v6, proto) {
		t.Errorf("segment %d: L4 checksum does not verify", i)
	}
	if spec.udp {
		u := packet.UDP(seg[l4:])
		if int(u.Length()) != len(seg)-l4 || u.Checksum() == 0 {
			t.Errorf("segment %d: UDP length %d checksum %#x, frame %d", i, u.Length(), u.Checksum(), len(seg))
		}
		return
	}
	tcp := packet.TCP(seg[l4:])
	o := packet.TCP(orig[l4:])
	if got, want := tcp.Seq(), o.Seq()+uint32(i*mss); got != want {
		t.Errorf("segment %d: seq %#x, want %#x", i, got, want)
	}
	wantFlags := o.Flags()
	if i > 0 {
		wantFlags &^= packet.TCPFlagCWR
	}
	if i < n-1 {
		wantFlags &^= packet.TCPFlagFIN | packet.TCPFlagPSH
	}
	if tcp.Flags() != wantFlags {
		t.Errorf("segment %d of %d: flags %#x, want %#x", i, n, tcp.Flags(), wantFlags)
	}
	if tcp.Ack() != o.Ack() || tcp.Window() != o.Window() || !bytes.Equal(tcp.Options(), o.Options()) {
		t.Errorf("segment %d: ack, window or options differ", i)
	}
}

func TestGSOReject(t *testing.T) {
	tcp4, _, l4 := build(frameSpec{payload: 3000, flags: packet.TCPFlagACK})
	tcp6, _, l46 := build(frameSpec{v6: true, payload: 3000, flags: packet.TCPFlagACK})
	udp4, _, l4u := build(frameSpec{udp: true, payload: 3000})
	frag6, _, _ := build(frameSpec{v6: true, payload: 3000})
	frag6[14+6] = packet.ProtoFragment // a Fragment header where TCP was
	frag4 := bytes.Clone(tcp4)
	frag4[14+6] |= 0x20 // MF
	tags3 := append(append(bytes.Clone(tcp4[:12]), 0x81, 0, 0, 1, 0x81, 0, 0, 2, 0x81, 0, 0, 3, 0x81, 0, 0, 4, 0x81, 0, 0, 5), tcp4[12:]...)
	longTL := bytes.Clone(tcp4)
	binary.BigEndian.PutUint16(longTL[14+2:], uint16(len(tcp4)))
	badDoff, _, _ := build(frameSpec{payload: 10})
	badDoff[l4+12] = 0xF0 // 60 bytes of header in a 50-byte segment
	truncTCP := trunc(tcp4, l4+10)
	v6NoPayload := bytes.Clone(tcp6)
	binary.BigEndian.PutUint16(v6NoPayload[14+4:], 0)

	h4 := vnetHdr{flags: vnetNeedsCsum, gsoType: gsoTCPv4, gsoSize: 1000, csumStart: uint16(l4), csumOffset: 16}
	h6 := vnetHdr{flags: vnetNeedsCsum, gsoType: gsoTCPv6, gsoSize: 1000, csumStart: uint16(l46), csumOffset: 16}
	hu := vnetHdr{flags: vnetNeedsCsum, gsoType: gsoUDPL4, gsoSize: 1000, csumStart: uint16(l4u), csumOffset: 6}
	with := func(h vnetHdr, f func(*vnetHdr)) vnetHdr { f(&h); return h }

	tests := []struct {
		name  string
		h     vnetHdr
		frame []byte
		want  offloadErr
	}{
		{"ufo", with(h4, func(h *vnetHdr) { h.gsoType = gsoUDP }), udp4, offloadGSOType},
		{"type 2", with(h4, func(h *vnetHdr) { h.gsoType = 2 }), tcp4, offloadGSOType},
		{"type 0x40", with(h4, func(h *vnetHdr) { h.gsoType = 0x41 }), tcp4, offloadGSOType},
		{"ecn on udp", with(hu, func(h *vnetHdr) { h.gsoType |= gsoECN }), udp4, offloadGSOType},
		{"gso size 0", with(h4, func(h *vnetHdr) { h.gsoSize = 0 }), tcp4, offloadBad},
		{"tcpv4 on ipv6", with(h6, func(h *vnetHdr) { h.gsoType = gsoTCPv4 }), tcp6, offloadBad},
		{"tcpv6 on ipv4", with(h4, func(h *vnetHdr) { h.gsoType = gsoTCPv6 }), tcp4, offloadBad},
		{"tcp type on udp", with(hu, func(h *vnetHdr) { h.gsoType, h.csumOffset = gsoTCPv4, 16 }), udp4, offloadBad},
		{"udp type on tcp", with(h4, func(h *vnetHdr) { h.gsoType, h.csumOffset = gsoUDPL4, 6 }), tcp4, offloadBad},
		{"csum start without tag", with(h4, func(h *vnetHdr) { h.csumStart -= 4 }), tcp4, offloadBad},
		{"csum start from ip", with(h4, func(h *vnetHdr) { h.csumStart = 20 }), tcp4, offloadBad},
		{"csum offset", with(h4, func(h *vnetHdr) { h.csumOffset = 6 }), tcp4, offloadBad},
		{"truncated ip header", h4, tcp4[:14+12], offloadBad},
		{"truncated tcp header", h4, truncTCP, offloadBad},
		{"truncated ethernet", h4, tcp4[:13], offloadBad},
		{"total length beyond frame", h4, longTL, offloadBad},
		{"tcp data offset beyond frame", h4, badDoff, offloadBad},
		{"ipv4 fragment", h4, frag4, offloadBad},
		{"ipv6 fragment header", h6, frag6, offloadBad},
		{"ipv6 jumbo", h6, v6NoPayload, offloadBad},
		{"five tags", with(h4, func(h *vnetHdr) { h.csumStart += 20 }), tags3, offloadBad},
		{"arp", h4, append(bytes.Clone(tcp4[:12]), 0x08, 0x06, 0, 1), offloadBad},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s segmenter
			if got := s.init(tt.h, tt.frame); got != tt.want {
				t.Errorf("init = %d, want %d", got, tt.want)
			}
		})
	}
}

// trunc cuts an untagged IPv4 frame to n bytes and fixes its Total Length.
func trunc(frame []byte, n int) []byte {
	f := bytes.Clone(frame[:n])
	binary.BigEndian.PutUint16(f[14+2:], uint16(n-14))
	packet.IPv4(f[14:]).UpdateHeaderChecksum()
	return f
}

func TestCompleteCsum(t *testing.T) {
	tests := []struct {
		name string
		spec frameSpec
		tag  bool // insert a tag after building, as the port does with auxdata
	}{
		{"tcp4", frameSpec{payload: 100, tcpOpts: tsOpts, flags: packet.TCPFlagACK}, false},
		{"tcp4 odd length", frameSpec{payload: 101, flags: packet.TCPFlagACK | packet.TCPFlagPSH}, false},
		{"tcp4 auxdata tag", frameSpec{payload: 333, flags: packet.TCPFlagACK}, true},
		{"tcp6 in-frame tag", frameSpec{v6: true, tags: []uint32{0x8100<<16 | 10}, payload: 60, flags: packet.TCPFlagACK}, false},
		{"udp4", frameSpec{udp: true, payload: 77}, false},
		{"udp6 auxdata tag", frameSpec{udp: true, v6: true, payload: 1200}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame, l3, l4 := build(tt.spec)
			proto, co := packet.ProtoTCP, 16
			if tt.spec.udp {
				proto, co = packet.ProtoUDP, 6
			}
			// What the kernel leaves in a CHECKSUM_PARTIAL frame: the
			// folded pseudo-header sum, not complemented.
			var ph uint32
			if tt.spec.v6 {
				ph = packet.PseudoHeader6(proto, ip6Src, ip6Dst, uint32(len(frame)-l4))
			} else {
				ph = packet.PseudoHeader4(proto, ip4Src, ip4Dst, uint16(len(frame)-l4))
			}
			binary.BigEndian.PutUint16(frame[l4+co:], refSum(nil, ph))
			h := vnetHdr{flags: vnetNeedsCsum, csumStart: uint16(l4), csumOffset: uint16(co)}
			if tt.tag {
				frame = append(append(bytes.Clone(frame[:12]), 0x81, 0x00, 0xa0, 0x0a), frame[12:]...)
				l3, l4 = l3+4, l4+4
				h.csumStart += 4
			}
			if e := completeCsum(h, frame); e != offloadOK {
				t.Fatalf("completeCsum = %d", e)
			}
			if !l4Verifies(frame, l3, l4, tt.spec.v6, proto) {
				t.Errorf("checksum does not verify")
			}
		})
	}
	frame, _, l4 := build(frameSpec{payload: 10})
	for _, h := range []vnetHdr{
		{flags: vnetNeedsCsum, csumStart: uint16(len(frame)), csumOffset: 0},
		{flags: vnetNeedsCsum, csumStart: uint16(l4), csumOffset: uint16(len(frame) - l4 - 1)},
		{flags: vnetNeedsCsum, csumStart: 4, csumOffset: 16},
		{flags: vnetNeedsCsum, csumStart: 0xFFFF, csumOffset: 0xFFFF},
	} {
		if e := completeCsum(h, frame); e != offloadBad {
			t.Errorf("completeCsum(start %d, offset %d) = %d, want bad offsets", h.csumStart, h.csumOffset, e)
		}
	}
}

func TestVnetHdrRoundTrip(t *testing.T) {
	h := vnetHdr{flags: 1, gsoType: gsoTCPv4 | gsoECN, hdrLen: 66, gsoSize: 1448, csumStart: 34, csumOffset: 16}
	var b [vnetHdrLen]byte
	h.encode(b[:])
	if got := decodeVnetHdr(b[:]); got != h {
		t.Errorf("decode(encode(%+v)) = %+v", h, got)
	}
}

func TestGSOAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	frame, _, l4 := build(frameSpec{payload: 45 * 1448, tcpOpts: tsOpts, flags: packet.TCPFlagACK})
	h := gsoHdr(frameSpec{}, l4, 1448)
	dst := make([]byte, 9216)
	var s segmenter
	if n := testing.AllocsPerRun(100, func() {
		s.init(h, frame)
		for i := range s.n {
			s.cut(i, dst)
		}
	}); n != 0 {
		t.Fatalf("allocs = %v", n)
	}
}

func BenchmarkGSO(b *testing.B) {
	frame, _, l4 := build(frameSpec{payload: 45 * 1448, tcpOpts: tsOpts, flags: packet.TCPFlagACK})
	h := gsoHdr(frameSpec{}, l4, 1448)
	dst := make([]byte, 9216)
	var s segmenter
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		s.init(h, frame)
		for i := range s.n {
			s.cut(i, dst)
		}
	}
}

func FuzzGSO(f *testing.F) {
	add := func(h vnetHdr, frame []byte) {
		var b [vnetHdrLen]byte
		h.encode(b[:])
		f.Add(b[:], frame)
	}
	for _, s := range []frameSpec{
		{payload: 3000, tcpOpts: tsOpts, flags: packet.TCPFlagACK | packet.TCPFlagFIN},
		{v6: true, ext: true, payload: 2000, flags: packet.TCPFlagACK},
		{udp: true, tags: []uint32{0x8100<<16 | 10}, payload: 2500},
		{udp: true, v6: true, payload: 100},
		{ipOpts: 4, tags: []uint32{0x88a8<<16 | 1, 0x8100<<16 | 2}, payload: 10, flags: packet.TCPFlagCWR},
	} {
		frame, _, l4 := build(s)
		add(gsoHdr(s, l4, 700), frame)
		add(vnetHdr{flags: vnetNeedsCsum, csumStart: uint16(l4), csumOffset: 16}, frame)
	}
	f.Fuzz(func(t *testing.T, hb, frame []byte) {
		if len(hb) < vnetHdrLen {
			return
		}
		h := decodeVnetHdr(hb)
		completeCsum(h, bytes.Clone(frame))
		var s segmenter
		if s.init(h, frame) != offloadOK {
			return
		}
		maxLen := s.maxSegLen()
		if maxLen > s.hdrLen+int(h.gsoSize) || s.hdrLen > len(frame) {
			t.Fatalf("max segment %d, headers %d, gso_size %d, frame %d", maxLen, s.hdrLen, h.gsoSize, len(frame))
		}
		dst := make([]byte, maxLen+1)
		if n := s.cut(0, dst[:maxLen-1]); n != 0 {
			t.Fatalf("the first segment was cut into a %d-byte buffer", maxLen-1)
		}
		var total int
		for i := range s.n {
			n := s.cut(i, dst[:maxLen])
			if n == 0 || n > maxLen || n > s.hdrLen+int(h.gsoSize) {
				t.Fatalf("segment %d of %d: length %d, max %d, headers %d, gso_size %d", i, s.n, n, maxLen, s.hdrLen, h.gsoSize)
			}
			total += n - s.hdrLen
			seg := dst[:n]
			if !s.v6 && refSum(seg[s.l3:s.l4], 0) != 0xFFFF {
				t.Fatalf("segment %d: IPv4 header checksum does not verify", i)
			}
			proto := packet.ProtoTCP
			if s.udp {
				proto = packet.ProtoUDP
			}
			if !l4Verifies(seg, s.l3, s.l4, s.v6, proto) {
				t.Fatalf("segment %d: L4 checksum does not verify", i)
			}
		}
		if total != s.end-s.hdrLen {
			t.Fatalf("segments carry %d payload bytes, the super-frame %d", total, s.end-s.hdrLen)
		}
	})
}
