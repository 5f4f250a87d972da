// SPDX-License-Identifier: Apache-2.0

package pipeline

import (
	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/stage"
	"github.com/skiffnet/skiff/dataplane/wire"
)

// ControlFunc receives skiff datagrams that are not data: handshake messages
// as they arrived (header included; they authenticate themselves), and
// control messages opened and authenticated (header stripped, h decoded). It
// runs on the receive worker and must not retain p or its bytes.
type ControlFunc func(p *buf.Packet, h *wire.Header)

// Rx turns underlay datagrams into local frames. One per worker goroutine.
type Rx struct {
	stats   *Stats
	pool    *buf.Pool
	large   *buf.Pool
	lz4     *stage.LZ4
	open    stage.Opener
	frag    *stage.Reassembler
	hdr     wire.Header
	control ControlFunc
	now     func() int64
	tnow    int64 // the clock at the start of the batch (mesh: FIB ages)
	l       local

	timeouts, evictions uint64
}

// RxConfig configures a receive pipeline.
type RxConfig struct {
	Stats *Stats
	Pool  *buf.Pool // reassembled frames come from here; nil: buf.Default
	// Large supplies buffers for super-frames (reassembled, or
	// decompressed) longer than Pool's; nil: buf.Large.
	Large   *buf.Pool
	Control ControlFunc  // nil: control datagrams are counted and dropped
	Now     func() int64 // monotonic nanoseconds, for the reassembly timeout
	// FragMemory caps the reassembly table (bytes); FragTimeout is how long
	// a partly reassembled frame may wait (nanoseconds).
	FragMemory  int
	FragTimeout int64
}

// Defaults of RxConfig.
const (
	DefaultFragMemory  = 4 << 20
	DefaultFragTimeout = int64(2e9)
)

// NewRx returns a receive pipeline.
func NewRx(c RxConfig) *Rx {
	if c.Pool == nil {
		c.Pool = buf.Default
	}
	if c.Large == nil {
		c.Large = buf.Large
	}
	if c.FragMemory == 0 {
		c.FragMemory = DefaultFragMemory
	}
	if c.FragTimeout == 0 {
		c.FragTimeout = DefaultFragTimeout
	}
	r := &Rx{
		stats:   c.Stats,
		pool:    c.Pool,
		large:   c.Large,
		lz4:     stage.NewLZ4(buf.MaxSuperFrame),
		frag:    stage.NewReassembler(c.Pool, c.FragMemory, c.FragTimeout),
		control: c.Control,
		now:     c.Now,
	}
	r.frag.Large = c.Large
	return r
}

// Close releases the packets held by the reassembly table.
func (r *Rx) Close() { r.frag.Close() }

// Process runs the datagrams of in through the receive stages into out,
// starting at out.N, until in is consumed or out is full. It returns how
// many datagrams of in it consumed. Frames that went out were exchanged with
// spare packets of out (or, for reassembled frames, replaced them: the spare
// goes back to the pool).
func (r *Rx) Process(s *Snapshot, in []*buf.Packet, out *buf.Batch) int {
	return r.ProcessRelay(s, in, out, nil)
}

// ProcessRelay is Process for a node that relays (a mesh): datagrams for
// another node go to fwd, with their TTL decremented and their address
// and Meta.Port set to the next hop's. It stops when out or fwd is full.
// Without fwd (nil), datagrams for other nodes are dropped (WrongNode).
func (r *Rx) ProcessRelay(s *Snapshot, in []*buf.Packet, out, fwd *buf.Batch) int {
	// The clock is read once per batch, and only when something needs it:
	// the reassembly table's expiry, the mesh FIB's ages.
	if r.now != nil && (s.Mesh != nil || r.frag.Len() > 0) {
		r.tnow = r.now()
		if r.frag.Len() > 0 {
			r.frag.Expire(r.tnow)
		}
	}
	i := 0
	for ; i < len(in) && out.N < len(out.Pkts) && (fwd == nil || fwd.N < len(fwd.Pkts)); i++ {
		r.l.in++
		r.l.inBytes += uint64(in[i].Len())
		if why := r.one(s, &in[i], out, fwd); why != stage.Pass {
			r.l.drop(why)
		}
	}
	if t := r.frag.Timeouts; t != r.timeouts {
		r.l.drops[stage.FragTimeout] += uint32(t - r.timeouts)
		r.l.dropped, r.timeouts = true, t
	}
	if e := r.frag.Evictions; e != r.evictions {
		r.l.drops[stage.FragEvicted] += uint32(e - r.evictions)
		r.l.dropped, r.evictions = true, e
	}
	r.l.flush(r.stats)
	return i
}

func (r *Rx) one(s *Snapshot, slot **buf.Packet, out, fwd *buf.Batch) stage.Reason {
	p := *slot
	d := p.Data()
	if len(d) > 0 && d[0] != wire.Version && s.VXLAN {
		if s.VXLANFrom.IsValid() && p.Addr.Addr().Unmap() != s.VXLANFrom.Unmap() {
			return stage.VXLANHeader
		}
		if why := stage.DecapVXLAN(p, s.VXLANVNI); why != stage.Pass {
			return why
		}
		return r.deliver(s, slot, out)
	}
	h := &r.hdr
	if why := stage.DecodeHeader(p, h); why != stage.Pass {
		return why
	}
	if h.Dst != s.Node && s.Mesh != nil {
		return r.relay(s, slot, fwd, h)
	}
	switch h.Type {
	case wire.TypeHandshakeInit, wire.TypeHandshakeResp:
		r.toControl(p, h)
		return stage.Pass
	}
	if h.Dst != s.Node {
		return stage.WrongNode
	}
	sess := s.Sessions[h.Session]
	if sess == nil {
		return stage.NoSession
	}
	if why := r.open.Open(p, h, sess); why != stage.Pass {
		return why
	}
	if h.Type == wire.TypeControl {
		r.toControl(p, h)
		return stage.Pass
	}
	if p.Meta.FragTotal != 0 {
		var now int64
		if r.now != nil {
			now = r.now()
		}
		f, why := r.frag.Insert(p, now)
		if f == nil {
			return why
		}
		r.l.frags++
		// The reassembled frame takes the output slot; the spare that was
		// there goes back to the pool.
		buf.Release(out.Pkts[out.N])
		out.Pkts[out.N] = f
		return r.learn(s, r.finish(s, f, out), out, h.Src)
	}
	return r.learn(s, r.deliver(s, slot, out), out, h.Src)
}

// learn records, in a mesh, that the source MAC of the frame just put out
// lives behind node src (authenticated: the session is src's).
func (r *Rx) learn(s *Snapshot, why stage.Reason, out *buf.Batch, src uint16) stage.Reason {
	if why == stage.Pass && s.Mesh != nil && s.Mesh.FIB != nil {
		s.Mesh.FIB.Learn(out.Pkts[out.N-1].Data()[6:12], src, r.tnow)
	}
	return why
}

// relay forwards a datagram for another node toward it, unopened: relays
// never hold the keys of other nodes' sessions.
func (r *Rx) relay(s *Snapshot, slot **buf.Packet, fwd *buf.Batch, h *wire.Header) stage.Reason {
	if fwd == nil {
		return stage.WrongNode
	}
	if h.TTL <= 1 {
		return stage.TTLExpired
	}
	p := *slot
	rt := s.Mesh.Routes[h.Dst]
	switch {
	case rt == nil || !rt.Endpoint.IsValid() || rt.Endpoint.Port() == 0:
		return stage.NoRoute
	case rt.Endpoint == p.Addr:
		return stage.RouteLoop
	}
	wire.SetTTL(p.Data(), h.TTL-1)
	p.Addr = rt.Endpoint
	p.Meta.Port = uint8(rt.Port)
	*slot, fwd.Pkts[fwd.N] = fwd.Pkts[fwd.N], p
	fwd.N++
	r.l.relayed++
	return stage.Pass
}

func (r *Rx) toControl(p *buf.Packet, h *wire.Header) {
	r.l.control++
	if r.control != nil {
		r.control(p, h)
	}
}

// deliver moves *slot into out's next slot, then finishes the frame there.
func (r *Rx) deliver(s *Snapshot, slot **buf.Packet, out *buf.Batch) stage.Reason {
	p := *slot
	*slot, out.Pkts[out.N] = out.Pkts[out.N], p
	return r.finish(s, p, out)
}

// finish runs the frame stages on p, which sits in out.Pkts[out.N], and
// counts it out; on a drop the slot is simply not counted (it stays a
// spare).
func (r *Rx) finish(s *Snapshot, p *buf.Packet, out *buf.Batch) stage.Reason {
	gso := p.Meta.Flags&wire.FlagGSO != 0
	maxFrame := s.maxFrame()
	if gso {
		maxFrame = buf.MaxSuperFrame
	}
	if p.Meta.Flags&wire.FlagLZ4 != 0 {
		f, why := r.lz4.Uncompress(p.Data(), maxFrame)
		if why != stage.Pass {
			return why
		}
		if len(f) > p.Cap()-buf.Headroom-buf.Tailroom {
			// A compressed super-frame that came in one datagram: it
			// needs a large buffer. It replaces p in its slot.
			q := r.large.Get()
			q.Meta, q.Addr = p.Meta, p.Addr
			buf.Release(p)
			out.Pkts[out.N] = q
			p = q
		}
		p.SetData(f)
		r.l.lz4++
	}
	if gso {
		if p.Len() < buf.VirtioHdrLen {
			return stage.FrameMalformed
		}
		p.Meta.GSO = buf.ReadGSO(p.Pull(buf.VirtioHdrLen))
	}
	if p.Len() < 14 || p.Len() > maxFrame {
		return stage.FrameMalformed
	}
	if s.MSS != (stage.MSS{}) {
		if p.Meta.GSO.Flags&buf.VirtioNeedsCsum != 0 {
			s.MSS.ClampPartial(p.Data())
		} else {
			s.MSS.Clamp(p.Data())
		}
	}
	if s.VLAN != nil {
		if why := s.VLAN.Ingress(p.Data()); why != stage.Pass {
			return why
		}
	}
	out.N++
	r.l.out++
	r.l.outBytes += uint64(p.Len())
	return stage.Pass
}
