// SPDX-License-Identifier: Apache-2.0

package pipeline

import (
	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/packet"
	"github.com/skiffnet/skiff/dataplane/stage"
	"github.com/skiffnet/skiff/dataplane/wire"
)

// Tx turns local frames into underlay datagrams. One per worker goroutine.
type Tx struct {
	stats *Stats
	lz4   *stage.LZ4
	seal  stage.Sealer
	now   func() int64
	dup   *buf.Packet // a spare that holds each flooded copy
	l     local
}

// NewTx returns a transmit pipeline that counts into stats.
func NewTx(stats *Stats) *Tx {
	return &Tx{stats: stats, lz4: stage.NewLZ4(buf.MaxSuperFrame)}
}

// SetClock sets the monotonic clock (nanoseconds) a mesh's FIB lookups
// age entries by; it must be the clock the receive side learns with.
func (t *Tx) SetClock(now func() int64) { t.now = now }

// Close releases the spare packet of flooded copies.
func (t *Tx) Close() {
	if t.dup != nil {
		buf.Release(t.dup)
		t.dup = nil
	}
}

// Process runs the frames of in through the transmit stages into out,
// starting at out.N, until in is consumed or out lacks room for the next
// frame's pieces. It returns how many frames of in it consumed. Frames that
// went out were exchanged with spare packets of out: the caller refills its
// input slots as usual (they hold Reset-able packets). Dropped frames stay
// where they were.
func (t *Tx) Process(s *Snapshot, in []*buf.Packet, out *buf.Batch) int {
	var now int64
	if s.Mesh != nil && t.now != nil {
		now = t.now()
	}
	i := 0
	for ; i < len(in); i++ {
		rt, copies := t.route(s, in[i], now)
		need := max(1, copies) * s.pieces(in[i])
		if len(out.Pkts)-out.N < need && out.N > 0 {
			break
		}
		t.l.in++
		t.l.inBytes += uint64(in[i].Len())
		if r := t.one(s, &in[i], out, rt, copies); r != stage.Pass {
			t.l.drop(r)
		}
	}
	t.l.flush(t.stats)
	return i
}

// pieces is how many datagrams frame p will take at most.
func (s *Snapshot) pieces(p *buf.Packet) int {
	if s.PieceSize <= 0 {
		return 1
	}
	return max(1, (p.Len()+buf.VirtioHdrLen+s.PieceSize-1)/s.PieceSize)
}

// route finds where frame p goes: a route (one copy), or, in a mesh, nil
// and the number of flooded copies; nil and 0 means no route.
func (t *Tx) route(s *Snapshot, p *buf.Packet, now int64) (*Route, int) {
	m := s.Mesh
	if m == nil {
		return &s.Route, 1
	}
	d := p.Data()
	if len(d) < 6 || d[0]&1 != 0 { // group address: flood
		return nil, len(m.Flood)
	}
	if node, ok := m.FIB.Lookup(d[:6], now); ok {
		if r := m.Routes[node]; r != nil {
			return r, 1
		}
		return nil, 0 // learned behind a node we have no route to
	}
	return nil, len(m.Flood)
}

func (t *Tx) one(s *Snapshot, slot **buf.Packet, out *buf.Batch, rt *Route, copies int) stage.Reason {
	p := *slot
	if p.Len() < 14 {
		return stage.FrameMalformed
	}
	gso := p.Meta.GSO
	if s.VLAN != nil {
		if r := s.VLAN.Egress(p.Data()); r != stage.Pass {
			return r
		}
	}
	if s.MSS != (stage.MSS{}) {
		if gso.Flags&buf.VirtioNeedsCsum != 0 {
			s.MSS.ClampPartial(p.Data())
		} else {
			s.MSS.Clamp(p.Data())
		}
	}
	switch {
	case rt != nil:
		return t.encap(s, slot, out, rt)
	case copies == 0 || len(s.Mesh.Flood) == 0:
		return stage.NoRoute
	}
	// Flood: a copy of the frame for every route but the last, which
	// takes the frame itself (encapsulation changes the frame in place).
	t.l.flooded++
	fl := s.Mesh.Flood
	need := s.pieces(p)
	for _, r := range fl[:len(fl)-1] {
		if len(out.Pkts)-out.N < need {
			t.l.drop(stage.FloodRoom)
			continue
		}
		if t.dup == nil {
			if pl := p.Pool(); pl != nil {
				t.dup = pl.Get()
			} else {
				t.dup = buf.New(p.Cap())
			}
		}
		d := t.dup
		d.Reset()
		if !d.SetData(p.Data()) {
			t.l.drop(stage.FrameTooBig)
			continue
		}
		d.Meta.GSO = p.Meta.GSO
		if why := t.encap(s, &t.dup, out, r); why != stage.Pass {
			t.l.drop(why)
		}
	}
	if len(out.Pkts)-out.N < need {
		return stage.FloodRoom
	}
	return t.encap(s, slot, out, fl[len(fl)-1])
}

// encap encapsulates the frame in *slot for route rt into out.
func (t *Tx) encap(s *Snapshot, slot **buf.Packet, out *buf.Batch, rt *Route) stage.Reason {
	p := *slot
	gso := p.Meta.GSO
	if !rt.Endpoint.IsValid() || rt.Endpoint.Port() == 0 {
		return stage.NoEndpoint
	}
	if rt.Codec == CodecVXLAN {
		if !gso.IsZero() {
			return stage.GSOUnsupported
		}
		if s.PieceSize > 0 && p.Len() > s.PieceSize {
			return stage.FrameTooBig
		}
		stage.EncapVXLAN(p, rt.VNI)
		t.emit(slot, out, rt)
		return stage.Pass
	}
	sess := rt.Session
	if sess == nil {
		return stage.NoSession
	}
	p.Meta = buf.Meta{SrcNode: s.Node, DstNode: rt.Node, TTL: s.ttl()}
	if !gso.Super() && gso.Flags&buf.VirtioNeedsCsum != 0 {
		// A single frame with a partial checksum: finish it here (a
		// pass over at most an MTU) and send it plain, without the
		// 10-byte offload header it would otherwise need.
		if !packet.CompleteChecksum(p.Data(), int(gso.CsumStart), int(gso.CsumOffset)) {
			return stage.FrameMalformed
		}
		gso = buf.GSO{}
	}
	if !gso.IsZero() {
		// The offload header travels in front of the frame, inside the
		// encryption: the far side hands the frame to its device whole.
		gso.Put(p.Push(buf.VirtioHdrLen))
		p.Meta.Flags |= wire.FlagGSO
	}
	if s.LZ4 && t.lz4.Compress(p) {
		p.Meta.Flags |= wire.FlagLZ4
		t.l.lz4++
	}
	if s.PieceSize > 0 && p.Len() > s.PieceSize {
		// A super-frame is many segments' worth: it always crosses in
		// pieces, whatever the policy for frames that are too big.
		if !s.Fragment && !gso.Super() {
			return stage.FrameTooBig
		}
		pieces := out.Pkts[out.N:]
		n, r := stage.Split(p, s.PieceSize, pieces)
		if r != stage.Pass {
			return r
		}
		ctr, err := sess.NextCounters(n)
		if err != nil {
			return stage.SessionExpired
		}
		for k, q := range pieces[:n] {
			t.seal.Seal(q, sess, wire.TypeData, ctr+uint64(k))
			q.Addr = rt.Endpoint
			q.Meta.Port = uint8(rt.Port)
			t.l.out++
			t.l.outBytes += uint64(q.Len())
		}
		out.N += n
		t.l.frags += uint64(n)
		return stage.Pass
	}
	ctr, err := sess.NextCounters(1)
	if err != nil {
		return stage.SessionExpired
	}
	t.seal.Seal(p, sess, wire.TypeData, ctr)
	t.emit(slot, out, rt)
	return stage.Pass
}

// emit moves *slot into out by exchanging it with out's next spare packet.
func (t *Tx) emit(slot **buf.Packet, out *buf.Batch, rt *Route) {
	p := *slot
	p.Addr = rt.Endpoint
	p.Meta.Port = uint8(rt.Port)
	*slot, out.Pkts[out.N] = out.Pkts[out.N], p
	out.N++
	t.l.out++
	t.l.outBytes += uint64(p.Len())
}
