// SPDX-License-Identifier: Apache-2.0

package mesh

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skiffnet/skiff/conf"
	"github.com/skiffnet/skiff/control/msg"
	"github.com/skiffnet/skiff/control/probe"
	"github.com/skiffnet/skiff/control/route"
)

// The simulator: N Mesh instances on a graph of links with true one-way
// delays per direction, a clock offset θ per node and a fake clock advanced
// in steps of simStep. Each step every linked pair (both ends running)
// exchanges one probe per direction, every running node Ticks, and what the
// nodes put in their Outboxes is delivered at once (flooding runs to
// quiescence within the step):
//
//   - Direct sends go to the neighbour over the link (which must exist).
//   - Routed sends (tables) follow the next hops: from the sender, each hop's
//     NextHop toward the destination, as the dataplane relays. A hop without
//     a route or a stopped relay drops the message; a next hop that is not a
//     linked neighbour, or more hops than nodes (a loop), fails the test.
//
// Simplifications: message delivery takes no time, probes arrive at the
// step's now (their wall stamps carry the true delay), there is no loss, and
// a muted node (its control messages dropped) still probes and relays data.
const (
	simStep = 100 * time.Millisecond
	simRI   = time.Second
	simDead = 3 * time.Second
	simHop  = time.Millisecond
	simTol  = 2 * time.Millisecond
)

var simStart = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

type dir struct{ from, to uint16 }

type simNode struct {
	id    uint16
	cfg   Config
	m     *Mesh
	theta time.Duration
	down  bool // stopped: no probes, no Tick, no messages in or out
	mute  bool // its control messages are dropped; it still probes and relays
}

type sim struct {
	t      *testing.T
	rng    *rand.Rand
	now    time.Time
	ids    []uint16
	nodes  map[uint16]*simNode
	delay  map[dir]time.Duration // true one-way delays
	dirs   []dir                 // sorted keys of delay
	jitter time.Duration         // probe delays vary uniformly by ±jitter
	pseq   map[dir]uint32
	sent   map[msg.Kind]int // messages taken from running, unmuted outboxes
	relays int              // relays the routed messages passed
}

// randGraph returns a 2-connected random graph on nodes 1..n (a ring over a
// random order plus random chords), with independent delays per direction
// in whole milliseconds 1..20 (so equal-cost paths occur).
func randGraph(rng *rand.Rand, n int) map[dir]time.Duration {
	d := map[dir]time.Duration{}
	link := func(a, b uint16) {
		d[dir{a, b}] = time.Duration(1+rng.IntN(20)) * time.Millisecond
		d[dir{b, a}] = time.Duration(1+rng.IntN(20)) * time.Millisecond
	}
	perm := rng.Perm(n)
	for i := range n {
		link(uint16(perm[i]+1), uint16(perm[(i+1)%n]+1))
	}
	for a := 1; a <= n; a++ {
		for b := a + 1; b <= n; b++ {
			if _, ok := d[dir{uint16(a), uint16(b)}]; !ok && rng.Float64() < 0.3 {
				link(uint16(a), uint16(b))
			}
		}
	}
	return d
}

// newSim builds the meshes. thetaMax bounds the random clock offsets;
// tweak, if set, adjusts each node's config.
func newSim(t *testing.T, rng *rand.Rand, delay map[dir]time.Duration, mode conf.MeshMode, thetaMax time.Duration, tweak func(*Config)) *sim {
	t.Helper()
	s := &sim{t: t, rng: rng, now: simStart, nodes: map[uint16]*simNode{}, delay: delay,
		pseq: map[dir]uint32{}, sent: map[msg.Kind]int{}}
	for d := range delay {
		s.dirs = append(s.dirs, d)
		if !slices.Contains(s.ids, d.from) {
			s.ids = append(s.ids, d.from)
		}
	}
	slices.Sort(s.ids)
	slices.SortFunc(s.dirs, func(a, b dir) int {
		if a.from != b.from {
			return int(a.from) - int(b.from)
		}
		return int(a.to) - int(b.to)
	})
	for _, id := range s.ids {
		n := &simNode{id: id}
		if thetaMax > 0 {
			n.theta = time.Duration(rng.Int64N(int64(2*thetaMax)+1)) - thetaMax
		}
		n.cfg = Config{Self: id, Mode: mode, HopCost: simHop, ReportInterval: simRI,
			Probe: probe.Config{DeadAfter: simDead, Tolerance: simTol},
			Wall:  func() int64 { return s.now.Add(n.theta).UnixNano() }}
		for _, o := range s.ids {
			if o != id {
				n.cfg.Nodes = append(n.cfg.Nodes, o)
			}
			if s.linked(id, o) {
				n.cfg.Linked = append(n.cfg.Linked, o)
			}
		}
		if tweak != nil {
			tweak(&n.cfg)
		}
		s.nodes[id] = n
		s.start(n)
	}
	return s
}

func (s *sim) linked(a, b uint16) bool {
	_, ok := s.delay[dir{a, b}]
	return ok
}

// start (re)starts a node: a new Mesh, its probe counts from 1.
func (s *sim) start(n *simNode) {
	m, err := New(n.cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	n.m, n.down = m, false
	for d := range s.pseq {
		if d.from == n.id {
			delete(s.pseq, d)
		}
	}
}

func (s *sim) step() {
	s.now = s.now.Add(simStep)
	for _, d := range s.dirs {
		src, dst := s.nodes[d.from], s.nodes[d.to]
		if src.down || dst.down {
			continue
		}
		s.pseq[d]++
		delay := s.delay[d]
		if s.jitter > 0 {
			delay += time.Duration(s.rng.Int64N(int64(2*s.jitter)+1)) - s.jitter
		}
		sent := s.now.Add(src.theta).UnixNano()
		recv := s.now.Add(delay + dst.theta).UnixNano()
		dst.m.Probe(d.from, s.pseq[d], sent, recv, s.now)
	}
	for _, id := range s.ids {
		if n := s.nodes[id]; !n.down {
			n.m.Tick(s.now)
		}
	}
	s.deliver()
}

func (s *sim) run(d time.Duration) {
	for range int(d / simStep) {
		s.step()
	}
}

func (s *sim) deliver() {
	for round := 0; ; round++ {
		if round > 1000 {
			s.t.Fatal("flooding does not end")
		}
		any := false
		for _, id := range s.ids {
			n := s.nodes[id]
			out := n.m.Outbox()
			if n.down || n.mute {
				continue
			}
			for _, snd := range out {
				any = true
				s.send(n, snd)
			}
		}
		if !any {
			return
		}
	}
}

func (s *sim) send(src *simNode, snd Send) {
	t := s.t
	t.Helper()
	kind, err := msg.Peek(snd.Payload)
	if err != nil {
		t.Errorf("node %d sends a bad message: %v", src.id, err)
		return
	}
	s.sent[kind]++
	if snd.Direct {
		if kind != msg.KindLinkState {
			t.Errorf("node %d sends a %v directly", src.id, kind)
		}
		if !s.linked(src.id, snd.To) {
			t.Errorf("node %d sends directly to %d: not linked", src.id, snd.To)
			return
		}
		if dst := s.nodes[snd.To]; !dst.down {
			if err := dst.m.HandleLinkState(src.id, snd.Payload, s.now); err != nil {
				t.Errorf("node %d: link-state from %d: %v", snd.To, src.id, err)
			}
		}
		return
	}
	if kind != msg.KindTable {
		t.Errorf("node %d routes a %v", src.id, kind)
	}
	cur := src
	for range len(s.ids) {
		nh, ok := cur.m.NextHop(snd.To)
		if !ok {
			return
		}
		if !s.linked(cur.id, nh) {
			t.Errorf("node %d: next hop toward %d is %d, not a neighbour", cur.id, snd.To, nh)
			return
		}
		next := s.nodes[nh]
		if next.down {
			return
		}
		if nh == snd.To {
			if err := next.m.HandleTable(src.id, snd.Payload, s.now); err != nil {
				t.Errorf("node %d: table from %d: %v", nh, src.id, err)
			}
			return
		}
		s.relays++
		cur = next
	}
	t.Errorf("table %d->%d: routing loop", src.id, snd.To)
}

// solveTrue solves the true delays, leaving out the links of the nodes in
// skip and the edges for which drop returns true.
func (s *sim) solveTrue(drop func(dir) bool, skip ...uint16) *route.Table {
	s.t.Helper()
	var es []route.Edge
	for _, d := range s.dirs {
		if slices.Contains(skip, d.from) || slices.Contains(skip, d.to) || (drop != nil && drop(d)) {
			continue
		}
		es = append(es, route.Edge{From: d.from, To: d.to, Cost: int64(s.delay[d])})
	}
	tab, err := route.Solve(s.ids, es, int64(simHop))
	if err != nil {
		s.t.Fatal(err)
	}
	return tab
}

// solveReported solves what the running nodes report for their inbound
// links now (LinkDelay): what every node should be solving.
func (s *sim) solveReported() *route.Table {
	s.t.Helper()
	var es []route.Edge
	for _, d := range s.dirs {
		if n := s.nodes[d.to]; !n.down {
			if c, ok := n.m.LinkDelay(d.from, s.now); ok {
				es = append(es, route.Edge{From: d.from, To: d.to, Cost: c})
			}
		}
	}
	tab, err := route.Solve(s.ids, es, int64(simHop))
	if err != nil {
		s.t.Fatal(err)
	}
	return tab
}

// nextHops is every running node's NextHop toward every other node (0:
// none).
func (s *sim) nextHops() map[dir]uint16 {
	out := map[dir]uint16{}
	for _, a := range s.ids {
		if s.nodes[a].down {
			continue
		}
		for _, b := range s.ids {
			if a != b {
				if v, ok := s.nodes[a].m.NextHop(b); ok {
					out[dir{a, b}] = v
				} else {
					out[dir{a, b}] = 0
				}
			}
		}
	}
	return out
}

// checkNext compares the next hops of the nodes in from toward every node
// but skip with tab's.
func (s *sim) checkNext(tab *route.Table, from []uint16, skip ...uint16) {
	s.t.Helper()
	for _, a := range from {
		for _, b := range s.ids {
			if a == b || slices.Contains(skip, b) {
				continue
			}
			got, ok := s.nodes[a].m.NextHop(b)
			want, wok := tab.Next(a, b)
			if got != want || ok != wok {
				s.t.Errorf("node %d toward %d: next hop %d (%v), want %d (%v)", a, b, got, ok, want, wok)
			}
		}
	}
}

// path follows the next hops from a to b; it fails the test on a dead end,
// a hop that is not a link or a loop.
func (s *sim) path(a, b uint16) []uint16 {
	s.t.Helper()
	p := []uint16{a}
	for cur := a; cur != b; {
		nh, ok := s.nodes[cur].m.NextHop(b)
		switch {
		case !ok:
			s.t.Errorf("path %d->%d: no route at %d (%v)", a, b, cur, p)
			return nil
		case !s.linked(cur, nh):
			s.t.Errorf("path %d->%d: %d->%d is not a link (%v)", a, b, cur, nh, p)
			return nil
		case len(p) > len(s.ids):
			s.t.Errorf("path %d->%d: loop %v", a, b, p)
			return nil
		}
		p = append(p, nh)
		cur = nh
	}
	return p
}

// checkPaths checks that the next hops lead from every node to every node
// among ids (loop-free, over links) and returns the paths.
func (s *sim) checkPaths(ids []uint16) map[dir][]uint16 {
	s.t.Helper()
	out := map[dir][]uint16{}
	for _, a := range ids {
		for _, b := range ids {
			if a != b {
				out[dir{a, b}] = s.path(a, b)
			}
		}
	}
	return out
}

func without(ids []uint16, drop ...uint16) []uint16 {
	return slices.DeleteFunc(slices.Clone(ids), func(id uint16) bool { return slices.Contains(drop, id) })
}

func TestP2PMatchesTrueDelays(t *testing.T) {
	for seed := uint64(1); seed <= 6; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			n := 5 + rng.IntN(4)
			g := randGraph(rng, n)

			s := newSim(t, rng, g, conf.MeshP2P, time.Second, nil)
			s.run(3 * time.Second)
			want := s.solveTrue(nil)
			multi := false
			s.checkNext(want, s.ids)
			s.checkPaths(s.ids)
			for _, a := range s.ids {
				st := s.nodes[a].m.Status(s.now)
				if st.Origins != n || st.Counters.SolveErrors != 0 || st.Counters.LinkStatesRefused != 0 || st.Mode != "p2p" {
					t.Errorf("node %d: status %+v", a, st)
				}
				for _, r := range s.nodes[a].m.Routes() {
					multi = multi || r.Hops > 1
					// The measured cost is the true one plus θto - θfrom
					// (control/route's doc), exactly.
					dist, _ := want.Dist(a, r.To)
					cost := dist + int64(s.nodes[r.To].theta-s.nodes[a].theta)
					if !r.Solved || r.Source != "solved" || !r.Reachable || r.Hops != want.Hops(a, r.To) || r.Cost != cost {
						t.Errorf("node %d: route %+v, want hops %d cost %d", a, r, want.Hops(a, r.To), cost)
					}
				}
			}
			if !multi {
				t.Error("no multi-hop route: a trivial graph")
			}
			withOffsets := s.nextHops()

			z := newSim(t, rand.New(rand.NewPCG(seed, 8)), g, conf.MeshP2P, 0, nil)
			z.run(3 * time.Second)
			z.checkNext(want, z.ids)
			if got := z.nextHops(); !maps.Equal(got, withOffsets) {
				t.Errorf("next hops without clock offsets differ:\n%v\nwith:\n%v", got, withOffsets)
			}
		})
	}
}

func TestP2PBootstrapDirect(t *testing.T) {
	// Before any solution, neighbours whose probes arrive are reached
	// directly, others not at all.
	rng := rand.New(rand.NewPCG(3, 3))
	s := newSim(t, rng, randGraph(rng, 6), conf.MeshP2P, time.Second, nil)
	for _, a := range s.ids {
		for _, r := range s.nodes[a].m.Routes() {
			if r.Reachable {
				t.Errorf("node %d before probes: %+v", a, r)
			}
		}
	}
	a := s.nodes[s.ids[0]]
	a.m.Changed() // New's routes
	s.now = s.now.Add(simStep)
	for _, d := range s.dirs {
		s.pseq[d]++
		s.nodes[d.to].m.Probe(d.from, 1, s.now.Add(s.nodes[d.from].theta).UnixNano(), s.now.Add(s.delay[d]+s.nodes[d.to].theta).UnixNano(), s.now)
	}
	a.m.Tick(s.now)
	if !a.m.Changed() || a.m.Changed() {
		t.Error("Changed not reported exactly once")
	}
	for _, r := range a.m.Routes() {
		linked := s.linked(a.id, r.To)
		if linked != r.Reachable || (linked && (r.Via != r.To || r.Source != "direct" || r.Hops != 1 || r.Solved)) {
			t.Errorf("node %d after one probe round: %+v (linked %v)", a.id, r, linked)
		}
	}
}

func TestSuperFailover(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 5))
	g := randGraph(rng, 7)
	ctl := []uint16{1, 2}
	s := newSim(t, rng, g, conf.MeshSuper, time.Second, func(c *Config) { c.Controllers = ctl })
	edges := without(s.ids, ctl...)
	s.run(10 * time.Second)

	want := s.solveTrue(nil)
	s.checkNext(want, s.ids)
	s.checkPaths(s.ids)
	for _, a := range s.ids {
		st := s.nodes[a].m.Status(s.now)
		for _, r := range st.Routes {
			src := "controller 1"
			if slices.Contains(ctl, a) {
				src = "solved"
			}
			dist, _ := want.Dist(a, r.To)
			cost := dist + int64(s.nodes[r.To].theta-s.nodes[a].theta)
			if r.Source != src || !r.Solved || !r.Reachable || r.Hops != want.Hops(a, r.To) || r.Cost != cost {
				t.Errorf("node %d: route %+v, want source %q, hops %d, cost %d", a, r, src, want.Hops(a, r.To), cost)
			}
		}
		if slices.Contains(ctl, a) != (st.Epoch != 0) {
			t.Errorf("node %d: epoch %d", a, st.Epoch)
		}
		if slices.Contains(ctl, a) && st.Counters.TablesSent == 0 {
			t.Errorf("controller %d sent no tables", a)
		}
	}
	if s.relays == 0 {
		t.Error("no table was relayed")
	}
	if t.Failed() {
		t.FailNow()
	}

	// Controller 1 falls silent: after its table goes stale (3 report
	// intervals) the edges take controller 2's, still the same routes.
	s.nodes[1].mute = true
	s.run(4 * time.Second)
	s.checkNext(want, edges)
	for _, a := range edges {
		for _, r := range s.nodes[a].m.Routes() {
			if r.Source != "controller 2" {
				t.Errorf("node %d 4s after controller 1 fell silent: %+v", a, r)
			}
		}
	}
	// Later node 1's link state expires at controller 2: no path goes
	// through node 1 any more, and only its neighbours reach it (directly).
	s.run(6 * time.Second)
	noInto1 := s.solveTrue(func(d dir) bool { return d.to == 1 })
	s.checkNext(noInto1, edges, 1)
	s.checkPaths(without(s.ids, 1))
	for _, a := range edges {
		for _, r := range s.nodes[a].m.Routes() {
			switch {
			case r.To != 1 && r.Source != "controller 2":
				t.Errorf("node %d: %+v, want from controller 2", a, r)
			case r.To == 1 && s.linked(a, 1) && (r.Source != "direct" || r.Via != 1):
				t.Errorf("node %d: %+v, want direct", a, r)
			case r.To == 1 && !s.linked(a, 1) && r.Reachable:
				t.Errorf("node %d: %+v, want unreachable", a, r)
			}
		}
	}

	// Both controllers silent: the edges keep the last table.
	s.nodes[2].mute = true
	s.step()
	last := map[uint16][]Route{}
	for _, a := range edges {
		last[a] = s.nodes[a].m.Routes()
	}
	s.run(15 * time.Second)
	for _, a := range edges {
		if got := s.nodes[a].m.Routes(); !slices.Equal(got, last[a]) {
			t.Errorf("node %d without controllers:\n%+v\nwant the last table's\n%+v", a, got, last[a])
		}
		for _, r := range last[a] {
			if r.To != 1 && (!r.Reachable || r.Source != "controller 2") {
				t.Errorf("node %d without controllers: %+v", a, r)
			}
		}
	}
	s.checkPaths(without(s.ids, 1))
}

func TestStatic(t *testing.T) {
	ms := time.Millisecond
	g := map[dir]time.Duration{}
	for _, l := range [][2]uint16{{1, 2}, {2, 3}, {3, 4}, {4, 1}, {4, 5}} {
		g[dir{l[0], l[1]}], g[dir{l[1], l[0]}] = 5*ms, 7*ms
	}
	static := map[uint16]map[uint16]uint16{
		1: {3: 2, 5: 4},       // 2 and 4 linked, not listed: direct
		3: {1: 2, 2: 4, 5: 4}, // 2 linked but listed: via 4
		5: {1: 4, 2: 4, 3: 4}, // 4 linked: direct
		2: {},                 // 1 and 3 direct, 4 and 5 unreachable
		4: {2: 1},             //
	}
	var s *sim
	check := func(when string) {
		for _, a := range s.ids {
			m := s.nodes[a].m
			for _, r := range m.Routes() {
				via, ok := static[a][r.To]
				want := Route{To: r.To, Hops: -1}
				switch {
				case ok:
					want = Route{To: r.To, Via: via, Hops: -1, Source: "static", Reachable: true}
				case s.linked(a, r.To):
					want = Route{To: r.To, Via: r.To, Hops: 1, Source: "direct", Reachable: true}
				}
				if r != want {
					t.Errorf("%s: node %d: %+v, want %+v", when, a, r, want)
				}
				if nh, ok := m.NextHop(r.To); nh != want.Via || ok != want.Reachable {
					t.Errorf("%s: node %d: NextHop(%d) = %d, %v", when, a, r.To, nh, ok)
				}
			}
		}
	}
	s = newSim(t, rand.New(rand.NewPCG(1, 1)), g, conf.MeshStatic, time.Second, func(c *Config) { c.Static = static[c.Self] })
	check("before probes")
	s.run(10 * time.Second)
	check("after 10s")
	if len(s.sent) != 0 {
		t.Errorf("static mode sent messages: %v", s.sent)
	}
	m := s.nodes[1].m
	st := m.Status(s.now)
	if st.Mode != "static" || st.Seq == 0 || st.Origins != 0 || st.Counters != (Counters{}) || len(st.Links) != 2 || !st.Links[0].Up {
		t.Errorf("status %+v", st)
	}
	ls := msg.LinkState{Origin: 3, Seq: 1}
	if err := m.HandleLinkState(2, ls.Append(nil), s.now); err == nil || !strings.Contains(err.Error(), "static") {
		t.Errorf("link-state in static mode: %v", err)
	}
	tab := msg.Table{Controller: 2, Node: 1, Epoch: 1}
	if err := m.HandleTable(2, tab.Append(nil), s.now); err == nil || !strings.Contains(err.Error(), "static") {
		t.Errorf("table in static mode: %v", err)
	}
	if c := m.Status(s.now).Counters; c.LinkStatesRefused != 1 || c.TablesRefused != 1 || len(m.Outbox()) != 0 {
		t.Errorf("counters %+v", c)
	}
	check("after refused messages")
}

// hystGraph: 1->3 goes via 2 (22 ms with hop costs) rather than via 4
// (32 ms), 3->1 via 2 (23 ms) rather than via 4 (37 ms); with 80 ms more on
// link 1-2 both go via 4.
func hystGraph() map[dir]time.Duration {
	ms := time.Millisecond
	g := map[dir]time.Duration{}
	for _, l := range []struct {
		a, b   uint16
		ab, ba time.Duration
	}{{1, 2, 10, 12}, {2, 3, 10, 9}, {1, 4, 17, 20}, {4, 3, 13, 15}, {3, 5, 5, 6}, {2, 4, 40, 38}} {
		g[dir{l.a, l.b}], g[dir{l.b, l.a}] = l.ab*ms, l.ba*ms
	}
	return g
}

func TestHysteresis(t *testing.T) {
	s := newSim(t, rand.New(rand.NewPCG(5, 5)), hystGraph(), conf.MeshP2P, time.Second, nil)
	s.jitter = simTol / 2 // every probe's delay: true ± Tolerance/2
	s.run(5 * time.Second)
	s.checkNext(s.solveReported(), s.ids)
	s.checkPaths(s.ids)
	base := s.nextHops()
	if base[dir{1, 3}] != 2 || base[dir{3, 1}] != 2 {
		t.Fatalf("1->3 via %d, 3->1 via %d: want 2", base[dir{1, 3}], base[dir{3, 1}])
	}
	counters := map[uint16]Counters{}
	for _, a := range s.ids {
		counters[a] = s.nodes[a].m.Status(s.now).Counters
		s.nodes[a].m.Changed()
	}

	// Jitter within the tolerance: no reported value, so no solve and no
	// route, ever changes.
	for range 600 {
		s.step()
		for _, a := range s.ids {
			if s.nodes[a].m.Changed() {
				t.Fatalf("%v: node %d: routes changed under jitter", s.now.Sub(simStart), a)
			}
		}
	}
	for _, a := range s.ids {
		c := s.nodes[a].m.Status(s.now).Counters
		if c.RouteChanges != counters[a].RouteChanges || c.Solves != counters[a].Solves {
			t.Errorf("node %d under jitter: %d route changes, %d solves; were %d, %d", a, c.RouteChanges, c.Solves, counters[a].RouteChanges, counters[a].Solves)
		}
	}

	// A step of 80 ms on link 1-2 moves the routes, and back.
	move := func(delta time.Duration, via uint16) {
		t.Helper()
		s.delay[dir{1, 2}] += delta
		s.delay[dir{2, 1}] += delta
		start := s.now
		for s.nodes[1].m.routes[3].Via != via || s.nodes[3].m.routes[1].Via != via {
			if s.now.Sub(start) > 3*simRI {
				t.Fatalf("%+v: routes 1->3, 3->1 not via %d %v after the step", delta, via, s.now.Sub(start))
			}
			s.step()
		}
		t.Logf("%+v: 1->3 and 3->1 via %d after %v", delta, via, s.now.Sub(start))
		s.run(simRI)
		s.checkNext(s.solveReported(), s.ids)
		s.checkPaths(s.ids)
	}
	move(80*time.Millisecond, 4)
	move(-80*time.Millisecond, 2)
	if got := s.nextHops(); !maps.Equal(got, base) {
		t.Errorf("next hops after the step went away:\n%v\nwant\n%v", got, base)
	}
}

func TestNodeStopsAndRestarts(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 2))
	n := 6
	s := newSim(t, rng, randGraph(rng, n), conf.MeshP2P, time.Second, nil)
	s.run(10 * time.Second)
	s.checkNext(s.solveTrue(nil), s.ids)
	const x = 3
	rest := without(s.ids, x)
	oldSeq := s.nodes[x].m.seq
	if o := s.nodes[1].m.db[x]; o == nil || o.seq != oldSeq {
		t.Fatalf("node 1 holds %+v of node %d, seq %d", o, x, oldSeq)
	}

	s.nodes[x].down = true
	expire := s.nodes[1].m.expireAfter()
	if expire != 3*simRI+simDead {
		t.Fatalf("expireAfter %v", expire)
	}
	// After the dead time the neighbours report the links from x down and
	// nobody routes through x; routes to x still use its last link state.
	s.run(simDead + 5*simStep)
	for _, a := range rest {
		if s.linked(x, a) {
			if _, ok := s.nodes[a].m.LinkDelay(x, s.now); ok {
				t.Errorf("node %d: link from %d still up", a, x)
			}
			for _, l := range s.nodes[a].m.Status(s.now).Links {
				if l.From == x && l.Up {
					t.Errorf("node %d: status link %+v", a, l)
				}
			}
		}
	}
	for d, p := range s.checkPaths(rest) {
		if slices.Contains(p, x) {
			t.Errorf("path %d->%d %v through stopped node %d", d.from, d.to, p, x)
		}
	}
	// After expireAfter x's link state is gone: x is unreachable, the
	// others route as if it did not exist.
	s.run(expire)
	s.checkNext(s.solveTrue(nil, x), rest)
	s.checkPaths(rest)
	for _, a := range rest {
		st := s.nodes[a].m.Status(s.now)
		if st.Origins != n-1 || st.Counters.Expired != 1 {
			t.Errorf("node %d: %d origins, %d expired", a, st.Origins, st.Counters.Expired)
		}
		if via, ok := s.nodes[a].m.NextHop(x); ok {
			t.Errorf("node %d: stopped node %d reachable via %d", a, x, via)
		}
	}

	// x restarts: a new Mesh, whose sequence (from the wall clock) is above
	// the old one, so its link state is accepted everywhere.
	s.start(s.nodes[x])
	if s.nodes[x].m.seq <= oldSeq {
		t.Fatalf("restarted seq %d <= %d", s.nodes[x].m.seq, oldSeq)
	}
	newSeq := s.nodes[x].m.seq
	s.run(3 * time.Second)
	for _, a := range rest {
		if o := s.nodes[a].m.db[x]; o == nil || o.seq <= newSeq {
			t.Errorf("node %d holds %+v of restarted node %d (seq from %d)", a, o, x, newSeq)
		}
	}
	s.checkNext(s.solveTrue(nil), s.ids)
	s.checkPaths(s.ids)
}

// unit returns a mesh 1 of nodes 2, 3, 4, all linked, with a wall clock at
// 1000 ns (so its first link state has Seq 1001).
func unit(t *testing.T, mode conf.MeshMode, tweak func(*Config)) *Mesh {
	t.Helper()
	c := Config{Self: 1, Mode: mode, Nodes: []uint16{2, 3, 4}, Linked: []uint16{2, 3, 4},
		HopCost: simHop, ReportInterval: simRI, Probe: probe.Config{DeadAfter: simDead},
		Wall: func() int64 { return 1000 }}
	if tweak != nil {
		tweak(&c)
	}
	m, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func lsBytes(origin uint16, seq uint64, links ...msg.Link) []byte {
	ls := msg.LinkState{Origin: origin, Seq: seq, Links: links}
	return ls.Append(nil)
}

func sendsTo(out []Send) []uint16 {
	var to []uint16
	for _, s := range out {
		if !s.Direct {
			return nil
		}
		to = append(to, s.To)
	}
	return to
}

func TestLinkStateFlooding(t *testing.T) {
	m := unit(t, conf.MeshP2P, nil)
	now := simStart
	up := msg.Link{From: 3, Delay: int64(5 * time.Millisecond), Up: true}

	// A new link state goes to every linked neighbour but the sender and
	// the origin, unchanged.
	b := lsBytes(4, 10, up)
	if err := m.HandleLinkState(2, b, now); err != nil {
		t.Fatal(err)
	}
	out := m.Outbox()
	if got := sendsTo(out); !slices.Equal(got, []uint16{3}) || !slices.Equal(out[0].Payload, b) {
		t.Errorf("flooded to %v: %+v", got, out)
	}
	if err := m.HandleLinkState(3, lsBytes(3, 7), now); err != nil {
		t.Fatal(err)
	}
	if got := sendsTo(m.Outbox()); !slices.Equal(got, []uint16{2, 4}) {
		t.Errorf("origin 3 from 3 flooded to %v", got)
	}

	// Duplicates and older ones are stale and not flooded.
	for _, seq := range []uint64{10, 9, 1} {
		if err := m.HandleLinkState(3, lsBytes(4, seq, up), now); err != nil {
			t.Fatal(err)
		}
		if out := m.Outbox(); len(out) != 0 {
			t.Errorf("seq %d flooded: %+v", seq, out)
		}
	}
	c := m.Status(now).Counters
	if c.LinkStatesReceived != 5 || c.LinkStatesStale != 3 || c.LinkStatesRefused != 0 || c.LinkStatesFlooded != 3 || c.LinkStatesSent != 0 {
		t.Errorf("counters %+v", c)
	}
	if o := m.db[4]; o.seq != 10 || !slices.Equal(o.links, []msg.Link{up}) {
		t.Errorf("held %+v", o)
	}

	// A newer one replaces it.
	if err := m.HandleLinkState(3, lsBytes(4, 11), now); err != nil {
		t.Fatal(err)
	}
	if got := sendsTo(m.Outbox()); !slices.Equal(got, []uint16{2}) {
		t.Errorf("seq 11 from 3 flooded to %v", got)
	}
	if o := m.db[4]; o.seq != 11 || len(o.links) != 0 {
		t.Errorf("held %+v", o)
	}
}

func TestOwnLinkStateBumpsSeq(t *testing.T) {
	m := unit(t, conf.MeshP2P, nil)
	now := simStart
	m.Tick(now)
	out := m.Outbox()
	if got := sendsTo(out); !slices.Equal(got, []uint16{2, 3, 4}) {
		t.Fatalf("first report to %v", got)
	}
	var ls msg.LinkState
	if err := ls.Decode(out[0].Payload); err != nil || ls.Origin != 1 || ls.Seq != 1001 || len(ls.Links) != 3 || ls.Links[0].Up {
		t.Fatalf("first report %+v, %v", ls, err)
	}
	if c := m.Status(now).Counters; c.LinkStatesSent != 3 {
		t.Errorf("counters %+v", c)
	}

	// Our own, from a previous run with a higher Seq: not flooded, and the
	// next report goes above it. A lower one changes nothing.
	if err := m.HandleLinkState(2, lsBytes(1, 5000), now); err != nil {
		t.Fatal(err)
	}
	if err := m.HandleLinkState(2, lsBytes(1, 500), now); err != nil {
		t.Fatal(err)
	}
	if out := m.Outbox(); len(out) != 0 {
		t.Errorf("own link state flooded: %+v", out)
	}
	if c := m.Status(now).Counters; c.LinkStatesStale != 2 {
		t.Errorf("counters %+v", c)
	}
	m.Tick(now.Add(simRI / 2))
	if out := m.Outbox(); len(out) != 0 {
		t.Errorf("unchanged links reported before the interval: %+v", out)
	}
	m.Tick(now.Add(simRI))
	out = m.Outbox()
	if len(out) != 3 || ls.Decode(out[0].Payload) != nil || ls.Seq <= 5000 {
		t.Errorf("report after own seq 5000: seq %d, %d sends", ls.Seq, len(out))
	}
	if st := m.Status(now); st.Seq != ls.Seq {
		t.Errorf("status seq %d, sent %d", st.Seq, ls.Seq)
	}
}

func TestLinkStateRefused(t *testing.T) {
	m := unit(t, conf.MeshP2P, nil)
	now := simStart
	good := lsBytes(4, 10, msg.Link{From: 3, Delay: 1, Up: true})
	tab := msg.Table{Controller: 2, Node: 1, Epoch: 1}
	mod := func(f func(b []byte) []byte) []byte { return f(slices.Clone(good)) }
	for _, c := range []struct {
		name string
		b    []byte
		is   error
		text string
	}{
		{"unknown origin", lsBytes(9, 10), nil, "unknown origin 9"},
		{"empty", nil, msg.ErrShort, ""},
		{"truncated", good[:len(good)-1], msg.ErrShort, ""},
		{"header only", good[:msg.LinkStateHeaderLen-1], msg.ErrShort, ""},
		{"version", mod(func(b []byte) []byte { b[0] = 2; return b }), msg.ErrVersion, ""},
		{"kind", tab.Append(nil), msg.ErrKind, ""},
		{"unknown kind", mod(func(b []byte) []byte { b[1] = 9; return b }), msg.ErrKind, ""},
		{"origin 0", lsBytes(0, 10), msg.ErrField, ""},
		{"from 0", lsBytes(4, 10, msg.Link{From: 0, Up: true}), msg.ErrField, ""},
		{"reserved", mod(func(b []byte) []byte { b[msg.LinkStateHeaderLen+3] = 1; return b }), msg.ErrField, ""},
	} {
		before := m.Status(now).Counters.LinkStatesRefused
		err := m.HandleLinkState(2, c.b, now)
		switch {
		case err == nil:
			t.Errorf("%s: accepted", c.name)
		case c.is != nil && !errors.Is(err, c.is):
			t.Errorf("%s: %v, want %v", c.name, err, c.is)
		case c.text != "" && !strings.Contains(err.Error(), c.text):
			t.Errorf("%s: %v, want %q", c.name, err, c.text)
		}
		if got := m.Status(now).Counters.LinkStatesRefused; got != before+1 {
			t.Errorf("%s: refused %d, was %d", c.name, got, before)
		}
		if out := m.Outbox(); len(out) != 0 {
			t.Errorf("%s: flooded %+v", c.name, out)
		}
	}
	if len(m.db) != 0 {
		t.Errorf("db %+v", m.db)
	}
	// The good one still goes in.
	if err := m.HandleLinkState(2, good, now); err != nil {
		t.Fatal(err)
	}
}

// superUnit is node 1 of a super mesh with controllers 2 and 3 (linked),
// and node 4 (not linked).
func superUnit(t *testing.T, ctl ...uint16) *Mesh {
	t.Helper()
	if ctl == nil {
		ctl = []uint16{2, 3}
	}
	return unit(t, conf.MeshSuper, func(c *Config) { c.Controllers = ctl; c.Linked = []uint16{2, 3} })
}

func tableBytes(ctl, node uint16, epoch uint64, rs ...msg.Route) []byte {
	t := msg.Table{Controller: ctl, Node: node, Epoch: epoch, Entries: rs}
	return t.Append(nil)
}

func TestTable(t *testing.T) {
	m := superUnit(t)
	m.Changed() // New's routes
	now := simStart
	rows := []msg.Route{{To: 2, Via: 3, Hops: 2, Cost: 9}, {To: 3, Via: 3, Hops: 1, Cost: 4}, {To: 4, Via: 3, Hops: 2, Cost: -7}}
	if err := m.HandleTable(2, tableBytes(2, 1, 10, rows...), now); err != nil {
		t.Fatal(err)
	}
	want := []Route{
		{To: 2, Via: 3, Hops: 2, Cost: 9, Solved: true, Source: "controller 2", Reachable: true},
		{To: 3, Via: 3, Hops: 1, Cost: 4, Solved: true, Source: "controller 2", Reachable: true},
		{To: 4, Via: 3, Hops: 2, Cost: -7, Solved: true, Source: "controller 2", Reachable: true},
	}
	if got := m.Routes(); !slices.Equal(got, want) {
		t.Fatalf("routes %+v", got)
	}
	if !m.Changed() || m.Changed() {
		t.Error("Changed not reported exactly once")
	}

	for _, c := range []struct {
		name string
		from uint16
		b    []byte
		text string
	}{
		{"other node", 2, tableBytes(2, 4, 11), "is for node 4"},
		{"non-controller", 4, tableBytes(4, 1, 11), "not a controller"},
		{"controller field", 2, tableBytes(3, 1, 11), "not a controller"},
		{"older epoch", 2, tableBytes(2, 1, 9), "epoch 9 older than 10"},
		{"malformed", 2, tableBytes(2, 1, 11)[:msg.TableHeaderLen-1], "table"},
		{"link-state", 2, lsBytes(2, 11), "kind"},
		{"via 0xFFFF", 2, tableBytes(2, 1, 11, msg.Route{To: 4, Via: 0xFFFF}), "via"},
	} {
		before := m.Status(now).Counters.TablesRefused
		err := m.HandleTable(c.from, c.b, now.Add(time.Second))
		if err == nil || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: %v, want %q", c.name, err, c.text)
		}
		if got := m.Status(now).Counters.TablesRefused; got != before+1 {
			t.Errorf("%s: refused %d, was %d", c.name, got, before)
		}
	}
	if got := m.Routes(); !slices.Equal(got, want) || m.Changed() || m.tables[2].at != now {
		t.Errorf("refused tables changed the routes: %+v", got)
	}

	// The same epoch refreshes; a row without a via falls back to direct
	// (3 linked) or unreachable (4 not).
	if err := m.HandleTable(2, tableBytes(2, 1, 10, msg.Route{To: 2, Via: 2, Hops: 1, Cost: 3}, msg.Route{To: 3}, msg.Route{To: 4}), now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	m.Probe(3, 1, 0, 5, now)
	m.Tick(now.Add(time.Second))
	want = []Route{
		{To: 2, Via: 2, Hops: 1, Cost: 3, Solved: true, Source: "controller 2", Reachable: true},
		{To: 3, Via: 3, Hops: 1, Source: "direct", Reachable: true},
		{To: 4, Hops: -1},
	}
	if got := m.Routes(); !slices.Equal(got, want) {
		t.Errorf("routes %+v", got)
	}
	if c := m.Status(now).Counters; c.TablesReceived != 2 || c.TablesRefused != 7 {
		t.Errorf("counters %+v", c)
	}
	// A non-controller in super mode neither solves nor pushes.
	if c := m.Status(now).Counters; c.Solves != 0 || c.TablesSent != 0 {
		t.Errorf("counters %+v", c)
	}
	for _, s := range m.Outbox() {
		if k, _ := msg.Peek(s.Payload); k != msg.KindLinkState || !s.Direct {
			t.Errorf("non-controller sends %v", k)
		}
	}
}

func TestTableInP2P(t *testing.T) {
	m := unit(t, conf.MeshP2P, nil)
	err := m.HandleTable(2, tableBytes(2, 1, 1, msg.Route{To: 3, Via: 2}), simStart)
	if err == nil || !strings.Contains(err.Error(), "p2p") {
		t.Errorf("table in p2p mode: %v", err)
	}
	if c := m.Status(simStart).Counters; c.TablesRefused != 1 || c.TablesReceived != 0 {
		t.Errorf("counters %+v", c)
	}
	if _, ok := m.NextHop(3); ok {
		t.Error("p2p route from a table")
	}
}

func TestTableStaleController(t *testing.T) {
	m := superUnit(t)
	now := simStart
	if err := m.HandleTable(3, tableBytes(3, 1, 5, msg.Route{To: 4, Via: 3, Hops: 1}), now); err != nil {
		t.Fatal(err)
	}
	if err := m.HandleTable(2, tableBytes(2, 1, 5, msg.Route{To: 4, Via: 2, Hops: 1}), now.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	src := func(at time.Duration) string {
		m.Tick(now.Add(at))
		return m.routes[4].Source
	}
	if s := src(2 * time.Second); s != "controller 2" {
		t.Errorf("both fresh: %s", s)
	}
	// Controller 3 keeps pushing, 2 falls silent: 3 takes over once 2's row
	// is more than 3 report intervals old.
	for at := 2 * time.Second; at <= 4*time.Second; at += time.Second {
		if err := m.HandleTable(3, tableBytes(3, 1, 5, msg.Route{To: 4, Via: 3, Hops: 1}), now.Add(at)); err != nil {
			t.Fatal(err)
		}
	}
	if s := src(4 * time.Second); s != "controller 2" {
		t.Errorf("2's row 3s old: %s", s)
	}
	if s := src(4*time.Second + time.Millisecond); s != "controller 3" {
		t.Errorf("2's row stale: %s", s)
	}
	// Neither answers: the newest row stays.
	if s := src(time.Hour); s != "controller 3" || m.routes[4].Via != 3 || !m.routes[4].Reachable {
		t.Errorf("no controller: %+v", m.routes[4])
	}
}

// The doc (package comment, table) says a node takes the row of the
// lowest-id controller heard from recently; the config's controller list
// (mesh.controllers) is in file order, not sorted.
func TestTablePrefersLowestIDController(t *testing.T) {
	m := superUnit(t, 3, 2)
	now := simStart
	for _, c := range []uint16{2, 3} {
		if err := m.HandleTable(c, tableBytes(c, 1, 5, msg.Route{To: 4, Via: c, Hops: 1}), now); err != nil {
			t.Fatal(err)
		}
	}
	m.Tick(now)
	if r := m.routes[4]; r.Source != "controller 2" || r.Via != 2 {
		t.Errorf("controllers [3 2], both fresh: %+v, want the row of controller 2", r)
	}
}

func TestControllerPush(t *testing.T) {
	// Node 1 is the controller of 1-2-3 (a line) and 4 (unlinked, silent).
	ms := int64(time.Millisecond)
	m := unit(t, conf.MeshSuper, func(c *Config) { c.Controllers = []uint16{1}; c.Linked = []uint16{2} })
	now := simStart
	m.Probe(2, 1, 0, 2*ms, now)
	if err := m.HandleLinkState(2, lsBytes(2, 1, msg.Link{From: 1, Delay: 3 * ms, Up: true}, msg.Link{From: 3, Delay: 4 * ms, Up: true}), now); err != nil {
		t.Fatal(err)
	}
	if err := m.HandleLinkState(2, lsBytes(3, 1, msg.Link{From: 2, Delay: 5 * ms, Up: true}), now); err != nil {
		t.Fatal(err)
	}
	// A controller pushes once it has run two report intervals (a restarted
	// one must first hear every node's link state).
	m.Tick(now.Add(-2 * simRI))
	if n := m.Status(now).Counters.TablesSent; n != 0 {
		t.Errorf("%d tables pushed at start", n)
	}
	m.Outbox()
	m.Tick(now)
	st := m.Status(now)
	if st.Counters.Solves != 1 || st.Counters.TablesSent != 3 || st.Epoch != 1001 {
		t.Errorf("status %+v", st)
	}
	tables := map[uint16]msg.Table{}
	for _, s := range m.Outbox() {
		if k, _ := msg.Peek(s.Payload); k != msg.KindTable {
			continue
		}
		var tab msg.Table
		if s.Direct || tab.Decode(s.Payload) != nil || tab.Node != s.To || tab.Controller != 1 || tab.Epoch != 1001 {
			t.Errorf("push %+v: %+v", s, tab)
		}
		tables[s.To] = tab
	}
	hop := int64(simHop)
	want := map[uint16][]msg.Route{
		2: {{To: 1, Via: 1, Hops: 1, Cost: 2*ms + hop}, {To: 3, Via: 3, Hops: 1, Cost: 5*ms + hop}, {To: 4}},
		3: {{To: 1, Via: 2, Hops: 2, Cost: 6*ms + 2*hop}, {To: 2, Via: 2, Hops: 1, Cost: 4*ms + hop}, {To: 4}},
		4: {{To: 1}, {To: 2}, {To: 3}},
	}
	for n, w := range want {
		if !slices.Equal(tables[n].Entries, w) {
			t.Errorf("table for %d: %+v, want %+v", n, tables[n].Entries, w)
		}
	}
	if r := m.routes[3]; r.Via != 2 || r.Source != "solved" || r.Cost != 8*ms+2*hop || r.Hops != 2 {
		t.Errorf("own route to 3: %+v", r)
	}

	// Nothing changes: the next push waits for the report interval, with
	// the same epoch.
	m.Tick(now.Add(simRI / 2))
	if n := len(m.Outbox()); n != 0 {
		t.Errorf("%d sends before the interval", n)
	}
	m.Probe(2, 2, 0, 2*ms, now.Add(simRI))
	m.Tick(now.Add(simRI))
	var pushed int
	for _, s := range m.Outbox() {
		var tab msg.Table
		if tab.Decode(s.Payload) == nil {
			pushed++
			if tab.Epoch != 1001 {
				t.Errorf("epoch %d without a change", tab.Epoch)
			}
		}
	}
	if pushed != 3 {
		t.Errorf("%d tables pushed after the interval", pushed)
	}
	// A next hop changes: new epoch.
	if err := m.HandleLinkState(2, lsBytes(3, 2), now.Add(simRI)); err != nil {
		t.Fatal(err)
	}
	m.Tick(now.Add(simRI))
	if st := m.Status(now); st.Epoch != 1002 {
		t.Errorf("epoch %d after a change", st.Epoch)
	}
}

func TestNegativeCycleKeepsTable(t *testing.T) {
	ms := int64(time.Millisecond)
	m := unit(t, conf.MeshP2P, func(c *Config) { c.Linked = []uint16{2} })
	now := simStart
	m.Probe(2, 1, 0, 5*ms, now)
	for _, b := range [][]byte{
		lsBytes(2, 1, msg.Link{From: 1, Delay: 5 * ms, Up: true}, msg.Link{From: 3, Delay: 5 * ms, Up: true}),
		lsBytes(3, 1, msg.Link{From: 2, Delay: 5 * ms, Up: true}),
	} {
		if err := m.HandleLinkState(2, b, now); err != nil {
			t.Fatal(err)
		}
	}
	m.Tick(now)
	before := m.Routes()
	if before[1].Via != 2 || before[1].Source != "solved" {
		t.Fatalf("route to 3: %+v", before[1])
	}
	// 3->2 costs 5 ms, 2->3 now -1 s: a negative cycle.
	if err := m.HandleLinkState(2, lsBytes(3, 2, msg.Link{From: 2, Delay: -int64(time.Second), Up: true}), now); err != nil {
		t.Fatal(err)
	}
	m.Tick(now)
	if c := m.Status(now).Counters; c.SolveErrors != 1 || c.Solves != 2 {
		t.Errorf("counters %+v", c)
	}
	if got := m.Routes(); !slices.Equal(got, before) {
		t.Errorf("routes after a failed solve %+v, want %+v", got, before)
	}
}

func TestNewAndAccessors(t *testing.T) {
	if _, err := New(Config{Self: 1, Mode: 0}); err == nil {
		t.Error("mode 0 accepted")
	}
	if _, err := New(Config{Self: 1, Mode: conf.MeshP2P + 1}); err == nil {
		t.Error("mode 4 accepted")
	}
	m, err := New(Config{Self: 1, Mode: conf.MeshP2P, Nodes: []uint16{3, 2}, Linked: []uint16{2}})
	if err != nil {
		t.Fatal(err)
	}
	if m.cfg.ReportInterval != conf.DefaultReportInterval || m.seq < uint64(time.Now().Add(-time.Hour).UnixNano()) {
		t.Errorf("defaults: interval %v, seq %d", m.cfg.ReportInterval, m.seq)
	}
	if rs := m.Routes(); len(rs) != 2 || rs[0].To != 2 || rs[1].To != 3 || rs[0].Reachable {
		t.Errorf("routes %+v", rs)
	}
	now := simStart
	if _, ok := m.LinkDelay(3, now); ok {
		t.Error("delay of an unlinked node")
	}
	if _, ok := m.LinkDelay(2, now); ok {
		t.Error("delay before a probe")
	}
	m.Probe(3, 1, 0, 1, now) // not linked: ignored
	m.Probe(2, 1, 100, 142, now)
	if d, ok := m.LinkDelay(2, now); !ok || d != 42 {
		t.Errorf("delay %d %v", d, ok)
	}
	if _, ok := m.LinkDelay(2, now.Add(probe.DefaultDeadAfter)); ok {
		t.Error("delay after the dead time")
	}
	st := m.Status(now)
	if len(st.Links) != 1 || st.Links[0].From != 2 || !st.Links[0].Up || st.Links[0].Reported != 42 || st.Links[0].Stats.Samples != 1 || st.HopCost != 0 {
		t.Errorf("status %+v", st)
	}
}

// A node that restarts after fewer probes than the loss window (64) sent
// its probes again from seq 1: its neighbours must take them.
func TestNeighbourRestartsEarly(t *testing.T) {
	rng := rand.New(rand.NewPCG(21, 2))
	s := newSim(t, rng, randGraph(rng, 6), conf.MeshP2P, time.Second, nil)
	const x = 3
	s.run(3 * time.Second) // 30 probes from x on each link
	s.nodes[x].down = true
	s.run(simDead + time.Second)
	s.start(s.nodes[x])
	s.run(5 * simStep)
	for _, a := range s.ids {
		if a == x || !s.linked(x, a) {
			continue
		}
		if _, ok := s.nodes[a].m.LinkDelay(x, s.now); !ok {
			var st probe.Stats
			for _, l := range s.nodes[a].m.Status(s.now).Links {
				if l.From == x {
					st = l.Stats
				}
			}
			t.Errorf("node %d: link from restarted node %d down after 5 probes (%d duplicates)", a, x, st.Duplicates)
		}
	}
}

// A restarting controller must not impose the routes of its still empty
// link-state database: while controller 2 serves the mesh and node 1
// restarts, no route between the other nodes may go away.
func TestControllerRestartKeepsRoutes(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 5))
	ctl := []uint16{1, 2}
	s := newSim(t, rng, randGraph(rng, 7), conf.MeshSuper, time.Second, func(c *Config) { c.Controllers = ctl })
	s.run(10 * time.Second)
	s.nodes[1].down = true
	s.run(10*time.Second + 5*simStep) // restart between the others' reports
	rest := without(s.ids, 1)
	s.checkPaths(rest)
	s.start(s.nodes[1])
	restart := s.now
	var lost []string
	var last time.Duration
	for range 50 {
		s.step()
		for _, a := range rest {
			for _, b := range rest {
				if _, ok := s.nodes[a].m.NextHop(b); a != b && !ok {
					if len(lost) < 5 {
						lost = append(lost, fmt.Sprintf("%v: %d->%d", s.now.Sub(restart), a, b))
					}
					last = s.now.Sub(restart)
				}
			}
		}
	}
	if lost != nil {
		t.Errorf("after controller 1 restarted, routes between other nodes went away until %v: %v ...", last, lost)
	}
	s.checkPaths(s.ids)
}

func TestProbePaths(t *testing.T) {
	ms := int64(time.Millisecond)
	m := unit(t, conf.MeshP2P, func(c *Config) { c.Linked = []uint16{2} })
	now := simStart
	// Each path numbers its probes on its own; the link reports its best
	// reachable path.
	m.ProbePath(2, 0, 1, 0, 30*ms, now)
	m.ProbePath(2, 1, 1, 0, 10*ms, now)
	m.ProbePath(2, maxPaths, 1, 0, 1*ms, now) // beyond the bound: ignored
	m.ProbePath(3, 0, 1, 0, 1*ms, now)        // not linked: ignored
	if d, ok := m.LinkDelay(2, now); !ok || d != 10*ms {
		t.Errorf("delay %d %v, want path 1's 10ms", d, ok)
	}
	m.Tick(now)
	var ls msg.LinkState
	if out := m.Outbox(); len(out) != 1 || ls.Decode(out[0].Payload) != nil || len(ls.Links) != 1 || ls.Links[0] != (msg.Link{From: 2, Delay: 10 * ms, Up: true}) {
		t.Errorf("link state %+v", ls)
	}
	// Path 1 falls silent: path 0 is the link's estimate, and that is a
	// change to report at once.
	later := now.Add(2 * time.Second)
	m.Probe(2, 2, 0, 30*ms, later)
	m.Tick(later)
	if out := m.Outbox(); len(out) != 1 || ls.Decode(out[0].Payload) != nil || ls.Links[0].Delay != 10*ms {
		t.Errorf("periodic link state %+v", ls)
	}
	if d, ok := m.LinkDelay(2, now.Add(simDead)); !ok || d != 30*ms {
		t.Errorf("delay %d %v after path 1 died, want path 0's 30ms", d, ok)
	}
	m.Tick(now.Add(simDead))
	if out := m.Outbox(); len(out) != 1 || ls.Decode(out[0].Payload) != nil || ls.Links[0].Delay != 30*ms || !ls.Links[0].Up {
		t.Errorf("link state %+v", ls)
	}
	if st := m.Status(now.Add(simDead)); len(st.Links) != 1 || st.Links[0].Reported != 30*ms || st.Links[0].Stats.Samples != 2 {
		t.Errorf("status links %+v", st.Links)
	}
	// No path reachable: down.
	if _, ok := m.LinkDelay(2, now.Add(time.Minute)); ok {
		t.Error("link up without probes")
	}
}
