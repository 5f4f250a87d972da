// SPDX-License-Identifier: Apache-2.0

package node

import (
	"maps"
	"net/netip"
	"slices"
	"time"

	"github.com/skiffnet/skiff/conf"
	"github.com/skiffnet/skiff/control/api"
	"github.com/skiffnet/skiff/control/peer"

	"github.com/skiffnet/skiff/control/mesh"
	"github.com/skiffnet/skiff/control/probe"
	"github.com/skiffnet/skiff/dataplane/fib"
	"github.com/skiffnet/skiff/dataplane/pipeline"
)

// fibSize is how many MAC addresses the mesh's L2 table holds.
const fibSize = 1 << 14

func (n *Node) newMesh() error {
	c := n.cfg
	mc := mesh.Config{
		Self: c.Node.ID, Mode: c.Mesh.Mode, HopCost: c.Mesh.HopCost, ReportInterval: c.Mesh.ReportInterval,
		Controllers: c.Mesh.Controllers, Static: c.Mesh.NextHops, Logger: n.log,
		Probe: probe.Config{Window: c.Mesh.Filter, Tolerance: c.Mesh.Tolerance},
	}
	if mc.Probe.Tolerance == 0 {
		mc.Probe.Tolerance = -1 // probe reads 0 as its default; the config means none
	}
	for _, p := range c.Peers {
		mc.Nodes = append(mc.Nodes, p.ID)
		if p.Linked() {
			mc.Linked = append(mc.Linked, p.ID)
			mc.Probe.DeadAfter = max(mc.Probe.DeadAfter, p.DeadAfter)
		}
	}
	m, err := mesh.New(mc)
	if err != nil {
		return err
	}
	n.mesh = m
	n.fib = fib.New(fibSize, int64(c.Mesh.FIBTimeout))
	n.hopsFrom = map[uint16]int{}
	return nil
}

// via returns the next hop's socket and address toward node id when it is
// reached through a relay. It runs on the control goroutine (called by a
// peer's Tick): it must not call back into that peer.
func (n *Node) via(id uint16) (int, netip.AddrPort, bool) {
	if nh, ok := n.mesh.NextHop(id); !ok || nh == id {
		return 0, netip.AddrPort{}, false
	}
	return n.hop(id)
}

// hop returns the socket and address datagrams for node id go to now: its
// own direct path when the route is direct, else the next hop's.
func (n *Node) hop(id uint16) (int, netip.AddrPort, bool) {
	nh, ok := n.mesh.NextHop(id)
	if !ok {
		return 0, netip.AddrPort{}, false
	}
	p := n.byNode[nh]
	if p == nil {
		return 0, netip.AddrPort{}, false
	}
	return p.Direct()
}

// sendMesh seals and queues what the mesh wants sent.
func (n *Node) sendMesh() {
	for _, s := range n.mesh.Outbox() {
		p := n.byNode[s.To]
		if p == nil {
			continue
		}
		var port int
		var to netip.AddrPort
		var ok bool
		if s.Direct {
			port, to, ok = p.Direct()
		} else {
			port, to, ok = n.hop(s.To)
		}
		if !ok || !p.Control(s.Payload, port, to) {
			n.ctlDrops[ctlMeshUnsent].Add(1)
		}
	}
}

// meshSnapshot is the dataplane's routing: per node with a next hop, the
// node's session and the next hop's address.
func (n *Node) meshSnapshot() *pipeline.Mesh {
	m := &pipeline.Mesh{Routes: map[uint16]*pipeline.Route{}, FIB: n.fib}
	ids := make([]uint16, 0, len(n.peers))
	for _, p := range n.peers {
		ids = append(ids, p.Node())
	}
	slices.Sort(ids)
	if n.routed == nil {
		n.routed = map[uint16]bool{}
	}
	for _, id := range ids {
		port, to, ok := n.hop(id)
		if !ok {
			if n.routed[id] {
				// The node is gone: forget its MACs, so frames to them
				// flood (the hosts may have moved) instead of dropping.
				n.fib.Forget(id)
				delete(n.routed, id)
			}
			continue
		}
		n.routed[id] = true
		r := n.byNode[id].Route()
		r.Endpoint, r.Port = to, port
		m.Routes[id] = &r
		m.Flood = append(m.Flood, &r)
	}
	return m
}

// meshStatus is the mesh part of skiff status (and all of skiff peers and
// skiff route).
func (n *Node) meshStatus(now time.Time, peers []peer.Status) *api.MeshStatus {
	d := n.mesh.Status(now)
	ms := &api.MeshStatus{Mode: d.Mode, Detail: d, FIBEntries: n.fib.Stats().Len}
	names := map[uint16]string{}
	for _, p := range n.cfg.Peers {
		names[p.ID] = p.Name
	}
	rtt := map[uint16]time.Duration{}  // direct path in use
	rrtt := map[uint16]time.Duration{} // through relays
	state := map[uint16]string{}
	for _, ps := range peers {
		state[ps.Node] = ps.State
		if ps.Path < len(ps.Paths) && ps.Paths[ps.Path].State == "up" {
			rtt[ps.Node] = time.Duration(ps.Paths[ps.Path].RTT)
		}
		if ps.Routed != nil && ps.Routed.State == "up" {
			rrtt[ps.Node] = time.Duration(ps.Routed.RTT)
		}
	}
	n.snapMu.Lock()
	hops := maps.Clone(n.hopsFrom)
	n.snapMu.Unlock()
	loss := map[uint16]float64{}
	for _, l := range d.Links {
		loss[l.From] = l.Loss
	}
	for _, r := range d.Routes {
		mn := api.MeshNode{ID: r.To, Name: names[r.To], State: state[r.To], Linked: n.byNode[r.To] != nil && slices.ContainsFunc(n.cfg.Peers, func(p conf.Peer) bool { return p.ID == r.To && p.Linked() }),
			Reachable: r.Reachable, LatencyMs: -1, Cost: r.Hops, Loss: loss[r.To], Source: r.Source, ProxyCIDRs: []string{}}
		if r.Reachable {
			mn.NextHop, mn.NextHopName = r.Via, names[r.Via]
		}
		switch {
		case r.Solved:
			mn.LatencyMs = float64(r.Cost-int64(r.Hops)*d.HopCost) / 1e6
		case r.Reachable && r.Via == r.To && rtt[r.To] > 0:
			mn.LatencyMs = float64(rtt[r.To]) / 2e6
		case r.Reachable && rrtt[r.To] > 0:
			mn.LatencyMs = float64(rrtt[r.To]) / 2e6
		}
		if mn.Cost < 0 && r.Reachable {
			// Not solved here (static mode): the hops the node's own
			// messages took to reach us, as their TTL tells.
			if h, ok := hops[r.To]; ok {
				mn.Cost = h
			}
		}
		ms.Nodes = append(ms.Nodes, mn)
	}
	return ms
}
