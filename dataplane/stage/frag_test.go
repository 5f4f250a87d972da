// SPDX-License-Identifier: Apache-2.0

package stage

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/skiffnet/skiff/dataplane/buf"
)

const sec = int64(1e9)

// fragment splits frame into pieces as the sender would, assigning
// consecutive counters from ctr.
func fragment(t testing.TB, pool *buf.Pool, frame []byte, pieceSize int, session uint32, ctr uint64) []*buf.Packet {
	t.Helper()
	p := pool.Get()
	defer pool.Put(p)
	p.SetData(frame)
	p.Meta.Flags = 1
	p.Meta.SrcNode = 7
	out := make([]*buf.Packet, MaxPieces)
	pool.GetN(out)
	n, r := Split(p, pieceSize, out)
	if r != Pass {
		t.Fatalf("split: %v", r)
	}
	pool.PutN(out[n:])
	out = out[:n]
	for i, q := range out {
		q.Meta.Session = session
		q.Meta.Counter = ctr + uint64(i)
	}
	return out
}

func TestSplitShapes(t *testing.T) {
	pool := buf.NewPool(buf.DefaultSize, 256)
	rng := rand.New(rand.NewPCG(1, 1))
	for _, tc := range []struct{ size, piece, want int }{
		{1400, 1400, 0}, {1401, 1400, 2}, {9000, 1428, 7}, {9000, 1000, 9}, {60, 20, 3}, {buf.MaxFrame, 200, 47},
	} {
		f := testFrame(rng, tc.size, false)
		p := pool.Get()
		p.SetData(f)
		out := make([]*buf.Packet, MaxPieces)
		pool.GetN(out)
		n, r := Split(p, tc.piece, out)
		if r != Pass || n != tc.want {
			t.Fatalf("%d/%d: n=%d r=%v, want %d", tc.size, tc.piece, n, r, tc.want)
		}
		var joined []byte
		for i, q := range out[:n] {
			if q.Len() > tc.piece {
				t.Fatalf("piece %d is %d > %d", i, q.Len(), tc.piece)
			}
			if int(q.Meta.FragOffset) != len(joined) || int(q.Meta.FragTotal) != tc.size || int(q.Meta.FragIndex) != i {
				t.Fatalf("piece %d meta %+v", i, q.Meta)
			}
			if i > 0 && out[0].Len()-q.Len() >= n {
				t.Fatalf("uneven pieces: %d vs %d", out[0].Len(), q.Len())
			}
			joined = append(joined, q.Data()...)
		}
		if n > 0 && !bytes.Equal(joined, f) {
			t.Fatal("pieces do not concatenate to the frame")
		}
		pool.PutN(out)
		pool.Put(p)
	}
	// Too many pieces.
	p := pool.Get()
	p.SetData(make([]byte, 9000))
	out := make([]*buf.Packet, MaxPieces)
	pool.GetN(out)
	if _, r := Split(p, 100, out); r != FrameTooBig {
		t.Fatalf("91 pieces: %v", r)
	}
	if _, r := Split(p, 1000, out[:5]); r != FrameTooBig {
		t.Fatalf("out too small: %v", r)
	}
	pool.PutN(out)
	pool.Put(p)
}

func insertAll(t testing.TB, r *Reassembler, pieces []*buf.Packet, now int64) (*buf.Packet, []Reason) {
	t.Helper()
	var done *buf.Packet
	var reasons []Reason
	for _, q := range pieces {
		f, why := r.Insert(q, now)
		if why != Pass {
			reasons = append(reasons, why)
		}
		if f != nil {
			if done != nil {
				t.Fatal("frame completed twice")
			}
			done = f
		}
	}
	return done, reasons
}

func TestReassembleOrders(t *testing.T) {
	pool := buf.NewPool(buf.DefaultSize, 1024)
	rng := rand.New(rand.NewPCG(2, 2))
	r := NewReassembler(pool, 64*buf.DefaultSize, 2*sec)
	for iter := 0; iter < 500; iter++ {
		size := 61 + rng.IntN(buf.MaxFrame-60)
		f := testFrame(rng, size, iter%2 == 0)
		pieces := fragment(t, pool, f, 200+rng.IntN(2000), 9, uint64(iter)*100)
		if len(pieces) == 0 {
			continue
		}
		rng.Shuffle(len(pieces), func(i, j int) { pieces[i], pieces[j] = pieces[j], pieces[i] })
		// Duplicate some pieces (the replay window would stop exact
		// copies; the table must cope on its own, e.g. with suite none).
		if len(pieces) > 1 && iter%3 == 0 {
			pieces = append(pieces[:1], pieces...)
		}
		done, reasons := insertAll(t, r, pieces, 0)
		if done == nil {
			t.Fatalf("iter %d: frame of %d bytes in %d pieces not completed (%v)", iter, size, len(pieces), reasons)
		}
		for _, why := range reasons {
			if why != FragOverlap {
				t.Fatalf("unexpected drop %v", why)
			}
		}
		if !bytes.Equal(done.Data(), f) || done.Meta.Flags != 1 || done.Meta.SrcNode != 7 || done.Meta.FragTotal != 0 {
			t.Fatalf("iter %d: reassembled frame differs (meta %+v)", iter, done.Meta)
		}
		pool.Put(done)
		seen := map[*buf.Packet]bool{}
		for _, q := range pieces {
			if !seen[q] {
				pool.Put(q)
				seen[q] = true
			}
		}
	}
	if r.Len() != 0 {
		t.Fatalf("%d entries left", r.Len())
	}
}

// Several frames interleaved, some of them with a lost piece: the complete
// ones come out, the others time out.
func TestReassembleInterleavedLossTimeout(t *testing.T) {
	pool := buf.NewPool(buf.DefaultSize, 1024)
	rng := rand.New(rand.NewPCG(3, 3))
	r := NewReassembler(pool, 16*buf.DefaultSize, 2*sec)
	var all []*buf.Packet
	frames := map[uint64][]byte{}
	for i := 0; i < 8; i++ {
		f := testFrame(rng, 3000+i*100, false)
		ctr := uint64(i) * 10
		frames[ctr] = f
		ps := fragment(t, pool, f, 1000, 1, ctr)
		if i%4 == 3 {
			pool.Put(ps[1]) // lost
			ps = append(ps[:1], ps[2:]...)
		}
		all = append(all, ps...)
	}
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	got := 0
	for _, q := range all {
		f, why := r.Insert(q, sec)
		if why != Pass {
			t.Fatalf("drop %v", why)
		}
		if f != nil {
			if !bytes.Equal(f.Data(), frames[f.Meta.Counter-uint64(f.Meta.FragIndex)]) && !matchAny(f.Data(), frames) {
				t.Fatal("wrong frame content")
			}
			got++
			pool.Put(f)
		}
		pool.Put(q)
	}
	if got != 6 || r.Len() != 2 {
		t.Fatalf("completed %d (want 6), pending %d (want 2)", got, r.Len())
	}
	if n := r.Expire(2 * sec); n != 0 {
		t.Fatalf("expired %d before the timeout", n)
	}
	if n := r.Expire(3 * sec); n != 2 || r.Timeouts != 2 || r.Len() != 0 {
		t.Fatalf("expired %d, timeouts %d, len %d", n, r.Timeouts, r.Len())
	}
}

func matchAny(b []byte, frames map[uint64][]byte) bool {
	for _, f := range frames {
		if bytes.Equal(b, f) {
			return true
		}
	}
	return false
}

func piece(pool *buf.Pool, session uint32, ctr uint64, idx uint8, off, total int, data []byte) *buf.Packet {
	p := pool.Get()
	p.SetData(data)
	p.Meta = buf.Meta{Session: session, Counter: ctr, FragIndex: idx, FragOffset: uint16(off), FragTotal: uint16(total)}
	return p
}

func TestReassembleHostile(t *testing.T) {
	pool := buf.NewPool(buf.DefaultSize, 1024)
	r := NewReassembler(pool, 4*buf.DefaultSize, 2*sec)
	a := bytes.Repeat([]byte{'a'}, 100)

	// Overlap: [0,100) then [50,150): the second piece is dropped; the
	// frame still completes with correct pieces.
	p1 := piece(pool, 1, 10, 0, 0, 200, a)
	p2 := piece(pool, 1, 11, 1, 50, 200, a)
	p3 := piece(pool, 1, 11, 1, 100, 200, a)
	if f, why := r.Insert(p1, 0); f != nil || why != Pass {
		t.Fatal(why)
	}
	if f, why := r.Insert(p2, 0); f != nil || why != FragOverlap {
		t.Fatalf("overlap: %v", why)
	}
	f, why := r.Insert(p3, 0)
	if f == nil || why != Pass || f.Len() != 200 {
		t.Fatalf("completion after overlap: %v", why)
	}
	pool.Put(f)

	// Mismatched total: the frame is dropped.
	r.Insert(piece(pool, 1, 20, 0, 0, 300, a), 0)
	if _, why := r.Insert(piece(pool, 1, 21, 1, 100, 400, a), 0); why != FragMismatch || r.Len() != 0 {
		t.Fatalf("mismatch: %v len %d", why, r.Len())
	}
	// Mismatched flags.
	r.Insert(piece(pool, 1, 30, 0, 0, 300, a), 0)
	q := piece(pool, 1, 31, 1, 100, 300, a)
	q.Meta.Flags = 1
	if _, why := r.Insert(q, 0); why != FragMismatch {
		t.Fatalf("flags mismatch: %v", why)
	}
	// Piece beyond the total, empty piece, total too big for the buffer.
	if _, why := r.Insert(piece(pool, 1, 40, 0, 250, 300, a), 0); why != HeaderFrag {
		t.Fatalf("beyond total: %v", why)
	}
	if _, why := r.Insert(piece(pool, 1, 41, 0, 0, 300, nil), 0); why != HeaderFrag {
		t.Fatalf("empty: %v", why)
	}
	if _, why := r.Insert(piece(pool, 1, 42, 0, 0, 60000, a), 0); why != FragTooBig {
		t.Fatalf("too big: %v", why)
	}
	// Same frame id in another session is another frame.
	r.Insert(piece(pool, 1, 50, 0, 0, 200, a), 0)
	if f, _ := r.Insert(piece(pool, 2, 51, 1, 100, 200, a), 0); f != nil {
		t.Fatal("pieces of two sessions were joined")
	}
	r.Close()

	// Memory cap: 4 entries; a fifth frame evicts the oldest.
	r = NewReassembler(pool, 4*buf.DefaultSize, 2*sec)
	for i := 0; i < 5; i++ {
		r.Insert(piece(pool, 1, uint64(i)*10, 0, 0, 200, a), int64(i))
	}
	if r.Len() != 4 || r.Evictions != 1 {
		t.Fatalf("len %d evictions %d", r.Len(), r.Evictions)
	}
	if f, _ := r.Insert(piece(pool, 1, 1, 1, 100, 200, a), 5); f != nil {
		t.Fatal("evicted frame completed")
	}
	r.Close()
}

func TestReassembleNoLeak(t *testing.T) {
	pool := buf.NewPool(buf.DefaultSize, 4096)
	rng := rand.New(rand.NewPCG(4, 4))
	r := NewReassembler(pool, 8*buf.DefaultSize, sec)
	for i := 0; i < 2000; i++ {
		total := 100 + rng.IntN(3000)
		off := rng.IntN(total)
		n := 1 + rng.IntN(total-off)
		q := piece(pool, uint32(rng.IntN(3)), uint64(rng.IntN(50)), uint8(rng.IntN(3)), off, total, make([]byte, n))
		f, _ := r.Insert(q, int64(i)*1e6)
		if f != nil {
			pool.Put(f)
		}
		pool.Put(q)
		r.Expire(int64(i) * 1e6)
	}
	r.Close()
	// Every packet the pool ever made is back in it.
	if uint64(pool.Free()) != pool.Allocs() {
		t.Fatalf("pool has %d of %d packets back", pool.Free(), pool.Allocs())
	}
}

func TestFragAllocs(t *testing.T) {
	pool := buf.NewPool(buf.DefaultSize, 256)
	r := NewReassembler(pool, 16*buf.DefaultSize, sec)
	frame := testFrame(rand.New(rand.NewPCG(5, 5)), 9000, false)
	p := pool.Get()
	out := make([]*buf.Packet, MaxPieces)
	pool.GetN(out)
	ctr := uint64(0)
	n := testing.AllocsPerRun(1000, func() {
		p.SetData(frame)
		k, _ := Split(p, 1428, out)
		for i := 0; i < k; i++ {
			out[i].Meta.Counter = ctr + uint64(i)
			if f, _ := r.Insert(out[i], 0); f != nil {
				pool.Put(f)
			}
		}
		ctr += uint64(k)
	})
	if n != 0 {
		t.Fatalf("allocs = %v", n)
	}
}

// FuzzFragReassembly: a frame split and delivered in any order, with
// duplicates, comes back byte-exact; and arbitrary hostile pieces neither
// crash the table nor leak packets.
func FuzzFragReassembly(f *testing.F) {
	f.Add([]byte("hello fragmented world, this frame is long enough to split"), uint16(7), uint64(1), []byte{0, 1, 2, 3})
	f.Add(make([]byte, 3000), uint16(1000), uint64(2), []byte{9, 9, 9})
	f.Add([]byte{1}, uint16(0), uint64(3), []byte{})
	pool := buf.NewPool(buf.DefaultSize, 512) // shared by iterations: packets are reused
	out := make([]*buf.Packet, MaxPieces)
	f.Fuzz(func(t *testing.T, frame []byte, pieceSize uint16, seed uint64, hostile []byte) {
		r := NewReassembler(pool, 4*buf.DefaultSize, sec)
		defer func() {
			r.Close()
			if uint64(pool.Free()) != pool.Allocs() {
				t.Fatalf("leak: %d of %d packets back", pool.Free(), pool.Allocs())
			}
		}()
		// Hostile pieces first: 8 bytes each (session, counter, index,
		// offset, total, length).
		for len(hostile) >= 8 {
			h := hostile[:8]
			hostile = hostile[8:]
			total := int(binary.BigEndian.Uint16(h[4:]))
			off := int(binary.BigEndian.Uint16(h[2:])) % (total + 1)
			q := piece(pool, uint32(h[0]%3), uint64(h[1]%8)+8, h[6]%4, off, total, make([]byte, int(h[7])))
			if q.Meta.FragIndex > uint8(q.Meta.Counter) {
				q.Meta.FragIndex = 0
			}
			if g, _ := r.Insert(q, 0); g != nil {
				pool.Put(g)
			}
			pool.Put(q)
		}
		if len(frame) == 0 || len(frame) > buf.MaxFrame || pieceSize == 0 {
			return
		}
		p := pool.Get()
		p.SetData(frame)
		pool.GetN(out)
		defer pool.PutN(out)
		defer pool.Put(p)
		n, why := Split(p, int(pieceSize), out)
		if why != Pass || n == 0 {
			return
		}
		rng := rand.New(rand.NewPCG(seed, seed))
		order := rng.Perm(n)
		order = append(order, order[:rng.IntN(n)]...) // duplicates
		var done *buf.Packet
		for _, i := range order {
			out[i].Meta.Session = 99 // not a hostile session
			out[i].Meta.Counter = 1000 + uint64(i)
			g, _ := r.Insert(out[i], 0)
			if g != nil {
				if done != nil {
					t.Fatal("completed twice")
				}
				done = g
			}
		}
		if done == nil {
			t.Fatalf("frame of %d in %d pieces not completed", len(frame), n)
		}
		if !bytes.Equal(done.Data(), frame) {
			t.Fatal("reassembled frame differs")
		}
		pool.Put(done)
	})
}

// Super-frames (up to 64 KiB) reassemble into buffers of the Large pool;
// the memory cap counts buffer bytes, so large frames evict earlier ones.
func TestReassembleLarge(t *testing.T) {
	small := buf.NewPool(buf.DefaultSize, 64)
	large := buf.NewPool(buf.LargeSize, 8)
	rng := rand.New(rand.NewPCG(8, 8))
	frame := testFrame(rng, 60000, false)
	src := large.Get()
	src.SetData(frame)
	out := make([]*buf.Packet, MaxPieces)
	small.GetN(out)
	n, why := Split(src, 1428, out)
	if why != Pass || n != 43 {
		t.Fatalf("split 60000 bytes: %d pieces, %v", n, why)
	}
	r := NewReassembler(small, 2*buf.LargeSize, sec)
	if _, why := r.Insert(out[0], 0); why != FragTooBig {
		t.Fatalf("without a large pool: %v", why)
	}
	r.Large = large
	for i := 0; i < n; i++ {
		out[i].Meta.Session, out[i].Meta.Counter = 1, uint64(i)
		f, why := r.Insert(out[i], 0)
		if why != Pass {
			t.Fatalf("piece %d: %v", i, why)
		}
		if f != nil {
			if i != n-1 || !bytes.Equal(f.Data(), frame) || f.Pool() != large {
				t.Fatal("wrong super-frame")
			}
			buf.Release(f)
		}
	}
	// Three partial super-frames in a cap of two: the oldest is evicted.
	for k := 0; k < 3; k++ {
		out[0].Meta.Session, out[0].Meta.Counter = 2, uint64(100*k)
		r.Insert(out[0], int64(k))
	}
	if r.Len() != 2 || r.Evictions != 1 {
		t.Fatalf("len %d evictions %d", r.Len(), r.Evictions)
	}
	r.Close()
	buf.ReleaseN(out)
	buf.Release(src)
	if uint64(small.Free()) != small.Allocs() || uint64(large.Free()) != large.Allocs() {
		t.Fatal("packets leaked")
	}
}
