// SPDX-License-Identifier: Apache-2.0

package engine

import (
	"bytes"
	"net/netip"
	"runtime"
	"testing"
	"time"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/fib"
	"github.com/skiffnet/skiff/dataplane/pipeline"
	"github.com/skiffnet/skiff/dataplane/port"
	"github.com/skiffnet/skiff/dataplane/port/porttest"
	"github.com/skiffnet/skiff/dataplane/stage"
	"github.com/skiffnet/skiff/dataplane/wire"
	"github.com/skiffnet/skiff/dataplane/wire/wiretest"
)

var (
	chainMAC1  = [6]byte{0x02, 0, 0, 0, 0x01, 0x01}
	chainMAC3  = [6]byte{0x02, 0, 0, 0, 0x03, 0x03}
	chainBcast = [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
)

// chain is three engines in a line: node 1 -- node 2 -- node 3. Node 2 has
// an underlay port to each neighbour (port 0 to node 1, port 1 to node 3)
// and relays between them; nodes 1 and 3 reach each other through it.
type chain struct {
	lan [3]*porttest.Port // the test's ends of the nodes' local ports
	loc [3]*porttest.Port // the engines' local ports
	eng [3]*Engine
	fib [3]*fib.Table
	// underlay ends: u1 (node 1) <-> u2a (node 2 port 0), u2b (node 2
	// port 1) <-> u3 (node 3)
	u1, u2a, u2b, u3 *porttest.Port
}

func newChain(t testing.TB, route23Port int) *chain {
	t.Helper()
	c := &chain{}
	for i := range c.lan {
		c.lan[i], c.loc[i] = porttest.NewPair(64, 256)
		c.fib[i] = fib.New(256, 0)
	}
	c.u1, c.u2a = porttest.NewPair(64, 256)
	c.u2b, c.u3 = porttest.NewPair(64, 256)
	// Distinct underlay addresses (porttest gives every pair the same two).
	c.u1.Addr = netip.MustParseAddrPort("192.0.2.1:4800")
	c.u2a.Addr = netip.MustParseAddrPort("192.0.2.2:4800")
	c.u2b.Addr = netip.MustParseAddrPort("198.51.100.2:4800")
	c.u3.Addr = netip.MustParseAddrPort("198.51.100.3:4800")

	s12, s21 := wiretest.PairNodes(t, wire.SuiteAES256GCM, 1, 2)
	s13, s31 := wiretest.PairNodes(t, wire.SuiteAES256GCM, 1, 3)
	s23, s32 := wiretest.PairNodes(t, wire.SuiteAES256GCM, 2, 3)
	snap := func(node uint16, f *fib.Table, sessions []*wire.Session, routes ...*pipeline.Route) *pipeline.Snapshot {
		s := &pipeline.Snapshot{
			Node:     node,
			Sessions: map[uint32]*wire.Session{},
			Mesh:     &pipeline.Mesh{Routes: map[uint16]*pipeline.Route{}, Flood: routes, FIB: f},
		}
		for _, x := range sessions {
			s.Sessions[x.LocalID] = x
		}
		for _, r := range routes {
			s.Mesh.Routes[r.Node] = r
		}
		return s
	}
	c.eng[0] = New(Config{Local: c.loc[0], Underlays: []port.Port{c.u1}}, snap(1, c.fib[0], []*wire.Session{s12, s13},
		&pipeline.Route{Node: 2, Session: s12, Endpoint: c.u2a.Addr},
		&pipeline.Route{Node: 3, Session: s13, Endpoint: c.u2a.Addr}))
	c.eng[1] = New(Config{Local: c.loc[1], Underlays: []port.Port{c.u2a, c.u2b}}, snap(2, c.fib[1], []*wire.Session{s21, s23},
		&pipeline.Route{Node: 1, Session: s21, Endpoint: c.u1.Addr, Port: 0},
		&pipeline.Route{Node: 3, Session: s23, Endpoint: c.u3.Addr, Port: route23Port}))
	c.eng[2] = New(Config{Local: c.loc[2], Underlays: []port.Port{c.u3}}, snap(3, c.fib[2], []*wire.Session{s31, s32},
		&pipeline.Route{Node: 1, Session: s31, Endpoint: c.u2b.Addr},
		&pipeline.Route{Node: 2, Session: s32, Endpoint: c.u2b.Addr}))
	return c
}

// watchdog closes every port of the chain if the test is still running
// after a while, so a read that would wait forever fails instead.
func (c *chain) watchdog(t testing.TB) {
	tm := time.AfterFunc(20*time.Second, func() {
		for _, p := range append(c.lan[:], c.loc[0], c.loc[1], c.loc[2], c.u1, c.u2a, c.u2b, c.u3) {
			p.Close()
		}
	})
	t.Cleanup(func() { tm.Stop() })
}

// read reads from p, failing the test when the read fails (the watchdog
// closed the port).
func read(t testing.TB, p *porttest.Port, pkts []*buf.Packet) int {
	n, err := p.ReadBatch(pkts)
	if err != nil {
		t.Fatalf("read: %v (nothing came)", err)
	}
	return n
}

// readFrames reads n frames from p, failing the test if they do not come
// within a few seconds.
func readFrames(t *testing.T, p *porttest.Port, n int) [][]byte {
	t.Helper()
	type result struct {
		frames [][]byte
		err    error
	}
	ch := make(chan result, 1)
	go func() {
		pkts := make([]*buf.Packet, 64)
		buf.Default.GetN(pkts)
		defer buf.Default.PutN(pkts)
		var r result
		for len(r.frames) < n {
			k, err := p.ReadBatch(pkts[:n-len(r.frames)])
			if err != nil {
				r.err = err
				break
			}
			for _, q := range pkts[:k] {
				r.frames = append(r.frames, bytes.Clone(q.Data()))
			}
		}
		ch <- r
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("read after %d of %d frames: %v", len(r.frames), n, r.err)
		}
		return r.frames
	case <-time.After(10 * time.Second):
		p.Close() // unblock the reader
		t.Fatalf("%d frames did not arrive", n)
		return nil
	}
}

// A broadcast from node 1 reaches nodes 2 and 3 once each (node 3's copy
// relayed by node 2); node 3's reply to the MAC it learned goes to node 1
// through node 2, and nowhere else.
func TestMeshChain(t *testing.T) {
	before := runtime.NumGoroutine()
	c := newChain(t, 1)
	for _, e := range c.eng {
		e.Start()
	}
	defer func() {
		for i, e := range c.eng {
			c.lan[i].Close()
			e.Close()
		}
		checkGoroutines(t, before)
	}()

	send := func(from int, f []byte) {
		t.Helper()
		p := buf.Default.Get()
		defer buf.Default.Put(p)
		p.SetData(f)
		if _, err := c.lan[from].WriteBatch([]*buf.Packet{p}); err != nil {
			t.Fatal(err)
		}
	}

	bc := wiretest.Frame(chainBcast, chainMAC1, 700, 1)
	send(0, bc)
	for _, i := range []int{1, 2} {
		got := readFrames(t, c.lan[i], 1)
		if !bytes.Equal(got[0], bc) {
			t.Fatalf("node %d got a different broadcast frame", i+1)
		}
	}
	if tx, _ := c.eng[0].Stats(); tx.Flooded != 1 || tx.Out != 2 {
		t.Fatalf("node 1 tx counters %+v, want flooded 1, out 2", tx)
	}

	// Node 3 learned the MAC before it wrote the frame out.
	if n, ok := c.fib[2].Lookup(chainMAC1[:], c.eng[2].cfg.Now()); !ok || n != 1 {
		t.Fatalf("node 3 did not learn %v behind node 1 (%d, %v)", chainMAC1, n, ok)
	}
	reply := wiretest.Frame(chainMAC1, chainMAC3, 900, 2)
	send(2, reply)
	if got := readFrames(t, c.lan[0], 1); !bytes.Equal(got[0], reply) {
		t.Fatal("node 1 got a different reply frame")
	}
	if tx, _ := c.eng[2].Stats(); tx.Flooded != 0 || tx.Out != 1 {
		t.Fatalf("node 3 tx counters %+v, want a single unicast datagram", tx)
	}

	// Every node delivered exactly one frame; node 2 relayed two datagrams
	// (the broadcast's copy for node 3, the reply) and delivered neither.
	// Rx counters are added before the frames are written out.
	for i, e := range c.eng {
		tx, rx := e.Stats()
		if rx.Out != 1 {
			t.Errorf("node %d delivered %d frames, want 1", i+1, rx.Out)
		}
		if tx.Dropped()+rx.Dropped() != 0 {
			t.Errorf("node %d drops: tx %v rx %v", i+1, tx.Drops, rx.Drops)
		}
	}
	if _, rx := c.eng[1].Stats(); rx.Relayed != 2 {
		t.Errorf("node 2 relayed %d datagrams, want 2", rx.Relayed)
	}
	for _, i := range []int{0, 2} {
		if _, rx := c.eng[i].Stats(); rx.Relayed != 0 {
			t.Errorf("node %d relayed %d datagrams, want 0", i+1, rx.Relayed)
		}
	}
}

// A relayed datagram the underlay refuses (here: its route names a port
// the engine does not have) is a port-write drop of the receive side; it
// must not take anything off the count of frames delivered locally, which
// it never was part of.
func TestMeshRelayPortWriteCounts(t *testing.T) {
	c := newChain(t, 5) // node 2's route to node 3: underlay port 5, which does not exist
	pool := buf.Default
	in1 := buf.NewBatch(pool, 64)
	out1 := buf.NewBatch(pool, 64+stage.MaxPieces)
	in2 := buf.NewBatch(pool, 64)
	out2 := buf.NewBatch(pool, 64)
	fwd2 := buf.NewBatch(pool, 64)
	defer func() {
		for _, b := range []*buf.Batch{in1, out1, in2, out2, fwd2} {
			b.Release()
		}
	}()
	tx := pipeline.NewTx(&c.eng[0].tx)
	defer tx.Close()
	rx := pipeline.NewRx(pipeline.RxConfig{Stats: &c.eng[1].rx, Pool: pool, Now: c.eng[1].cfg.Now})
	defer rx.Close()

	c.watchdog(t)
	in1.Pkts[0].SetData(wiretest.Frame(chainBcast, chainMAC1, 200, 3))
	c.eng[0].txBatch(tx, in1.Pkts[:1], out1, 0)
	n := read(t, c.u2a, in2.Pkts)
	if n != 2 {
		t.Fatalf("node 2 read %d datagrams, want 2", n)
	}
	c.eng[1].rxBatch(rx, in2.Pkts[:n], out2, fwd2, 0)
	if k := read(t, c.lan[1], in1.Pkts); k != 1 {
		t.Fatalf("node 2 delivered %d frames, want 1", k)
	}
	_, rc := c.eng[1].Stats()
	if rc.Drops[stage.PortWrite] != 1 {
		t.Fatalf("port-write drops %d, want 1", rc.Drops[stage.PortWrite])
	}
	if rc.Out != 1 {
		t.Fatalf("rx out = %d after one frame delivered and one relay refused, want 1", rc.Out)
	}
}

// The receive loop body allocates nothing per batch while it relays: node
// 1's broadcasts go through its tx worker to node 2, whose rx worker
// delivers one copy to its LAN and relays the other to node 3's underlay.
func TestMeshEngineLoopAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	c := newChain(t, 1)
	c.watchdog(t)
	pool := buf.Default
	const batch = 16
	frames := buf.NewBatch(pool, batch)
	for i, p := range frames.Pkts {
		p.SetData(wiretest.Frame(chainBcast, chainMAC1, 60+i*90, byte(i)))
	}
	in1 := buf.NewBatch(pool, 64)
	out1 := buf.NewBatch(pool, 64+stage.MaxPieces)
	in2 := buf.NewBatch(pool, 64)
	out2 := buf.NewBatch(pool, 64)
	fwd2 := buf.NewBatch(pool, 64)
	got := buf.NewBatch(pool, 64)
	tx := pipeline.NewTx(&c.eng[0].tx)
	tx.SetClock(c.eng[0].cfg.Now)
	defer tx.Close()
	rx := pipeline.NewRx(pipeline.RxConfig{Stats: &c.eng[1].rx, Pool: pool, Now: c.eng[1].cfg.Now})
	defer rx.Close()

	readP := func(p *porttest.Port, pkts []*buf.Packet) int { return read(t, p, pkts) }
	step := func() {
		c.lan[0].WriteBatch(frames.Pkts)
		n := read(t, c.loc[0], in1.Pkts)
		c.eng[0].txBatch(tx, in1.Pkts[:n], out1, 0)
		got2 := 0
		for got2 < 2*batch {
			got2 += readP(c.u2a, in2.Pkts[got2:])
		}
		c.eng[1].rxBatch(rx, in2.Pkts[:got2], out2, fwd2, 0)
		for delivered := 0; delivered < batch; {
			delivered += readP(c.lan[1], got.Pkts)
		}
		for relayed := 0; relayed < batch; {
			relayed += readP(c.u3, got.Pkts)
		}
	}
	step()
	if allocs := testing.AllocsPerRun(100, step); allocs != 0 {
		t.Fatalf("allocs per batch = %v", allocs)
	}
	tc, _ := c.eng[0].Stats()
	_, rc := c.eng[1].Stats()
	if tc.Dropped()+rc.Dropped() != 0 || rc.Relayed != 101*batch+batch || rc.Out != rc.Relayed {
		t.Fatalf("counters: tx %+v rx %+v", tc, rc)
	}
}
