// SPDX-License-Identifier: Apache-2.0

package peer

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/skiffnet/skiff/dataplane/wire"
)

// idSet is a node's session id allocator.
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
	for {
		var b [4]byte
		rand.Read(b[:])
		id := binary.BigEndian.Uint32(b[:])
		if id != 0 && !s.used[id] {
			s.used[id] = true
			return id, nil
		}
	}
}

func (s *idSet) Release(id uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.used, id)
}

func (s *idSet) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.used)
}

// sim is two nodes (A = node 1, B = node 2) joined by two links. Link i
// joins A's socket i (10.0.i.1:4800) and B's socket i (10.0.i.2:4800).
// Datagrams are queued and delivered after each step, so no peer is
// re-entered while it sends.
type sim struct {
	t      *testing.T
	now    time.Time
	clock  int64
	psk    wire.PSK
	nodes  [2]*node
	down   [2]bool // link i cut
	queue  []dgram
	nat    netip.AddrPort // if valid: A's socket 0 appears to B as this address
	replay []dgram        // everything delivered, for replay attacks
}

type node struct {
	id   uint16
	peer *Peer
	ids  *idSet
}

type dgram struct {
	to, port int // destination node index and its socket
	from     netip.AddrPort
	b        []byte
}

func addr(link, node int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(link), byte(node + 1)}), 4800)
}

// sender is node n's Sender.
type sender struct {
	s *sim
	n int
}

func (x sender) Send(port int, b []byte, to netip.AddrPort) error {
	s := x.s
	other := 1 - x.n
	if to != addr(port, other) && !(x.n == 1 && s.nat.IsValid() && to == s.nat) {
		return fmt.Errorf("no route to %v on socket %d", to, port)
	}
	from := addr(port, x.n)
	if x.n == 0 && port == 0 && s.nat.IsValid() {
		from = s.nat
	}
	s.queue = append(s.queue, dgram{to: other, port: port, from: from, b: append([]byte(nil), b...)})
	return nil
}

func newSim(t *testing.T, bPaths []PathConfig) *sim {
	s := &sim{t: t, now: time.Unix(1700000000, 0)}
	rand.Read(s.psk[:])
	aPaths := []PathConfig{{Remote: addr(0, 1), Port: 0}, {Remote: addr(1, 1), Port: 1}}
	if bPaths == nil {
		bPaths = []PathConfig{{Remote: addr(0, 0), Port: 0}, {Remote: addr(1, 0), Port: 1}}
	}
	s.nodes[0] = s.newNode(0, aPaths)
	s.nodes[1] = s.newNode(1, bPaths)
	return s
}

func (s *sim) newNode(n int, paths []PathConfig) *node {
	nd := &node{id: uint16(n + 1), ids: &idSet{}}
	p, err := New(Config{
		Name: fmt.Sprintf("node%d", 2-n), Node: uint16(2 - n), LocalNode: uint16(n + 1),
		PSK: s.psk, Suite: wire.SuiteAES256GCM, Paths: paths,
		Keepalive: time.Second, DeadAfter: 3 * time.Second, RekeyAfter: 2 * time.Minute,
		IDs: nd.ids, Sender: sender{s, n}, Clock: func() int64 { return s.clock },
	})
	if err != nil {
		s.t.Fatal(err)
	}
	nd.peer = p
	return nd
}

// restart replaces node n with a fresh one (same config, no state).
func (s *sim) restart(n int) {
	old := s.nodes[n].peer
	s.nodes[n] = s.newNode(n, old.cfg.Paths)
}

// deliver hands a datagram to its node as the node's dispatcher would:
// handshakes by type; control messages opened with the session they name.
func (s *sim) deliver(d dgram) {
	link := d.port
	if s.down[link] {
		return
	}
	nd := s.nodes[d.to]
	var h wire.Header
	if err := h.Decode(d.b); err != nil {
		s.t.Fatalf("undecodable datagram: %v", err)
	}
	defer nd.peer.Flush()
	switch h.Type {
	case wire.TypeHandshakeInit:
		nd.peer.HandleInit(d.port, d.from, false, d.b, s.now)
	case wire.TypeHandshakeResp:
		nd.peer.HandleResp(d.port, d.from, false, d.b, s.now)
	case wire.TypeControl:
		for _, ss := range nd.peer.Sessions() {
			if ss.LocalID != h.Session {
				continue
			}
			b := append([]byte(nil), d.b...)
			var sc wire.Scratch
			pt, err := ss.Open(&sc, b[:wire.HeaderLen], b[wire.HeaderLen:], h.Counter)
			if err != nil {
				return // replay or forgery: the dataplane drops it
			}
			nd.peer.HandleControl(d.port, d.from, false, ss, pt, s.now)
		}
	}
}

// step advances the clock by d, ticks both nodes and delivers what they
// sent (and what the deliveries caused) until quiet.
func (s *sim) step(d time.Duration) {
	s.now = s.now.Add(d)
	s.clock += int64(d)
	for _, nd := range s.nodes {
		nd.peer.Tick(s.now)
		nd.peer.Flush()
	}
	for len(s.queue) > 0 {
		q := s.queue
		s.queue = nil
		for _, dg := range q {
			s.replay = append(s.replay, dg)
			s.deliver(dg)
		}
	}
}

// run steps 50 ms at a time for d.
func (s *sim) run(d time.Duration) {
	for t := time.Duration(0); t < d; t += 50 * time.Millisecond {
		s.step(50 * time.Millisecond)
	}
}

// until steps until cond holds, failing after max.
func (s *sim) until(what string, max time.Duration, cond func() bool) time.Duration {
	s.t.Helper()
	for t := time.Duration(0); t <= max; t += 50 * time.Millisecond {
		if cond() {
			return t
		}
		s.step(50 * time.Millisecond)
	}
	s.t.Fatalf("%s: not within %v", what, max)
	return 0
}

// linked reports whether each node sends with a session whose other half
// the other node holds. (After simultaneous initiations the two directions
// may use sessions of different handshakes; both are valid.)
func (s *sim) linked() bool {
	has := func(n int, id uint32) bool {
		for _, ss := range s.nodes[n].peer.Sessions() {
			if ss.LocalID == id {
				return true
			}
		}
		return false
	}
	a, b := s.nodes[0].peer.Route().Session, s.nodes[1].peer.Route().Session
	return a != nil && b != nil && has(1, a.RemoteID) && has(0, b.RemoteID)
}

func (s *sim) path(n int) netip.AddrPort { return s.nodes[n].peer.Route().Endpoint }

func TestHandshakeAndKeepalive(t *testing.T) {
	s := newSim(t, nil)
	took := s.until("sessions up", 2*time.Second, s.linked)
	if took > 200*time.Millisecond {
		t.Fatalf("handshake took %v", took)
	}
	s.run(5 * time.Second)
	for n, nd := range s.nodes {
		st := nd.peer.Status(s.now)
		if st.State != "up" || st.Paths[0].State != "up" || st.Paths[1].State != "up" || st.Path != 0 {
			t.Fatalf("node %d: %+v", n, st)
		}
		if s.path(n) != addr(0, 1-n) {
			t.Fatalf("node %d uses %v", n, s.path(n))
		}
	}
	if !s.linked() {
		t.Fatal("sessions diverged")
	}
	if c := s.nodes[0].peer.Status(s.now).Counters; c.PingsSent < 8 || c.PongsReceived < 8 {
		t.Fatalf("keepalives: %+v", c)
	}
}

// The active link dies: both sides move to the other path within
// DeadAfter (3 s), and back when it recovers.
func TestFailoverAndBack(t *testing.T) {
	s := newSim(t, nil)
	s.until("up", 2*time.Second, s.linked)
	s.run(2 * time.Second)
	s.down[0] = true
	took := s.until("fail-over", 4*time.Second, func() bool { return s.path(0) == addr(1, 1) && s.path(1) == addr(1, 0) })
	if took > 3*time.Second+100*time.Millisecond {
		t.Fatalf("fail-over took %v", took)
	}
	if !s.linked() {
		t.Fatal("session lost in fail-over")
	}
	s.down[0] = false
	took = s.until("fail-back", 3*time.Second, func() bool { return s.path(0) == addr(0, 1) && s.path(1) == addr(0, 0) })
	if took > 1100*time.Millisecond {
		t.Fatalf("fail-back took %v", took)
	}
}

// Both links die: the peer is down; it comes back when a link returns.
func TestAllPathsDown(t *testing.T) {
	s := newSim(t, nil)
	s.until("up", 2*time.Second, s.linked)
	s.down = [2]bool{true, true}
	s.run(4 * time.Second)
	if st := s.nodes[0].peer.Status(s.now); st.State == "up" {
		t.Fatalf("still up with every link cut: %+v", st)
	}
	s.down[1] = false
	s.until("back on link 1", 3*time.Second, func() bool {
		return s.linked() && s.path(0) == addr(1, 1) && s.nodes[0].peer.Status(s.now).State == "up"
	})
}

// A node restarts (loses all state): the tunnel recovers through a new
// handshake without the other node doing anything special.
func TestRestart(t *testing.T) {
	for _, n := range []int{0, 1} {
		t.Run(fmt.Sprintf("node%d", n), func(t *testing.T) {
			s := newSim(t, nil)
			s.until("up", 2*time.Second, s.linked)
			s.run(3 * time.Second)
			before := s.nodes[1-n].peer.Route().Session
			s.restart(n)
			took := s.until("recovered", 3*time.Second, s.linked)
			if took > 500*time.Millisecond {
				t.Fatalf("recovery took %v", took)
			}
			if s.nodes[1-n].peer.Route().Session == before {
				t.Fatal("the surviving node still sends with the old session")
			}
		})
	}
}

// B knows A only as 0.0.0.0:0 (A is behind NAT): B learns A's address from
// authenticated traffic, follows it when the NAT mapping changes, and is
// not moved by replayed or forged datagrams.
func TestNATLearnAndRoam(t *testing.T) {
	s := newSim(t, []PathConfig{{Remote: netip.MustParseAddrPort("0.0.0.0:0"), Port: 0}})
	s.nat = netip.MustParseAddrPort("203.0.113.7:40000")
	s.until("up", 2*time.Second, s.linked)
	s.until("learnt", time.Second, func() bool { return s.path(1) == s.nat })
	if st := s.nodes[1].peer.Status(s.now); st.Counters.AddressesLearned != 1 {
		t.Fatalf("learnt %d times", st.Counters.AddressesLearned)
	}
	// The NAT mapping changes.
	s.nat = netip.MustParseAddrPort("203.0.113.7:40001")
	s.until("roamed", 2*time.Second, func() bool { return s.path(1) == s.nat })

	// Replays of everything A sent, from an attacker's address, move
	// nothing: handshakes are refused (old timestamps), control messages
	// fail the replay window.
	attacker := netip.MustParseAddrPort("198.51.100.66:6666")
	old := s.replay
	for _, d := range old {
		if d.to == 1 {
			d.from = attacker
			s.deliver(d)
		}
	}
	if s.path(1) != s.nat {
		t.Fatalf("a replayed datagram moved B to %v", s.path(1))
	}
	// B never sends to A before it learnt the address.
	if st := s.nodes[1].peer.Status(s.now); st.Counters.InitsRefused == 0 {
		t.Fatal("replayed initiations were not refused")
	}
}

// Sessions are renewed on time; the tunnel never drops in between and old
// session ids are freed.
func TestRekey(t *testing.T) {
	s := newSim(t, nil)
	s.until("up", 2*time.Second, s.linked)
	first := s.nodes[0].peer.Route().Session
	for i := 0; i < 3*130; i++ {
		s.run(time.Second)
		if !s.linked() && i > 0 {
			// A moment between the initiator switching and the
			// responder confirming is normal; it must be short.
			s.until("relinked", 200*time.Millisecond, s.linked)
		}
	}
	if s.nodes[0].peer.Route().Session == first {
		t.Fatal("no rekey in 6.5 minutes with rekey_after 2m")
	}
	for n, nd := range s.nodes {
		if k := len(nd.peer.Sessions()); k > maxSessions {
			t.Fatalf("node %d holds %d sessions", n, k)
		}
		if nd.ids.len() > maxSessions+1 {
			t.Fatalf("node %d holds %d session ids: leak", n, nd.ids.len())
		}
	}
}

// Both nodes initiate at the same moment: they still agree.
func TestSimultaneousInitiation(t *testing.T) {
	s := newSim(t, nil)
	s.step(time.Millisecond) // both tick: both initiate
	s.until("linked", 3*time.Second, s.linked)
	s.run(5 * time.Second)
	if !s.linked() {
		t.Fatal("diverged")
	}
}
