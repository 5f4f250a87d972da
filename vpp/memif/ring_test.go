// SPDX-License-Identifier: Apache-2.0

package memif

import (
	"encoding/binary"
	"strings"
	"sync"
	"testing"
	"unsafe"
)

func alignedMem(n int) []byte {
	// 8-byte aligned backing, as an mmap'd region is.
	w := make([]uint64, (n+7)/8)
	return unsafe.Slice((*byte)(unsafe.Pointer(&w[0])), n)
}

func TestRingLayout(t *testing.T) {
	mem := alignedMem(64 + RingLen(4) + 64)
	r, err := NewRing(mem, 64, 4)
	if err != nil {
		t.Fatal(err)
	}
	r.Init()
	r.SetFlags(FlagMaskInt)
	r.SetHead(0xabcd)
	r.SetTail(0x1234)
	*r.Slot(17) = Desc{Flags: DescNext, Region: 2, Length: 1500, Offset: 0x10000, Metadata: 0}
	le := binary.LittleEndian
	h := mem[64:]
	if le.Uint32(h[0:]) != Cookie || le.Uint16(h[4:]) != FlagMaskInt || le.Uint16(h[6:]) != 0xabcd || le.Uint16(h[64:]) != 0x1234 {
		t.Fatalf("header: % x ... % x", h[:8], h[64:68])
	}
	d := h[128+16*1:] // slot 17 of 16 is slot 1
	if le.Uint16(d[0:]) != DescNext || le.Uint16(d[2:]) != 2 || le.Uint32(d[4:]) != 1500 || le.Uint32(d[8:]) != 0x10000 || le.Uint32(d[12:]) != 0 {
		t.Fatalf("descriptor: % x", d[:16])
	}
	if r.Size() != 16 || r.Head() != 0xabcd || r.Tail() != 0x1234 || r.Flags() != FlagMaskInt || r.Cookie() != Cookie {
		t.Fatal("accessors disagree with the layout")
	}
	if RingLen(10) != 128+16*1024 {
		t.Fatal("RingLen")
	}
}

func TestRingErrors(t *testing.T) {
	mem := alignedMem(4096)
	for _, c := range []struct {
		off  int
		log2 uint8
		want string
	}{
		{0, 0, "log2 size 0"},
		{0, 15, "log2 size 15"},
		{32, 4, "does not fit"},
		{0, 10, "does not fit"},
		{4096, 1, "does not fit"},
		{-64, 1, "does not fit"},
	} {
		if _, err := NewRing(mem, c.off, c.log2); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewRing(off %d, log2 %d): %v, want %q", c.off, c.log2, err, c.want)
		}
	}
}

// TestRingHeadKeepsFlags: the client publishing head never loses a flags
// write the server makes at the same time, nor the reverse.
func TestRingHeadKeepsFlags(t *testing.T) {
	r, err := NewRing(alignedMem(RingLen(4)), 0, 4)
	if err != nil {
		t.Fatal(err)
	}
	r.Init()
	const n = 20000
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := range n {
			r.SetHead(uint16(i))
		}
	}()
	go func() {
		defer wg.Done()
		for i := range n {
			r.SetFlags(uint16(i) & FlagMaskInt)
		}
	}()
	wg.Wait()
	if r.Head() != uint16(n-1) || r.Flags() != uint16(n-1)&FlagMaskInt {
		t.Fatalf("head %d flags %d, want %d and %d", r.Head(), r.Flags(), uint16(n-1), uint16(n-1)&FlagMaskInt)
	}
}
