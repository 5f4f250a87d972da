// SPDX-License-Identifier: Apache-2.0

package buf

import (
	"bytes"
	"net/netip"
	"testing"
)

func mustPanic(t *testing.T, name string, f func()) {
	t.Helper()
	defer func() {
		if recover() == nil {
			t.Fatalf("%s: no panic", name)
		}
	}()
	f()
}

func TestPacketLayout(t *testing.T) {
	p := New(DefaultSize)
	if p.Headroom() != Headroom || p.Len() != 0 || p.Tailroom() != DefaultSize-Headroom {
		t.Fatalf("fresh packet: head %d len %d tail %d", p.Headroom(), p.Len(), p.Tailroom())
	}
	if len(p.Room()) != MaxFrame {
		t.Fatalf("room %d, want %d", len(p.Room()), MaxFrame)
	}
	if !p.SetData([]byte("payload")) || string(p.Data()) != "payload" {
		t.Fatal("SetData")
	}
	copy(p.Push(4), "hdr:")
	copy(p.Extend(4), ":tag")
	if string(p.Data()) != "hdr:payload:tag" {
		t.Fatalf("got %q", p.Data())
	}
	if string(p.Pull(4)) != "hdr:" {
		t.Fatal("Pull")
	}
	p.Trim(4)
	if string(p.Data()) != "payload" {
		t.Fatalf("got %q", p.Data())
	}
	// Push returns a slice capped at its length: appending cannot clobber
	// the payload.
	h := p.Push(2)
	if cap(h) != 2 {
		t.Fatalf("cap of pushed header %d", cap(h))
	}
	if p.SetData(make([]byte, MaxFrame+1)) || p.Len() != 0 {
		t.Fatal("SetData beyond room must fail and leave the packet empty")
	}
	if !p.SetData(make([]byte, MaxFrame)) {
		t.Fatal("SetData of MaxFrame")
	}
	p.Reset()
	mustPanic(t, "Push beyond headroom", func() { p.Push(Headroom + 1) })
	mustPanic(t, "Pull beyond data", func() { p.Pull(1) })
	mustPanic(t, "Trim beyond data", func() { p.Trim(1) })
	mustPanic(t, "Extend beyond tailroom", func() { p.Extend(p.Tailroom() + 1) })
	mustPanic(t, "SetLen beyond buffer", func() { p.SetLen(DefaultSize) })
	mustPanic(t, "SetLen negative", func() { p.SetLen(-1) })
	mustPanic(t, "tiny packet", func() { New(Headroom) })
}

func TestSwap(t *testing.T) {
	pool := NewPool(DefaultSize, 4)
	a, b := pool.Get(), pool.Get()
	a.SetData([]byte("aaaa"))
	b.SetData([]byte("bb"))
	a.Meta.TTL, b.Meta.TTL = 1, 2
	a.Swap(b)
	if string(a.Data()) != "bb" || string(b.Data()) != "aaaa" || a.Meta.TTL != 1 || b.Meta.TTL != 2 {
		t.Fatal("Swap exchanges data, keeps metadata")
	}
	other := New(DefaultSize)
	mustPanic(t, "Swap across pools", func() { a.Swap(other) })
	pool.Put(a)
	pool.Put(b)
}

func TestPool(t *testing.T) {
	pool := NewPool(DefaultSize, 2)
	p := pool.Get()
	p.SetData([]byte("secret"))
	p.Meta.Session = 7
	p.Addr = netip.MustParseAddrPort("192.0.2.1:1")
	pool.Put(p)
	mustPanic(t, "double Put", func() { pool.Put(p) })
	q := pool.Get()
	if q != p || q.Len() != 0 || q.Meta != (Meta{}) || q.Addr.IsValid() {
		t.Fatal("a recycled packet comes back Reset, metadata and address cleared")
	}
	mustPanic(t, "Put into another pool", func() { NewPool(DefaultSize, 1).Put(q) })
	pool.Put(q)

	// Retain bounds what the pool keeps.
	ps := make([]*Packet, 5)
	pool.GetN(ps)
	pool.PutN(ps)
	if pool.Free() != 2 || ps[0] != nil {
		t.Fatalf("free %d, want 2 (retain); slots cleared", pool.Free())
	}
}

func TestBatch(t *testing.T) {
	pool := NewPool(DefaultSize, 16)
	b := NewBatch(pool, 3)
	for i := 0; !b.Full(); i++ {
		b.Next().SetData([]byte{byte(i)})
	}
	if b.N != 3 || !bytes.Equal(b.Pkts[2].Data(), []byte{2}) {
		t.Fatal("Next fills slots in order")
	}
	// Slots may exchange packets of different pools: each goes home.
	other := NewPool(LargeSize, 4)
	b.Pkts[1], b.Pkts[2] = b.Pkts[2], other.Get()
	spare := b.Pkts[1]
	b.Pkts[1] = b.Pkts[2]
	b.Pkts[2] = spare
	b.Release()
	if pool.Free() != 2 || other.Free() != 1 || b.Pkts != nil {
		t.Fatalf("Release: %d and %d packets back home", pool.Free(), other.Free())
	}
	Release(New(DefaultSize)) // belongs to no pool: no panic
}

func TestGSOHeader(t *testing.T) {
	g := GSO{Flags: VirtioNeedsCsum, Type: VirtioGSOTCPv4 | VirtioGSOECN, HdrLen: 66, Size: 1448, CsumStart: 34, CsumOffset: 16}
	var b [VirtioHdrLen]byte
	g.Put(b[:])
	if want := []byte{1, 0x81, 66, 0, 0xa8, 0x05, 34, 0, 16, 0}; !bytes.Equal(b[:], want) {
		t.Fatalf("virtio_net_hdr %x, want %x", b, want)
	}
	if ReadGSO(b[:]) != g || !g.Super() || g.IsZero() || (GSO{Flags: VirtioNeedsCsum}).Super() {
		t.Fatal("round trip or predicates")
	}
}

func TestPoolAllocs(t *testing.T) {
	pool := NewPool(DefaultSize, 128)
	ps := make([]*Packet, 64)
	pool.GetN(ps)
	pool.PutN(ps)
	n := testing.AllocsPerRun(1000, func() {
		pool.GetN(ps)
		pool.PutN(ps)
		p := pool.Get()
		p.SetData([]byte{1, 2, 3})
		p.Push(8)
		pool.Put(p)
	})
	if n != 0 {
		t.Fatalf("allocs = %v", n)
	}
}
