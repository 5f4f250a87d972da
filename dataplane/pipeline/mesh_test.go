// SPDX-License-Identifier: Apache-2.0

package pipeline

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/fib"
	"github.com/skiffnet/skiff/dataplane/stage"
	"github.com/skiffnet/skiff/dataplane/wire"
	"github.com/skiffnet/skiff/dataplane/wire/wiretest"
)

// Underlay addresses of the mesh tests' nodes 1, 2 and 3.
var (
	epM1 = netip.MustParseAddrPort("192.0.2.1:4800")
	epM2 = netip.MustParseAddrPort("192.0.2.2:4800")
	epM3 = netip.MustParseAddrPort("192.0.2.3:4800")
)

// MAC addresses of the mesh tests: a host behind each node, the broadcast
// address and a unicast address nobody has learned.
var (
	macBcast   = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	macH1      = [6]byte{0x02, 0, 0, 0, 0x01, 0x01}
	macH2      = [6]byte{0x02, 0, 0, 0, 0x02, 0x02}
	macH3      = [6]byte{0x02, 0, 0, 0, 0x03, 0x03}
	macUnknown = [6]byte{0x02, 0, 0, 0, 0x99, 0x99}
)

// meshNode is one node of an in-memory mesh: its snapshot, pipelines and
// batches. The tests move datagrams between nodes as byte copies, as a
// network would.
type meshNode struct {
	id       uint16
	snap     *Snapshot
	fib      *fib.Table
	tx       *Tx
	rx       *Rx
	txs, rxs Stats
	now      int64

	in, out   *buf.Batch // tx: frames in, datagrams out
	rin, rout *buf.Batch // rx: datagrams in, frames out
	fwd       *buf.Batch // rx: relayed datagrams
}

func newMeshNode(t testing.TB, pool *buf.Pool, id uint16) *meshNode {
	n := &meshNode{id: id, fib: fib.New(1024, 0)}
	n.tx = NewTx(&n.txs)
	n.tx.SetClock(func() int64 { return n.now })
	n.rx = NewRx(RxConfig{Stats: &n.rxs, Pool: pool, Now: func() int64 { return n.now }})
	n.in = buf.NewBatch(pool, 64)
	n.out = buf.NewBatch(pool, 2*(64+stage.MaxPieces))
	n.rin = buf.NewBatch(pool, 2*(64+stage.MaxPieces))
	n.rout = buf.NewBatch(pool, 2*(64+stage.MaxPieces))
	n.fwd = buf.NewBatch(pool, 2*(64+stage.MaxPieces))
	t.Cleanup(func() {
		n.tx.Close()
		n.rx.Close()
		for _, b := range []*buf.Batch{n.in, n.out, n.rin, n.rout, n.fwd} {
			b.Release()
		}
	})
	return n
}

// setMesh gives the node a mesh snapshot: its sessions (by local id), its
// routes by destination node, and the routes of flood (in that order).
func (n *meshNode) setMesh(sessions []*wire.Session, routes []*Route, flood ...*Route) {
	s := &Snapshot{Node: n.id, Sessions: map[uint32]*wire.Session{}, Mesh: &Mesh{Routes: map[uint16]*Route{}, Flood: flood, FIB: n.fib}}
	for _, x := range sessions {
		s.Sessions[x.LocalID] = x
	}
	for _, r := range routes {
		s.Mesh.Routes[r.Node] = r
	}
	n.snap = s
}

// dgram is a datagram on the wire: its bytes, where it is sent, and from
// which underlay port.
type dgram struct {
	b    []byte
	to   netip.AddrPort
	port uint8
}

func (d dgram) header(t testing.TB) wire.Header {
	t.Helper()
	var h wire.Header
	if err := h.Decode(d.b); err != nil {
		t.Fatalf("datagram does not decode: %v", err)
	}
	return h
}

// send runs frames through the node's Tx and returns the datagrams.
func (n *meshNode) send(frames ...[]byte) []dgram {
	for i, f := range frames {
		n.in.Pkts[i].Reset()
		n.in.Pkts[i].SetData(f)
	}
	n.out.N = 0
	for done := 0; done < len(frames); {
		k := n.tx.Process(n.snap, n.in.Pkts[done:len(frames)], n.out)
		if k == 0 {
			panic("tx made no progress")
		}
		done += k
	}
	ds := make([]dgram, 0, n.out.N)
	for _, p := range n.out.Pkts[:n.out.N] {
		ds = append(ds, dgram{b: bytes.Clone(p.Data()), to: p.Addr, port: p.Meta.Port})
	}
	return ds
}

// recv runs datagrams that arrived from address from through the node's
// Rx (ProcessRelay) and returns the frames delivered and the datagrams
// relayed.
func (n *meshNode) recv(from netip.AddrPort, ds ...dgram) (frames [][]byte, relayed []dgram) {
	n.load(from, ds)
	n.rout.N, n.fwd.N = 0, 0
	if k := n.rx.ProcessRelay(n.snap, n.rin.Pkts[:len(ds)], n.rout, n.fwd); k != len(ds) {
		panic(fmt.Sprintf("rx took %d of %d datagrams", k, len(ds)))
	}
	for _, p := range n.rout.Pkts[:n.rout.N] {
		frames = append(frames, bytes.Clone(p.Data()))
	}
	for _, p := range n.fwd.Pkts[:n.fwd.N] {
		relayed = append(relayed, dgram{b: bytes.Clone(p.Data()), to: p.Addr, port: p.Meta.Port})
	}
	return frames, relayed
}

func (n *meshNode) load(from netip.AddrPort, ds []dgram) {
	for i, d := range ds {
		p := n.rin.Pkts[i]
		p.Reset()
		p.SetData(d.b)
		p.Addr = from
	}
}

// mesh3 is nodes 1, 2 and 3 with sessions 1<->2 and 1<->3 (and 2<->3 for
// tests that want it). Node 1 reaches node 2 directly and node 3 through
// node 2; node 2 reaches both directly (node 3 on underlay port 1); node 3
// reaches node 1 through node 2.
type mesh3 struct {
	pool                         *buf.Pool
	n1, n2, n3                   *meshNode
	s12, s21, s13, s31, s23, s32 *wire.Session
	r12, r13, r21, r23, r31, r32 *Route
}

func newMesh3(t testing.TB) *mesh3 {
	m := &mesh3{pool: buf.NewPool(buf.DefaultSize, 4096)}
	m.s12, m.s21 = wiretest.PairNodes(t, wire.SuiteAES256GCM, 1, 2)
	m.s13, m.s31 = wiretest.PairNodes(t, wire.SuiteAES256GCM, 1, 3)
	m.s23, m.s32 = wiretest.PairNodes(t, wire.SuiteAES256GCM, 2, 3)
	m.n1, m.n2, m.n3 = newMeshNode(t, m.pool, 1), newMeshNode(t, m.pool, 2), newMeshNode(t, m.pool, 3)

	m.r12 = &Route{Node: 2, Session: m.s12, Endpoint: epM2, Port: 0}
	m.r13 = &Route{Node: 3, Session: m.s13, Endpoint: epM2, Port: 0} // via node 2
	m.n1.setMesh([]*wire.Session{m.s12, m.s13}, []*Route{m.r12, m.r13}, m.r12, m.r13)

	m.r21 = &Route{Node: 1, Session: m.s21, Endpoint: epM1, Port: 0}
	m.r23 = &Route{Node: 3, Session: m.s23, Endpoint: epM3, Port: 1}
	m.n2.setMesh([]*wire.Session{m.s21, m.s23}, []*Route{m.r21, m.r23}, m.r21, m.r23)

	m.r31 = &Route{Node: 1, Session: m.s31, Endpoint: epM2, Port: 0} // via node 2
	m.r32 = &Route{Node: 2, Session: m.s32, Endpoint: epM2, Port: 0}
	m.n3.setMesh([]*wire.Session{m.s31, m.s32}, []*Route{m.r31, m.r32}, m.r31, m.r32)
	return m
}

// byDst finds the datagram for node dst.
func byDst(t testing.TB, ds []dgram, dst uint16) dgram {
	t.Helper()
	for _, d := range ds {
		if d.header(t).Dst == dst {
			return d
		}
	}
	t.Fatalf("no datagram for node %d among %d", dst, len(ds))
	return dgram{}
}

func noDrops(t testing.TB, what string, st *Stats) {
	t.Helper()
	if c := st.Load(); c.Dropped() != 0 {
		t.Fatalf("%s drops: %v", what, c.Drops)
	}
}

// A broadcast from node 1 goes out as one sealed copy per node, both
// toward node 2; node 2 delivers its own and relays node 3's with the TTL
// decremented and nothing else changed; node 3 delivers it.
func TestMeshFloodAndRelay(t *testing.T) {
	m := newMesh3(t)
	f := wiretest.Frame(macBcast, macH1, 200, 1)

	ds := m.n1.send(f)
	if len(ds) != 2 {
		t.Fatalf("broadcast went out as %d datagrams, want 2", len(ds))
	}
	for i, want := range []uint16{2, 3} {
		d := byDst(t, ds, want)
		h := d.header(t)
		if h.Src != 1 || h.Type != wire.TypeData || h.TTL != DefaultTTL {
			t.Fatalf("copy %d: header %+v, want src 1, data, ttl %d", i, h, DefaultTTL)
		}
		if d.to != epM2 || d.port != 0 {
			t.Fatalf("copy for node %d sent to %v port %d, want %v port 0 (next hop node 2)", want, d.to, d.port, epM2)
		}
	}
	if c := m.n1.txs.Load(); c.Flooded != 1 || c.Out != 2 || c.In != 1 {
		t.Fatalf("node 1 tx counters %+v, want flooded 1, out 2, in 1", c)
	}
	noDrops(t, "node 1 tx", &m.n1.txs)

	to3 := byDst(t, ds, 3)
	frames, relayed := m.n2.recv(epM1, ds...)
	if len(frames) != 1 || !bytes.Equal(frames[0], f) {
		t.Fatalf("node 2 delivered %d frames (want 1, byte-identical)", len(frames))
	}
	if len(relayed) != 1 {
		t.Fatalf("node 2 relayed %d datagrams, want 1", len(relayed))
	}
	r := relayed[0]
	if h := r.header(t); h.Dst != 3 || h.Src != 1 || h.TTL != DefaultTTL-1 {
		t.Fatalf("relayed header %+v, want src 1, dst 3, ttl %d", h, DefaultTTL-1)
	}
	if r.to != epM3 || r.port != 1 {
		t.Fatalf("relayed to %v port %d, want %v port 1", r.to, r.port, epM3)
	}
	want := bytes.Clone(to3.b)
	want[3]-- // the TTL byte
	if !bytes.Equal(r.b, want) {
		t.Fatal("the relay changed more than the TTL")
	}
	if c := m.n2.rxs.Load(); c.Relayed != 1 || c.Out != 1 || c.In != 2 {
		t.Fatalf("node 2 rx counters %+v, want relayed 1, out 1, in 2", c)
	}
	noDrops(t, "node 2 rx", &m.n2.rxs)

	frames, relayed = m.n3.recv(epM2, r)
	if len(frames) != 1 || !bytes.Equal(frames[0], f) || len(relayed) != 0 {
		t.Fatalf("node 3 delivered %d frames, relayed %d (want 1 byte-identical, 0)", len(frames), len(relayed))
	}
	if c := m.n3.rxs.Load(); c.Out != 1 || c.Relayed != 0 {
		t.Fatalf("node 3 rx counters %+v", c)
	}
	noDrops(t, "node 3 rx", &m.n3.rxs)
}

// Delivery teaches the FIB where the sender's MAC lives; unicast to a
// learned MAC goes to that node alone, unknown unicast is flooded.
func TestMeshLearning(t *testing.T) {
	m := newMesh3(t)
	m.n2.now, m.n3.now = 5e9, 7e9
	ds := m.n1.send(wiretest.Frame(macBcast, macH1, 100, 2))
	_, relayed := m.n2.recv(epM1, ds...)
	m.n3.recv(epM2, relayed...)
	if node, ok := m.n2.fib.Lookup(macH1[:], m.n2.now); !ok || node != 1 {
		t.Fatalf("node 2 FIB: %v -> %d, %v; want node 1", macH1, node, ok)
	}
	if node, ok := m.n3.fib.Lookup(macH1[:], m.n3.now); !ok || node != 1 {
		t.Fatalf("node 3 FIB: %v -> %d, %v; want node 1", macH1, node, ok)
	}
	// A relay never sees the frame: node 2 learned only from its own copy.
	if st := m.n2.fib.Stats(); st.Learned != 1 {
		t.Fatalf("node 2 learned %d MACs, want 1", st.Learned)
	}

	// Unicast to the learned MAC: one datagram, to node 1, not flooded.
	f := wiretest.Frame(macH1, macH2, 300, 3)
	ds = m.n2.send(f)
	if len(ds) != 1 {
		t.Fatalf("unicast to a learned MAC went out as %d datagrams, want 1", len(ds))
	}
	if h := ds[0].header(t); h.Src != 2 || h.Dst != 1 || ds[0].to != epM1 || ds[0].port != 0 {
		t.Fatalf("unicast: header %+v to %v port %d, want 2->1 at %v port 0", h, ds[0].to, ds[0].port, epM1)
	}
	if c := m.n2.txs.Load(); c.Flooded != 0 {
		t.Fatalf("unicast to a learned MAC counted as flooded (%d)", c.Flooded)
	}
	frames, _ := m.n1.recv(epM2, ds...)
	if len(frames) != 1 || !bytes.Equal(frames[0], f) {
		t.Fatalf("node 1 delivered %d frames, want the unicast frame", len(frames))
	}
	if node, ok := m.n1.fib.Lookup(macH2[:], 0); !ok || node != 2 {
		t.Fatalf("node 1 FIB: %v -> %d, %v; want node 2", macH2, node, ok)
	}

	// Unknown unicast: flooded, one copy per node.
	ds = m.n2.send(wiretest.Frame(macUnknown, macH2, 300, 4))
	if len(ds) != 2 {
		t.Fatalf("unknown unicast went out as %d datagrams, want 2", len(ds))
	}
	if d := byDst(t, ds, 1); d.to != epM1 || d.port != 0 {
		t.Fatalf("copy for node 1 sent to %v port %d, want %v port 0", d.to, d.port, epM1)
	}
	if d := byDst(t, ds, 3); d.to != epM3 || d.port != 1 {
		t.Fatalf("copy for node 3 sent to %v port %d, want %v port 1", d.to, d.port, epM3)
	}
	if c := m.n2.txs.Load(); c.Flooded != 1 {
		t.Fatalf("flooded = %d, want 1", c.Flooded)
	}
	// Multicast (group bit, not broadcast) is flooded too.
	ds = m.n2.send(wiretest.Frame([6]byte{0x01, 0, 0x5e, 0, 0, 1}, macH2, 300, 5))
	if len(ds) != 2 {
		t.Fatalf("multicast went out as %d datagrams, want 2", len(ds))
	}
	noDrops(t, "node 2 tx", &m.n2.txs)
}

// A MAC learned behind a node the snapshot has no route to is dropped
// (no-route), not flooded.
func TestMeshFIBNodeWithoutRoute(t *testing.T) {
	m := newMesh3(t)
	const ghost = 7 // a node with no route
	m.n1.fib.Learn(macUnknown[:], ghost, 0)
	ds := m.n1.send(wiretest.Frame(macUnknown, macH1, 100, 1))
	c := m.n1.txs.Load()
	if len(ds) != 0 || c.Drops[stage.NoRoute] != 1 || c.Flooded != 0 {
		t.Fatalf("frame for a MAC behind node %d (no route): %d datagrams, no-route drops %d, flooded %d; want 0, 1, 0",
			ghost, len(ds), c.Drops[stage.NoRoute], c.Flooded)
	}
}

// The same with nothing to flood to: must be a no-route drop, not a panic.
func TestMeshFIBNodeWithoutRouteEmptyFlood(t *testing.T) {
	m := newMesh3(t)
	m.n1.snap.Mesh.Flood = nil
	m.n1.fib.Learn(macUnknown[:], 7, 0)
	var ds []dgram
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("Tx panicked: %v", r)
			}
		}()
		ds = m.n1.send(wiretest.Frame(macUnknown, macH1, 100, 1))
	}()
	if c := m.n1.txs.Load(); len(ds) != 0 || c.Drops[stage.NoRoute] != 1 {
		t.Fatalf("%d datagrams, no-route drops %d; want 0, 1", len(ds), c.Drops[stage.NoRoute])
	}
	// A broadcast with nothing to flood to is a no-route drop as well.
	ds = m.n1.send(wiretest.Frame(macBcast, macH1, 100, 1))
	if c := m.n1.txs.Load(); len(ds) != 0 || c.Drops[stage.NoRoute] != 2 {
		t.Fatalf("broadcast without flood routes: %d datagrams, no-route drops %d; want 0, 2", len(ds), c.Drops[stage.NoRoute])
	}
}

// Relays count what they cannot forward, and forward nothing then.
func TestMeshRelayErrors(t *testing.T) {
	m := newMesh3(t)
	// bcast returns node 1's copy for node 3 of a fresh broadcast.
	bcast := func(ttl uint8) dgram {
		t.Helper()
		s := *m.n1.snap
		s.TTL = ttl
		m.n1.snap = &s
		return byDst(t, m.n1.send(wiretest.Frame(macBcast, macH1, 120, ttl)), 3)
	}
	check := func(what string, r stage.Reason, want uint64, relayed []dgram) {
		t.Helper()
		if got := m.n2.rxs.Drops[r].Load(); got != want || len(relayed) != 0 {
			t.Fatalf("%s: %v drops = %d (want %d), %d relayed (want 0)", what, r, got, want, len(relayed))
		}
	}

	_, relayed := m.n2.recv(epM1, bcast(1))
	check("ttl 1", stage.TTLExpired, 1, relayed)
	d0 := bcast(0)
	d0.b[3] = 0
	_, relayed = m.n2.recv(epM1, d0)
	check("ttl 0", stage.TTLExpired, 2, relayed)
	// TTL 2 still goes on, as TTL 1.
	_, relayed = m.n2.recv(epM1, bcast(2))
	if len(relayed) != 1 || relayed[0].header(t).TTL != 1 {
		t.Fatalf("ttl 2: %d relayed", len(relayed))
	}

	d := bcast(0) // default TTL from here on

	// No route to node 3.
	snap2 := m.n2.snap
	m.n2.setMesh([]*wire.Session{m.s21}, []*Route{m.r21}, m.r21)
	_, relayed = m.n2.recv(epM1, d)
	check("no route", stage.NoRoute, 1, relayed)
	// A route without an endpoint is no route either.
	m.n2.setMesh([]*wire.Session{m.s21}, []*Route{m.r21, {Node: 3, Endpoint: netip.AddrPortFrom(epM3.Addr(), 0), Port: 1}}, m.r21)
	_, relayed = m.n2.recv(epM1, d)
	check("no endpoint", stage.NoRoute, 2, relayed)
	m.n2.snap = snap2

	// The next hop is where the datagram came from.
	_, relayed = m.n2.recv(epM3, d)
	check("loop", stage.RouteLoop, 1, relayed)

	// Process, not ProcessRelay: a mesh node that does not relay.
	m.n2.load(epM1, []dgram{d})
	m.n2.rout.N = 0
	m.n2.rx.Process(m.n2.snap, m.n2.rin.Pkts[:1], m.n2.rout)
	check("process", stage.WrongNode, 1, nil)
	if m.n2.rout.N != 0 {
		t.Fatal("process delivered a datagram for another node")
	}
	if c := m.n2.rxs.Load(); c.Relayed != 1 || c.Out != 0 {
		t.Fatalf("node 2 counters %+v, want relayed 1 (the ttl-2 one), out 0", c)
	}
}

// The TTL is not authenticated (relays rewrite it); the rest of the header
// is.
func TestMeshRelayedHeaderAuth(t *testing.T) {
	m := newMesh3(t)
	next := func(seed byte) (dgram, []byte) {
		t.Helper()
		f := wiretest.Frame(macBcast, macH1, 150, seed)
		_, relayed := m.n2.recv(epM1, m.n1.send(f)...)
		if len(relayed) != 1 {
			t.Fatalf("node 2 relayed %d datagrams", len(relayed))
		}
		return relayed[0], f
	}
	deliver := func(d dgram) [][]byte {
		frames, relayed := m.n3.recv(epM2, d)
		if len(relayed) != 0 {
			t.Fatalf("node 3 relayed %d datagrams", len(relayed))
		}
		return frames
	}

	d, f := next(1)
	d.b[3] ^= 0x45
	if got := deliver(d); len(got) != 1 || !bytes.Equal(got[0], f) {
		t.Fatalf("a datagram with a rewritten TTL: %d frames, want the frame", len(got))
	}

	d, _ = next(2)
	d.b[9] ^= 0x04 // source node 1 -> 5
	if got := deliver(d); len(got) != 0 {
		t.Fatal("a datagram with a rewritten source node was delivered")
	}
	if c := m.n3.rxs.Load(); c.Drops[stage.NoSession]+c.Drops[stage.Auth] != 1 {
		t.Fatalf("rewritten source: drops %v, want one no-session or auth", c.Drops)
	}

	d, _ = next(3)
	d.b[2] ^= wire.FlagLZ4 // a known flag, so only authentication catches it
	if got := deliver(d); len(got) != 0 {
		t.Fatal("a datagram with rewritten flags was delivered")
	}
	if got := m.n3.rxs.Drops[stage.Auth].Load(); got != 1 {
		t.Fatalf("rewritten flags: auth drops %d, want 1", got)
	}

	// Forgeries moved no replay window: the next genuine one opens.
	d, f = next(4)
	if got := deliver(d); len(got) != 1 || !bytes.Equal(got[0], f) {
		t.Fatalf("genuine datagram after forgeries: %d frames", len(got))
	}
}

// A flooded frame longer than a piece goes as pieces to each node, and each
// reassembles it.
func TestMeshFloodFragments(t *testing.T) {
	m := newMesh3(t)
	for _, n := range []*meshNode{m.n1, m.n2, m.n3} {
		n.snap.PieceSize, n.snap.Fragment = 1000, true
	}
	f := wiretest.Frame(macBcast, macH1, 2500, 9)
	ds := m.n1.send(f)
	per := map[uint16]int{}
	for _, d := range ds {
		h := d.header(t)
		if h.FragTotal != uint16(len(f)) {
			t.Fatalf("datagram for node %d: frag total %d, want %d", h.Dst, h.FragTotal, len(f))
		}
		per[h.Dst]++
		if d.to != epM2 || d.port != 0 {
			t.Fatalf("piece for node %d sent to %v port %d, want %v port 0", h.Dst, d.to, d.port, epM2)
		}
	}
	if len(ds) != 6 || per[2] != 3 || per[3] != 3 {
		t.Fatalf("pieces per node %v (%d datagrams), want 3 each", per, len(ds))
	}
	if c := m.n1.txs.Load(); c.Frags != 6 || c.Flooded != 1 {
		t.Fatalf("node 1 tx counters %+v, want frags 6, flooded 1", c)
	}
	frames, relayed := m.n2.recv(epM1, ds...)
	if len(frames) != 1 || !bytes.Equal(frames[0], f) {
		t.Fatalf("node 2 reassembled %d frames, want 1 byte-identical", len(frames))
	}
	if len(relayed) != 3 {
		t.Fatalf("node 2 relayed %d pieces, want 3", len(relayed))
	}
	frames, _ = m.n3.recv(epM2, relayed...)
	if len(frames) != 1 || !bytes.Equal(frames[0], f) {
		t.Fatalf("node 3 reassembled %d frames, want 1 byte-identical", len(frames))
	}
	for _, st := range []*Stats{&m.n1.txs, &m.n2.rxs, &m.n3.rxs} {
		noDrops(t, "fragments", st)
	}
	if m.n2.rxs.Frags.Load() != 1 || m.n3.rxs.Frags.Load() != 1 {
		t.Fatal("each destination should count one reassembled frame")
	}

	// Pieces go where their copy's route says: node 2 reaches node 1 on
	// underlay port 0 and node 3 on port 1.
	for _, d := range m.n2.send(wiretest.Frame(macBcast, macH2, 2500, 10)) {
		want := map[uint16]dgram{1: {to: epM1, port: 0}, 3: {to: epM3, port: 1}}[d.header(t).Dst]
		if d.to != want.to || d.port != want.port {
			t.Fatalf("piece for node %d sent to %v port %d, want %v port %d", d.header(t).Dst, d.to, d.port, want.to, want.port)
		}
	}
}

// A flood reaches the nodes it has sessions with; the copy for a node
// without one is dropped (no-session), whichever place it has in Flood.
func TestMeshFloodNoSession(t *testing.T) {
	for _, last := range []bool{false, true} {
		t.Run(fmt.Sprintf("nosession-last=%v", last), func(t *testing.T) {
			m := newMesh3(t)
			r3 := *m.r13
			r3.Session = nil
			flood := []*Route{&r3, m.r12}
			if last {
				flood = []*Route{m.r12, &r3}
			}
			m.n1.setMesh([]*wire.Session{m.s12}, []*Route{m.r12, &r3}, flood...)
			f := wiretest.Frame(macBcast, macH1, 400, 6)
			ds := m.n1.send(f)
			if len(ds) != 1 || ds[0].header(t).Dst != 2 {
				t.Fatalf("%d datagrams, want 1 for node 2", len(ds))
			}
			c := m.n1.txs.Load()
			if c.Drops[stage.NoSession] != 1 || c.Dropped() != 1 || c.Flooded != 1 {
				t.Fatalf("tx counters %+v, want one no-session drop, flooded 1", c)
			}
			frames, relayed := m.n2.recv(epM1, ds...)
			if len(frames) != 1 || !bytes.Equal(frames[0], f) || len(relayed) != 0 {
				t.Fatalf("node 2: %d frames, %d relayed", len(frames), len(relayed))
			}
		})
	}
}

// Mesh paths allocate nothing per batch once warm.
func TestMeshAllocs(t *testing.T) {
	m := newMesh3(t)
	const batch = 16
	bcast := make([][]byte, batch)
	uni := make([][]byte, batch)
	for i := range bcast {
		bcast[i] = wiretest.Frame(macBcast, macH1, 60+i*90, byte(i))
		uni[i] = wiretest.Frame(macH2, macH1, 60+i*90, byte(i))
	}
	fill := func(frames [][]byte) {
		for i, f := range frames {
			m.n1.in.Pkts[i].Reset()
			m.n1.in.Pkts[i].SetData(f)
		}
		m.n1.out.N = 0
	}

	t.Run("tx flood", func(t *testing.T) {
		n := testing.AllocsPerRun(100, func() {
			fill(bcast)
			m.n1.tx.Process(m.n1.snap, m.n1.in.Pkts[:batch], m.n1.out)
			if m.n1.out.N != 2*batch {
				t.Fatalf("%d datagrams", m.n1.out.N)
			}
		})
		if n != 0 {
			t.Fatalf("allocs per batch = %v", n)
		}
	})

	t.Run("tx unicast", func(t *testing.T) {
		m.n1.fib.Learn(macH2[:], 2, 0)
		n := testing.AllocsPerRun(100, func() {
			fill(uni)
			m.n1.tx.Process(m.n1.snap, m.n1.in.Pkts[:batch], m.n1.out)
			if m.n1.out.N != batch {
				t.Fatalf("%d datagrams", m.n1.out.N)
			}
		})
		if n != 0 {
			t.Fatalf("allocs per batch = %v", n)
		}
	})

	t.Run("rx relay", func(t *testing.T) {
		fill(bcast)
		m.n1.tx.Process(m.n1.snap, m.n1.in.Pkts[:batch], m.n1.out)
		var to3 [][]byte
		for _, p := range m.n1.out.Pkts[:m.n1.out.N] {
			if m.n2.snap.Node != uint16(p.Data()[10])<<8|uint16(p.Data()[11]) {
				to3 = append(to3, bytes.Clone(p.Data()))
			}
		}
		if len(to3) != batch {
			t.Fatalf("%d datagrams for node 3", len(to3))
		}
		n := testing.AllocsPerRun(100, func() {
			for i, b := range to3 {
				p := m.n2.rin.Pkts[i]
				p.Reset()
				p.SetData(b)
				p.Addr = epM1
			}
			m.n2.rout.N, m.n2.fwd.N = 0, 0
			m.n2.rx.ProcessRelay(m.n2.snap, m.n2.rin.Pkts[:batch], m.n2.rout, m.n2.fwd)
			if m.n2.fwd.N != batch {
				t.Fatalf("%d relayed", m.n2.fwd.N)
			}
		})
		if n != 0 {
			t.Fatalf("allocs per batch = %v", n)
		}
	})

	t.Run("rx deliver and learn", func(t *testing.T) {
		n := testing.AllocsPerRun(100, func() {
			fill(uni)
			m.n1.tx.Process(m.n1.snap, m.n1.in.Pkts[:batch], m.n1.out)
			for _, p := range m.n1.out.Pkts[:m.n1.out.N] {
				p.Addr = epM1
			}
			m.n2.rout.N, m.n2.fwd.N = 0, 0
			m.n2.rx.ProcessRelay(m.n2.snap, m.n1.out.Pkts[:m.n1.out.N], m.n2.rout, m.n2.fwd)
			if m.n2.rout.N != batch {
				t.Fatalf("%d delivered", m.n2.rout.N)
			}
		})
		if n != 0 {
			t.Fatalf("allocs per batch = %v", n)
		}
		if node, ok := m.n2.fib.Lookup(macH1[:], 0); !ok || node != 1 {
			t.Fatal("node 2 did not learn node 1's MAC")
		}
	})
	for _, st := range []*Stats{&m.n1.txs, &m.n2.rxs} {
		noDrops(t, "allocs", st)
	}
}

// An offload super-frame to an unknown MAC is flooded as pieces to each
// node, each reassembling it with its offload header.
func TestMeshFloodSuperFrame(t *testing.T) {
	m := newMesh3(t)
	m.n1.snap.PieceSize = 1428
	sf := superFrame(func(i int) byte { return byte(i*7919>>3) ^ byte(i>>11) })
	want := bytes.Clone(sf.Data())
	wantGSO := sf.Meta.GSO
	spare := m.n1.in.Pkts[0]
	m.n1.in.Pkts[0] = sf
	m.n1.out.N = 0
	m.n1.tx.Process(m.n1.snap, m.n1.in.Pkts[:1], m.n1.out)
	buf.Release(m.n1.in.Pkts[0])
	m.n1.in.Pkts[0] = spare
	noDrops(t, "node 1 tx", &m.n1.txs)
	var ds []dgram
	per := map[uint16]int{}
	for _, p := range m.n1.out.Pkts[:m.n1.out.N] {
		d := dgram{b: bytes.Clone(p.Data()), to: p.Addr, port: p.Meta.Port}
		ds = append(ds, d)
		per[d.header(t).Dst]++
	}
	if per[2] < 2 || per[2] != per[3] || len(per) != 2 {
		t.Fatalf("pieces per node %v", per)
	}

	check := func(n *meshNode, name string) {
		t.Helper()
		if n.rout.N != 1 {
			t.Fatalf("%s: %d frames, drops %v", name, n.rout.N, n.rxs.Load().Drops)
		}
		got := n.rout.Pkts[0]
		if !bytes.Equal(got.Data(), want) || got.Meta.GSO != wantGSO {
			t.Fatalf("%s: super-frame differs (%d bytes, gso %+v)", name, got.Len(), got.Meta.GSO)
		}
	}
	_, relayed := m.n2.recv(epM1, ds...)
	check(m.n2, "node 2")
	if len(relayed) != per[3] {
		t.Fatalf("node 2 relayed %d pieces, want %d", len(relayed), per[3])
	}
	m.n3.recv(epM2, relayed...)
	check(m.n3, "node 3")
}
