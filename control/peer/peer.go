// SPDX-License-Identifier: Apache-2.0

// Package peer keeps one remote node reachable: it runs handshakes for
// fresh session keys (at start, when the peer restarts, on rekey), sends
// keepalives on every underlay path, judges each path alive or dead by the
// answers, picks the path traffic uses (the first live one in configured
// order: fail-over and fail-back), and learns the peer's address from
// authenticated traffic when it is behind NAT.
//
// A Peer is driven by one goroutine of the node: Tick on a timer and the
// Handle* methods for datagrams the dataplane passed up. Time is injected:
// every call takes now. Datagrams the peer wants to send are queued; Flush
// sends them through the Sender. The dataplane never sees a Peer, only the
// route and sessions the node copies into its snapshot whenever Changed
// reports a change. The node publishes that snapshot before it calls Flush,
// so the dataplane knows a new session before any answer to a datagram
// that uses it can arrive.
//
//	Tick ---------> initiation (no session, rekey due, all paths dead)
//	           +--> ping on every path with a known address, every keepalive
//	HandleInit ---> response, new session (unconfirmed until the peer uses it)
//	HandleResp ---> new session (confirmed), pings at once on every path
//	HandleControl -> ping: pong back the same way; pong: that path is alive
//	                 (both: learn or roam a NAT path's address)
package peer

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/skiffnet/skiff/control/msg"
	"github.com/skiffnet/skiff/dataplane/pipeline"
	"github.com/skiffnet/skiff/dataplane/wire"
)

// Sender puts a datagram on underlay socket port, to the given address.
type Sender interface {
	Send(port int, b []byte, to netip.AddrPort) error
}

// IDs hands out session ids unique within the node.
type IDs interface {
	Alloc() (uint32, error)
	Release(id uint32)
}

// PathConfig is one underlay path to the peer.
type PathConfig struct {
	// Remote is the peer's address. An unspecified address (0.0.0.0 or
	// ::) or port 0 is learnt from authenticated traffic; a configured
	// part must match.
	Remote netip.AddrPort
	Port   int            // index of the underlay socket to use
	Local  netip.AddrPort // that socket's address, for status
}

func (c PathConfig) learnable() bool {
	return c.Remote.Addr().IsUnspecified() || c.Remote.Port() == 0 || !c.Remote.Addr().IsValid()
}

// matches reports whether from fits the configured pattern.
func (c PathConfig) matches(from netip.AddrPort) bool {
	a := c.Remote.Addr()
	if a.IsValid() && !a.IsUnspecified() && a.Unmap() != from.Addr().Unmap() {
		return false
	}
	if a.IsValid() && a.Unmap().Is4() != from.Addr().Unmap().Is4() {
		return false
	}
	return c.Remote.Port() == 0 || c.Remote.Port() == from.Port()
}

// Config configures a Peer.
type Config struct {
	Name       string
	Node       uint16 // the peer's node id
	LocalNode  uint16 // this node's id
	PSK        wire.PSK
	Suite      wire.Suite
	Paths      []PathConfig
	Keepalive  time.Duration
	DeadAfter  time.Duration
	RekeyAfter time.Duration
	IDs        IDs
	Sender     Sender
	Logger     *slog.Logger
	// Clock is the monotonic clock keepalive timestamps use, in
	// nanoseconds; nil: time since the Peer was made.
	Clock func() int64
	// Wall is the wall clock (Unix nanoseconds) pings carry for one-way
	// delay; nil: time.Now.
	Wall func() int64
	// Via, in a mesh, returns the underlay socket and address of the
	// next hop toward the peer when it is reached through relays (ok
	// false: no such route now). Handshakes and "routed" pings go there
	// while no direct path is up. A peer without paths needs it.
	Via func() (port int, to netip.AddrPort, ok bool)
}

// Timing of handshakes.
const (
	// HandshakeRetry: an initiation without answer is sent again after this.
	HandshakeRetry = time.Second
	// responderRekeyGrace: the responder of the session in use starts a
	// rekey this long after the initiator should have.
	responderRekeyGrace = 10 * time.Second
	// maxSessions bounds the sessions kept per peer (in use, previous,
	// and handshakes the peer started).
	maxSessions = 4
)

// PathState is a path's health.
type PathState uint8

const (
	PathUnknown PathState = iota // no answer yet, not long enough to call it dead
	PathUp                       // a pong arrived within DeadAfter
	PathDown                     // silent for DeadAfter
)

func (s PathState) String() string {
	switch s {
	case PathUp:
		return "up"
	case PathDown:
		return "down"
	}
	return "unknown"
}

type path struct {
	cfg      PathConfig
	remote   netip.AddrPort // in use: configured or learnt; invalid while unknown
	state    PathState
	since    time.Time // when probing of this path began (for Unknown -> Down)
	lastPing time.Time
	lastPong time.Time
	rtt      time.Duration
	pings    uint64
	pongs    uint64
	seq      uint32 // probe sequence of the last ping
}

// Peer is the control-plane state of one remote node.
type Peer struct {
	mu  sync.Mutex
	cfg Config
	log *slog.Logger

	paths  []*path
	cur    int   // path in use
	routed *path // mesh: the path through relays (cfg.Port -1: resolved by Via); nil without Via

	sessions []*wire.Session // newest first
	send     *wire.Session   // the newest confirmed session
	pending  *wire.Initiation
	lastInit time.Time // when the last initiation was sent
	peerTS   uint64    // newest initiation timestamp accepted from the peer
	ownTS    uint64    // newest initiation timestamp sent
	upSince  time.Time // when send last went from nil to a session

	sc      wire.Scratch
	changed bool
	c       Counters
	out     []outgoing // queued by Tick and Handle*, sent by Flush
}

type outgoing struct {
	port int
	to   netip.AddrPort
	b    []byte
}

// Counters count a peer's control traffic.
type Counters struct {
	Handshakes       uint64 // sessions made (either side initiating)
	InitsSent        uint64
	InitsRefused     uint64 // initiations from the peer that failed (auth, replay, suite, ...)
	RespsRefused     uint64
	PingsSent        uint64
	PongsReceived    uint64
	ControlRefused   uint64 // undecodable control messages
	AddressesLearned uint64 // a NAT path's address learnt or roamed
	SendErrors       uint64
}

// New returns a peer. It sends nothing until the first Tick.
func New(cfg Config) (*Peer, error) {
	if len(cfg.Paths) == 0 && cfg.Via == nil {
		return nil, errors.New("peer: no paths")
	}
	if cfg.Keepalive <= 0 || cfg.DeadAfter <= cfg.Keepalive || cfg.RekeyAfter <= 0 {
		return nil, fmt.Errorf("peer %s: keepalive %v, dead after %v, rekey after %v: need 0 < keepalive < dead after, rekey after > 0", cfg.Name, cfg.Keepalive, cfg.DeadAfter, cfg.RekeyAfter)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		t0 := time.Now()
		cfg.Clock = func() int64 { return int64(time.Since(t0)) }
	}
	if cfg.Wall == nil {
		cfg.Wall = func() int64 { return time.Now().UnixNano() }
	}
	p := &Peer{cfg: cfg, log: cfg.Logger.With("peer", cfg.Name)}
	if cfg.Via != nil {
		p.routed = &path{cfg: PathConfig{Port: -1}}
	}
	for _, pc := range cfg.Paths {
		pa := &path{cfg: pc}
		if !pc.learnable() {
			pa.remote = pc.Remote
		}
		p.paths = append(p.paths, pa)
	}
	return p, nil
}

// Name is the peer's configured name.
func (p *Peer) Name() string { return p.cfg.Name }

// Node is the peer's node id.
func (p *Peer) Node() uint16 { return p.cfg.Node }

// Changed reports (once) whether the route or the sessions changed since
// the last call: the node then rebuilds the dataplane snapshot.
func (p *Peer) Changed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.changed
	p.changed = false
	return c
}

// Route returns what the dataplane needs to send to the peer.
func (p *Peer) Route() pipeline.Route {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := pipeline.Route{Codec: pipeline.CodecSkiff, Node: p.cfg.Node, Session: p.send}
	if len(p.paths) > 0 {
		pa := p.paths[p.cur]
		r.Endpoint, r.Port = pa.remote, pa.cfg.Port
	}
	return r
}

// Direct returns the socket and address of the direct path in use, if the
// peer has one that is up (or still being probed) with a known address.
func (p *Peer) Direct() (port int, to netip.AddrPort, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.paths) == 0 {
		return 0, netip.AddrPort{}, false
	}
	pa := p.paths[p.cur]
	return pa.cfg.Port, pa.remote, pa.remote.IsValid() && pa.state != PathDown
}

// LinkUp reports whether a direct path to the peer is up.
func (p *Peer) LinkUp() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.directUp()
}

func (p *Peer) directUp() bool {
	for _, pa := range p.paths {
		if pa.state == PathUp {
			return true
		}
	}
	return false
}

// viaAddr resolves the routed path's next hop; ok false without one.
func (p *Peer) viaAddr() (int, netip.AddrPort, bool) {
	if p.routed == nil {
		return 0, netip.AddrPort{}, false
	}
	return p.cfg.Via()
}

// Control seals payload as a control message with the session in use and
// queues it to underlay socket port, address to (Flush sends it). It
// reports false when there is no session.
func (p *Peer) Control(payload []byte, port int, to netip.AddrPort) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.send == nil {
		return false
	}
	p.sendPayload(p.send, port, to, payload)
	return true
}

// Sessions returns the sessions the dataplane accepts datagrams on.
func (p *Peer) Sessions() []*wire.Session {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]*wire.Session(nil), p.sessions...)
}

// Tick does what is due at now: path states, the path in use, session
// expiry and choice, handshakes and keepalives.
func (p *Peer) Tick(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.expire(now)
	p.pickSession(now)
	p.judgePaths(now)
	if p.handshakeDue(now) {
		p.initiate(now)
	}
	p.keepalive(now)
}

func (p *Peer) judgePaths(now time.Time) {
	all := p.paths
	if p.routed != nil {
		all = append(all[:len(all):len(all)], p.routed)
	}
	for _, pa := range all {
		old := pa.state
		switch {
		case !pa.lastPong.IsZero() && now.Sub(pa.lastPong) < p.cfg.DeadAfter:
			pa.state = PathUp
		case pa.since.IsZero():
			pa.state = PathUnknown
		case now.Sub(pa.since) >= p.cfg.DeadAfter && (pa.lastPong.IsZero() || now.Sub(pa.lastPong) >= p.cfg.DeadAfter):
			pa.state = PathDown
		}
		if pa.state != old {
			p.changed = true // a mesh routes through up paths only
			p.log.Info("path state", "path", pa.cfg.Remote.String(), "remote", pa.remote.String(), "from", old.String(), "to", pa.state.String())
		}
	}
	// The first live path in configured order; else the first one still
	// being probed; else stay.
	if len(p.paths) == 0 {
		return
	}
	next := -1
	for i, pa := range p.paths {
		if pa.state == PathUp {
			next = i
			break
		}
	}
	if next < 0 {
		for i, pa := range p.paths {
			if pa.state == PathUnknown && pa.remote.IsValid() {
				next = i
				break
			}
		}
	}
	if next < 0 && !p.paths[p.cur].remote.IsValid() {
		for i, pa := range p.paths {
			if pa.remote.IsValid() {
				next = i
				break
			}
		}
	}
	if next >= 0 && next != p.cur {
		p.log.Info("path switch", "from", p.paths[p.cur].remote.String(), "to", p.paths[next].remote.String())
		p.cur = next
		p.changed = true
	}
}

func (p *Peer) allDown() bool {
	for _, pa := range p.paths {
		if pa.state != PathDown {
			return false
		}
	}
	// The routed path counts once it has been tried.
	return p.routed == nil || p.routed.state == PathDown || p.routed.since.IsZero()
}

func (p *Peer) handshakeDue(now time.Time) bool {
	if p.pending != nil && now.Sub(p.lastInit) < HandshakeRetry {
		return false
	}
	s := p.send
	switch {
	case s == nil:
		return true
	case s.Initiator && s.NeedsRekey(now, p.cfg.RekeyAfter):
		return true
	case !s.Initiator && s.NeedsRekey(now, p.cfg.RekeyAfter+responderRekeyGrace):
		return true
	case p.allDown():
		// Nothing answers: the peer may have lost our session without
		// restarting (or restarted unable to reach us). Try a new one.
		return now.Sub(p.lastInit) >= HandshakeRetry
	}
	return false
}

func (p *Peer) initiate(now time.Time) {
	id, err := p.cfg.IDs.Alloc()
	if err != nil {
		p.log.Warn("handshake: no session id", "err", err)
		return
	}
	ts := uint64(now.UnixNano())
	if ts <= p.ownTS {
		ts = p.ownTS + 1
	}
	p.ownTS = ts
	if p.pending != nil {
		p.cfg.IDs.Release(p.pending.LocalID())
	}
	in, dgram, err := wire.Initiate(p.hsConfig(), id, time.Unix(0, int64(ts)))
	if err != nil {
		p.cfg.IDs.Release(id)
		p.log.Warn("handshake: initiate", "err", err)
		return
	}
	p.pending, p.lastInit = in, now
	for _, pa := range p.paths {
		if pa.remote.IsValid() {
			if pa.since.IsZero() {
				pa.since = now
			}
			p.sendTo(pa, dgram)
			p.c.InitsSent++
		}
	}
	if port, to, ok := p.viaAddr(); ok && !p.directUp() {
		if p.routed.since.IsZero() {
			p.routed.since = now
		}
		p.queue(port, to, dgram)
		p.c.InitsSent++
	}
}

func (p *Peer) hsConfig() wire.HandshakeConfig {
	return wire.HandshakeConfig{PSK: p.cfg.PSK, Suite: p.cfg.Suite, LocalNode: p.cfg.LocalNode, RemoteNode: p.cfg.Node}
}

func (p *Peer) keepalive(now time.Time) {
	if p.send == nil {
		return
	}
	for i, pa := range p.paths {
		if !pa.remote.IsValid() || now.Sub(pa.lastPing) < p.cfg.Keepalive {
			continue
		}
		p.ping(i, pa, now)
	}
	p.pingRouted(now, false)
}

// pingRouted pings the peer through relays while no direct path is up
// (always, when asked to confirm a new session).
func (p *Peer) pingRouted(now time.Time, force bool) {
	r := p.routed
	if r == nil || p.directUp() || (!force && now.Sub(r.lastPing) < p.cfg.Keepalive) {
		return
	}
	port, to, ok := p.cfg.Via()
	if !ok {
		return
	}
	r.cfg.Port, r.remote = port, to
	p.ping(msg.PathRouted, r, now)
}

func (p *Peer) ping(i int, pa *path, now time.Time) {
	if pa.since.IsZero() {
		pa.since = now
	}
	pa.lastPing = now
	pa.pings++
	pa.seq++
	p.c.PingsSent++
	k := msg.Keepalive{Kind: msg.KindPing, Path: uint16(i), Timestamp: uint64(p.cfg.Clock()), HasProbe: true, Seq: pa.seq, Wall: p.cfg.Wall()}
	p.sendControl(p.send, pa.cfg.Port, pa.remote, &k)
}

// sendControl seals a keepalive with session s and sends it.
func (p *Peer) sendControl(s *wire.Session, port int, to netip.AddrPort, k *msg.Keepalive) {
	var m [msg.ProbeLen]byte
	p.sendPayload(s, port, to, k.Append(m[:0]))
}

// sendPayload seals a control message with session s and queues it.
func (p *Peer) sendPayload(s *wire.Session, port int, to netip.AddrPort, payload []byte) {
	ctr, err := s.NextCounters(1)
	if err != nil {
		return
	}
	h := wire.Header{Type: wire.TypeControl, TTL: pipeline.DefaultTTL, Suite: s.Suite, Src: p.cfg.LocalNode, Dst: p.cfg.Node, Session: s.RemoteID, Counter: ctr}
	b := make([]byte, wire.HeaderLen, wire.HeaderLen+len(payload)+wire.TagSize)
	h.Put(b)
	b = append(b, payload...)
	ct := s.Seal(&p.sc, b[:wire.HeaderLen], b[wire.HeaderLen:], ctr)
	p.queue(port, to, b[:wire.HeaderLen+len(ct)])
}

func (p *Peer) sendTo(pa *path, dgram []byte) { p.queue(pa.cfg.Port, pa.remote, dgram) }

func (p *Peer) queue(port int, to netip.AddrPort, b []byte) {
	p.out = append(p.out, outgoing{port, to, b})
}

// Flush sends the queued datagrams.
func (p *Peer) Flush() {
	p.mu.Lock()
	out := p.out
	p.out = nil
	p.mu.Unlock()
	for _, o := range out {
		if err := p.cfg.Sender.Send(o.port, o.b, o.to); err != nil {
			p.mu.Lock()
			p.c.SendErrors++
			p.mu.Unlock()
			p.log.Debug("send", "to", o.to.String(), "err", err)
		}
	}
}

// expire drops sessions past their life and frees their ids.
func (p *Peer) expire(now time.Time) {
	life := 2*p.cfg.RekeyAfter + responderRekeyGrace + 30*time.Second
	kept := p.sessions[:0]
	for _, s := range p.sessions {
		if now.Sub(s.Created) >= life {
			p.cfg.IDs.Release(s.LocalID)
			p.changed = true
			continue
		}
		kept = append(kept, s)
	}
	clear(p.sessions[len(kept):])
	p.sessions = kept
}

// pickSession makes the newest confirmed session the one to send with.
func (p *Peer) pickSession(now time.Time) {
	var best *wire.Session
	for _, s := range p.sessions {
		if s.Confirmed() && (best == nil || s.Created.After(best.Created)) {
			best = s
		}
	}
	if best != p.send {
		if p.send == nil {
			p.upSince = now
			p.log.Info("session up", "suite", p.cfg.Suite.String(), "initiator", best.Initiator)
		} else if best == nil {
			p.log.Info("session down")
		}
		p.send = best
		p.changed = true
	}
}

// addSession puts s first, dropping the oldest beyond maxSessions.
func (p *Peer) addSession(s *wire.Session) {
	p.sessions = append([]*wire.Session{s}, p.sessions...)
	if len(p.sessions) > maxSessions {
		for _, old := range p.sessions[maxSessions:] {
			p.cfg.IDs.Release(old.LocalID)
		}
		p.sessions = p.sessions[:maxSessions]
	}
	p.changed = true
}

// HandleInit answers a handshake initiation from the peer that arrived on
// socket port from the address from (relayed: through a relay, whose
// address from then is).
func (p *Peer) HandleInit(port int, from netip.AddrPort, relayed bool, dgram []byte, now time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	id, err := p.cfg.IDs.Alloc()
	if err != nil {
		return err
	}
	s, resp, info, err := wire.Respond(p.hsConfig(), dgram, id, p.peerTS, now)
	if err != nil {
		p.cfg.IDs.Release(id)
		p.c.InitsRefused++
		return err
	}
	p.peerTS = info.Timestamp
	p.addSession(s)
	p.c.Handshakes++
	p.queue(port, from, resp)
	return nil
}

// HandleResp finishes our handshake with the peer's response.
func (p *Peer) HandleResp(port int, from netip.AddrPort, relayed bool, dgram []byte, now time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pending == nil {
		p.c.RespsRefused++
		return errors.New("handshake: response without initiation")
	}
	s, err := p.pending.Finish(dgram, now)
	if err != nil {
		p.c.RespsRefused++
		return err
	}
	p.pending = nil
	p.addSession(s)
	p.c.Handshakes++
	// The response is authenticated and answers our fresh initiation: a
	// NAT path may learn the address from it.
	if !relayed {
		p.learn(port, from)
	}
	p.pickSession(now)
	// Confirm the session to the peer and probe every path at once.
	for i, pa := range p.paths {
		if pa.remote.IsValid() {
			p.ping(i, pa, now)
		}
	}
	p.pingRouted(now, true)
	return nil
}

// HandleControl handles an opened keepalive that arrived on session s
// (already authenticated and replay-checked by the dataplane); relayed: it
// came through a relay (from is the relay's address).
func (p *Peer) HandleControl(port int, from netip.AddrPort, relayed bool, s *wire.Session, payload []byte, now time.Time) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var k msg.Keepalive
	if err := k.Decode(payload); err != nil {
		p.c.ControlRefused++
		return err
	}
	if !relayed {
		p.learn(port, from)
	}
	p.pickSession(now)
	switch k.Kind {
	case msg.KindPing:
		pong := k
		pong.Kind = msg.KindPong
		p.sendControl(s, port, from, &pong)
	case msg.KindPong:
		var pa *path
		switch {
		case k.Path == msg.PathRouted && p.routed != nil:
			pa = p.routed
		case int(k.Path) < len(p.paths):
			pa = p.paths[k.Path]
		default:
			p.c.ControlRefused++
			return fmt.Errorf("pong for path %d of %d", k.Path, len(p.paths))
		}
		pa.lastPong = now
		pa.pongs++
		p.c.PongsReceived++
		if d := time.Duration(p.cfg.Clock() - int64(k.Timestamp)); d >= 0 && d < time.Minute {
			pa.rtt = d
		}
		p.judgePaths(now)
	}
	return nil
}

// learn records from as the address of the NAT path it arrived on, if it
// belongs to none yet. Only called for authenticated, fresh datagrams.
func (p *Peer) learn(port int, from netip.AddrPort) {
	for _, pa := range p.paths {
		if pa.cfg.Port == port && pa.remote == from {
			return
		}
	}
	for _, pa := range p.paths {
		if pa.cfg.Port == port && pa.cfg.learnable() && pa.cfg.matches(from) {
			p.log.Info("peer address", "path", pa.cfg.Remote.String(), "old", pa.remote.String(), "new", from.String())
			pa.remote = from
			p.c.AddressesLearned++
			p.changed = true
			return
		}
	}
}

// Status is a peer's state for skiff status.
type Status struct {
	Name     string       `json:"name"`
	Node     uint16       `json:"id"`
	State    string       `json:"state"` // up, handshaking, down
	Path     int          `json:"path"`  // index of the path in use
	Paths    []PathStatus `json:"paths"`
	Routed   *PathStatus  `json:"routed,omitempty"` // mesh: pings through relays
	Session  *SessionInfo `json:"session,omitempty"`
	Sessions int          `json:"sessions"`
	UpFor    Duration     `json:"up_for"`
	Suite    string       `json:"suite"`
	Counters Counters     `json:"counters"`
}

// PathStatus is one path's state.
type PathStatus struct {
	Configured string   `json:"configured"`
	Remote     string   `json:"remote"`
	Local      string   `json:"local"`
	State      string   `json:"state"`
	RTT        Duration `json:"rtt"`
	LastPong   Duration `json:"last_pong"` // age; -1 if never
	Pings      uint64   `json:"pings"`
	Pongs      uint64   `json:"pongs"`
}

// SessionInfo describes the session in use.
type SessionInfo struct {
	Age       Duration `json:"age"`
	LocalID   uint32   `json:"local_id"`
	RemoteID  uint32   `json:"remote_id"`
	Initiator bool     `json:"initiator"`
	Sent      uint64   `json:"sent"`
}

// Duration marshals as seconds (a float) in JSON.
type Duration time.Duration

// MarshalJSON writes seconds.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf("%.6f", time.Duration(d).Seconds())), nil
}

// UnmarshalJSON reads seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s float64
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	*d = Duration(s * float64(time.Second))
	return nil
}

func (d Duration) String() string {
	if d < 0 {
		return "never"
	}
	return time.Duration(d).Round(time.Millisecond).String()
}

// Status reports the peer's state at now.
func (p *Peer) Status(now time.Time) Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := Status{Name: p.cfg.Name, Node: p.cfg.Node, Path: p.cur, Sessions: len(p.sessions), Suite: p.cfg.Suite.String(), Counters: p.c}
	switch {
	case p.send != nil && !p.allDown():
		st.State = "up"
		st.UpFor = Duration(now.Sub(p.upSince))
	case p.pending != nil:
		st.State = "handshaking"
	default:
		st.State = "down"
	}
	if s := p.send; s != nil {
		st.Session = &SessionInfo{Age: Duration(now.Sub(s.Created)), LocalID: s.LocalID, RemoteID: s.RemoteID, Initiator: s.Initiator, Sent: s.Sent()}
	}
	for _, pa := range p.paths {
		st.Paths = append(st.Paths, pa.status(now))
	}
	if r := p.routed; r != nil {
		ps := r.status(now)
		ps.Configured = "(relays)"
		st.Routed = &ps
	}
	return st
}

func (pa *path) status(now time.Time) PathStatus {
	ps := PathStatus{Configured: pa.cfg.Remote.String(), Remote: pa.remote.String(), Local: pa.cfg.Local.String(),
		State: pa.state.String(), RTT: Duration(pa.rtt), LastPong: Duration(-1), Pings: pa.pings, Pongs: pa.pongs}
	if !pa.remote.IsValid() {
		ps.Remote = "(learning)"
	}
	if !pa.lastPong.IsZero() {
		ps.LastPong = Duration(now.Sub(pa.lastPong))
	}
	return ps
}
