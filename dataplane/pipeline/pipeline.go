// SPDX-License-Identifier: Apache-2.0

package pipeline

import (
	"net/netip"
	"sync/atomic"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/fib"
	"github.com/skiffnet/skiff/dataplane/stage"
	"github.com/skiffnet/skiff/dataplane/wire"
)

// Codec is the encapsulation of a link.
type Codec uint8

const (
	CodecSkiff Codec = iota // skiff v1: authenticated, encrypted, LZ4, fragments
	CodecVXLAN              // RFC 7348: plaintext, interoperable
)

func (c Codec) String() string {
	if c == CodecVXLAN {
		return "vxlan"
	}
	return "skiff"
}

// DefaultTTL is the hop limit of frames this node originates.
const DefaultTTL = wire.DefaultTTL

// Route is where transmitted frames go.
type Route struct {
	Codec    Codec
	VNI      uint32         // vxlan
	Node     uint16         // destination node id (skiff)
	Session  *wire.Session  // skiff: the session to seal with; nil: none yet
	Endpoint netip.AddrPort // the peer's underlay address; invalid or port 0: not known yet
	Port     int            // index of the underlay port (socket) to send from
}

// Snapshot is the immutable configuration of a pipeline, built by the
// control plane and swapped in atomically; workers load it once per batch.
// Nothing in it may change after it is published.
type Snapshot struct {
	Node uint16 // this node's id

	VLAN      *stage.VLANMap // nil: no remapping
	MSS       stage.MSS      // zero: no clamping
	LZ4       bool           // compress transmitted frames when it helps
	PieceSize int            // most frame bytes per datagram; 0: no limit
	Fragment  bool           // split longer frames (else drop them: FrameTooBig)
	MaxFrame  int            // largest frame accepted on receive; 0: buf.MaxFrame
	TTL       uint8          // 0: DefaultTTL

	Route Route // transmit destination (point to point)

	// Mesh routes by destination node when it is not nil; Route is then
	// unused.
	Mesh *Mesh

	// Sessions finds a received datagram's session by its receiver id.
	Sessions map[uint32]*wire.Session

	// VXLAN receive: accept VXLAN datagrams with this VNI, from VXLANFrom
	// when it is valid.
	VXLAN     bool
	VXLANVNI  uint32
	VXLANFrom netip.Addr
}

// Mesh is the routing of a node in a mesh. Frames for a MAC address the
// FIB knows go to that node; broadcast, multicast and unknown unicast
// frames are flooded: one copy to each node of Flood, each sealed with that
// node's own session and sent toward it along its route, so every node
// gets exactly one copy and relays never see plaintext. Datagrams for
// another node are relayed by Routes with the TTL decremented.
type Mesh struct {
	// Routes has, per remote node with a next hop, the route to it:
	// Node and Session are the destination's, Endpoint and Port the next
	// hop's. Session is nil while the node has none (then only relaying
	// toward it works).
	Routes map[uint16]*Route
	// Flood lists the routes flooded frames go to, in node order.
	Flood []*Route
	// FIB maps MAC addresses to the nodes they were learned behind; it
	// is shared by every snapshot of the node (receive workers learn
	// into it, transmit workers look up).
	FIB *fib.Table
}

// Stats counts one direction of a pipeline. Workers add to it once per
// batch; readers may load it at any time.
type Stats struct {
	In       atomic.Uint64 // packets taken in
	InBytes  atomic.Uint64
	Out      atomic.Uint64 // packets put out
	OutBytes atomic.Uint64
	Control  atomic.Uint64 // receive: datagrams handed to the control plane
	LZ4      atomic.Uint64 // frames compressed (tx) or decompressed (rx)
	Frags    atomic.Uint64 // tx: pieces sent; rx: frames reassembled
	Relayed  atomic.Uint64 // rx: datagrams forwarded toward another node
	Flooded  atomic.Uint64 // tx: frames flooded (each counts once, not per copy)
	Drops    [stage.NumReasons]atomic.Uint64
}

// Counts is a plain copy of Stats.
type Counts struct {
	In, InBytes, Out, OutBytes, Control, LZ4, Frags, Relayed, Flooded uint64
	Drops                                                             [stage.NumReasons]uint64
}

// Load copies the counters.
func (s *Stats) Load() Counts {
	c := Counts{
		In: s.In.Load(), InBytes: s.InBytes.Load(), Out: s.Out.Load(), OutBytes: s.OutBytes.Load(),
		Control: s.Control.Load(), LZ4: s.LZ4.Load(), Frags: s.Frags.Load(),
		Relayed: s.Relayed.Load(), Flooded: s.Flooded.Load(),
	}
	for i := range s.Drops {
		c.Drops[i] = s.Drops[i].Load()
	}
	return c
}

// Dropped is the sum of all drops.
func (c Counts) Dropped() uint64 {
	var n uint64
	for _, d := range c.Drops {
		n += d
	}
	return n
}

// local accumulates a batch's counts before they are added to Stats once.
type local struct {
	in, inBytes, out, outBytes, control, lz4, frags, relayed, flooded uint64
	drops                                                             [stage.NumReasons]uint32
	dropped                                                           bool
}

func (l *local) drop(r stage.Reason) {
	l.drops[r]++
	l.dropped = true
}

func (l *local) flush(s *Stats) {
	s.In.Add(l.in)
	s.InBytes.Add(l.inBytes)
	s.Out.Add(l.out)
	s.OutBytes.Add(l.outBytes)
	if l.control != 0 {
		s.Control.Add(l.control)
	}
	if l.lz4 != 0 {
		s.LZ4.Add(l.lz4)
	}
	if l.frags != 0 {
		s.Frags.Add(l.frags)
	}
	if l.relayed != 0 {
		s.Relayed.Add(l.relayed)
	}
	if l.flooded != 0 {
		s.Flooded.Add(l.flooded)
	}
	if l.dropped {
		for i, n := range l.drops {
			if n != 0 {
				s.Drops[i].Add(uint64(n))
			}
		}
	}
	*l = local{}
}

func (s *Snapshot) maxFrame() int {
	if s.MaxFrame > 0 {
		return s.MaxFrame
	}
	return buf.MaxFrame
}

func (s *Snapshot) ttl() uint8 {
	if s.TTL > 0 {
		return s.TTL
	}
	return DefaultTTL
}
