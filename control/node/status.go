// SPDX-License-Identifier: Apache-2.0

package node

import (
	"time"

	"github.com/skiffnet/skiff/control/api"
	"github.com/skiffnet/skiff/control/peer"
	"github.com/skiffnet/skiff/dataplane/pipeline"
	"github.com/skiffnet/skiff/dataplane/stage"
)

// Status reports the node's state for the control socket.
func (n *Node) Status() *api.Status {
	now := time.Now()
	s := n.eng.Snapshot()
	st := &api.Status{
		Node: api.NodeInfo{
			Name: n.cfg.Node.Name, ID: n.cfg.Node.ID, Version: n.opt.Version,
			Uptime: peer.Duration(now.Sub(n.started)), Suite: n.cfg.Suite.String(), LZ4: n.cfg.LZ4,
			MTUPolicy: n.cfg.Underlay.MTUPolicy.String(), PieceSize: s.PieceSize, MSS: [2]uint16{s.MSS.V4, s.MSS.V6},
		},
		Local:   portInfo(n.local),
		Control: map[string]uint64{},
	}
	for _, u := range n.underlays {
		st.Underlay = append(st.Underlay, portInfo(u))
	}
	for i, p := range n.peers {
		ps := p.Status(now)
		if i == 0 && ps.State == "up" && s.Route.Session == nil && s.Mesh == nil {
			// The peer has a session, but the dataplane's snapshot does
			// not yet (it is published right after): until it does,
			// frames would still be dropped, so the peer is not up.
			ps.State = "handshaking"
		}
		st.Peers = append(st.Peers, ps)
	}
	if v := n.vxlan; v != nil {
		st.Peers = append(st.Peers, peer.Status{Name: v.Name, Node: v.ID, State: "vxlan", Suite: "none",
			Paths: []peer.PathStatus{{Configured: v.Paths[0].Remote.String(), Remote: v.Paths[0].Remote.String(), Local: v.Paths[0].Local.String(), State: "static", LastPong: -1}}})
	}
	if n.mesh != nil {
		st.Mesh = n.meshStatus(now, st.Peers)
	}
	tx, rx := n.eng.Stats()
	st.Tx, st.Rx = direction(tx), direction(rx)
	for i := range n.ctlDrops {
		if v := n.ctlDrops[i].Load(); v != 0 {
			st.Control[ctlDropNames[i]] = v
		}
	}
	return st
}

func direction(c pipeline.Counts) api.Direction {
	d := api.Direction{Packets: c.In, Bytes: c.InBytes, Out: c.Out, OutBytes: c.OutBytes, Control: c.Control,
		LZ4: c.LZ4, Fragments: c.Frags, Relayed: c.Relayed, Flooded: c.Flooded, Drops: map[string]uint64{}, DropsTotal: c.Dropped()}
	for r, v := range c.Drops {
		if v != 0 {
			d.Drops[stage.Reason(r).String()] = v
		}
	}
	return d
}
