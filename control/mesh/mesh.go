// SPDX-License-Identifier: Apache-2.0

// Package mesh decides, for a node of a skiff mesh, the next hop toward
// every other node. It keeps the one-way delay estimates of the node's
// inbound links (control/probe, fed by the probes that ride on
// keepalives), and, by mode:
//
//   - static: the next hops are the config's (mesh.next_hops); linked
//     peers not listed go direct. No link state is sent.
//   - p2p: every node floods a link-state message (what it measured on its
//     inbound links) to its neighbours, who flood it on; every node keeps
//     the newest message of each origin, solves shortest paths over all of
//     them (control/route) and takes its own row.
//   - super: link state is flooded the same way, but only controller nodes
//     solve; each controller pushes every node its row (a table message,
//     routed to the node). A node takes the row of the lowest-id
//     controller heard from recently, and keeps the last row it got when no
//     controller answers.
//
// Until a row names a route, a linked neighbour whose probes arrive is
// reached directly (bootstrap, and a fallback for a node the row says is
// unreachable).
//
// Hysteresis lives at the measuring end: a link's reported delay changes
// only when its median moves more than the tolerance (control/probe), so
// every node solves the very same numbers, next hops agree between nodes
// (no loops from disagreeing tables), and jitter does not flap routes.
//
// A Mesh is driven by one goroutine (the node's control loop): Probe and
// Handle* for what arrived, Tick on a timer, Outbox for what to send,
// Changed to learn that the next hops changed. Time is injected.
package mesh

import (
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/skiffnet/skiff/conf"
	"github.com/skiffnet/skiff/control/msg"
	"github.com/skiffnet/skiff/control/probe"
	"github.com/skiffnet/skiff/control/route"
)

// Config configures a Mesh.
type Config struct {
	Self           uint16
	Mode           conf.MeshMode
	Nodes          []uint16 // every other node of the mesh
	Linked         []uint16 // the neighbours: nodes with direct paths
	Probe          probe.Config
	HopCost        time.Duration
	ReportInterval time.Duration
	Controllers    []uint16          // super mode
	Static         map[uint16]uint16 // static mode: destination -> next hop
	// Wall is the wall clock in Unix nanoseconds (sequence numbers and
	// epochs start from it, so they grow across restarts); nil: time.Now.
	Wall   func() int64
	Logger *slog.Logger
}

// Send is a control message the node should send: to the neighbour To on
// its direct link (Direct), or routed to node To.
type Send struct {
	To      uint16
	Direct  bool
	Payload []byte
}

// Route is the effective route to one node.
type Route struct {
	To        uint16
	Via       uint16 // next hop; 0: unreachable
	Hops      int    // -1: unknown
	Cost      int64  // ns, including hop costs; meaningful when Solved
	Solved    bool   // Cost and Hops come from a solver (own or a controller's)
	Source    string // "static", "solved", "controller N", "direct"
	Reachable bool
}

// Counters count a mesh's control traffic.
type Counters struct {
	LinkStatesSent     uint64 `json:"link_states_sent"`    // our own, to each neighbour
	LinkStatesFlooded  uint64 `json:"link_states_flooded"` // others', passed on to each neighbour
	LinkStatesReceived uint64 `json:"link_states_received"`
	LinkStatesStale    uint64 `json:"link_states_stale"` // duplicates and older ones: not flooded on
	LinkStatesRefused  uint64 `json:"link_states_refused"`
	TablesSent         uint64 `json:"tables_sent"`
	TablesReceived     uint64 `json:"tables_received"`
	TablesRefused      uint64 `json:"tables_refused"`
	Solves             uint64 `json:"solves"`
	SolveErrors        uint64 `json:"solve_errors"`
	RouteChanges       uint64 `json:"route_changes"`
	Expired            uint64 `json:"expired"` // link states of silent origins dropped
}

type origin struct {
	seq   uint64
	links []msg.Link
	at    time.Time
}

type ctlTable struct {
	epoch uint64
	at    time.Time
	rows  map[uint16]msg.Route
}

// Mesh is the routing state of one node.
type Mesh struct {
	cfg Config
	log *slog.Logger

	links map[uint16]*neighbour // inbound, per neighbour
	db    map[uint16]*origin    // newest link state per origin (self included)
	seq   uint64
	sent  []msg.Link // own links last flooded
	last  time.Time  // last own flood
	dirty bool       // db changed since the last solve

	start    time.Time    // first Tick
	tab      *route.Table // last solution (p2p; super controllers)
	epoch    uint64       // controller: epoch of tab
	lastPush time.Time
	tables   map[uint16]*ctlTable // super: per controller, the row it pushed

	routes  map[uint16]Route
	changed bool
	out     []Send
	c       Counters
}

// New returns a mesh.
func New(c Config) (*Mesh, error) {
	if c.Mode < conf.MeshStatic || c.Mode > conf.MeshP2P {
		return nil, fmt.Errorf("mesh: unknown mode %v", c.Mode)
	}
	if c.ReportInterval <= 0 {
		c.ReportInterval = conf.DefaultReportInterval
	}
	if c.Wall == nil {
		c.Wall = func() int64 { return time.Now().UnixNano() }
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Probe.DeadAfter <= 0 {
		c.Probe.DeadAfter = probe.DefaultDeadAfter
	}
	// "The lowest-id controller" whatever order the config lists them in.
	c.Controllers = slices.Clone(c.Controllers)
	slices.Sort(c.Controllers)
	m := &Mesh{cfg: c, log: c.Logger, links: map[uint16]*neighbour{}, db: map[uint16]*origin{},
		tables: map[uint16]*ctlTable{}, routes: map[uint16]Route{}}
	for _, n := range c.Linked {
		m.links[n] = &neighbour{paths: map[uint16]*probe.Link{0: probe.NewLink(c.Probe)}}
	}
	m.seq = uint64(max(c.Wall(), 1))
	m.epoch = m.seq
	m.rebuild(time.Time{})
	return m, nil
}

// maxPaths bounds the paths of one neighbour that get a delay estimate.
const maxPaths = 16

// neighbour holds the delay estimates of one neighbour's paths (by the
// sender's path index: each path numbers its probes on its own).
type neighbour struct {
	paths map[uint16]*probe.Link
}

// best is the estimate the link reports: the reachable path with the
// lowest reported delay, else path 0's.
func (nb *neighbour) best(now time.Time) *probe.Link {
	var b *probe.Link
	var bd int64
	for _, l := range nb.paths {
		d, ok := l.Reported()
		if ok && l.Reachable(now) && (b == nil || d < bd) {
			b, bd = l, d
		}
	}
	if b == nil {
		return nb.paths[0]
	}
	return b
}

// Probe records a probe on the neighbour's first path: see ProbePath.
func (m *Mesh) Probe(from uint16, seq uint32, sent, recv int64, now time.Time) {
	m.ProbePath(from, 0, seq, sent, recv, now)
}

// ProbePath records a probe (a ping with timestamps) from neighbour from
// on its path number path: sequence seq, sent at the sender's wall clock
// sent, received at this node's wall clock recv.
func (m *Mesh) ProbePath(from, path uint16, seq uint32, sent, recv int64, now time.Time) {
	nb := m.links[from]
	if nb == nil || path >= maxPaths {
		return
	}
	l := nb.paths[path]
	if l == nil {
		l = probe.NewLink(m.cfg.Probe)
		nb.paths[path] = l
	}
	if seq == 1 || !l.Reachable(now) {
		// The neighbour (re)started, numbering its probes from 1, or it
		// was silent for longer than a link lives: its history is stale.
		l.Reset()
	}
	l.Sample(seq, sent, recv, now)
}

// Changed reports (once) whether a next hop changed.
func (m *Mesh) Changed() bool {
	c := m.changed
	m.changed = false
	return c
}

// Outbox returns the messages to send and forgets them.
func (m *Mesh) Outbox() []Send {
	o := m.out
	m.out = nil
	return o
}

// NextHop returns the next hop toward node to.
func (m *Mesh) NextHop(to uint16) (uint16, bool) {
	r, ok := m.routes[to]
	return r.Via, ok && r.Reachable
}

// Routes returns the route to every other node, by node id.
func (m *Mesh) Routes() []Route {
	out := make([]Route, 0, len(m.cfg.Nodes))
	for _, n := range m.cfg.Nodes {
		out = append(out, m.routes[n])
	}
	slices.SortFunc(out, func(a, b Route) int { return int(a.To) - int(b.To) })
	return out
}

func (m *Mesh) dynamic() bool { return m.cfg.Mode != conf.MeshStatic }

func (m *Mesh) controller() bool {
	return m.cfg.Mode == conf.MeshSuper && slices.Contains(m.cfg.Controllers, m.cfg.Self)
}

// expireAfter is how long an origin's link state counts without a newer
// one: a few report intervals and a link's dead time.
func (m *Mesh) expireAfter() time.Duration {
	return 3*m.cfg.ReportInterval + m.cfg.Probe.DeadAfter
}

// Tick does what is due at now: flood own link state when it changed or
// the report interval passed, drop silent origins, solve, push tables.
func (m *Mesh) Tick(now time.Time) {
	if m.start.IsZero() {
		m.start = now
	}
	if m.dynamic() {
		m.report(now)
		for id, o := range m.db {
			if id != m.cfg.Self && now.Sub(o.at) > m.expireAfter() {
				delete(m.db, id)
				m.dirty = true
				m.c.Expired++
				m.log.Info("mesh: link state expired", "origin", id)
			}
		}
		if m.dirty && (m.cfg.Mode == conf.MeshP2P || m.controller()) {
			m.solve()
		}
		// A controller that just started holds little more than its own
		// link state: it pushes once every node's report had time to
		// arrive, rather than rows that would cut routes.
		if m.controller() && now.Sub(m.start) >= 2*m.cfg.ReportInterval && (m.dirty || now.Sub(m.lastPush) >= m.cfg.ReportInterval) {
			m.push(now)
		}
		m.dirty = false
	}
	m.rebuild(now)
}

// ownLinks is what this node measures on its inbound links now.
func (m *Mesh) ownLinks(now time.Time) []msg.Link {
	var ls []msg.Link
	for _, n := range m.cfg.Linked {
		l := m.links[n].best(now)
		d, ok := l.Reported()
		up := ok && l.Reachable(now)
		if !up {
			d = 0
		}
		ls = append(ls, msg.Link{From: n, Delay: d, Loss: uint16(l.Loss() * 65535), Up: up})
	}
	return ls
}

func linksEqual(a, b []msg.Link) bool {
	return slices.EqualFunc(a, b, func(x, y msg.Link) bool { return x.From == y.From && x.Up == y.Up && x.Delay == y.Delay })
}

func (m *Mesh) report(now time.Time) {
	ls := m.ownLinks(now)
	if linksEqual(ls, m.sent) && !m.last.IsZero() && now.Sub(m.last) < m.cfg.ReportInterval {
		return
	}
	if !linksEqual(ls, m.sent) {
		m.dirty = true
	}
	m.seq++
	m.sent, m.last = ls, now
	m.db[m.cfg.Self] = &origin{seq: m.seq, links: ls, at: now}
	st := msg.LinkState{Origin: m.cfg.Self, Seq: m.seq, Links: ls}
	b := st.Append(nil)
	for _, n := range m.cfg.Linked {
		m.out = append(m.out, Send{To: n, Direct: true, Payload: b})
		m.c.LinkStatesSent++
	}
}

// HandleLinkState takes a link-state message that neighbour from sent.
func (m *Mesh) HandleLinkState(from uint16, payload []byte, now time.Time) error {
	if !m.dynamic() {
		m.c.LinkStatesRefused++
		return fmt.Errorf("link-state in %s mode", m.cfg.Mode)
	}
	var st msg.LinkState
	if err := st.Decode(payload); err != nil {
		m.c.LinkStatesRefused++
		return err
	}
	m.c.LinkStatesReceived++
	if st.Origin == m.cfg.Self {
		// Our own, from an earlier run, still going round: continue above.
		if st.Seq >= m.seq {
			m.seq = st.Seq + 1
		}
		m.c.LinkStatesStale++
		return nil
	}
	if !slices.Contains(m.cfg.Nodes, st.Origin) {
		m.c.LinkStatesRefused++
		return fmt.Errorf("link-state from unknown origin %d", st.Origin)
	}
	if o := m.db[st.Origin]; o != nil && st.Seq <= o.seq {
		m.c.LinkStatesStale++
		return nil
	}
	old := m.db[st.Origin]
	if old == nil || !linksEqual(old.links, st.Links) {
		m.dirty = true
	}
	m.db[st.Origin] = &origin{seq: st.Seq, links: slices.Clone(st.Links), at: now}
	for _, n := range m.cfg.Linked {
		if n != from && n != st.Origin {
			m.out = append(m.out, Send{To: n, Direct: true, Payload: payload})
			m.c.LinkStatesFlooded++
		}
	}
	return nil
}

// HandleTable takes a table message node from sent (routed to us).
func (m *Mesh) HandleTable(from uint16, payload []byte, now time.Time) error {
	var t msg.Table
	if err := t.Decode(payload); err != nil {
		m.c.TablesRefused++
		return err
	}
	switch {
	case m.cfg.Mode != conf.MeshSuper:
		m.c.TablesRefused++
		return fmt.Errorf("table from %d in %s mode", from, m.cfg.Mode)
	case t.Controller != from || !slices.Contains(m.cfg.Controllers, from):
		m.c.TablesRefused++
		return fmt.Errorf("table from %d for controller %d: not a controller", from, t.Controller)
	case t.Node != m.cfg.Self:
		m.c.TablesRefused++
		return fmt.Errorf("table from %d is for node %d", from, t.Node)
	}
	if old := m.tables[from]; old != nil && t.Epoch < old.epoch {
		m.c.TablesRefused++
		return fmt.Errorf("table from %d: epoch %d older than %d", from, t.Epoch, old.epoch)
	}
	rows := map[uint16]msg.Route{}
	for _, e := range t.Entries {
		rows[e.To] = e
	}
	m.tables[from] = &ctlTable{epoch: t.Epoch, at: now, rows: rows}
	m.c.TablesReceived++
	m.rebuild(now)
	return nil
}

// edges is the graph of the link-state database.
func (m *Mesh) edges() []route.Edge {
	var es []route.Edge
	for to, o := range m.db {
		for _, l := range o.links {
			if l.Up && (l.From == m.cfg.Self || slices.Contains(m.cfg.Nodes, l.From)) {
				es = append(es, route.Edge{From: l.From, To: to, Cost: l.Delay})
			}
		}
	}
	return es
}

func (m *Mesh) solve() {
	nodes := append([]uint16{m.cfg.Self}, m.cfg.Nodes...)
	t, err := route.Solve(nodes, m.edges(), int64(m.cfg.HopCost))
	m.c.Solves++
	if err != nil {
		m.c.SolveErrors++
		m.log.Warn("mesh: solve", "err", err)
		return
	}
	if m.tab == nil || !m.tab.SameNextHops(t) {
		m.epoch++
	}
	m.tab = t
}

// push sends every other node its row of the controller's solution.
func (m *Mesh) push(now time.Time) {
	if m.tab == nil {
		return
	}
	m.lastPush = now
	for _, n := range m.cfg.Nodes {
		t := msg.Table{Controller: m.cfg.Self, Node: n, Epoch: m.epoch}
		for _, e := range m.tab.Row(n) {
			r := msg.Route{To: e.To}
			if e.Reachable {
				r.Via, r.Hops, r.Cost = e.Via, uint8(min(e.Hops, 255)), e.Cost
			}
			t.Entries = append(t.Entries, r)
		}
		m.out = append(m.out, Send{To: n, Payload: t.Append(nil)})
		m.c.TablesSent++
	}
}

// table picks the controller row in effect: the lowest-id controller
// heard from within a few report intervals, else the newest row.
func (m *Mesh) table(now time.Time) (uint16, *ctlTable) {
	fresh := 3 * m.cfg.ReportInterval
	var bestID uint16
	var best *ctlTable
	for _, id := range m.cfg.Controllers {
		t := m.tables[id]
		if t != nil && now.Sub(t.at) <= fresh {
			return id, t
		}
		if t != nil && (best == nil || t.at.After(best.at)) {
			bestID, best = id, t
		}
	}
	return bestID, best
}

// rebuild recomputes the effective routes.
func (m *Mesh) rebuild(now time.Time) {
	routes := map[uint16]Route{}
	for _, n := range m.cfg.Nodes {
		r := Route{To: n, Hops: -1}
		switch {
		case m.cfg.Mode == conf.MeshStatic:
			if via, ok := m.cfg.Static[n]; ok {
				r.Via, r.Source, r.Reachable = via, "static", true
			}
		case m.cfg.Mode == conf.MeshP2P || m.controller():
			if m.tab != nil {
				if via, ok := m.tab.Next(m.cfg.Self, n); ok {
					cost, _ := m.tab.Dist(m.cfg.Self, n)
					r = Route{To: n, Via: via, Hops: m.tab.Hops(m.cfg.Self, n), Cost: cost, Solved: true, Source: "solved", Reachable: true}
				}
			}
		default:
			if id, t := m.table(now); t != nil {
				if e, ok := t.rows[n]; ok && e.Via != 0 {
					r = Route{To: n, Via: e.Via, Hops: int(e.Hops), Cost: e.Cost, Solved: true, Source: fmt.Sprintf("controller %d", id), Reachable: true}
				}
			}
		}
		if !r.Reachable && slices.Contains(m.cfg.Linked, n) && (m.cfg.Mode == conf.MeshStatic || m.links[n].best(now).Reachable(now)) {
			r = Route{To: n, Via: n, Hops: 1, Source: "direct", Reachable: true}
		}
		routes[n] = r
	}
	for n, r := range routes {
		if old, ok := m.routes[n]; !ok || old.Via != r.Via || old.Reachable != r.Reachable {
			if ok {
				m.c.RouteChanges++
				m.log.Info("mesh: route", "to", n, "via", r.Via, "was", old.Via, "source", r.Source)
			}
			m.changed = true
		}
	}
	m.routes = routes
}

// LinkStatus is one inbound link's estimate.
type LinkStatus struct {
	From     uint16      `json:"from"`
	Up       bool        `json:"up"`
	Stats    probe.Stats `json:"stats"`
	Reported int64       `json:"reported_ns"`
	Loss     float64     `json:"loss"`
}

// Status is the mesh's state for skiff status, route and peers.
type Status struct {
	Mode     string       `json:"mode"`
	Seq      uint64       `json:"seq"`
	Origins  int          `json:"origins"` // link states held, own included
	Epoch    uint64       `json:"epoch,omitempty"`
	Links    []LinkStatus `json:"links"`
	Routes   []Route      `json:"routes"`
	Counters Counters     `json:"counters"`
	HopCost  int64        `json:"hop_cost_ns"`
}

// Status reports the mesh's state at now.
func (m *Mesh) Status(now time.Time) Status {
	st := Status{Mode: m.cfg.Mode.String(), Seq: m.seq, Origins: len(m.db), Routes: m.Routes(), Counters: m.c, HopCost: int64(m.cfg.HopCost)}
	if m.controller() {
		st.Epoch = m.epoch
	}
	for _, n := range m.cfg.Linked {
		l := m.links[n].best(now)
		rep, _ := l.Reported()
		st.Links = append(st.Links, LinkStatus{From: n, Up: l.Reachable(now), Stats: l.Stats(), Reported: rep, Loss: l.Loss()})
	}
	return st
}

// LinkDelay returns the reported one-way delay from neighbour n to this
// node, if its probes arrive.
func (m *Mesh) LinkDelay(n uint16, now time.Time) (int64, bool) {
	nb := m.links[n]
	if nb == nil || !nb.best(now).Reachable(now) {
		return 0, false
	}
	return nb.best(now).Reported()
}
