// SPDX-License-Identifier: Apache-2.0

package packet

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"
)

// mustHex decodes hex with spaces and newlines ignored.
func mustHex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func zeros(n int) []byte { return make([]byte, n) }

const macs = "ffff ffff ffff 0200 0000 0001" // dst broadcast, src 02:00:00:00:00:01

var l2Tests = []struct {
	name string
	in   []byte
	want L2
	ok   bool
}{
	{"untagged ipv4", cat(mustHex(macs+"0800"), zeros(20)), L2{EtherType: EtherTypeIPv4, L3: 14}, true},
	{"untagged header only", mustHex(macs + "86dd"), L2{EtherType: EtherTypeIPv6, L3: 14}, true},
	{"802.1q", cat(mustHex(macs+"8100 a064 0800"), zeros(20)),
		L2{Tags: 1, EtherType: EtherTypeIPv4, L3: 18}, true},
	{"802.1q header only", mustHex(macs + "8100 0064 0806"), L2{Tags: 1, EtherType: EtherTypeARP, L3: 18}, true},
	{"802.1ad alone", mustHex(macs + "88a8 00c8 86dd"), L2{Tags: 1, EtherType: EtherTypeIPv6, L3: 18}, true},
	{"802.1ad+802.1q", cat(mustHex(macs+"88a8 00c8 8100 0064 86dd"), zeros(40)),
		L2{Tags: 2, EtherType: EtherTypeIPv6, L3: 22}, true},
	{"802.1q+802.1q", mustHex(macs + "8100 00c8 8100 0064 0800"),
		L2{Tags: 2, EtherType: EtherTypeIPv4, L3: 22}, true},
	{"802.3 length field", mustHex(macs + "002e aaaa 03"), L2{EtherType: 0x002e, L3: 14}, true},

	{"empty", nil, L2{}, false},
	{"13 bytes", mustHex("ffff ffff ffff 0200 0000 0001 08"), L2{}, false},
	{"tag without tci", mustHex(macs + "8100"), L2{}, false},
	{"tag without inner type", mustHex(macs + "8100 0064"), L2{}, false},
	{"tag missing one byte", mustHex(macs + "8100 0064 08"), L2{}, false},
	{"inner tag truncated", mustHex(macs + "88a8 00c8 8100 0064"), L2{}, false},
	{"vlan in vlan in vlan", cat(mustHex(macs+"88a8 00c8 8100 0064 8100 0001 0800"), zeros(20)), L2{}, false},
	{"three s-tags", cat(mustHex(macs+"88a8 0001 88a8 0002 88a8 0003 0800"), zeros(20)), L2{}, false},
}

func TestParseL2(t *testing.T) {
	for _, tt := range l2Tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ParseL2(tt.in)
			if ok != tt.ok || got != tt.want {
				t.Fatalf("ParseL2 = %+v, %v; want %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestEthernetVLAN(t *testing.T) {
	f := cat(mustHex(macs+"88a8 b0c8 8100 2064 0800"), zeros(20))
	e := Ethernet(f)
	if !e.Valid() || e.Type() != EtherTypeQinQ {
		t.Fatalf("Type = %#x", e.Type())
	}
	if e.Dst() != [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} || e.Src() != [6]byte{2, 0, 0, 0, 0, 1} {
		t.Fatalf("Dst %x Src %x", e.Dst(), e.Src())
	}
	l2, ok := ParseL2(f)
	if !ok {
		t.Fatal("ParseL2 failed")
	}
	outer, inner := VLAN(f[l2.OuterTag():]), VLAN(f[l2.InnerTag():])
	if outer.TPID() != EtherTypeQinQ || outer.VID() != 200 || outer.PCP() != 5 || !outer.DEI() {
		t.Fatalf("outer tag: tpid %#x vid %d pcp %d dei %v", outer.TPID(), outer.VID(), outer.PCP(), outer.DEI())
	}
	if inner.TPID() != EtherTypeVLAN || inner.VID() != 100 || inner.PCP() != 1 || inner.DEI() {
		t.Fatalf("inner tag: tpid %#x vid %d pcp %d dei %v", inner.TPID(), inner.VID(), inner.PCP(), inner.DEI())
	}
	outer.SetVID(0xF123) // high bits must not leak into PCP/DEI
	inner.SetVID(4094)
	want := cat(mustHex(macs+"88a8 b123 8100 2ffe 0800"), zeros(20))
	if !bytes.Equal(f, want) {
		t.Fatalf("after SetVID:\n got %x\nwant %x", f, want)
	}
	e.SetDst([6]byte{1, 2, 3, 4, 5, 6})
	e.SetSrc([6]byte{7, 8, 9, 10, 11, 12})
	e.SetType(EtherTypeVLAN)
	if !bytes.Equal(f[:14], mustHex("0102 0304 0506 0708 090a 0b0c 8100")) {
		t.Fatalf("after setters: %x", f[:14])
	}
	if len(e.Payload()) != len(f)-14 {
		t.Fatalf("Payload len %d", len(e.Payload()))
	}
}

var ipv4Hdr = "4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7" // UDP, DF, TL 115, correct checksum

type ipv4Want struct {
	valid    bool
	hl       int
	tl       uint16
	proto    uint8
	df, mf   bool
	frag     int
	isFrag   bool
	payload  int // len(Payload()), -1 for nil
	options  int // len(Options()), -1 for nil
	checksum bool
}

var ipv4Tests = []struct {
	name string
	in   []byte
	want ipv4Want
}{
	{"udp", cat(mustHex(ipv4Hdr), zeros(95)),
		ipv4Want{valid: true, hl: 20, tl: 115, proto: ProtoUDP, df: true, payload: 95, options: 0, checksum: true}},
	{"ethernet padding", cat(mustHex("4500 001a 0000 0000 4001 0000 0a00 0001 0a00 0002"), zeros(26)),
		ipv4Want{valid: true, hl: 20, tl: 26, proto: ProtoICMP, payload: 6, options: 0}},
	{"options ihl 6, first fragment", cat(mustHex("4600 0020 1234 2000 0406 0000 0a00 0001 0a00 0002 9404 0000"), zeros(8)),
		ipv4Want{valid: true, hl: 24, tl: 32, proto: ProtoTCP, mf: true, isFrag: true, payload: 8, options: 4}},
	{"ihl 15", cat(mustHex("4f00 0040 0000 0000 4006 0000 0a00 0001 0a00 0002"), zeros(44)),
		ipv4Want{valid: true, hl: 60, tl: 64, proto: ProtoTCP, payload: 4, options: 40}},
	{"last fragment", cat(mustHex("4500 001c abcd 00b9 4011 0000 0a00 0001 0a00 0002"), zeros(8)),
		ipv4Want{valid: true, hl: 20, tl: 28, proto: ProtoUDP, frag: 1480, isFrag: true, payload: 8, options: 0}},
	{"header only", mustHex("4500 0014 0000 0000 40ff 0000 0a00 0001 0a00 0002"),
		ipv4Want{valid: true, hl: 20, tl: 20, proto: 0xff, payload: 0, options: 0}},

	{"empty", nil, ipv4Want{payload: -1, options: -1}},
	{"19 bytes", mustHex(ipv4Hdr)[:19], ipv4Want{hl: 20, payload: -1, options: -1}},
	{"ihl 4", cat(mustHex("4400 0020 0000 0000 4006 0000 0a00 0001 0a00 0002"), zeros(12)),
		ipv4Want{hl: 16, tl: 32, proto: ProtoTCP, payload: -1, options: -1}},
	{"ihl 0", cat(mustHex("4000 0020 0000 0000 4006 0000 0a00 0001 0a00 0002"), zeros(12)),
		ipv4Want{hl: 0, tl: 32, proto: ProtoTCP, payload: -1, options: -1}},
	{"ihl beyond total length", cat(mustHex("4f00 0014 0000 0000 4006 0000 0a00 0001 0a00 0002"), zeros(40)),
		ipv4Want{hl: 60, tl: 20, proto: ProtoTCP, payload: -1, options: 40}},
	{"ihl beyond buffer", mustHex("4600 0018 0000 0000 4006 0000 0a00 0001 0a00 0002"),
		ipv4Want{hl: 24, tl: 24, proto: ProtoTCP, payload: -1, options: -1}},
	{"total length beyond buffer", cat(mustHex("4500 0100 0000 0000 4006 0000 0a00 0001 0a00 0002"), zeros(100)),
		ipv4Want{hl: 20, tl: 256, proto: ProtoTCP, payload: -1, options: 0}},
	{"total length below header", cat(mustHex("4500 000c 0000 0000 4006 0000 0a00 0001 0a00 0002"), zeros(10)),
		ipv4Want{hl: 20, tl: 12, proto: ProtoTCP, payload: -1, options: 0}},
	{"version 6", cat(mustHex("6500 0014 0000 0000 4006 0000 0a00 0001 0a00 0002")),
		ipv4Want{hl: 20, tl: 20, proto: ProtoTCP, payload: -1, options: 0}},
}

func TestIPv4(t *testing.T) {
	for _, tt := range ipv4Tests {
		t.Run(tt.name, func(t *testing.T) {
			b := IPv4(tt.in)
			got := ipv4Want{
				valid: b.Valid(), hl: b.HeaderLen(), tl: b.TotalLength(), proto: b.Protocol(),
				df: b.DF(), mf: b.MF(), frag: b.FragmentOffset(), isFrag: b.IsFragment(),
				payload: nilLen(b.Payload()), options: nilLen(b.Options()),
				checksum: b.HeaderChecksumValid(),
			}
			if got != tt.want {
				t.Fatalf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func nilLen(b []byte) int {
	if b == nil {
		return -1
	}
	return len(b)
}

func TestIPv4Fields(t *testing.T) {
	b := IPv4(cat(mustHex(ipv4Hdr), zeros(95)))
	if b.Version() != 4 || b.TOS() != 0 || b.ID() != 0 || b.TTL() != 64 || b.Flags() != IPv4FlagDF ||
		b.Checksum() != 0xb861 {
		t.Fatalf("fields: v %d tos %d id %d ttl %d flags %#x sum %#x",
			b.Version(), b.TOS(), b.ID(), b.TTL(), b.Flags(), b.Checksum())
	}
	if b.SrcAddr() != netip.MustParseAddr("192.168.0.1") || b.DstAddr() != netip.MustParseAddr("192.168.0.199") {
		t.Fatalf("addrs %v %v", b.SrcAddr(), b.DstAddr())
	}
	b.SetTTL(63)
	b.SetTOS(0xb8)
	b.SetID(0x1234)
	b.SetSrc([4]byte{10, 0, 0, 1})
	b.SetDst([4]byte{10, 0, 0, 2})
	b.SetTotalLength(100)
	b.UpdateHeaderChecksum()
	if !b.HeaderChecksumValid() {
		t.Fatal("checksum does not verify after UpdateHeaderChecksum")
	}
	if b.TTL() != 63 || b.TOS() != 0xb8 || b.ID() != 0x1234 || b.TotalLength() != 100 ||
		b.Src() != [4]byte{10, 0, 0, 1} || b.Dst() != [4]byte{10, 0, 0, 2} {
		t.Fatal("setters did not stick")
	}
	b.SetChecksum(0)
	if b.Checksum() != 0 || b.HeaderChecksumValid() {
		t.Fatal("SetChecksum")
	}
}

// ip6 builds an IPv6 packet, 2001:db8::1 -> 2001:db8::2, with next header nh
// and the given payload, and sets Payload Length.
func ip6(nh uint8, payload ...[]byte) []byte {
	b := mustHex("6000 0000 0000 0040 2001 0db8 0000 0000 0000 0000 0000 0001 2001 0db8 0000 0000 0000 0000 0000 0002")
	b[IPv6NextHeaderOffset] = nh
	b = cat(append([][]byte{b}, payload...)...)
	binary.BigEndian.PutUint16(b[IPv6PayloadLengthOffset:], uint16(len(b)-IPv6HeaderLen))
	return b
}

// ext6 builds a Hop-by-Hop, Routing or Destination Options header of
// (units+1)*8 bytes, padded with a PadN option.
func ext6(nh uint8, units uint8) []byte {
	b := make([]byte, (int(units)+1)*8)
	b[0], b[1] = nh, units
	b[2], b[3] = 1, byte(len(b)-4) // PadN
	return b
}

// frag6 builds a Fragment header.
func frag6(nh uint8, offset int, more bool) []byte {
	b := make([]byte, 8)
	b[0] = nh
	fo := uint16(offset/8) << 3
	if more {
		fo |= 1
	}
	binary.BigEndian.PutUint16(b[2:], fo)
	binary.BigEndian.PutUint32(b[4:], 0xdeadbeef)
	return b
}

func dstChain(n int, last uint8) [][]byte {
	var p [][]byte
	for i := range n {
		nh := ProtoDstOpts
		if i == n-1 {
			nh = last
		}
		p = append(p, ext6(nh, 0))
	}
	return p
}

var tcpHdr = mustHex("c350 0050 0000 0001 0000 0000 5002 ffff 0000 0000")

var ipv6Tests = []struct {
	name  string
	in    []byte
	valid bool
	want  IPv6Ext
	ok    bool
}{
	{"tcp", ip6(ProtoTCP, tcpHdr), true, IPv6Ext{Proto: ProtoTCP, Offset: 40}, true},
	{"hex tcp", cat(mustHex(`6000 0000 0014 0640 2001 0db8 0000 0000 0000 0000 0000 0001
		2001 0db8 0000 0000 0000 0000 0000 0002`), tcpHdr), true, IPv6Ext{Proto: ProtoTCP, Offset: 40}, true},
	{"empty payload", ip6(ProtoNoNext), true, IPv6Ext{Proto: ProtoNoNext, Offset: 40}, true},
	{"padding after payload", cat(ip6(ProtoUDP, zeros(8)), zeros(10)), true, IPv6Ext{Proto: ProtoUDP, Offset: 40}, true},
	{"hop-by-hop", ip6(ProtoHopByHop, ext6(ProtoTCP, 0), tcpHdr), true, IPv6Ext{Proto: ProtoTCP, Offset: 48}, true},
	{"hop-by-hop 16 bytes", ip6(ProtoHopByHop, ext6(ProtoUDP, 1), zeros(8)), true, IPv6Ext{Proto: ProtoUDP, Offset: 56}, true},
	{"full chain", ip6(ProtoHopByHop, ext6(ProtoDstOpts, 0), ext6(ProtoRouting, 0), ext6(ProtoFragment, 2),
		frag6(ProtoDstOpts, 0, true), ext6(ProtoTCP, 0), tcpHdr), true,
		IPv6Ext{Proto: ProtoTCP, Offset: 40 + 8 + 8 + 24 + 8 + 8, Fragment: 40 + 8 + 8 + 24}, true},
	{"authentication header", ip6(ProtoAH, cat([]byte{ProtoTCP, 4}, zeros(22)), tcpHdr), true,
		IPv6Ext{Proto: ProtoTCP, Offset: 64}, true},
	{"non-first fragment", ip6(ProtoFragment, frag6(ProtoTCP, 1448, false), mustHex("0000 0000 0000 0000")), true,
		IPv6Ext{Proto: ProtoTCP, Offset: 48, Fragment: 40, FragmentOffset: 1448}, true},
	{"non-first fragment, ext-like data", ip6(ProtoFragment, frag6(ProtoHopByHop, 8, true), ext6(ProtoHopByHop, 255)[:8]), true,
		IPv6Ext{Proto: ProtoHopByHop, Offset: 48, Fragment: 40, FragmentOffset: 8}, true},
	{"icmpv6", ip6(ProtoICMPv6, mustHex("8000 0000 0000 0000")), true, IPv6Ext{Proto: ProtoICMPv6, Offset: 40}, true},
	{"esp stops", ip6(ProtoESP, zeros(16)), true, IPv6Ext{Proto: ProtoESP, Offset: 40}, true},
	{"8 extension headers", ip6(ProtoDstOpts, dstChain(8, ProtoUDP)...), true, IPv6Ext{Proto: ProtoUDP, Offset: 40 + 64}, true},

	{"9 extension headers", ip6(ProtoDstOpts, dstChain(9, ProtoUDP)...), true, IPv6Ext{}, false},
	{"endless destination options", ip6(ProtoDstOpts, dstChain(100, ProtoDstOpts)...), true, IPv6Ext{}, false},
	{"extension header past payload", ip6(ProtoHopByHop, ext6(ProtoTCP, 2)[:16]), true, IPv6Ext{}, false},
	{"extension header length byte missing", ip6(ProtoHopByHop, []byte{ProtoTCP}), true, IPv6Ext{}, false},
	{"hop-by-hop 2048 bytes", ip6(ProtoHopByHop, ext6(ProtoTCP, 255)[:64]), true, IPv6Ext{}, false},
	{"fragment header truncated", ip6(ProtoFragment, frag6(ProtoTCP, 0, false)[:7]), true, IPv6Ext{}, false},
	{"authentication header truncated", ip6(ProtoAH, cat([]byte{ProtoTCP, 4}, zeros(10))), true, IPv6Ext{}, false},
	{"payload length beyond buffer", ip6(ProtoTCP, tcpHdr)[:59], false, IPv6Ext{}, false},
	{"ext header beyond payload length", func() []byte {
		b := ip6(ProtoHopByHop, ext6(ProtoTCP, 0), tcpHdr)
		binary.BigEndian.PutUint16(b[IPv6PayloadLengthOffset:], 4) // buffer still holds it all
		return b
	}(), true, IPv6Ext{}, false},
	{"version 4", func() []byte { b := ip6(ProtoTCP, tcpHdr); b[0] = 0x45; return b }(), false, IPv6Ext{}, false},
	{"39 bytes", ip6(ProtoNoNext)[:39], false, IPv6Ext{}, false},
	{"empty", nil, false, IPv6Ext{}, false},
}

func TestIPv6Walk(t *testing.T) {
	for _, tt := range ipv6Tests {
		t.Run(tt.name, func(t *testing.T) {
			b := IPv6(tt.in)
			if b.Valid() != tt.valid {
				t.Fatalf("Valid = %v, want %v", b.Valid(), tt.valid)
			}
			got, ok := b.Walk()
			if ok != tt.ok || got != tt.want {
				t.Fatalf("Walk = %+v, %v\nwant   %+v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestIPv6Fragment(t *testing.T) {
	b := IPv6(ip6(ProtoHopByHop, ext6(ProtoFragment, 0), frag6(ProtoUDP, 2960, true), zeros(8)))
	ext, ok := b.Walk()
	if !ok || ext.Fragment != 48 || ext.FragmentOffset != 2960 || ext.Proto != ProtoUDP || ext.Offset != 56 {
		t.Fatalf("Walk = %+v, %v", ext, ok)
	}
	f := IPv6Fragment(b[ext.Fragment:])
	if !f.Valid() || f.NextHeader() != ProtoUDP || f.FragmentOffset() != 2960 || !f.More() || f.ID() != 0xdeadbeef {
		t.Fatalf("fragment header: nh %d off %d more %v id %#x", f.NextHeader(), f.FragmentOffset(), f.More(), f.ID())
	}
	if f := IPv6Fragment(b[ext.Fragment : ext.Fragment+7]); f.Valid() || f.NextHeader() != 0 || f.FragmentOffset() != 0 ||
		f.More() || f.ID() != 0 {
		t.Fatal("short fragment header")
	}
}

func TestIPv6Fields(t *testing.T) {
	b := IPv6(ip6(ProtoTCP, tcpHdr))
	b[0], b[1], b[2], b[3] = 0x6b, 0x81, 0x23, 0x45
	if b.Version() != 6 || b.TrafficClass() != 0xb8 || b.FlowLabel() != 0x12345 || b.HopLimit() != 64 ||
		b.NextHeader() != ProtoTCP || b.PayloadLength() != 20 || len(b.Payload()) != 20 {
		t.Fatalf("fields: v %d tc %#x fl %#x hl %d nh %d pl %d",
			b.Version(), b.TrafficClass(), b.FlowLabel(), b.HopLimit(), b.NextHeader(), b.PayloadLength())
	}
	if b.SrcAddr() != netip.MustParseAddr("2001:db8::1") || b.DstAddr() != netip.MustParseAddr("2001:db8::2") {
		t.Fatalf("addrs %v %v", b.SrcAddr(), b.DstAddr())
	}
	b.SetHopLimit(1)
	b.SetNextHeader(ProtoUDP)
	b.SetPayloadLength(8)
	b.SetSrc(netip.MustParseAddr("fe80::1").As16())
	b.SetDst(netip.MustParseAddr("ff02::1").As16())
	if b.HopLimit() != 1 || b.NextHeader() != ProtoUDP || len(b.Payload()) != 8 ||
		b.SrcAddr().String() != "fe80::1" || b.DstAddr().String() != "ff02::1" {
		t.Fatal("setters did not stick")
	}
}

// tcpOpt is what TCPOptionIter reports for one option.
type tcpOpt struct {
	kind   uint8
	offset int
	data   []byte
}

var tcpOptionTests = []struct {
	name      string
	in        []byte
	want      []tcpOpt
	malformed bool
}{
	{"empty", nil, nil, false},
	{"linux syn", mustHex("0204 05b4 0402 080a 0001 e240 0000 0000 0103 0307"), []tcpOpt{
		{TCPOptionMSS, 0, mustHex("05b4")},
		{TCPOptionSACKPermitted, 4, []byte{}},
		{TCPOptionTimestamps, 6, mustHex("0001 e240 0000 0000")},
		{TCPOptionWindowScale, 17, mustHex("07")},
	}, false},
	{"nops first", mustHex("0101 0204 05b4 0101 0402"), []tcpOpt{
		{TCPOptionMSS, 2, mustHex("05b4")},
		{TCPOptionSACKPermitted, 8, []byte{}},
	}, false},
	{"only nops", mustHex("0101 0101"), nil, false},
	{"eol stops", mustHex("0204 05b4 0002 0405 b4ff"), []tcpOpt{{TCPOptionMSS, 0, mustHex("05b4")}}, false},
	{"eol first", mustHex("0002 0405 b4"), nil, false},
	{"unknown kind", mustHex("fe06 0102 0304"), []tcpOpt{{0xfe, 0, mustHex("0102 0304")}}, false},

	{"length 0", mustHex("0204 05b4 0200 05b4"), []tcpOpt{{TCPOptionMSS, 0, mustHex("05b4")}}, true},
	{"length 1", mustHex("0201 05b4"), nil, true},
	{"length past end", mustHex("0208 05b4"), nil, true},
	{"length byte missing", mustHex("0101 02"), nil, true},
	{"length 255", cat(mustHex("08ff"), zeros(30)), nil, true},
}

func TestTCPOptionIter(t *testing.T) {
	for _, tt := range tcpOptionTests {
		t.Run(tt.name, func(t *testing.T) {
			it := NewTCPOptionIter(tt.in)
			if it.Kind() != TCPOptionEOL || it.Data() != nil {
				t.Fatal("current option before Next")
			}
			var got []tcpOpt
			for it.Next() {
				got = append(got, tcpOpt{it.Kind(), it.Offset(), it.Data()})
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d options %+v, want %d %+v", len(got), got, len(tt.want), tt.want)
			}
			for i := range got {
				g, w := got[i], tt.want[i]
				if g.kind != w.kind || g.offset != w.offset || !bytes.Equal(g.data, w.data) {
					t.Errorf("option %d = %+v, want %+v", i, g, w)
				}
			}
			if it.Malformed() != tt.malformed {
				t.Errorf("Malformed = %v, want %v", it.Malformed(), tt.malformed)
			}
			if it.Next() || it.Kind() != TCPOptionEOL || it.Data() != nil {
				t.Error("an option after the end")
			}
		})
	}
}

var tcpTests = []struct {
	name    string
	in      []byte
	valid   bool
	hl      int
	options int // len(Options()), -1 for nil
}{
	{"plain", tcpHdr, true, 20, 0},
	{"with payload", cat(tcpHdr, zeros(100)), true, 20, 0},
	{"options", cat(mustHex("c350 0050 0000 0001 0000 0000 8012 ffff 0000 0000"), zeros(12)), true, 32, 12},
	{"data offset 15", cat(mustHex("c350 0050 0000 0001 0000 0000 f012 ffff 0000 0000"), zeros(40)), true, 60, 40},
	{"data offset 4", mustHex("c350 0050 0000 0001 0000 0000 4012 ffff 0000 0000"), false, 16, -1},
	{"data offset past end", cat(mustHex("c350 0050 0000 0001 0000 0000 8012 ffff 0000 0000"), zeros(11)), false, 32, -1},
	{"19 bytes", tcpHdr[:19], false, 0, -1},
}

func TestTCP(t *testing.T) {
	for _, tt := range tcpTests {
		t.Run(tt.name, func(t *testing.T) {
			b := TCP(tt.in)
			if b.Valid() != tt.valid || b.HeaderLen() != tt.hl || nilLen(b.Options()) != tt.options {
				t.Fatalf("Valid %v HeaderLen %d Options %d, want %v %d %d",
					b.Valid(), b.HeaderLen(), nilLen(b.Options()), tt.valid, tt.hl, tt.options)
			}
			if tt.valid && len(b.Payload()) != len(tt.in)-tt.hl {
				t.Fatalf("Payload len %d", len(b.Payload()))
			}
		})
	}
	b := TCP(cat(mustHex("c350 0050 0102 0304 0506 0708 5012 ffff abcd 0001"), zeros(4)))
	if b.SrcPort() != 50000 || b.DstPort() != 80 || b.Seq() != 0x01020304 || b.Ack() != 0x05060708 ||
		b.Flags() != TCPFlagSYN|TCPFlagACK || b.Window() != 0xffff || b.Checksum() != 0xabcd || b.Urgent() != 1 {
		t.Fatalf("fields: %d %d %#x %#x %#x %#x %#x %d", b.SrcPort(), b.DstPort(), b.Seq(), b.Ack(),
			b.Flags(), b.Window(), b.Checksum(), b.Urgent())
	}
	b.SetSrcPort(1)
	b.SetDstPort(2)
	b.SetFlags(TCPFlagRST)
	b.SetWindow(3)
	b.SetChecksum(4)
	if b.SrcPort() != 1 || b.DstPort() != 2 || b.Flags() != TCPFlagRST || b.Window() != 3 || b.Checksum() != 4 {
		t.Fatal("setters did not stick")
	}
}

var udpTests = []struct {
	name    string
	in      []byte
	valid   bool
	payload int
}{
	{"dns", cat(mustHex("d431 0035 0010 1234"), zeros(8)), true, 8},
	{"padding", cat(mustHex("d431 0035 000a 1234"), zeros(8)), true, 2},
	{"header only", mustHex("d431 0035 0008 0000"), true, 0},
	{"length 7", mustHex("d431 0035 0007 0000"), false, -1},
	{"length past end", cat(mustHex("d431 0035 0100 0000"), zeros(8)), false, -1},
	{"7 bytes", mustHex("d431 0035 0008 00"), false, -1},
}

func TestUDP(t *testing.T) {
	for _, tt := range udpTests {
		t.Run(tt.name, func(t *testing.T) {
			b := UDP(tt.in)
			if b.Valid() != tt.valid || nilLen(b.Payload()) != tt.payload {
				t.Fatalf("Valid %v Payload %d, want %v %d", b.Valid(), nilLen(b.Payload()), tt.valid, tt.payload)
			}
		})
	}
	b := UDP(mustHex("d431 0035 0008 1234"))
	if b.SrcPort() != 54321 || b.DstPort() != 53 || b.Length() != 8 || b.Checksum() != 0x1234 {
		t.Fatal("fields")
	}
	b.SetSrcPort(1)
	b.SetDstPort(2)
	b.SetLength(3)
	b.SetChecksum(4)
	if !bytes.Equal(b, mustHex("0001 0002 0003 0004")) {
		t.Fatalf("setters: %x", []byte(b))
	}
}

var arpRequest = mustHex("0001 0800 0604 0001 0200 0000 0001 c0a8 0001 0000 0000 0000 c0a8 0002")

func TestARP(t *testing.T) {
	b := ARP(bytes.Clone(arpRequest))
	if !b.Valid() || b.Op() != ARPRequest || b.SenderMAC() != [6]byte{2, 0, 0, 0, 0, 1} ||
		b.SenderIP() != netip.MustParseAddr("192.168.0.1") || b.TargetMAC() != [6]byte{} ||
		b.TargetIP() != netip.MustParseAddr("192.168.0.2") {
		t.Fatalf("request: op %d %x %v %x %v", b.Op(), b.SenderMAC(), b.SenderIP(), b.TargetMAC(), b.TargetIP())
	}
	// Answer it in place, as proxy ARP does.
	b.SetOp(ARPReply)
	b.SetTarget(b.SenderMAC(), b.SenderIP())
	b.SetSender([6]byte{2, 0, 0, 0, 0, 2}, netip.MustParseAddr("::ffff:192.168.0.2"))
	want := mustHex("0001 0800 0604 0002 0200 0000 0002 c0a8 0002 0200 0000 0001 c0a8 0001")
	if !bytes.Equal(b, want) {
		t.Fatalf("reply:\n got %x\nwant %x", []byte(b), want)
	}
	b.SetSender([6]byte{}, netip.MustParseAddr("2001:db8::1")) // not IPv4: ignored
	if !bytes.Equal(b, want) {
		t.Fatal("SetSender with an IPv6 address wrote")
	}
	for _, bad := range [][]byte{
		arpRequest[:27],
		mustHex("0006 0800 0604 0001 0200 0000 0001 c0a8 0001 0000 0000 0000 c0a8 0002"),
		mustHex("0001 86dd 0604 0001 0200 0000 0001 c0a8 0001 0000 0000 0000 c0a8 0002"),
		mustHex("0001 0800 0804 0001 0200 0000 0001 c0a8 0001 0000 0000 0000 c0a8 0002"),
		mustHex("0001 0800 0610 0001 0200 0000 0001 c0a8 0001 0000 0000 0000 c0a8 0002"),
	} {
		if ARP(bad).Valid() {
			t.Errorf("%x: Valid", bad)
		}
	}
}

// TestShortViews calls every accessor and setter on every prefix of real
// headers: none may panic, and setters on short views must not write.
func TestShortViews(t *testing.T) {
	frames := [][]byte{
		cat(mustHex(macs+"88a8 00c8 8100 0064 0800"), mustHex(ipv4Hdr), zeros(95)),
		ip6(ProtoHopByHop, ext6(ProtoTCP, 0), mustHex("c350 0050 0000 0001 0000 0000 6002 ffff 0000 0000 0204 05b4")),
		arpRequest,
	}
	for _, f := range frames {
		for n := 0; n <= len(f); n++ {
			for start := 0; start <= n && start < 64; start++ {
				b := bytes.Clone(f[start:n])
				touchAll(b)
			}
		}
	}
}

// touchAll exercises every view over b and checks that what comes back stays
// inside b. It is shared by the fuzz targets.
func touchAll(b []byte) {
	orig := bytes.Clone(b)
	short := func(n int) bool { return len(b) < n }

	e := Ethernet(b)
	_, _, _, _ = e.Dst(), e.Src(), e.Type(), e.Payload()
	v := VLAN(b)
	_, _, _, _, _ = v.TPID(), v.TCI(), v.PCP(), v.DEI(), v.VID()
	if l2, ok := ParseL2(b); ok {
		VLAN(b[l2.OuterTag():]).VID()
		VLAN(b[l2.InnerTag():]).VID()
	}

	ip4 := IPv4(b)
	_, _, _, _, _ = ip4.Version(), ip4.HeaderLen(), ip4.TOS(), ip4.TotalLength(), ip4.ID()
	_, _, _, _, _ = ip4.Flags(), ip4.DF(), ip4.MF(), ip4.FragmentOffset(), ip4.IsFragment()
	_, _, _, _, _ = ip4.TTL(), ip4.Protocol(), ip4.Checksum(), ip4.SrcAddr(), ip4.DstAddr()
	_, _, _ = ip4.Options(), ip4.Payload(), ip4.HeaderChecksumValid()

	ip6 := IPv6(b)
	_, _, _, _, _ = ip6.Version(), ip6.TrafficClass(), ip6.FlowLabel(), ip6.PayloadLength(), ip6.NextHeader()
	_, _, _, _ = ip6.HopLimit(), ip6.SrcAddr(), ip6.DstAddr(), ip6.Payload()
	ip6.Walk()
	fh := IPv6Fragment(b)
	_, _, _, _, _ = fh.Valid(), fh.NextHeader(), fh.FragmentOffset(), fh.More(), fh.ID()

	u := UDP(b)
	_, _, _, _, _ = u.SrcPort(), u.DstPort(), u.Length(), u.Checksum(), u.Payload()

	tc := TCP(b)
	_, _, _, _, _ = tc.SrcPort(), tc.DstPort(), tc.Seq(), tc.Ack(), tc.HeaderLen()
	_, _, _, _, _ = tc.Flags(), tc.Window(), tc.Checksum(), tc.Urgent(), tc.Payload()
	it := NewTCPOptionIter(tc.Options())
	for it.Next() {
		_, _, _ = it.Kind(), it.Data(), it.Offset()
	}

	a := ARP(b)
	_, _, _, _, _ = a.Op(), a.SenderMAC(), a.SenderIP(), a.TargetMAC(), a.TargetIP()
	a.Valid()

	// Setters write back what is already there; on views too short for
	// the field they must do nothing at all.
	if !short(EthernetHeaderLen) {
		e.SetDst(e.Dst())
		e.SetSrc(e.Src())
		e.SetType(e.Type())
	} else {
		e.SetDst([6]byte{1})
		e.SetType(1)
	}
	v.SetTCI(v.TCI())
	v.SetVID(v.VID())
	if !short(IPv4MinHeaderLen) {
		ip4.SetTOS(ip4.TOS())
		ip4.SetTTL(ip4.TTL())
		ip4.SetID(ip4.ID())
		ip4.SetTotalLength(ip4.TotalLength())
		ip4.SetChecksum(ip4.Checksum())
		ip4.SetSrc(ip4.Src())
		ip4.SetDst(ip4.Dst())
	} else {
		ip4.SetTTL(1)
		ip4.SetSrc([4]byte{1})
		ip4.UpdateHeaderChecksum()
	}
	if short(IPv6HeaderLen) {
		ip6.SetHopLimit(1)
		ip6.SetNextHeader(1)
		ip6.SetPayloadLength(1)
		ip6.SetSrc([16]byte{1})
		ip6.SetDst([16]byte{1})
	}
	if short(UDPHeaderLen) {
		u.SetChecksum(1)
		u.SetLength(1)
	}
	if short(TCPMinHeaderLen) {
		tc.SetFlags(1)
		tc.SetChecksum(1)
		tc.SetWindow(1)
	}
	if short(ARPLen) {
		a.SetOp(1)
		a.SetSender([6]byte{1}, netip.MustParseAddr("10.0.0.1"))
		a.SetTarget([6]byte{1}, netip.MustParseAddr("10.0.0.1"))
	}
	if !bytes.Equal(b, orig) {
		panic("a setter changed the view")
	}
}

func TestNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("race detector allocates")
	}
	frame4 := cat(mustHex(macs+"88a8 00c8 8100 0064 0800"), mustHex(ipv4Hdr), zeros(95))
	frame6 := ip6(ProtoHopByHop, ext6(ProtoDstOpts, 0), ext6(ProtoFragment, 0), frag6(ProtoTCP, 0, true),
		mustHex("c350 0050 0000 0001 0000 0000 8002 ffff 0000 0000 0204 05b4 0101 0402 0103 0307"))
	tests := []struct {
		name string
		f    func()
	}{
		{"ParseL2", func() {
			l2, _ := ParseL2(frame4)
			VLAN(frame4[l2.InnerTag():]).SetVID(VLAN(frame4[l2.InnerTag():]).VID())
		}},
		{"IPv4", func() {
			ip := IPv4(frame4[22:])
			if !ip.Valid() || ip.SrcAddr() == ip.DstAddr() || len(ip.Payload()) != 95 || !ip.HeaderChecksumValid() {
				panic("bad fixture")
			}
		}},
		{"IPv6Walk", func() {
			ip := IPv6(frame6)
			if ext, ok := ip.Walk(); !ok || ext.Proto != ProtoTCP || ip.SrcAddr() == ip.DstAddr() {
				panic("bad fixture")
			}
		}},
		{"TCPOptions", func() {
			it := NewTCPOptionIter(TCP(frame6[64:]).Options())
			n := 0
			for it.Next() {
				n++
			}
			if n != 3 {
				panic("bad fixture")
			}
		}},
		{"ARP", func() {
			a := ARP(arpRequest)
			if !a.Valid() || a.SenderIP() == a.TargetIP() {
				panic("bad fixture")
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.f() // panics on a bad fixture outside AllocsPerRun's accounting
			if n := testing.AllocsPerRun(1000, tt.f); n != 0 {
				t.Fatalf("allocs = %v", n)
			}
		})
	}
}

func BenchmarkParse(b *testing.B) {
	frame4 := cat(mustHex(macs+"8100 0064 0800"), mustHex(ipv4Hdr), zeros(95))
	frame6 := cat(mustHex(macs+"86dd"), ip6(ProtoHopByHop, ext6(ProtoTCP, 0), tcpHdr))
	b.Run("ipv4", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			l2, ok := ParseL2(frame4)
			if !ok || !IPv4(frame4[l2.L3:]).Valid() {
				b.Fatal("bad fixture")
			}
		}
	})
	b.Run("ipv6", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			l2, ok := ParseL2(frame6)
			if !ok {
				b.Fatal("bad fixture")
			}
			if _, ok := IPv6(frame6[l2.L3:]).Walk(); !ok {
				b.Fatal("bad fixture")
			}
		}
	})
}
