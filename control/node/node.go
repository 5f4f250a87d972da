// SPDX-License-Identifier: Apache-2.0

// Package node assembles a running skiff node from its config: it opens the
// local port and the underlay sockets, starts the dataplane engine, runs the
// peers' control plane on one goroutine, publishes dataplane snapshots when
// the control plane changes something, and serves the control socket.
//
//	config --> ports --> engine (dataplane workers)
//	             ^          | handshakes, control messages (copied, bounded queue)
//	             |          v
//	          snapshot <-- control goroutine: peers (Tick every 100 ms, Handle*)
//	                        |
//	                        +--> control socket: skiff status
package node

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skiffnet/skiff/conf"
	"github.com/skiffnet/skiff/control/api"
	"github.com/skiffnet/skiff/control/mesh"
	"github.com/skiffnet/skiff/control/msg"
	"github.com/skiffnet/skiff/control/peer"
	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/engine"
	"github.com/skiffnet/skiff/dataplane/fib"
	"github.com/skiffnet/skiff/dataplane/pipeline"
	"github.com/skiffnet/skiff/dataplane/port"
	"github.com/skiffnet/skiff/dataplane/stage"
	"github.com/skiffnet/skiff/dataplane/wire"
)

// Ports opens the node's devices. The defaults open real ones (see
// DefaultPorts); tests pass in-memory ports.
type Ports struct {
	// Local opens the L2 side described by the config; log takes the
	// line about a fallback (afxdp to afpacket).
	Local func(c *conf.Config, log *slog.Logger) (port.Port, error)
	// Underlay opens the underlay port for one listen address of the
	// config; it returns the bound address.
	Underlay func(c *conf.Config, addr netip.AddrPort, log *slog.Logger) (port.Port, netip.AddrPort, error)
}

// Options tunes a node.
type Options struct {
	Logger  *slog.Logger
	Ports   Ports
	Version string
	// Tick is the control plane's timer period; 0: 100 ms.
	Tick time.Duration
}

// Node is a running skiff node.
type Node struct {
	cfg     *conf.Config
	opt     Options
	log     *slog.Logger
	started time.Time

	local     port.Port
	underlays []port.Port
	bound     []netip.AddrPort
	eng       *engine.Engine

	peers  []*peer.Peer // skiff peers
	byNode map[uint16]*peer.Peer
	vxlan  *conf.Peer // the vxlan peer, if the peer is one
	ids    idSet

	mesh *mesh.Mesh // nil: point to point
	fib  *fib.Table // mesh: the L2 forwarding table
	// hopsFrom is, per node, how many hops its last control message took
	// (from the TTL it arrived with); guarded by snapMu.
	hopsFrom map[uint16]int
	routed   map[uint16]bool // nodes the last snapshot had a route to; guarded by snapMu

	ctl chan ctlMsg
	// bySession maps every session id in the current snapshot to its
	// session and peer; read by rx workers (control dispatch).
	bySession atomic.Pointer[map[uint32]sessionRef]

	snapMu sync.Mutex // serialises snapshot rebuilds
	hs     tokenBucket

	ctlDrops [numCtlDrops]atomic.Uint64
	api      *api.Server
}

type sessionRef struct {
	s *wire.Session
	p *peer.Peer
}

// ctlMsg is a datagram for the control goroutine, copied off the dataplane.
type ctlMsg struct {
	port    int
	from    netip.AddrPort
	typ     wire.Type
	src     uint16
	ttl     uint8 // mesh: below the originating TTL, it came through relays
	wall    int64 // receive time, Unix ns (probes)
	session sessionRef
	data    []byte
}

// relayed reports whether m came through at least one relay (only a mesh
// relays).
func (m *ctlMsg) relayed() bool { return m.ttl != pipeline.DefaultTTL }

// Control-plane drop reasons.
const (
	ctlQueueFull = iota
	ctlUnknownNode
	ctlUnknownSession
	ctlRateLimited
	ctlHandshakeRefused
	ctlMessageRefused
	ctlMeshUnsent
	numCtlDrops
)

var ctlDropNames = [numCtlDrops]string{"queue-full", "unknown-node", "unknown-session", "handshake-rate-limited", "handshake-refused", "message-refused", "mesh-unsent"}

// Queue and rate limits of the control plane.
const (
	ctlQueue = 256
	// HandshakeRate is how many handshake messages per second the node
	// processes (each costs a Diffie-Hellman); the rest are dropped.
	HandshakeRate  = 200
	handshakeBurst = 50
)

// New opens the node's ports and prepares it; Run starts it. On error
// everything already opened is closed again.
func New(cfg *conf.Config, opt Options) (n *Node, err error) {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.Tick == 0 {
		opt.Tick = 100 * time.Millisecond
	}
	if opt.Ports.Local == nil || opt.Ports.Underlay == nil {
		opt.Ports = DefaultPorts()
	}
	if len(cfg.Peers) != 1 && cfg.Mesh == nil {
		return nil, fmt.Errorf("config has %d peers: more than one needs a mesh section", len(cfg.Peers))
	}
	n = &Node{cfg: cfg, opt: opt, log: opt.Logger, byNode: map[uint16]*peer.Peer{}, ctl: make(chan ctlMsg, ctlQueue)}
	n.hs = tokenBucket{rate: HandshakeRate, burst: handshakeBurst}
	defer func() {
		if err != nil {
			n.closePorts()
		}
	}()
	for _, a := range cfg.Underlay.Listen {
		u, bound, err := opt.Ports.Underlay(cfg, a, n.log)
		if err != nil {
			return n, fmt.Errorf("underlay: %w", err)
		}
		n.underlays = append(n.underlays, u)
		n.bound = append(n.bound, bound)
	}
	local, err := opt.Ports.Local(cfg, n.log)
	if err != nil {
		return n, fmt.Errorf("local: %w", err)
	}
	n.local = local
	var psk wire.PSK
	if cfg.Peers[0].Codec == conf.CodecSkiff {
		if psk, err = cfg.PSK(); err != nil {
			return n, fmt.Errorf("psk: %w", err)
		}
	}
	for i := range cfg.Peers {
		pc := &cfg.Peers[i]
		if pc.Codec == conf.CodecVXLAN {
			n.vxlan = pc
			continue
		}
		var paths []peer.PathConfig
		for _, p := range pc.Paths {
			idx := n.portIndex(p.Local)
			if idx < 0 {
				return n, fmt.Errorf("peer %s: path %v: no underlay socket %v", pc.Name, p.Remote, p.Local)
			}
			paths = append(paths, peer.PathConfig{Remote: p.Remote, Port: idx, Local: n.bound[idx]})
		}
		pcfg := peer.Config{
			Name: pc.Name, Node: pc.ID, LocalNode: cfg.Node.ID, PSK: psk, Suite: cfg.Suite, Paths: paths,
			Keepalive: pc.Keepalive, DeadAfter: pc.DeadAfter, RekeyAfter: cfg.RekeyAfter,
			IDs: &n.ids, Sender: n, Logger: n.log,
		}
		if cfg.Mesh != nil {
			id := pc.ID
			pcfg.Via = func() (int, netip.AddrPort, bool) { return n.via(id) }
		}
		p, err := peer.New(pcfg)
		if err != nil {
			return n, err
		}
		n.peers = append(n.peers, p)
		n.byNode[pc.ID] = p
	}
	if cfg.Mesh != nil {
		if err := n.newMesh(); err != nil {
			return n, err
		}
	}
	n.eng = engine.New(engine.Config{Local: n.local, Underlays: n.underlays, Control: n.onControl, Logger: n.log}, n.snapshot())
	return n, nil
}

// portIndex finds the underlay socket configured as addr.
func (n *Node) portIndex(addr netip.AddrPort) int {
	for i, a := range n.cfg.Underlay.Listen {
		if a == addr {
			return i
		}
	}
	return -1
}

func (n *Node) closePorts() {
	if n.local != nil {
		n.local.Close()
	}
	for _, u := range n.underlays {
		u.Close()
	}
}

// Send implements peer.Sender through the engine.
func (n *Node) Send(port int, b []byte, to netip.AddrPort) error {
	return n.eng.Send(port, b, to)
}

// Engine returns the node's dataplane, for tests.
func (n *Node) Engine() *engine.Engine { return n.eng }

// Run runs the node until ctx is done or the dataplane fails, then closes
// everything it opened (the TAP device and the control socket go away).
func (n *Node) Run(ctx context.Context) error {
	n.started = time.Now()
	if n.cfg.Control.Socket != "" {
		s, err := api.Listen(n.cfg.Control.Socket, n.Status, n.log)
		if err != nil {
			n.closePorts()
			return err
		}
		n.api = s
		go s.Serve()
		defer s.Close()
	}
	n.eng.Start()
	n.log.Info("node up", "node", n.cfg.Node.Name, "id", n.cfg.Node.ID, "underlay", fmt.Sprint(n.bound), "suite", n.cfg.Suite.String())
	err := n.loop(ctx)
	if cerr := n.eng.Close(); err == nil && cerr != nil {
		err = cerr
	}
	n.log.Info("node down")
	return err
}

func (n *Node) loop(ctx context.Context) error {
	t := time.NewTicker(n.opt.Tick)
	defer t.Stop()
	n.tick(time.Now())
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-n.eng.Done():
			return n.eng.Err()
		case now := <-t.C:
			n.tick(now)
		case m := <-n.ctl:
			n.handle(m, time.Now())
			n.publishIfChanged()
		}
	}
}

func (n *Node) tick(now time.Time) {
	for _, p := range n.peers {
		p.Tick(now)
	}
	if n.mesh != nil {
		n.mesh.Tick(now)
	}
	n.publishIfChanged()
}

// publishIfChanged gives the dataplane a new snapshot if a peer changed,
// then sends what the peers queued: in that order, so that an answer to a
// datagram on a new session never arrives before the dataplane knows it.
func (n *Node) publishIfChanged() {
	changed := false
	for _, p := range n.peers {
		if p.Changed() {
			changed = true
		}
	}
	if n.mesh != nil && n.mesh.Changed() {
		changed = true
	}
	if changed {
		n.eng.Apply(n.snapshot())
	}
	if n.mesh != nil {
		n.sendMesh()
	}
	for _, p := range n.peers {
		p.Flush()
	}
}

// onControl runs on an rx worker: it copies the datagram and queues it.
func (n *Node) onControl(port int, p *buf.Packet, h *wire.Header) {
	m := ctlMsg{port: port, from: p.Addr, typ: h.Type, src: h.Src, ttl: pipeline.DefaultTTL}
	if n.mesh != nil {
		m.ttl = h.TTL
	}
	if h.Type == wire.TypeControl {
		ref, ok := (*n.bySession.Load())[h.Session]
		if !ok {
			n.ctlDrops[ctlUnknownSession].Add(1)
			return
		}
		m.session = ref
		m.wall = time.Now().UnixNano()
	}
	m.data = append([]byte(nil), p.Data()...)
	select {
	case n.ctl <- m:
	default:
		n.ctlDrops[ctlQueueFull].Add(1)
	}
}

func (n *Node) handle(m ctlMsg, now time.Time) {
	switch m.typ {
	case wire.TypeHandshakeInit, wire.TypeHandshakeResp:
		p := n.byNode[m.src]
		if p == nil {
			n.ctlDrops[ctlUnknownNode].Add(1)
			return
		}
		if !n.hs.take(now) {
			n.ctlDrops[ctlRateLimited].Add(1)
			return
		}
		var err error
		if m.typ == wire.TypeHandshakeInit {
			err = p.HandleInit(m.port, m.from, m.relayed(), m.data, now)
		} else {
			err = p.HandleResp(m.port, m.from, m.relayed(), m.data, now)
		}
		if err != nil {
			n.ctlDrops[ctlHandshakeRefused].Add(1)
			n.log.Debug("handshake refused", "peer", p.Name(), "from", m.from.String(), "err", err)
		}
	case wire.TypeControl:
		if err := n.handleControl(m, now); err != nil {
			n.ctlDrops[ctlMessageRefused].Add(1)
			n.log.Debug("control message refused", "peer", m.session.p.Name(), "from", m.from.String(), "err", err)
		}
	}
}

func (n *Node) handleControl(m ctlMsg, now time.Time) error {
	p := m.session.p
	if n.mesh != nil && m.ttl <= pipeline.DefaultTTL {
		n.snapMu.Lock()
		n.hopsFrom[p.Node()] = int(pipeline.DefaultTTL-m.ttl) + 1
		n.snapMu.Unlock()
	}
	kind, err := msg.Peek(m.data)
	if err != nil {
		return err
	}
	switch kind {
	case msg.KindPing, msg.KindPong:
		if err := p.HandleControl(m.port, m.from, m.relayed(), m.session.s, m.data, now); err != nil {
			return err
		}
		var k msg.Keepalive
		if n.mesh != nil && kind == msg.KindPing && !m.relayed() && k.Decode(m.data) == nil && k.HasProbe && k.Path != msg.PathRouted {
			n.mesh.ProbePath(p.Node(), k.Path, k.Seq, k.Wall, m.wall, now)
		}
		return nil
	case msg.KindLinkState:
		if n.mesh == nil {
			return fmt.Errorf("link-state from %s: not a mesh node", p.Name())
		}
		return n.mesh.HandleLinkState(p.Node(), m.data, now)
	case msg.KindTable:
		if n.mesh == nil {
			return fmt.Errorf("table from %s: not a mesh node", p.Name())
		}
		return n.mesh.HandleTable(p.Node(), m.data, now)
	}
	return fmt.Errorf("control message of kind %v", kind)
}

// snapshot builds the dataplane's configuration from the config and the
// peers' current routes and sessions.
func (n *Node) snapshot() *pipeline.Snapshot {
	n.snapMu.Lock()
	defer n.snapMu.Unlock()
	c := n.cfg
	s := &pipeline.Snapshot{
		Node:     c.Node.ID,
		VLAN:     c.VLANMap,
		LZ4:      c.LZ4,
		Sessions: map[uint32]*wire.Session{},
	}
	refs := map[uint32]sessionRef{}
	for _, p := range n.peers {
		for _, ss := range p.Sessions() {
			s.Sessions[ss.LocalID] = ss
			refs[ss.LocalID] = sessionRef{ss, p}
		}
	}
	n.bySession.Store(&refs)
	switch {
	case n.mesh != nil:
		s.Mesh = n.meshSnapshot()
	case n.vxlan != nil:
		pa := n.vxlan.Paths[0]
		s.Route = pipeline.Route{Codec: pipeline.CodecVXLAN, VNI: n.vxlan.VNI, Endpoint: pa.Remote, Port: max(0, n.portIndex(pa.Local))}
		s.VXLAN, s.VXLANVNI, s.VXLANFrom = true, n.vxlan.VNI, pa.Remote.Addr()
	case len(n.peers) > 0:
		s.Route = n.peers[0].Route()
	}
	s.PieceSize = n.pieceSize(s.Route)
	switch c.Underlay.MTUPolicy {
	case conf.MTUFragment:
		s.Fragment = s.Route.Codec == pipeline.CodecSkiff
	}
	s.MSS = n.mss(s.PieceSize)
	return s
}

// pieceSize is how many frame bytes fit one datagram on the route's path:
// the underlay MTU less the outer IP and UDP headers and the encapsulation.
func (n *Node) pieceSize(r pipeline.Route) int {
	ip := 20
	if a := r.Endpoint.Addr(); a.IsValid() && !a.Unmap().Is4() {
		ip = 40
	}
	if n.mesh != nil {
		for _, a := range n.bound {
			if !a.Addr().Unmap().Is4() {
				ip = 40
			}
		}
	}
	over := wire.HeaderLen + n.cfg.Suite.Overhead()
	if r.Codec == pipeline.CodecVXLAN {
		over = wire.VXLANHeaderLen
	}
	return n.cfg.Underlay.MTU - ip - 8 - over
}

// mss is the TCP MSS clamp: configured, or, with mtu_policy clamp, what
// makes a full TCP segment (in a frame with one VLAN tag) fit one datagram.
func (n *Node) mss(piece int) stage.MSS {
	if m := n.cfg.Underlay.MSS; m > 0 {
		return stage.MSS{V4: uint16(m), V6: uint16(m)}
	}
	if n.cfg.Underlay.MTUPolicy != conf.MTUClamp {
		return stage.MSS{}
	}
	l2 := 14 + 4
	return stage.MSS{V4: uint16(max(88, piece-l2-20-20)), V6: uint16(max(88, piece-l2-40-20))}
}

// idSet hands out node-wide unique, random, non-zero session ids.
type idSet struct {
	mu   sync.Mutex
	used map[uint32]bool
}

func (s *idSet) Alloc() (uint32, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.used == nil {
		s.used = map[uint32]bool{}
	}
	for range 100 {
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			return 0, err
		}
		if id := binary.BigEndian.Uint32(b[:]); id != 0 && !s.used[id] {
			s.used[id] = true
			return id, nil
		}
	}
	return 0, errors.New("no free session id")
}

func (s *idSet) Release(id uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.used, id)
}

// tokenBucket limits a rate; only the control goroutine uses it.
type tokenBucket struct {
	rate, burst float64
	tokens      float64
	last        time.Time
}

func (b *tokenBucket) take(now time.Time) bool {
	if b.last.IsZero() {
		b.tokens = b.burst
	} else {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
