// SPDX-License-Identifier: Apache-2.0

package msg

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestKeepalive(t *testing.T) {
	k := Keepalive{Kind: KindPong, Path: 0x0102, Timestamp: 0x0a0b0c0d0e0f1011}
	b := k.Append(nil)
	if want := []byte{1, 2, 1, 2, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11}; !bytes.Equal(b, want) {
		t.Fatalf("encoded %x, want %x", b, want)
	}
	var g Keepalive
	if err := g.Decode(b); err != nil || g != k {
		t.Fatalf("decoded %+v %v", g, err)
	}
	if err := g.Decode(append(b, 9, 9)); err != nil || g != k {
		t.Fatal("trailing bytes of a later version must be ignored")
	}
	for _, tc := range []struct {
		in   []byte
		want error
	}{
		{nil, ErrShort},
		{[]byte{1}, ErrShort},
		{[]byte{2, 1}, ErrVersion},
		{[]byte{1, 5}, ErrKind},
		{[]byte{1, 0}, ErrKind},
		{[]byte{1, 3, 0, 1}, ErrKind}, // link-state is not a keepalive
		{[]byte{1, 4}, ErrKind},
		{b[:11], ErrShort},
	} {
		if err := g.Decode(tc.in); !errors.Is(err, tc.want) {
			t.Fatalf("Decode(%x) = %v, want %v", tc.in, err, tc.want)
		}
	}
	for n := range KeepaliveLen {
		if err := g.Decode(b[:n]); !errors.Is(err, ErrShort) {
			t.Fatalf("Decode of %d bytes = %v, want ErrShort", n, err)
		}
	}
}

func TestKeepaliveProbe(t *testing.T) {
	k := Keepalive{Kind: KindPing, Path: PathRouted, Timestamp: 0x0a0b0c0d0e0f1011,
		Seq: 0x01020304, Wall: -2, HasProbe: true}
	b := k.Append([]byte{0xee})
	want := []byte{0xee, 1, 1, 0xff, 0xff, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11,
		1, 2, 3, 4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe}
	if !bytes.Equal(b, want) {
		t.Fatalf("encoded %x, want %x", b, want)
	}
	b = b[1:]
	if len(b) != ProbeLen {
		t.Fatalf("len %d", len(b))
	}
	var g Keepalive
	if err := g.Decode(b); err != nil || g != k {
		t.Fatalf("decoded %+v %v", g, err)
	}
	if err := g.Decode(append(slices.Clone(b), 7, 7, 7)); err != nil || g != k {
		t.Fatalf("trailing bytes: decoded %+v %v", g, err)
	}
	// Old 12-byte form and 13..23 bytes: no probe fields.
	old := Keepalive{Kind: k.Kind, Path: k.Path, Timestamp: k.Timestamp}
	for n := KeepaliveLen; n < ProbeLen; n++ {
		g = Keepalive{Seq: 9, Wall: 9, HasProbe: true}
		if err := g.Decode(b[:n]); err != nil || g != old {
			t.Fatalf("Decode of %d bytes = %+v %v, want %+v", n, g, err, old)
		}
	}
	// Without HasProbe, Seq and Wall are not sent.
	if out := (&Keepalive{Kind: KindPing, Seq: 5, Wall: 5}).Append(nil); len(out) != KeepaliveLen {
		t.Fatalf("no probe: %d bytes", len(out))
	}

	r := rand.New(rand.NewPCG(1, 2))
	for range 1000 {
		k := Keepalive{Kind: KindPing + Kind(r.IntN(2)), Path: uint16(r.Uint32()), Timestamp: r.Uint64(),
			Seq: r.Uint32(), Wall: int64(r.Uint64()), HasProbe: true}
		if err := g.Decode(k.Append(nil)); err != nil || g != k {
			t.Fatalf("round trip %+v: %+v %v", k, g, err)
		}
		// A pong copies the ping's fields.
		pong := g
		pong.Kind = KindPong
		if err := g.Decode(pong.Append(nil)); err != nil || g != pong {
			t.Fatalf("pong %+v: %+v %v", pong, g, err)
		}
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{KindPing: "ping", KindPong: "pong",
		KindLinkState: "link-state", KindTable: "table", 0: "unknown", 5: "unknown"} {
		if k.String() != want {
			t.Errorf("Kind(%d) = %q, want %q", k, k.String(), want)
		}
	}
}

func TestPeek(t *testing.T) {
	for _, k := range []Kind{KindPing, KindPong, KindLinkState, KindTable} {
		if got, err := Peek([]byte{Version, byte(k)}); err != nil || got != k {
			t.Fatalf("Peek %v = %v %v", k, got, err)
		}
	}
	for _, tc := range []struct {
		in   []byte
		want error
	}{
		{nil, ErrShort},
		{[]byte{1}, ErrShort},
		{[]byte{0, 1}, ErrVersion},
		{[]byte{2, 1}, ErrVersion},
		{[]byte{1, 0}, ErrKind},
		{[]byte{1, 5}, ErrKind},
		{[]byte{1, 0xff}, ErrKind},
	} {
		if _, err := Peek(tc.in); !errors.Is(err, tc.want) {
			t.Fatalf("Peek(%x) = %v, want %v", tc.in, err, tc.want)
		}
	}
}

func randNode(r *rand.Rand) uint16 { return uint16(1 + r.IntN(maxNodeID)) }

func randDelay(r *rand.Rand) int64 {
	switch r.IntN(4) {
	case 0:
		return -r.Int64N(1e9) // clock offsets
	case 1:
		return int64(r.Uint64()) // anything, including extremes
	}
	return r.Int64N(1e9)
}

func randLinkState(r *rand.Rand, n int) LinkState {
	m := LinkState{Origin: randNode(r), Seq: r.Uint64()}
	for range n {
		m.Links = append(m.Links, Link{From: randNode(r), Delay: randDelay(r), Loss: uint16(r.Uint32()), Up: r.IntN(4) != 0})
	}
	return m
}

func randTable(r *rand.Rand, n int) Table {
	t := Table{Controller: randNode(r), Node: randNode(r), Epoch: r.Uint64()}
	for range n {
		e := Route{To: randNode(r), Via: randNode(r), Hops: uint8(r.Uint32()), Cost: randDelay(r)}
		if r.IntN(5) == 0 {
			e.Via = 0
		}
		t.Entries = append(t.Entries, e)
	}
	return t
}

func eqLinkState(a, b *LinkState) bool {
	return a.Origin == b.Origin && a.Seq == b.Seq && slices.Equal(a.Links, b.Links)
}

func eqTable(a, b *Table) bool {
	return a.Controller == b.Controller && a.Node == b.Node && a.Epoch == b.Epoch && slices.Equal(a.Entries, b.Entries)
}

func TestLinkStateEncoding(t *testing.T) {
	m := LinkState{Origin: 0x0102, Seq: 0x1112131415161718, Links: []Link{
		{From: 0x0a0b, Delay: -1, Loss: 0x2122, Up: true},
		{From: 0xffef, Delay: 0x3132333435363738, Loss: 0xffff},
	}}
	want := []byte{
		1, 3, 0x01, 0x02, 0, 2, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
		0x0a, 0x0b, 1, 0, 0x21, 0x22, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
		0xff, 0xef, 0, 0, 0xff, 0xff, 0, 0, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38,
	}
	b := m.Append(nil)
	if !bytes.Equal(b, want) {
		t.Fatalf("encoded\n%x, want\n%x", b, want)
	}
	if len(b) != LinkStateHeaderLen+2*LinkLen {
		t.Fatalf("len %d", len(b))
	}
	var g LinkState
	if err := g.Decode(b); err != nil || !eqLinkState(&g, &m) {
		t.Fatalf("decoded %+v %v", g, err)
	}
	if k, err := Peek(b); err != nil || k != KindLinkState {
		t.Fatalf("Peek = %v %v", k, err)
	}
	// Other flag bits are ignored.
	b[16] = 0xff
	b[32] = 0xfe
	if err := g.Decode(b); err != nil || !eqLinkState(&g, &m) {
		t.Fatalf("flag bits: decoded %+v %v", g, err)
	}
}

func TestLinkStateRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var g LinkState // reused: Decode must reset, not append to, Links
	for i := range 500 {
		n := r.IntN(20)
		switch i {
		case 0:
			n = 0
		case 1:
			n = MaxLinks
		}
		m := randLinkState(r, n)
		if err := m.Validate(); err != nil {
			t.Fatal(err)
		}
		b := m.Append([]byte("prefix"))[6:]
		if len(b) != LinkStateHeaderLen+n*LinkLen {
			t.Fatalf("len %d for %d links", len(b), n)
		}
		if err := g.Decode(b); err != nil || !eqLinkState(&g, &m) {
			t.Fatalf("round trip %+v: %+v %v", m, g, err)
		}
		// Trailing bytes (later versions) are ignored.
		if err := g.Decode(append(b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17)); err != nil || !eqLinkState(&g, &m) {
			t.Fatalf("trailing bytes: %+v %v", g, err)
		}
	}
}

func TestLinkStateDecodeReuses(t *testing.T) {
	m := randLinkState(rand.New(rand.NewPCG(5, 6)), 50)
	b := m.Append(nil)
	var g LinkState
	if err := g.Decode(b); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(100, func() {
		if err := g.Decode(b); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Fatalf("Decode into a reused LinkState: %v allocs", a)
	}
	small := (&LinkState{Origin: 1, Links: []Link{{From: 2}}}).Append(nil)
	if err := g.Decode(small); err != nil || len(g.Links) != 1 || cap(g.Links) < 50 {
		t.Fatalf("reuse: %v len %d cap %d", err, len(g.Links), cap(g.Links))
	}
}

// wantErr checks that err wraps target and mentions every one of words.
func wantErr(t *testing.T, name string, err, target error, words ...string) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want %v", name, err, target)
	}
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("%s: error %q does not mention %q", name, err, w)
		}
	}
}

func TestLinkStateErrors(t *testing.T) {
	m := randLinkState(rand.New(rand.NewPCG(7, 8)), 4)
	b := m.Append(nil)
	// The receiver is left unchanged on error.
	keep := LinkState{Origin: 7, Seq: 7, Links: []Link{{From: 7, Delay: 7}}}
	check := func(name string, in []byte, target error, words ...string) {
		t.Helper()
		g := keep
		g.Links = slices.Clone(keep.Links)
		wantErr(t, name, g.Decode(in), target, words...)
		if !reflect.DeepEqual(g, keep) {
			t.Fatalf("%s: receiver changed to %+v", name, g)
		}
	}
	for n := range len(b) {
		check("truncated", b[:n], ErrShort)
	}
	check("count mismatch", b[:len(b)-1], ErrShort, "link-state", "count 4", "63 bytes of links")
	mod := func(f func(c []byte)) []byte {
		c := slices.Clone(b)
		f(c)
		return c
	}
	check("version", mod(func(c []byte) { c[0] = 2 }), ErrVersion)
	check("kind 0", mod(func(c []byte) { c[1] = 0 }), ErrKind)
	check("kind 9", mod(func(c []byte) { c[1] = 9 }), ErrKind)
	check("kind table", mod(func(c []byte) { c[1] = byte(KindTable) }), ErrKind, "link-state", "table")
	check("kind ping", mod(func(c []byte) { c[1] = byte(KindPing) }), ErrKind, "link-state", "ping")
	for _, id := range []uint16{0, maxNodeID + 1, 0xffff} {
		check("origin", mod(func(c []byte) { binary.BigEndian.PutUint16(c[2:], id) }), ErrField, "link-state: origin")
		check("from", mod(func(c []byte) { binary.BigEndian.PutUint16(c[14+2*LinkLen:], id) }), ErrField, "link-state: link 2: from")
	}
	check("reserved byte", mod(func(c []byte) { c[14+3*LinkLen+3] = 1 }), ErrField, "link-state: link 3: reserved byte not zero")
	check("reserved u16 hi", mod(func(c []byte) { c[14+1*LinkLen+6] = 0x80 }), ErrField, "link-state: link 1: reserved")
	check("reserved u16 lo", mod(func(c []byte) { c[14+0*LinkLen+7] = 1 }), ErrField, "link-state: link 0: reserved")
	check("count", mod(func(c []byte) { binary.BigEndian.PutUint16(c[4:], 5) }), ErrShort, "count 5", "64 bytes of links")

	big := randLinkState(rand.New(rand.NewPCG(9, 9)), MaxLinks)
	bb := big.Append(nil)
	bb = append(bb, make([]byte, LinkLen)...)
	binary.BigEndian.PutUint16(bb[14+MaxLinks*LinkLen:], 1)
	binary.BigEndian.PutUint16(bb[4:], MaxLinks+1)
	check("too many", bb, ErrField, "link-state", "count 1025", "1024")
	binary.BigEndian.PutUint16(bb[4:], 0xffff)
	check("too many", bb, ErrField, "count 65535")

	// Validate and Append.
	for _, tc := range []struct {
		m     LinkState
		words string
	}{
		{LinkState{Origin: 0}, "origin"},
		{LinkState{Origin: 0xfff0}, "origin"},
		{LinkState{Origin: 1, Links: []Link{{From: 1}, {From: 0}}}, "link 1: from"},
		{LinkState{Origin: 1, Links: make([]Link, MaxLinks+1)}, "1025 links"},
	} {
		wantErr(t, "Validate", tc.m.Validate(), ErrField, tc.words)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Append of too many links did not panic")
		}
	}()
	(&LinkState{Origin: 1, Links: make([]Link, MaxLinks+1)}).Append(nil)
}

func TestTableEncoding(t *testing.T) {
	m := Table{Controller: 0x0102, Node: 0x0304, Epoch: 0x1112131415161718, Entries: []Route{
		{To: 0x0a0b, Via: 0x0c0d, Hops: 3, Cost: -2},
		{To: 0xffef, Via: 0, Hops: 0xff, Cost: 0x3132333435363738},
	}}
	want := []byte{
		1, 4, 0x01, 0x02, 0x03, 0x04, 0, 2, 0, 0, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
		0x0a, 0x0b, 0x0c, 0x0d, 3, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe,
		0xff, 0xef, 0, 0, 0xff, 0, 0, 0, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38,
	}
	b := m.Append(nil)
	if !bytes.Equal(b, want) {
		t.Fatalf("encoded\n%x, want\n%x", b, want)
	}
	if len(b) != TableHeaderLen+2*RouteLen {
		t.Fatalf("len %d", len(b))
	}
	var g Table
	if err := g.Decode(b); err != nil || !eqTable(&g, &m) {
		t.Fatalf("decoded %+v %v", g, err)
	}
	if k, err := Peek(b); err != nil || k != KindTable {
		t.Fatalf("Peek = %v %v", k, err)
	}
}

func TestTableRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 11))
	var g Table
	for i := range 500 {
		n := r.IntN(20)
		switch i {
		case 0:
			n = 0
		case 1:
			n = MaxRoutes
		}
		m := randTable(r, n)
		if err := m.Validate(); err != nil {
			t.Fatal(err)
		}
		b := m.Append([]byte("prefix"))[6:]
		if len(b) != TableHeaderLen+n*RouteLen {
			t.Fatalf("len %d for %d entries", len(b), n)
		}
		if err := g.Decode(b); err != nil || !eqTable(&g, &m) {
			t.Fatalf("round trip %+v: %+v %v", m, g, err)
		}
		if err := g.Decode(append(b, 0xff, 0xff, 0xff)); err != nil || !eqTable(&g, &m) {
			t.Fatalf("trailing bytes: %+v %v", g, err)
		}
	}
}

func TestTableDecodeReuses(t *testing.T) {
	m := randTable(rand.New(rand.NewPCG(12, 13)), 50)
	b := m.Append(nil)
	var g Table
	if err := g.Decode(b); err != nil {
		t.Fatal(err)
	}
	if a := testing.AllocsPerRun(100, func() {
		if err := g.Decode(b); err != nil {
			t.Fatal(err)
		}
	}); a != 0 {
		t.Fatalf("Decode into a reused Table: %v allocs", a)
	}
}

func TestTableErrors(t *testing.T) {
	m := randTable(rand.New(rand.NewPCG(14, 15)), 4)
	m.Entries[2].Via = 0
	b := m.Append(nil)
	keep := Table{Controller: 7, Node: 7, Epoch: 7, Entries: []Route{{To: 7, Via: 7}}}
	check := func(name string, in []byte, target error, words ...string) {
		t.Helper()
		g := keep
		g.Entries = slices.Clone(keep.Entries)
		wantErr(t, name, g.Decode(in), target, words...)
		if !reflect.DeepEqual(g, keep) {
			t.Fatalf("%s: receiver changed to %+v", name, g)
		}
	}
	for n := range len(b) {
		check("truncated", b[:n], ErrShort)
	}
	check("count mismatch", b[:len(b)-1], ErrShort, "table", "count 4", "63 bytes of entries")
	mod := func(f func(c []byte)) []byte {
		c := slices.Clone(b)
		f(c)
		return c
	}
	check("version", mod(func(c []byte) { c[0] = 0 }), ErrVersion)
	check("kind 0", mod(func(c []byte) { c[1] = 0 }), ErrKind)
	check("kind 200", mod(func(c []byte) { c[1] = 200 }), ErrKind)
	check("kind link-state", mod(func(c []byte) { c[1] = byte(KindLinkState) }), ErrKind, "table", "link-state")
	for _, id := range []uint16{0, maxNodeID + 1, 0xffff} {
		check("controller", mod(func(c []byte) { binary.BigEndian.PutUint16(c[2:], id) }), ErrField, "table: controller")
		check("node", mod(func(c []byte) { binary.BigEndian.PutUint16(c[4:], id) }), ErrField, "table: node")
		check("to", mod(func(c []byte) { binary.BigEndian.PutUint16(c[18+2*RouteLen:], id) }), ErrField, "table: entry 2: to is node")
		if id != 0 {
			check("via", mod(func(c []byte) { binary.BigEndian.PutUint16(c[18+1*RouteLen+2:], id) }), ErrField, "table: entry 1: via is node")
		}
	}
	check("header reserved", mod(func(c []byte) { c[8] = 1 }), ErrField, "table: reserved")
	check("header reserved lo", mod(func(c []byte) { c[9] = 1 }), ErrField, "table: reserved")
	check("reserved byte", mod(func(c []byte) { c[18+3*RouteLen+5] = 1 }), ErrField, "table: entry 3: reserved byte not zero")
	check("reserved u16", mod(func(c []byte) { c[18+0*RouteLen+6] = 1 }), ErrField, "table: entry 0: reserved")
	check("reserved u16 lo", mod(func(c []byte) { c[18+2*RouteLen+7] = 1 }), ErrField, "table: entry 2: reserved")
	check("count", mod(func(c []byte) { binary.BigEndian.PutUint16(c[6:], 5) }), ErrShort, "count 5", "64 bytes of entries")

	big := randTable(rand.New(rand.NewPCG(16, 16)), MaxRoutes)
	bb := big.Append(nil)
	bb = append(bb, make([]byte, RouteLen)...)
	binary.BigEndian.PutUint16(bb[18+MaxRoutes*RouteLen:], 1)
	binary.BigEndian.PutUint16(bb[6:], MaxRoutes+1)
	check("too many", bb, ErrField, "table", "count 4097", "4096")

	for _, tc := range []struct {
		m     Table
		words string
	}{
		{Table{Controller: 0, Node: 1}, "controller"},
		{Table{Controller: 1, Node: 0xfff0}, "node"},
		{Table{Controller: 1, Node: 1, Entries: []Route{{To: 1}, {To: 0, Via: 1}}}, "entry 1: to"},
		{Table{Controller: 1, Node: 1, Entries: []Route{{To: 1, Via: 0xffff}}}, "entry 0: via"},
		{Table{Controller: 1, Node: 1, Entries: make([]Route, MaxRoutes+1)}, "4097 entries"},
	} {
		wantErr(t, "Validate", tc.m.Validate(), ErrField, tc.words)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Append of too many entries did not panic")
		}
	}()
	(&Table{Controller: 1, Node: 1, Entries: make([]Route, MaxRoutes+1)}).Append(nil)
}

// seeds adds valid encodings of every kind and some broken ones.
func seeds(f *testing.F) {
	r := rand.New(rand.NewPCG(20, 21))
	f.Add((&Keepalive{Kind: KindPing, Path: 1, Timestamp: 5}).Append(nil))
	f.Add((&Keepalive{Kind: KindPong, Path: 9, Timestamp: 1 << 60}).Append(nil))
	f.Add((&Keepalive{Kind: KindPing, Path: PathRouted, Timestamp: 5, Seq: 1, Wall: -1, HasProbe: true}).Append(nil))
	f.Add((&Keepalive{Kind: KindPong, Path: 2, Timestamp: 5, Seq: 7, Wall: 1e18, HasProbe: true}).Append(nil))
	for _, n := range []int{0, 1, 3} {
		ls := randLinkState(r, n)
		b := ls.Append(nil)
		f.Add(b)
		f.Add(append(slices.Clone(b), 1, 2, 3))
		f.Add(b[:len(b)-1])
		tb := randTable(r, n)
		b = tb.Append(nil)
		f.Add(b)
		f.Add(append(slices.Clone(b), 0xff))
		f.Add(b[:len(b)-1])
	}
	f.Add([]byte{1, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})              // origin 0
	f.Add([]byte{1, 3, 0, 1, 4, 1, 0, 0, 0, 0, 0, 0, 0, 0})              // count 1025
	f.Add([]byte{1, 4, 0, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})  // reserved
	f.Add([]byte{1, 4, 0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})  // count 1, no entry
	f.Add([]byte{1, 4, 0, 1, 0, 1, 16, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}) // count 4097
	f.Add([]byte{1, 2, 3})
	f.Add([]byte{2, 1})
	f.Add([]byte{1, 9})
	f.Add([]byte{})
}

// FuzzControl: no panic; a message Peek accepts decodes as its kind or
// fails; a decoded message encodes back to the same value (and, for
// keepalives and tables, to the same leading bytes).
func FuzzControl(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		var k Keepalive
		if err := k.Decode(b); err == nil {
			out := k.Append(nil)
			if !bytes.Equal(out, b[:len(out)]) {
				t.Fatalf("re-encoded %x, input %x", out, b[:len(out)])
			}
			var k2 Keepalive
			if err := k2.Decode(out); err != nil || k2 != k {
				t.Fatalf("re-decoded %+v %v, want %+v", k2, err, k)
			}
		}
		kind, err := Peek(b)
		if err != nil {
			return
		}
		switch kind {
		case KindLinkState:
			checkLinkState(t, b)
		case KindTable:
			checkTable(t, b)
		}
	})
}

func checkLinkState(t *testing.T, b []byte) {
	var m LinkState
	if err := m.Decode(b); err != nil {
		if !errors.Is(err, ErrShort) && !errors.Is(err, ErrVersion) && !errors.Is(err, ErrKind) && !errors.Is(err, ErrField) {
			t.Fatalf("error %v wraps no sentinel", err)
		}
		return
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("decoded message does not validate: %v", err)
	}
	out := m.Append(nil)
	var m2 LinkState
	if err := m2.Decode(out); err != nil || !reflect.DeepEqual(m, m2) {
		t.Fatalf("re-decoded %+v %v, want %+v", m2, err, m)
	}
	if len(out) > len(b) {
		t.Fatalf("re-encoded %d bytes from %d", len(out), len(b))
	}
}

func checkTable(t *testing.T, b []byte) {
	var m Table
	if err := m.Decode(b); err != nil {
		if !errors.Is(err, ErrShort) && !errors.Is(err, ErrVersion) && !errors.Is(err, ErrKind) && !errors.Is(err, ErrField) {
			t.Fatalf("error %v wraps no sentinel", err)
		}
		return
	}
	if err := m.Validate(); err != nil {
		t.Fatalf("decoded message does not validate: %v", err)
	}
	out := m.Append(nil)
	if !bytes.Equal(out, b[:len(out)]) {
		t.Fatalf("re-encoded %x, input %x", out, b[:len(out)])
	}
	var m2 Table
	if err := m2.Decode(out); err != nil || !reflect.DeepEqual(m, m2) {
		t.Fatalf("re-decoded %+v %v, want %+v", m2, err, m)
	}
}

// FuzzLinkState: as FuzzControl, for link-state messages; inputs get the
// link-state prefix so the fuzzer explores the body.
func FuzzLinkState(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		checkLinkState(t, b)
		if len(b) >= 2 {
			c := slices.Clone(b)
			c[0], c[1] = Version, byte(KindLinkState)
			checkLinkState(t, c)
		}
	})
}

// FuzzTable: as FuzzLinkState, for table messages.
func FuzzTable(f *testing.F) {
	seeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		checkTable(t, b)
		if len(b) >= 2 {
			c := slices.Clone(b)
			c[0], c[1] = Version, byte(KindTable)
			checkTable(t, c)
		}
	})
}
