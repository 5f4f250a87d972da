// SPDX-License-Identifier: Apache-2.0

package stage

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/skiffnet/skiff/dataplane/packet"
)

func mssHex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

// mssSpec describes a TCP segment in an Ethernet frame for mssSpec.build.
type mssSpec struct {
	tags    []uint16 // TPIDs of VLAN tags, outer first
	v6      bool
	ipOpts  string  // IPv4 options, hex (a multiple of 4 bytes)
	frag    uint16  // IPv4 flags and fragment offset word
	exts    []uint8 // IPv6 extension headers before TCP, in order
	fragOff int     // offset in the IPv6 Fragment header, if exts has one
	flags   uint8   // TCP flags
	payload int     // TCP payload bytes
}

var (
	mssSYN    = mssSpec{flags: packet.TCPFlagSYN}
	mssSYN6   = mssSpec{tags: mssQinQ, v6: true, exts: []uint8{packet.ProtoHopByHop}, flags: packet.TCPFlagSYN}
	mssSYNACK = mssSpec{flags: packet.TCPFlagSYN | packet.TCPFlagACK}
	mssACK    = mssSpec{flags: packet.TCPFlagACK}
)

func (s mssSpec) with(f func(*mssSpec)) mssSpec { f(&s); return s }

// build returns the frame for s with TCP options opts (hex, padded with
// zeros to a multiple of 4), every length field and checksum computed from
// scratch.
func (s mssSpec) build(opts string) []byte {
	o := mssHex(opts)
	for len(o)%4 != 0 {
		o = append(o, 0)
	}
	tcp := make([]byte, packet.TCPMinHeaderLen+len(o)+s.payload)
	binary.BigEndian.PutUint16(tcp[0:], 43210)
	binary.BigEndian.PutUint16(tcp[2:], 443)
	binary.BigEndian.PutUint32(tcp[4:], 0x3b9aca00)
	tcp[packet.TCPDataOffsetOffset] = byte((packet.TCPMinHeaderLen + len(o)) / 4 << 4)
	packet.TCP(tcp).SetFlags(s.flags)
	packet.TCP(tcp).SetWindow(64240)
	copy(tcp[packet.TCPMinHeaderLen:], o)
	for i := range s.payload {
		tcp[packet.TCPMinHeaderLen+len(o)+i] = byte(i*7 + 1)
	}

	var l3 []byte
	etherType := packet.EtherTypeIPv4
	if !s.v6 {
		src, dst := [4]byte{10, 0, 0, 1}, [4]byte{10, 0, 0, 2}
		io := mssHex(s.ipOpts)
		hl := packet.IPv4MinHeaderLen + len(io)
		ip := packet.IPv4(make([]byte, hl, hl+len(tcp)))
		ip[0] = byte(0x40 | hl/4)
		ip.SetTotalLength(uint16(hl + len(tcp)))
		ip.SetID(0x1c46)
		binary.BigEndian.PutUint16(ip[packet.IPv4FlagsFragOffset:], s.frag)
		ip.SetTTL(64)
		ip[packet.IPv4ProtocolOffset] = packet.ProtoTCP
		ip.SetSrc(src)
		ip.SetDst(dst)
		copy(ip[packet.IPv4MinHeaderLen:], io)
		ip.UpdateHeaderChecksum()
		packet.TCP(tcp).SetChecksum(^packet.Checksum(tcp, packet.PseudoHeader4(packet.ProtoTCP, src, dst, uint16(len(tcp)))))
		l3 = append(ip, tcp...)
	} else {
		etherType = packet.EtherTypeIPv6
		src := [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}
		dst := [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 2}
		var chain []byte
		for i, e := range s.exts {
			next := packet.ProtoTCP
			if i+1 < len(s.exts) {
				next = s.exts[i+1]
			}
			h := make([]byte, 8)
			h[0] = next
			if e == packet.ProtoFragment {
				binary.BigEndian.PutUint16(h[2:], uint16(s.fragOff/8)<<3|1)
			} else {
				h[2], h[3] = 1, 4 // PadN
			}
			chain = append(chain, h...)
		}
		ip := packet.IPv6(make([]byte, packet.IPv6HeaderLen))
		ip[0] = 0x60
		ip.SetPayloadLength(uint16(len(chain) + len(tcp)))
		ip.SetNextHeader(packet.ProtoTCP)
		if len(s.exts) > 0 {
			ip.SetNextHeader(s.exts[0])
		}
		ip.SetHopLimit(64)
		ip.SetSrc(src)
		ip.SetDst(dst)
		packet.TCP(tcp).SetChecksum(^packet.Checksum(tcp, packet.PseudoHeader6(packet.ProtoTCP, src, dst, uint32(len(tcp)))))
		l3 = append(append(ip, chain...), tcp...)
	}

	f := mssHex("0200 0000 0002 0200 0000 0001")
	for i, tpid := range s.tags {
		f = binary.BigEndian.AppendUint16(f, tpid)
		f = binary.BigEndian.AppendUint16(f, uint16(100+i))
	}
	f = binary.BigEndian.AppendUint16(f, etherType)
	return append(f, l3...)
}

// mssTCP finds the TCP segment in frame as a receiver would, without
// trusting Clamp: its offset and end in the frame and its pseudo-header sum.
func mssTCP(frame []byte) (off, end int, pseudo uint32, ok bool) {
	l2, ok := packet.ParseL2(frame)
	if !ok {
		return 0, 0, 0, false
	}
	switch l2.EtherType {
	case packet.EtherTypeIPv4:
		ip := packet.IPv4(frame[l2.L3:])
		if !ip.Valid() || ip.Protocol() != packet.ProtoTCP || ip.FragmentOffset() != 0 {
			return 0, 0, 0, false
		}
		off, end = l2.L3+ip.HeaderLen(), l2.L3+int(ip.TotalLength())
		pseudo = packet.PseudoHeader4(packet.ProtoTCP, ip.Src(), ip.Dst(), uint16(end-off))
	case packet.EtherTypeIPv6:
		ip := packet.IPv6(frame[l2.L3:])
		ext, ok := ip.Walk()
		if !ok || ext.Proto != packet.ProtoTCP || ext.FragmentOffset != 0 {
			return 0, 0, 0, false
		}
		off, end = l2.L3+ext.Offset, l2.L3+packet.IPv6HeaderLen+int(ip.PayloadLength())
		pseudo = packet.PseudoHeader6(packet.ProtoTCP, ip.Src(), ip.Dst(), uint32(end-off))
	default:
		return 0, 0, 0, false
	}
	if !packet.TCP(frame[off:end]).Valid() {
		return 0, 0, 0, false
	}
	return off, end, pseudo, true
}

// mssChecksumOK reports whether frame holds a TCP segment whose checksum,
// computed from scratch, verifies.
func mssChecksumOK(frame []byte) bool {
	off, end, pseudo, ok := mssTCP(frame)
	return ok && packet.Checksum(frame[off:end], pseudo) == 0xFFFF
}

// mssValues returns the MSS options (length 4) of frame's TCP header, by
// their offset in the frame, and whether the options area is well formed.
func mssValues(frame []byte) (map[int]uint16, bool) {
	off, end, _, ok := mssTCP(frame)
	if !ok {
		return nil, false
	}
	vals := map[int]uint16{}
	it := packet.NewTCPOptionIter(packet.TCP(frame[off:end]).Options())
	for it.Next() {
		if it.Kind() == packet.TCPOptionMSS && len(it.Data()) == 2 {
			vals[off+packet.TCPMinHeaderLen+it.Offset()+2] = binary.BigEndian.Uint16(it.Data())
		}
	}
	return vals, !it.Malformed()
}

// Fixtures built byte by byte outside Go (TCP checksums computed
// independently), before and after clamping.
var (
	// 10.0.0.1:43210 -> 10.0.0.2:80 SYN, Linux options: MSS 1460, SACK
	// permitted, timestamps, NOP, window scale 7.
	mssHexV4In = mssHex(`0200 0000 0002 0200 0000 0001 0800
		4500 003c 1c46 4000 4006 0a74 0a00 0001 0a00 0002
		a8ca 0050 3b9a ca00 0000 0000 a002 faf0 a815 0000
		0204 05b4 0402 080a 0001 e240 0000 0000 0103 0307`)
	mssHexV4Out = mssHex(`0200 0000 0002 0200 0000 0001 0800
		4500 003c 1c46 4000 4006 0a74 0a00 0001 0a00 0002
		a8ca 0050 3b9a ca00 0000 0000 a002 faf0 a851 0000
		0204 0578 0402 080a 0001 e240 0000 0000 0103 0307`)
	// 802.1ad 200 + 802.1Q 100, IPv6 with a Hop-by-Hop header, SYN-ACK with
	// options NOP, MSS 1440 (value at an odd offset), NOP, NOP, SACK
	// permitted, EOL.
	mssHexV6In = mssHex(`0200 0000 0002 0200 0000 0001 88a8 00c8 8100 0064 86dd
		6000 0000 0028 0040 2001 0db8 0000 0000 0000 0000 0000 0001
		2001 0db8 0000 0000 0000 0000 0000 0002
		0600 0104 0000 0000
		a8ca 0050 3b9a ca00 1122 3344 8012 faf0 8e38 0000
		0102 0405 a001 0104 0200 0000`)
	mssHexV6Out = mssHex(`0200 0000 0002 0200 0000 0001 88a8 00c8 8100 0064 86dd
		6000 0000 0028 0040 2001 0db8 0000 0000 0000 0000 0000 0001
		2001 0db8 0000 0000 0000 0000 0000 0002
		0600 0104 0000 0000
		a8ca 0050 3b9a ca00 1122 3344 8012 faf0 ca38 0000
		0102 0405 6401 0104 0200 0000`)
)

var (
	mssCfg    = MSS{V4: 1360, V6: 1340}
	mssCfgV4  = MSS{V4: 1360}
	mssCfgV6  = MSS{V6: 1340}
	mssLinux  = "0204 05b4 0402 080a 0001 e240 0000 0000 0103 0307" // MSS 1460
	mssLinuxC = "0204 0550 0402 080a 0001 e240 0000 0000 0103 0307" // MSS 1360
	mssLinuxD = "0204 053c 0402 080a 0001 e240 0000 0000 0103 0307" // MSS 1340
	mssDot1Q  = []uint16{packet.EtherTypeVLAN}
	mssQinQ   = []uint16{packet.EtherTypeQinQ, packet.EtherTypeVLAN}
)

type mssCase struct {
	name string
	m    MSS
	in   []byte
	want []byte // nil: must be left untouched
}

func mssCases() []mssCase {
	v6 := func(s mssSpec) mssSpec { s.v6 = true; return s }
	tagged := func(s mssSpec, tags []uint16) mssSpec { s.tags = tags; return s }
	return []mssCase{
		{"hex ipv4 syn", MSS{V4: 1400}, mssHexV4In, mssHexV4Out},
		{"hex qinq ipv6 hop-by-hop syn-ack odd offset", MSS{V6: 1380}, mssHexV6In, mssHexV6Out},

		{"syn", mssCfg, mssSYN.build(mssLinux), mssSYN.build(mssLinuxC)},
		{"syn-ack", mssCfg, mssSYNACK.build(mssLinux), mssSYNACK.build(mssLinuxC)},
		{"syn mss only", mssCfg, mssSYN.build("0204 ffff"), mssSYN.build("0204 0550")},
		{"syn with payload (fast open)", mssCfg, mssSYN.with(func(s *mssSpec) { s.payload = 1001 }).build(mssLinux),
			mssSYN.with(func(s *mssSpec) { s.payload = 1001 }).build(mssLinuxC)},
		{"syn ipv4 options", mssCfg, mssSYN.with(func(s *mssSpec) { s.ipOpts = "9404 0000" }).build(mssLinux),
			mssSYN.with(func(s *mssSpec) { s.ipOpts = "9404 0000" }).build(mssLinuxC)},
		{"syn first fragment", mssCfg, mssSYN.with(func(s *mssSpec) { s.frag = packet.IPv4FlagMF }).build(mssLinux),
			mssSYN.with(func(s *mssSpec) { s.frag = packet.IPv4FlagMF }).build(mssLinuxC)},
		{"mss not first", mssCfg, mssSYN.build("0101 080a 0001 e240 0000 0000 0402 0204 05b4"),
			mssSYN.build("0101 080a 0001 e240 0000 0000 0402 0204 0550")},
		{"mss at odd offset", mssCfg, mssSYN.build("0102 0405 b401 0303 07"), mssSYN.build("0102 0405 5001 0303 07")},
		{"mss at odd offset, carry", MSS{V4: 0x0101}, mssSYN.build("01 0204 ffff 01 0402"), mssSYN.build("01 0204 0101 01 0402")},
		{"two mss options", mssCfg, mssSYN.build("0204 05b4 0204 2000"), mssSYN.build("0204 0550 0204 0550")},
		{"one of two mss options", mssCfg, mssSYN.build("0204 0400 0204 2000"), mssSYN.build("0204 0400 0204 0550")},
		{"802.1q", mssCfg, tagged(mssSYN, mssDot1Q).build(mssLinux), tagged(mssSYN, mssDot1Q).build(mssLinuxC)},
		{"802.1ad+802.1q", mssCfg, tagged(mssSYN, mssQinQ).build(mssLinux), tagged(mssSYN, mssQinQ).build(mssLinuxC)},
		{"ipv6 syn", mssCfg, v6(mssSYN).build(mssLinux), v6(mssSYN).build(mssLinuxD)},
		{"ipv6 syn-ack 802.1q", mssCfg, tagged(v6(mssSYNACK), mssDot1Q).build(mssLinux),
			tagged(v6(mssSYNACK), mssDot1Q).build(mssLinuxD)},
		{"ipv6 hop-by-hop", mssCfg, v6(mssSYN.with(func(s *mssSpec) { s.exts = []uint8{packet.ProtoHopByHop} })).build(mssLinux),
			v6(mssSYN.with(func(s *mssSpec) { s.exts = []uint8{packet.ProtoHopByHop} })).build(mssLinuxD)},
		{"ipv6 hop-by-hop, dst opts, first fragment", mssCfg,
			v6(mssSYN.with(func(s *mssSpec) {
				s.exts = []uint8{packet.ProtoHopByHop, packet.ProtoDstOpts, packet.ProtoFragment}
			})).build(mssLinux),
			v6(mssSYN.with(func(s *mssSpec) {
				s.exts = []uint8{packet.ProtoHopByHop, packet.ProtoDstOpts, packet.ProtoFragment}
			})).build(mssLinuxD)},
		{"ipv4 only config", mssCfgV4, mssSYN.build(mssLinux), mssSYN.build(mssLinuxC)},
		{"ipv6 only config", mssCfgV6, v6(mssSYN).build(mssLinux), v6(mssSYN).build(mssLinuxD)},
		{"syn with rst", mssCfg, mssSpec{flags: packet.TCPFlagSYN | packet.TCPFlagRST}.build(mssLinux),
			mssSpec{flags: packet.TCPFlagSYN | packet.TCPFlagRST}.build(mssLinuxC)},

		// Left alone.
		{"plain ack", mssCfg, mssACK.build(mssLinux), nil},
		{"ack with payload", mssCfg, mssACK.with(func(s *mssSpec) { s.payload = 1400 }).build("0101 080a 0001 e240 0000 0000"), nil},
		{"fin", mssCfg, mssSpec{flags: packet.TCPFlagFIN | packet.TCPFlagACK}.build(mssLinux), nil},
		{"mss already lower", mssCfg, mssSYN.build("0204 0400 0402 080a 0001 e240 0000 0000 0103 0307"), nil},
		{"mss equal", mssCfg, mssSYN.build(mssLinuxC), nil},
		{"mss zero", mssCfg, mssSYN.build("0204 0000"), nil},
		{"no options", mssCfg, mssSYN.build(""), nil},
		{"no mss option", mssCfg, mssSYN.build("0101 0402 0101 080a 0001 e240 0000 0000 0103 0307"), nil},
		{"mss length 3", mssCfg, mssSYN.build("0203 0501 0101"), nil},
		{"mss length 6", mssCfg, mssSYN.build("0206 05b4 0000"), nil},
		{"mss length 0", mssCfg, mssSYN.build("0200 05b4"), nil},
		{"mss length 1", mssCfg, mssSYN.build("0201 05b4"), nil},
		{"mss then malformed option", mssCfg, mssSYN.build("0204 05b4 080c 0001 e240"), nil},
		{"mss runs past the header", mssCfg, mssSYN.build("0101 0101 0101 0204"), nil},
		{"mss after eol", mssCfg, mssSYN.build("0000 0204 05b4"), nil},
		{"ipv4 disabled", mssCfgV6, mssSYN.build(mssLinux), nil},
		{"ipv6 disabled", mssCfgV4, v6(mssSYN).build(mssLinux), nil},
		{"zero config", MSS{}, mssSYN.build(mssLinux), nil},
		{"non-first ipv4 fragment", mssCfg, mssSYN.with(func(s *mssSpec) { s.frag = 185 }).build(mssLinux), nil},
		{"non-first ipv6 fragment", mssCfg,
			v6(mssSYN.with(func(s *mssSpec) { s.exts = []uint8{packet.ProtoFragment}; s.fragOff = 1448 })).build(mssLinux), nil},
		{"three tags", mssCfg, tagged(mssSYN, []uint16{packet.EtherTypeQinQ, packet.EtherTypeVLAN, packet.EtherTypeVLAN}).build(mssLinux), nil},
		{"tcp header beyond ip total length", mssCfg, func() []byte {
			f := mssSYN.build(mssLinux)
			packet.IPv4(f[14:]).SetTotalLength(20 + 32) // data offset says 40
			packet.IPv4(f[14:]).UpdateHeaderChecksum()
			return f
		}(), nil},
		{"ip total length beyond frame", mssCfg, func() []byte {
			f := mssSYN.build(mssLinux)
			packet.IPv4(f[14:]).SetTotalLength(1500)
			return f
		}(), nil},
		{"ipv6 payload length beyond frame", mssCfg, func() []byte {
			f := v6(mssSYN).build(mssLinux)
			packet.IPv6(f[14:]).SetPayloadLength(1500)
			return f
		}(), nil},
		{"udp", mssCfg, func() []byte {
			f := mssSYN.build(mssLinux)
			f[14+packet.IPv4ProtocolOffset] = packet.ProtoUDP
			return f
		}(), nil},
		{"arp", mssCfg, mssHex(`ffff ffff ffff 0200 0000 0001 0806
			0001 0800 0604 0001 0200 0000 0001 c0a8 0001 0000 0000 0000 c0a8 0002`), nil},
		{"short frame", mssCfg, mssHex("0200 0000 0002 0200 0000 0001 08"), nil},
		{"empty", mssCfg, nil, nil},
	}
}

func TestMSSClamp(t *testing.T) {
	for _, tt := range mssCases() {
		t.Run(tt.name, func(t *testing.T) {
			f := bytes.Clone(tt.in)
			verified := mssChecksumOK(tt.in)
			changed := tt.m.Clamp(f)
			if changed != (tt.want != nil) {
				t.Fatalf("Clamp = %v, want %v", changed, tt.want != nil)
			}
			if tt.want == nil {
				if !bytes.Equal(f, tt.in) {
					t.Fatalf("frame changed:\n got %x\nwant %x", f, tt.in)
				}
				return
			}
			if !verified {
				t.Fatal("fixture's checksum does not verify")
			}
			if !bytes.Equal(f, tt.want) {
				t.Fatalf("clamped frame:\n got %x\nwant %x", f, tt.want)
			}
			if !mssChecksumOK(f) {
				t.Fatal("checksum does not verify after clamping")
			}
			if tt.m.Clamp(f) {
				t.Fatal("second Clamp changed the frame again")
			}
		})
	}
}

// TestMSSTruncated cuts every clamped fixture at every byte: Clamp must
// neither panic nor touch the frame.
func TestMSSTruncated(t *testing.T) {
	for _, tt := range mssCases() {
		if tt.want == nil {
			continue
		}
		for n := range len(tt.in) {
			f := bytes.Clone(tt.in[:n])
			if tt.m.Clamp(f) || !bytes.Equal(f, tt.in[:n]) {
				t.Fatalf("%s cut at %d: changed", tt.name, n)
			}
		}
	}
}

func TestMSSFor(t *testing.T) {
	tests := []struct {
		mtu    int
		v4, v6 uint16
	}{
		{1500, 1460, 1440},
		{1420, 1380, 1360},
		{9000, 8960, 8940},
		{1280, 1240, 1220},
		{576, 536, 516},
		{60, 20, 0},
		{41, 1, 0},
		{40, 0, 0},
		{0, 0, 0},
		{-1, 0, 0},
		{65535 + 40, 65535, 65515},
		{1 << 20, 65535, 65535},
	}
	for _, tt := range tests {
		if v4, v6 := MSSFor(tt.mtu); v4 != tt.v4 || v6 != tt.v6 {
			t.Errorf("MSSFor(%d) = %d, %d; want %d, %d", tt.mtu, v4, v6, tt.v4, tt.v6)
		}
	}
}

func TestMSSAllocs(t *testing.T) {
	m := mssCfg
	syn4 := mssSYN.build(mssLinux)
	syn6 := mssSYN6.build(mssLinux)
	ack := mssACK.with(func(s *mssSpec) { s.payload = 1400 }).build("")
	f := make([]byte, 2000)
	for _, in := range [][]byte{syn4, syn6, ack} {
		if n := testing.AllocsPerRun(1000, func() {
			copy(f, in)
			m.Clamp(f[:len(in)])
		}); n != 0 {
			t.Fatalf("allocs = %v", n)
		}
	}
}

func FuzzMSS(f *testing.F) {
	for _, tt := range mssCases() {
		f.Add(tt.in, tt.m.V4, tt.m.V6)
	}
	f.Fuzz(func(t *testing.T, frame []byte, v4, v6 uint16) {
		m := MSS{V4: v4, V6: v6}
		orig := bytes.Clone(frame)
		verified := mssChecksumOK(orig)
		if !m.Clamp(frame) {
			if !bytes.Equal(frame, orig) {
				t.Fatal("Clamp changed the frame but reported no change")
			}
			return
		}
		if len(frame) != len(orig) {
			t.Fatalf("length changed: %d -> %d", len(orig), len(frame))
		}
		tcpOff, _, _, ok := mssTCP(orig)
		if !ok {
			t.Fatal("changed a frame without a TCP segment")
		}
		vals, wellFormed := mssValues(orig)
		if !wellFormed {
			t.Fatal("changed a frame with malformed TCP options")
		}
		cfg := v4
		if l2, _ := packet.ParseL2(orig); l2.EtherType == packet.EtherTypeIPv6 {
			cfg = v6
		}
		// Only the MSS values and the checksum may differ.
		sumOff := tcpOff + packet.TCPChecksumOffset
		for i := range frame {
			if frame[i] == orig[i] || i == sumOff || i == sumOff+1 {
				continue
			}
			if _, isMSS := vals[i]; !isMSS {
				if _, isMSS := vals[i-1]; !isMSS {
					t.Fatalf("byte %d changed: %#02x -> %#02x", i, orig[i], frame[i])
				}
			}
		}
		for off, old := range vals {
			want := min(old, cfg)
			if got := binary.BigEndian.Uint16(frame[off:]); got != want {
				t.Fatalf("MSS at %d: %d -> %d, want %d", off, old, got, want)
			}
		}
		if verified && !mssChecksumOK(frame) {
			t.Fatal("checksum verified before clamping, not after")
		}
		if m.Clamp(frame) {
			t.Fatal("second Clamp changed the frame again")
		}
	})
}

func BenchmarkMSS(b *testing.B) {
	m := mssCfg
	b.Run("syn", func(b *testing.B) {
		in := mssSYN.build(mssLinux)
		f := make([]byte, len(in))
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		for b.Loop() {
			copy(f, in) // restore the MSS so every round clamps
			if !m.Clamp(f) {
				b.Fatal("not clamped")
			}
		}
	})
	b.Run("syn-qinq-ipv6", func(b *testing.B) {
		in := mssSYN6.build(mssLinux)
		f := make([]byte, len(in))
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		for b.Loop() {
			copy(f, in)
			if !m.Clamp(f) {
				b.Fatal("not clamped")
			}
		}
	})
	b.Run("1400-ack", func(b *testing.B) {
		f := mssACK.with(func(s *mssSpec) { s.payload = 1400 - 14 - 20 - 32 }).build("0101 080a 0001 e240 0000 0000")
		b.SetBytes(int64(len(f)))
		b.ReportAllocs()
		for b.Loop() {
			if m.Clamp(f) {
				b.Fatal("clamped an ACK")
			}
		}
	})
}

// ClampPartial lowers the MSS exactly as Clamp does and leaves the
// checksum field (a partial sum, to be completed later) untouched.
func TestMSSClampPartial(t *testing.T) {
	for _, tc := range mssCases() {
		if tc.want == nil {
			continue
		}
		f := append([]byte(nil), tc.in...)
		if !tc.m.ClampPartial(f) {
			t.Fatalf("%s: not clamped", tc.name)
		}
		// Put the clamped frame's checksum field back: it must then equal
		// the fully clamped frame.
		g := append([]byte(nil), tc.want...)
		l2, _ := packet.ParseL2(g)
		var tcpOff int
		if l2.EtherType == packet.EtherTypeIPv4 {
			tcpOff = l2.L3 + packet.IPv4(g[l2.L3:]).HeaderLen()
		} else {
			ext, _ := packet.IPv6(g[l2.L3:]).Walk()
			tcpOff = l2.L3 + ext.Offset
		}
		copy(g[tcpOff+16:tcpOff+18], tc.in[tcpOff+16:tcpOff+18])
		if !bytes.Equal(f, g) {
			t.Fatalf("%s: ClampPartial\n got %x\nwant %x", tc.name, f, g)
		}
	}
}
