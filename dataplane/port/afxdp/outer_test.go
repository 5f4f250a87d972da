// SPDX-License-Identifier: Apache-2.0

package afxdp

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
)

var testHdr = outerHeader{dstMAC: [6]byte{2, 0, 0, 0, 0, 2}, srcMAC: [6]byte{2, 0, 0, 0, 0, 1}}

// frameTo builds a datagram frame from src:sport to dst with payload, with
// tags inserted after the MAC addresses.
func frameTo(src netip.Addr, sport uint16, dst netip.AddrPort, payload []byte, tags ...uint32) []byte {
	h := testHdr
	h.src = src
	b := make([]byte, 9216)
	n := outerLen(!dst.Addr().Is4())
	copy(b[n:], payload)
	n = buildOuter(b, &h, sport, dst, len(payload))
	f := append([]byte(nil), b[:12]...)
	for _, t := range tags {
		f = binary.BigEndian.AppendUint32(f, t)
	}
	return append(f, b[12:n]...)
}

func TestOuterRoundTrip(t *testing.T) {
	for _, c := range []struct{ src, dst string }{{"10.0.0.1", "10.0.0.2:4800"}, {"fd00::1", "[fd00::2]:4800"}} {
		src, dst := netip.MustParseAddr(c.src), netip.MustParseAddrPort(c.dst)
		for _, tags := range [][]uint32{nil, {0x8100<<16 | 7}, {0x88a8<<16 | 100, 0x8100<<16 | 7}} {
			for _, size := range []int{0, 1, 100, 1400, 8900} {
				payload := bytes.Repeat([]byte{0xa5, 0x17, 3}, size/3+1)[:size]
				f := frameTo(src, 4801, dst, payload, tags...)
				got, from, fault, partial := parseOuter(f, dst.Addr(), 4800)
				if fault != outerOK || partial || !bytes.Equal(got, payload) || from != netip.AddrPortFrom(src, 4801) {
					t.Fatalf("%s tags %d size %d: fault %v partial %v from %v, payload equal %v", c.dst, len(tags), size, fault, partial, from, bytes.Equal(got, payload))
				}
				// Any address matches when the port has none.
				if _, _, fault, _ := parseOuter(f, netip.Addr{}, 4800); fault != outerOK {
					t.Fatalf("unbound: %v", fault)
				}
			}
		}
	}
}

func TestOuterFaults(t *testing.T) {
	src, dst := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddrPort("10.0.0.2:4800")
	good := frameTo(src, 4801, dst, []byte("hello skiff"))
	src6, dst6 := netip.MustParseAddr("fd00::1"), netip.MustParseAddrPort("[fd00::2]:4800")
	good6 := frameTo(src6, 4801, dst6, []byte("hello skiff"))
	mod := func(f []byte, fn func(b []byte)) []byte { b := bytes.Clone(f); fn(b); return b }
	for _, c := range []struct {
		name  string
		frame []byte
		local netip.Addr
		want  outerFault
	}{
		{"short", good[:10], dst.Addr(), outerTruncated},
		{"arp", mod(good, func(b []byte) { b[12], b[13] = 0x08, 0x06 }), dst.Addr(), outerNotIP},
		{"three tags", append(append(bytes.Clone(good[:12]), 0x81, 0, 0, 1, 0x81, 0, 0, 2, 0x81, 0, 0, 3), good[12:]...), dst.Addr(), outerNotIP},
		{"ip truncated", good[:14+10], dst.Addr(), outerTruncated},
		{"ip version", mod(good, func(b []byte) { b[14] = 0x65 }), dst.Addr(), outerBadIP},
		{"ihl 4", mod(good, func(b []byte) { b[14] = 0x44 }), dst.Addr(), outerBadIP},
		{"total length beyond frame", mod(good, func(b []byte) { b[17] += 10 }), dst.Addr(), outerTruncated},
		{"ip checksum", mod(good, func(b []byte) { b[24] ^= 1 }), dst.Addr(), outerBadIP},
		{"fragment", mod(good, func(b []byte) { b[20] |= 0x20; b[24] -= 0x20 }), dst.Addr(), outerFragment},
		{"tcp", mod(good, func(b []byte) { b[23] = 6; b[25] += 11 }), dst.Addr(), outerNotUDP},
		{"other port", frameTo(src, 4801, netip.MustParseAddrPort("10.0.0.2:53"), []byte("x")), dst.Addr(), outerOtherPort},
		{"other address", frameTo(src, 4801, netip.MustParseAddrPort("10.0.0.3:4800"), []byte("x")), dst.Addr(), outerOtherPort},
		{"udp length", mod(good, func(b []byte) { b[14+20+5]++ }), dst.Addr(), outerBadUDP},
		{"udp checksum", mod(good, func(b []byte) { b[len(b)-1] ^= 0xff }), dst.Addr(), outerBadChecksum},
		{"ipv6 zero checksum", mod(good6, func(b []byte) { b[14+40+6], b[14+40+7] = 0, 0 }), dst6.Addr(), outerBadChecksum},
		{"ipv6 ext header", mod(good6, func(b []byte) { b[14+6] = 0 }), dst6.Addr(), outerNotUDP},
		{"ipv6 truncated", good6[:len(good6)-1], dst6.Addr(), outerTruncated},
	} {
		if _, _, f, _ := parseOuter(c.frame, c.local, 4800); f != c.want {
			t.Errorf("%s: fault %v, want %v", c.name, f, c.want)
		}
	}
	// IPv4 without a UDP checksum is fine; a partial checksum is taken
	// and flagged.
	noSum := mod(good, func(b []byte) { b[14+20+6], b[14+20+7] = 0, 0 })
	if _, _, f, p := parseOuter(noSum, dst.Addr(), 4800); f != outerOK || p {
		t.Errorf("zero UDP checksum: %v %v", f, p)
	}
}

func TestOuterAllocs(t *testing.T) {
	dst := netip.MustParseAddrPort("10.0.0.2:4800")
	f := frameTo(netip.MustParseAddr("10.0.0.1"), 4801, dst, make([]byte, 1400))
	h := testHdr
	h.src = netip.MustParseAddr("10.0.0.1")
	b := make([]byte, 2000)
	if n := testing.AllocsPerRun(100, func() {
		parseOuter(f, dst.Addr(), 4800)
		buildOuter(b, &h, 4801, dst, 1400)
	}); n != 0 {
		t.Fatalf("%v allocations per parse and build", n)
	}
}

// FuzzOuter feeds parseOuter what an XDP program could redirect: any
// bytes. It must not panic, and what it accepts must rebuild to the same
// datagram.
func FuzzOuter(f *testing.F) {
	src, dst := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddrPort("10.0.0.2:4800")
	f.Add(frameTo(src, 4801, dst, []byte("seed")))
	f.Add(frameTo(src, 4801, dst, []byte("tagged"), 0x8100<<16|5))
	f.Add(frameTo(netip.MustParseAddr("fd00::1"), 9, netip.MustParseAddrPort("[fd00::2]:4800"), []byte("six")))
	f.Add([]byte{})
	f.Add(make([]byte, 14))
	f.Fuzz(func(t *testing.T, frame []byte) {
		payload, from, fault, _ := parseOuter(frame, netip.Addr{}, 4800)
		if fault != outerOK {
			if payload != nil || from.IsValid() {
				t.Fatalf("fault %v with a payload or source", fault)
			}
			return
		}
		if !from.IsValid() || len(payload) > len(frame) {
			t.Fatalf("accepted with source %v, payload %d of frame %d", from, len(payload), len(frame))
		}
	})
}
