// SPDX-License-Identifier: Apache-2.0

package pipeline

import (
	"encoding/binary"
	"testing"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/wire"
)

// FuzzRx feeds arbitrary datagrams to a receive pipeline whose session uses
// suite none, so anything with the session's id passes "authentication":
// every header field, fragment, LZ4 block and offload header a peer could
// send reaches the stages. Nothing may panic, every packet stays in
// exactly one slot, and the pools get every packet back.
func FuzzRx(f *testing.F) {
	a, b := handshake(f, wire.SuiteNone)
	sa, sb := snapshots(a, b)
	sa.LZ4, sa.PieceSize, sa.Fragment = true, 600, true
	// Seeds: real datagrams of a small frame, a compressed frame, the
	// pieces of a fragmented super-frame (with its offload header), and
	// garbage around a valid header.
	l := newLink(f)
	var seeds [][]byte
	add := func(p *buf.Packet) {
		l.mid.N = 0
		spare := l.in.Pkts[0]
		l.in.Pkts[0] = p
		l.tx.Process(sa, l.in.Pkts[:1], l.mid)
		l.in.Pkts[0] = spare
		for _, q := range l.mid.Pkts[:l.mid.N] {
			seeds = append(seeds, append([]byte(nil), q.Data()...))
		}
	}
	small := buf.New(buf.DefaultSize)
	small.SetData(frame(100, 'x'))
	add(small)
	text := buf.New(buf.DefaultSize)
	text.SetData(frame(3000, 'y'))
	add(text)
	sf := superFrame(func(i int) byte { return byte(i * 7) })
	sf.SetData(sf.Data()[:5000])
	add(sf)
	buf.Release(sf)
	for _, s := range seeds {
		f.Add(s, s)
	}
	f.Add([]byte{1, 1, 3, 16}, []byte{})
	sess := b.LocalID

	large := buf.NewPool(buf.LargeSize, 64)
	pool := buf.NewPool(buf.DefaultSize, 512)
	var stats Stats
	rx := NewRx(RxConfig{Stats: &stats, Pool: pool, Large: large, Now: func() int64 { return 0 }, FragMemory: 4 * buf.LargeSize})
	in := buf.NewBatch(pool, 2)
	out := buf.NewBatch(pool, 2)
	f.Fuzz(func(t *testing.T, d1, d2 []byte) {
		for i, d := range [][]byte{d1, d2} {
			p := in.Pkts[i]
			p.Reset()
			if !p.SetData(d) {
				p.SetData(d[:len(p.Room())])
			}
			// Aim most inputs at the real session, so they get past the
			// lookup; keep the rest as they are.
			if len(d) >= wire.HeaderLen && d[0] == wire.Version && d[16]&1 == 0 {
				binary.BigEndian.PutUint32(p.Data()[16:], sess)
			}
			p.Addr = epA
		}
		out.N = 0
		n := rx.Process(sb, in.Pkts[:2], out)
		if n != 2 || out.N > 2 {
			t.Fatalf("consumed %d, out %d", n, out.N)
		}
		for _, q := range out.Pkts[:out.N] {
			if q.Len() < 14 || q.Len() > buf.MaxSuperFrame {
				t.Fatalf("delivered a frame of %d bytes", q.Len())
			}
		}
		// Every slot holds a distinct packet.
		seen := map[*buf.Packet]bool{}
		for _, q := range append(append([]*buf.Packet{}, in.Pkts...), out.Pkts...) {
			if q == nil || seen[q] {
				t.Fatal("a slot lost its packet or two slots share one")
			}
			seen[q] = true
		}
	})
}
