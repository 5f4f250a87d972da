// SPDX-License-Identifier: Apache-2.0

package packet

import (
	"bytes"
	"testing"
)

func FuzzParseL2(f *testing.F) {
	for _, tt := range l2Tests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		orig := bytes.Clone(frame)
		l, ok := ParseL2(frame)
		if !bytes.Equal(frame, orig) {
			t.Fatal("ParseL2 wrote to the frame")
		}
		if !ok {
			if l != (L2{}) {
				t.Fatalf("not ok but %+v", l)
			}
			return
		}
		if l.Tags < 0 || l.Tags > 2 || l.L3 != EthernetHeaderLen+VLANTagLen*l.Tags || l.L3 > len(frame) {
			t.Fatalf("%+v for %d bytes", l, len(frame))
		}
		isTag := func(off int) bool {
			tpid := VLAN(frame[off:]).TPID()
			return tpid == EtherTypeVLAN || tpid == EtherTypeQinQ
		}
		switch l.Tags {
		case 0:
			if l.OuterTag() != 0 || l.InnerTag() != 0 {
				t.Fatalf("%+v", l)
			}
		case 1:
			if l.OuterTag() != 12 || l.InnerTag() != 0 || !isTag(l.OuterTag()) {
				t.Fatalf("%+v", l)
			}
		case 2:
			if l.OuterTag() != 12 || l.InnerTag() != 16 || !isTag(l.OuterTag()) || !isTag(l.InnerTag()) {
				t.Fatalf("%+v", l)
			}
		}
		if l.EtherType == EtherTypeVLAN || l.EtherType == EtherTypeQinQ {
			t.Fatalf("EtherType is a TPID: %+v", l)
		}
		touchAll(frame)
	})
}

func FuzzIPv4(f *testing.F) {
	for _, tt := range ipv4Tests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ip := IPv4(b)
		touchAll(b)
		if !ip.Valid() {
			if ip.Payload() != nil {
				t.Fatal("Payload of an invalid header")
			}
			return
		}
		hl, tl := ip.HeaderLen(), int(ip.TotalLength())
		if hl < IPv4MinHeaderLen || hl > IPv4MaxHeaderLen || hl > tl || tl > len(b) {
			t.Fatalf("valid with hl %d tl %d len %d", hl, tl, len(b))
		}
		if len(ip.Payload()) != tl-hl || len(ip.Options()) != hl-IPv4MinHeaderLen {
			t.Fatalf("payload %d options %d for hl %d tl %d", len(ip.Payload()), len(ip.Options()), hl, tl)
		}
	})
}

func FuzzIPv6(f *testing.F) {
	for _, tt := range ipv6Tests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ip := IPv6(b)
		touchAll(b)
		ext, ok := ip.Walk()
		if !ok {
			if ext != (IPv6Ext{}) {
				t.Fatalf("not ok but %+v", ext)
			}
			return
		}
		end := IPv6HeaderLen + int(ip.PayloadLength())
		if !ip.Valid() || ext.Offset < IPv6HeaderLen || ext.Offset > end || end > len(b) {
			t.Fatalf("%+v for payload end %d, len %d", ext, end, len(b))
		}
		if ext.FragmentOffset == 0 {
			switch ext.Proto {
			case ProtoHopByHop, ProtoRouting, ProtoFragment, ProtoDstOpts, ProtoAH:
				t.Fatalf("stopped at an extension header: %+v", ext)
			}
		}
		if ext.Fragment != 0 {
			fh := IPv6Fragment(b[ext.Fragment:end])
			if ext.Fragment < IPv6HeaderLen || ext.Fragment+IPv6FragmentLen > ext.Offset || !fh.Valid() ||
				fh.FragmentOffset() != ext.FragmentOffset {
				t.Fatalf("%+v: fragment header out of place", ext)
			}
			_, _ = fh.More(), fh.ID()
			if ext.FragmentOffset != 0 && (fh.NextHeader() != ext.Proto || ext.Offset != ext.Fragment+IPv6FragmentLen) {
				t.Fatalf("%+v: non-first fragment", ext)
			}
		} else if ext.FragmentOffset != 0 {
			t.Fatalf("fragment offset without a fragment header: %+v", ext)
		}
		if ext.FragmentOffset%8 != 0 {
			t.Fatalf("%+v", ext)
		}
	})
}

func FuzzTCPOptions(f *testing.F) {
	for _, tt := range tcpOptionTests {
		f.Add(tt.in)
	}
	for _, tt := range tcpTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, opts []byte) {
		touchAll(opts)
		it := NewTCPOptionIter(opts)
		n, prevEnd := 0, 0
		for it.Next() {
			n++
			if n > len(opts) {
				t.Fatal("more options than bytes")
			}
			kind, off, data := it.Kind(), it.Offset(), it.Data()
			end := off + 2 + len(data)
			if off < prevEnd || end > len(opts) || kind == TCPOptionEOL || kind == TCPOptionNOP {
				t.Fatalf("option %d at %d+%d out of place (previous ended at %d, %d bytes)",
					kind, off, len(data), prevEnd, len(opts))
			}
			if kind != opts[off] || int(opts[off+1]) != len(data)+2 {
				t.Fatalf("option %d at %d+%d does not match its bytes", kind, off, len(data))
			}
			if cap(data) != len(data) {
				t.Fatalf("option data cap %d > len %d", cap(data), len(data))
			}
			if len(data) > 0 && &data[0] != &opts[off+2] {
				t.Fatal("option data does not alias the options")
			}
			prevEnd = end
		}
	})
}
