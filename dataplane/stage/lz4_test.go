// SPDX-License-Identifier: Apache-2.0

package stage

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/pierrec/lz4/v4"

	"github.com/skiffnet/skiff/dataplane/buf"
)

// testFrame returns an Ethernet-looking frame of n bytes: compressible
// (repeating text) or random.
func testFrame(rng *rand.Rand, n int, compressible bool) []byte {
	b := make([]byte, n)
	if compressible {
		const text = "skiff carries ethernet frames over udp between sites. "
		for i := range b {
			b[i] = text[i%len(text)]
		}
		for i := 0; i < n/50; i++ { // sprinkle some noise
			b[rng.IntN(n)] = byte(rng.Uint32())
		}
	} else {
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
	}
	// One flow: fixed MACs and IPv4 addresses.
	copy(b, []byte{2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00,
		0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2})
	return b
}

func TestLZ4RoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	z := NewLZ4(buf.MaxFrame)
	p := buf.New(buf.DefaultSize)
	for _, n := range []int{0, 1, 60, LZ4MinLen, 512, 1400, 1514, 9000, buf.MaxFrame} {
		for _, comp := range []bool{true, false} {
			f := testFrame(rng, n, comp)
			p.SetData(f)
			z = NewLZ4(buf.MaxFrame) // fresh backoff
			did := z.Compress(p)
			if comp && n >= 512 && !did {
				t.Fatalf("n=%d: compressible frame not compressed", n)
			}
			if !comp && did {
				t.Fatalf("n=%d: random frame compressed", n)
			}
			if did {
				if p.Len() >= n {
					t.Fatalf("kept a block that is not smaller: %d >= %d", p.Len(), n)
				}
				if r := z.Decompress(p, buf.MaxFrame); r != Pass {
					t.Fatalf("n=%d: decompress: %v", n, r)
				}
			}
			if !bytes.Equal(p.Data(), f) {
				t.Fatalf("n=%d comp=%v: round trip differs", n, comp)
			}
		}
	}
}

// Incompressible flows back off: after the first failure most frames are not
// even tried; a flow that becomes compressible is tried again soon.
func TestLZ4Backoff(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	z := NewLZ4(buf.MaxFrame)
	p := buf.New(buf.DefaultSize)
	for i := 0; i < 1000; i++ {
		p.SetData(testFrame(rng, 1400, false))
		z.Compress(p)
	}
	if z.Tried > 1000/32 {
		t.Fatalf("tried %d of 1000 random frames; backoff not working", z.Tried)
	}
	kept := z.Kept
	for i := 0; i < 200; i++ {
		p.SetData(testFrame(rng, 1400, true))
		z.Compress(p)
	}
	if z.Kept-kept < 100 {
		t.Fatalf("compressed only %d of 200 compressible frames after recovery", z.Kept-kept)
	}
}

func TestLZ4Corrupt(t *testing.T) {
	z := NewLZ4(buf.MaxFrame)
	p := buf.New(buf.DefaultSize)
	for _, in := range [][]byte{
		{},
		{0xF0},             // literal length continues past the end
		{0x1F, 'a', 0, 0},  // offset 0
		{0x1F, 'a', 9, 0},  // offset before the start
		{0x00, 0x01, 0x00}, // match without literals, offset 1 at position 0
	} {
		p.SetData(in)
		if r := z.Decompress(p, buf.MaxFrame); r != LZ4Corrupt {
			t.Fatalf("%x: %v, want LZ4Corrupt", in, r)
		}
	}
	// A valid block that decodes to more than max is refused.
	big := bytes.Repeat([]byte{'x'}, 5000)
	blk := make([]byte, lz4.CompressBlockBound(len(big)))
	n, _ := lz4.CompressBlock(big, blk, nil)
	p.SetData(blk[:n])
	if r := z.Decompress(p, 4999); r != LZ4Corrupt {
		t.Fatalf("oversized block: %v", r)
	}
	p.SetData(blk[:n])
	if r := z.Decompress(p, 5000); r != Pass || !bytes.Equal(p.Data(), big) {
		t.Fatalf("exact size block: %v", r)
	}
}

func TestLZ4Allocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	z := NewLZ4(buf.MaxFrame)
	p := buf.New(buf.DefaultSize)
	comp, random := testFrame(rng, 1400, true), testFrame(rng, 1400, false)
	n := testing.AllocsPerRun(1000, func() {
		p.SetData(comp)
		if z.Compress(p) {
			z.Decompress(p, buf.MaxFrame)
		}
		p.SetData(random)
		z.Compress(p)
	})
	if n != 0 {
		t.Fatalf("allocs = %v", n)
	}
}

// FuzzLZ4Decode: arbitrary blocks never crash the decoder, never make it
// write past its destination, and a decoded block fits max.
func FuzzLZ4Decode(f *testing.F) {
	rng := rand.New(rand.NewPCG(7, 8))
	for _, n := range []int{100, 1400, 9000} {
		src := testFrame(rng, n, true)
		blk := make([]byte, lz4.CompressBlockBound(n))
		m, _ := lz4.CompressBlock(src, blk, nil)
		f.Add(blk[:m], uint16(n))
	}
	f.Add([]byte{0xF0}, uint16(100))
	f.Add([]byte{0x1F, 'a', 0, 0}, uint16(100))
	z := NewLZ4(buf.MaxFrame)
	p := buf.New(buf.DefaultSize)
	f.Fuzz(func(t *testing.T, blk []byte, max uint16) {
		if !p.SetData(blk) {
			return
		}
		// The decoder writes into z.scratch[:max]; fill the rest with a
		// guard pattern and check it is untouched.
		for i := range z.scratch {
			z.scratch[i] = 0x5A
		}
		lim := min(int(max), len(z.scratch))
		r := z.Decompress(p, int(max))
		for i := lim; i < len(z.scratch); i++ {
			if z.scratch[i] != 0x5A {
				t.Fatalf("decoder wrote at %d, beyond max %d", i, lim)
			}
		}
		if r == Pass && p.Len() > lim {
			t.Fatalf("decoded %d bytes > max %d", p.Len(), lim)
		}
	})
}

// FuzzLZ4RoundTrip: whatever Compress keeps, Decompress restores.
func FuzzLZ4RoundTrip(f *testing.F) {
	f.Add(bytes.Repeat([]byte("abc"), 100))
	f.Add(make([]byte, 200))
	p := buf.New(buf.DefaultSize)
	f.Fuzz(func(t *testing.T, frame []byte) {
		z := NewLZ4(buf.MaxFrame) // fresh backoff state: every frame is tried
		if !p.SetData(frame) {
			return
		}
		if z.Compress(p) {
			if p.Len() >= len(frame) {
				t.Fatal("kept a block that is not smaller")
			}
			if r := z.Decompress(p, buf.MaxFrame); r != Pass {
				t.Fatalf("own block: %v", r)
			}
		}
		if !bytes.Equal(p.Data(), frame) {
			t.Fatal("round trip differs")
		}
	})
}

func BenchmarkLZ4(b *testing.B) {
	rng := rand.New(rand.NewPCG(9, 10))
	for _, size := range benchSizes {
		for _, kind := range []string{"text", "random"} {
			f := testFrame(rng, size, kind == "text")
			b.Run(sizeName(size)+"/"+kind, func(b *testing.B) {
				z := NewLZ4(buf.MaxFrame)
				p := buf.New(buf.DefaultSize)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					p.SetData(f)
					if z.Compress(p) {
						z.Decompress(p, buf.MaxFrame)
					}
				}
			})
		}
	}
}
