// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiffnet/skiff/bench/netns"
	"github.com/skiffnet/skiff/control/api"
	"github.com/skiffnet/skiff/dataplane/wire"
)

// A mesh of five nodes n1..n5 (ids 1..5, TAP skf0 at 10.99.0.N/24). Each
// node has a veth ul0 (198.18.0.N/24) into the namespace "wan", whose bridge
// br0 (198.18.0.254/24) has isolated ports: nodes reach the wan but not each
// other, so every datagram goes through one of the skiff impair relays that
// run in wan, one per link:
//
//	n1 --- n2 --- n4        link u-v (u < v): u sends to 198.18.0.254:5000+10u+v,
//	|    /   \   /  \       the relay forwards to 198.18.0.v:4800 from a port
//	n1 - n3 ------- n5      of its own; v learns it (remote 0.0.0.0:0).
//
// (links 1-2, 1-3, 2-3, 2-4, 3-4, 3-5, 4-5.) Each mode (p2p, super with
// controllers 1 and 4, static with next hops computed here) checks that all
// pairs reach, that routes follow (or, static, ignore) a delay on link 1-2,
// that a broadcast reaches every other node exactly once, and that the
// mesh survives the hub n3 crashing and rejoining.
func TestMesh(t *testing.T) {
	netns.RequireRoot(t)
	meshRequireTools(t, "ip", "bridge", "ping", "nft")
	for _, mode := range []string{"p2p", "super", "static"} {
		t.Run(mode, func(t *testing.T) { meshRun(t, mode) })
	}
}

func meshRun(t *testing.T, mode string) {
	m := newMeshLab(t, mode)
	for n := 1; n <= meshNodes; n++ {
		m.start(n)
	}

	// 1. Every node reaches every other one.
	all := meshPairs(func(a, b int) bool { return true })
	d := m.waitPairs("first convergence", all, 20*time.Second)
	t.Logf("%s: all %d pairs reach after %v", mode, len(all), d.Round(time.Millisecond))
	m.checkPeers()
	m.checkRoutes()

	// 2. A delay of 80ms on link 1-2.
	if mode == "static" {
		m.delayStatic()
	} else {
		m.delayDynamic()
	}

	// 3. A broadcast reaches every other node exactly once.
	m.checkBroadcastOnce("before the crash")

	// 4. The hub n3 crashes, then comes back.
	if mode == "static" {
		m.crashStatic()
	} else {
		m.crashDynamic()
	}
	start := time.Now()
	m.start(3)
	// n3's new TAP has a new MAC address: forget the old one, so that the
	// kernels' neighbour caches (not skiff) don't hold the pings up.
	for n := 1; n <= meshNodes; n++ {
		if n != 3 {
			m.nodes[n].ns.Run("ip", "neigh", "flush", "to", meshInner(3), "dev", "skf0")
		}
	}
	m.waitPairs("n3's rejoin", all, 20*time.Second)
	t.Logf("%s: n3 restarted; all pairs reach again %v after its start", mode, time.Since(start).Round(time.Millisecond))
	m.checkBroadcastOnce("after n3's restart")
}

// delayDynamic (p2p, super): n1's route to n2 leaves the slow link 1-2 for
// 1-3-2 and comes back once the delay is gone.
func (m *meshLab) delayDynamic() {
	t := m.t
	t.Helper()
	m.waitRoute(1, 2, 5*time.Second, "n1's route to n2 direct before the delay", func(r meshRoute) bool {
		return r.Reachable && r.NextHop == 2
	})
	relay := m.relays[[2]int{1, 2}]
	relay.command(t, "delay 80ms")
	start := time.Now()
	r := m.waitRoute(1, 2, 10*time.Second, "n1's route to n2 off the 80ms link 1-2", func(r meshRoute) bool {
		return r.Reachable && r.NextHop != 2
	})
	moved := time.Since(start)
	t.Logf("%s: 80ms on link 1-2: n1's route to n2 moved to next hop %d after %v (latency %.2fms, cost %d)",
		m.mode, r.NextHop, moved.Round(time.Millisecond), r.LatencyMS, r.Cost)
	// The pings take the relay path, both ways (n2's route to n1 moves
	// too, maybe a moment later).
	var rtt meshRTT
	for deadline := time.Now().Add(5 * time.Second); ; {
		rtt = m.rtt(1, 2)
		if rtt.err == nil && rtt.avg < 40*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: n1's pings to n2 still slow (want avg < 40ms) 5s after the route moved: %v\n%s\n%s",
				m.mode, rtt.err, rtt.out, m.dump(1, 2, 3))
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("%s: n1 -> n2 round trip while 1-2 is delayed: avg %v", m.mode, rtt.avg)

	relay.command(t, "delay 0s")
	start = time.Now()
	m.waitRoute(1, 2, 10*time.Second, "n1's route to n2 back on link 1-2", func(r meshRoute) bool {
		return r.Reachable && r.NextHop == 2
	})
	t.Logf("%s: delay removed: n1's route to n2 back direct after %v", m.mode, time.Since(start).Round(time.Millisecond))
}

// delayStatic: the configured route stays, and the pings pay the delay.
func (m *meshLab) delayStatic() {
	t := m.t
	t.Helper()
	relay := m.relays[[2]int{1, 2}]
	relay.command(t, "delay 80ms")
	// Several probe and report intervals: the route must not move.
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if r, _, err := m.route(1, 2); err != nil || !r.Reachable || r.NextHop != 2 {
			t.Fatalf("static: n1's route to n2 changed under the delay (want next hop 2): %+v %v\n%s", r, err, m.dump(1, 2))
		}
	}
	rtt := m.rtt(1, 2)
	if rtt.err != nil || rtt.min < 80*time.Millisecond {
		t.Fatalf("static: n1 -> n2 with 80ms on link 1-2: want pings answered in >= 80ms, got min %v: %v\n%s\n%s",
			rtt.min, rtt.err, rtt.out, m.dump(1, 2))
	}
	t.Logf("static: 80ms on link 1-2: n1's route to n2 stays direct; round trip min %v avg %v", rtt.min, rtt.avg)
	relay.command(t, "delay 0s")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		rtt = m.rtt(1, 2)
		if rtt.err == nil && rtt.avg < 40*time.Millisecond {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("static: n1 -> n2 still slow 5s after the delay was removed: %v\n%s", rtt.err, rtt.out)
		}
	}
	t.Logf("static: delay removed: round trip avg %v", rtt.avg)
}

// crashDynamic (p2p, super): n3 is killed; n1 reaches n5 through 2-4-5 and
// every pair without n3 reaches.
func (m *meshLab) crashDynamic() {
	t := m.t
	t.Helper()
	// A light background ping from n1 to n5 to measure the outage.
	bg, err := m.nodes[1].ns.Start(nil, "ping", "-i", "0.1", "-W", "1", meshInner(5))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	m.nodes[3].proc.Kill()
	m.waitPairs("n1 -> n5 after n3's crash", [][2]int{{1, 5}}, 15*time.Second)
	t.Logf("%s: n3 killed: n1 reaches n5 again after %v", m.mode, time.Since(start).Round(time.Millisecond))
	rest := 15*time.Second - time.Since(start)
	without3 := meshPairs(func(a, b int) bool { return a != 3 && b != 3 })
	m.waitPairs("pairs without n3 after its crash", without3, max(rest, 2*time.Second))
	t.Logf("%s: n3 killed: all %d pairs without n3 reach after %v", m.mode, len(without3), time.Since(start).Round(time.Millisecond))
	r := m.waitRoute(1, 5, 5*time.Second, "n1's route to n5 around the dead n3", func(r meshRoute) bool {
		return r.Reachable && r.NextHop != 3
	})
	t.Logf("%s: n1's route to n5: next hop %d, cost %d, latency %.2fms", m.mode, r.NextHop, r.Cost, r.LatencyMS)
	bg.Signal(syscall.SIGINT)
	bg.Wait(5 * time.Second) // exit status 1 when pings were lost
	if mm := regexp.MustCompile(`(\d+) packets transmitted, (\d+) received`).FindStringSubmatch(bg.Output()); mm != nil {
		tx, _ := strconv.Atoi(mm[1])
		rx, _ := strconv.Atoi(mm[2])
		t.Logf("%s: background ping n1 -> n5 (every 100ms): %d sent, %d answered (about %v without answers)",
			m.mode, tx, rx, time.Duration(tx-rx)*100*time.Millisecond)
	}
}

// crashStatic: n3 is killed; the pairs whose configured paths (both ways)
// avoid n3 still reach.
func (m *meshLab) crashStatic() {
	t := m.t
	t.Helper()
	start := time.Now()
	m.nodes[3].proc.Kill()
	// The survivors must still reach once n3's neighbours found it dead.
	for _, n := range meshAdjacency()[3] {
		m.waitPeer(n, 3, 5*time.Second, "n3 not up after its crash", func(p meshPeer) bool { return p.State != "up" })
	}
	t.Logf("static: n3 killed: its neighbours see it down after %v", time.Since(start).Round(time.Millisecond))
	avoid := meshPairs(func(a, b int) bool {
		return !slices.Contains(meshStaticPath(m.hops, a, b), 3) && !slices.Contains(meshStaticPath(m.hops, b, a), 3)
	})
	var names []string
	for _, p := range avoid {
		names = append(names, fmt.Sprintf("n%d->n%d", p[0], p[1]))
	}
	m.waitPairs("static pairs that avoid n3 after its crash", avoid, 15*time.Second)
	t.Logf("static: n3 killed: the %d pairs whose static paths avoid n3 reach (%s), checked %v after the kill",
		len(avoid), strings.Join(names, " "), time.Since(start).Round(time.Millisecond))
}

// checkPeers: each node's linked peers are exactly its neighbours, and up.
func (m *meshLab) checkPeers() {
	t := m.t
	t.Helper()
	adj := meshAdjacency()
	for n := 1; n <= meshNodes; n++ {
		var bad string
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(200 * time.Millisecond) {
			bad = ""
			peers, out, err := m.peers(n)
			if err != nil {
				bad = err.Error()
			}
			seen := map[int]bool{}
			for _, p := range peers {
				seen[p.ID] = true
				linked := slices.Contains(adj[n], p.ID)
				if p.Linked != linked || (linked && p.State != "up") {
					bad += fmt.Sprintf("peer n%d: linked %v state %q (want linked %v%s)\n", p.ID, p.Linked, p.State, linked, map[bool]string{true: ", up"}[linked])
				}
			}
			if err == nil && len(seen) != meshNodes-1 {
				bad += fmt.Sprintf("%d peers listed, want %d:\n%s", len(seen), meshNodes-1, out)
			}
			if bad == "" || time.Now().After(deadline) {
				break
			}
		}
		if bad != "" {
			t.Fatalf("%s: n%d's peers:\n%s\n%s", m.mode, n, bad, m.dump(n))
		}
	}
}

// checkRoutes: every node has a reachable route to every other; static
// routes follow the configured next hops. (p2p, super: a route whose cost
// is not the shortest hop count is logged, not failed: latency decides.)
func (m *meshLab) checkRoutes() {
	t := m.t
	t.Helper()
	for n := 1; n <= meshNodes; n++ {
		dist := meshDistances(n)
		routes, out, err := m.routes(n)
		if err != nil {
			t.Fatalf("%s: n%d's routes: %v\n%s", m.mode, n, err, m.dump(n))
		}
		got := map[int]meshRoute{}
		for _, r := range routes {
			got[r.ID] = r
		}
		for d := 1; d <= meshNodes; d++ {
			if d == n {
				continue
			}
			r, ok := got[d]
			switch {
			case !ok || !r.Reachable:
				t.Fatalf("%s: n%d has no reachable route to n%d although the pings pass:\n%s\n%s", m.mode, n, d, out, m.dump(n))
			case m.mode == "static" && r.NextHop != m.hops[n][d]:
				t.Fatalf("static: n%d's route to n%d goes to n%d, configured n%d:\n%s", n, d, r.NextHop, m.hops[n][d], out)
			case r.Cost != dist[d]:
				t.Logf("%s: n%d's route to n%d has cost %d (shortest %d hops): %+v", m.mode, n, d, r.Cost, dist[d], r)
			}
		}
	}
}

// checkBroadcastOnce sends one ARP request for an address nobody has from
// n1's TAP and checks with nftables counters on the TAPs' ingress that
// every other node received it exactly once and n1 never.
func (m *meshLab) checkBroadcastOnce(when string) {
	t := m.t
	t.Helper()
	for n := 1; n <= meshNodes; n++ {
		m.nftCounterSetup(n)
	}
	m.sendARPRequest(1, meshMarker)
	time.Sleep(2 * time.Second)
	var got []string
	bad := false
	for n := 1; n <= meshNodes; n++ {
		c := m.nftCounter(n)
		want := uint64(1)
		if n == 1 {
			want = 0
		}
		got = append(got, fmt.Sprintf("n%d: %d (want %d)", n, c, want))
		bad = bad || c != want
	}
	if bad {
		t.Fatalf("%s: one ARP broadcast from n1 %s; arrivals: %s\n%s", m.mode, when, strings.Join(got, ", "), m.dump(1, 2, 3, 4, 5))
	}
	t.Logf("%s: one ARP broadcast from n1 %s arrived once at each other node", m.mode, when)
}

// ---- the lab ----

const (
	meshNodes  = 5
	meshWan    = "198.18.0.254"
	meshMarker = "10.99.0.77" // an inner address nobody has
	meshTable  = "skiff_mesh_arp"
)

// meshLinks are the undirected links, u < v.
var meshLinks = [][2]int{{1, 2}, {1, 3}, {2, 3}, {2, 4}, {3, 4}, {3, 5}, {4, 5}}

func meshInner(n int) string        { return fmt.Sprintf("10.99.0.%d", n) }
func meshUnderlay(n int) string     { return fmt.Sprintf("198.18.0.%d", n) }
func meshRelayPort(u, v int) int    { return 5000 + 10*u + v }
func meshLinked(a, b int) bool      { return slices.Contains(meshAdjacency()[a], b) }
func meshRelayAddr(u, v int) string { return fmt.Sprintf("%s:%d", meshWan, meshRelayPort(u, v)) }

// meshLab is a running five-node mesh in one mode.
type meshLab struct {
	t      *testing.T
	mode   string // p2p, super or static
	lab    *netns.Lab
	dir    string
	psk    wire.PSK
	wan    *netns.NS
	nodes  [meshNodes + 1]*meshNode // by id; 0 unused
	relays map[[2]int]*meshRelay
	hops   map[int]map[int]int // every node's next hop to every other (BFS); static mode configures it
}

// meshNode is one skiff node; runs keeps every process it was, for the logs.
type meshNode struct {
	id        int
	ns        *netns.NS
	cfg, sock string
	proc      *netns.Proc
	runs      []*netns.Proc
}

// meshRelay is a skiff impair relay for one link; ctl is a FIFO on its
// standard input.
type meshRelay struct {
	u, v int
	proc *netns.Proc
	ctl  *os.File
}

func (r *meshRelay) command(t *testing.T, cmd string) {
	t.Helper()
	if _, err := r.ctl.WriteString(cmd + "\n"); err != nil {
		t.Fatalf("relay %d-%d: %q: %v", r.u, r.v, cmd, err)
	}
}

// newMeshLab builds the namespaces, the wan bridge and the relays, writes
// the configs and checks the underlay; the nodes are not started.
func newMeshLab(t *testing.T, mode string) *meshLab {
	t.Helper()
	netns.RequireRoot(t)
	lab, err := netns.New()
	if err != nil {
		t.Fatal(err)
	}
	m := &meshLab{t: t, mode: mode, lab: lab, dir: t.TempDir(), relays: map[[2]int]*meshRelay{}, hops: meshNextHops()}
	t.Cleanup(func() {
		if err := lab.Close(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	m.psk, err = wire.GeneratePSK()
	if err != nil {
		t.Fatal(err)
	}
	m.wan = m.ns("wan")
	m.run(m.wan, "ip", "link", "add", "br0", "type", "bridge")
	m.must(m.wan.Addr("br0", meshWan+"/24"))
	for n := 1; n <= meshNodes; n++ {
		nd := &meshNode{id: n, ns: m.ns(fmt.Sprintf("n%d", n))}
		m.nodes[n] = nd
		port := fmt.Sprintf("vn%d", n)
		m.must(lab.Link(nd.ns, "ul0", m.wan, port))
		m.must(nd.ns.Addr("ul0", meshUnderlay(n)+"/24"))
		m.run(m.wan, "ip", "link", "set", port, "master", "br0")
		// Isolated ports talk to the bridge (the relays), not each other.
		m.run(m.wan, "bridge", "link", "set", "dev", port, "isolated", "on")
		nd.cfg, nd.sock = m.writeConfig(n)
		t.Cleanup(func() {
			if t.Failed() {
				for i, p := range nd.runs {
					t.Logf("n%d (run %d) output:\n%s", n, i+1, lastLines(p.Output(), 40))
				}
			}
			if nd.proc != nil {
				nd.proc.Stop(5 * time.Second)
			}
		})
	}
	for _, l := range meshLinks {
		m.startRelay(l[0], l[1])
	}
	// The underlay: every node reaches the wan, and no node another one
	// directly.
	for n := 1; n <= meshNodes; n++ {
		var out []byte
		for deadline := time.Now().Add(5 * time.Second); ; {
			if out, err = m.nodes[n].ns.Run("ping", "-c", "1", "-W", "1", meshWan); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("underlay: n%d does not reach the wan %s: %v\n%s", n, meshWan, err, out)
			}
		}
	}
	if out, err := m.nodes[1].ns.Run("ping", "-c", "1", "-W", "1", meshUnderlay(2)); err == nil {
		t.Fatalf("underlay: n1 reaches n2 directly, not through a relay (bridge ports not isolated):\n%s", out)
	}
	return m
}

// startRelay runs skiff impair for link u-v in the wan namespace with a FIFO
// on its standard input, and waits for it to listen.
func (m *meshLab) startRelay(u, v int) {
	t := m.t
	t.Helper()
	fifo := filepath.Join(m.dir, fmt.Sprintf("relay-%d-%d.ctl", u, v))
	m.must(unix.Mkfifo(fifo, 0o600))
	// O_RDWR: opening does not wait for a reader, and the relay never
	// reads end-of-file while the test holds it.
	ctl, err := os.OpenFile(fifo, os.O_RDWR, 0)
	m.must(err)
	p, err := m.wan.Start(nil, "sh", "-c", `exec "$0" impair -l "$1" -t "$2" < "$3"`,
		skiffBin, meshRelayAddr(u, v), fmt.Sprintf("%s:4800", meshUnderlay(v)), fifo)
	m.must(err)
	r := &meshRelay{u: u, v: v, proc: p, ctl: ctl}
	m.relays[[2]int{u, v}] = r
	t.Cleanup(func() {
		// Only what follows the start line (errors in the commands).
		if out := strings.TrimSpace(p.Output()); t.Failed() && strings.Contains(out, "\n") {
			t.Logf("relay %d-%d output:\n%s", u, v, lastLines(out, 10))
		}
		ctl.Close()
	})
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(p.Output(), "relaying"); time.Sleep(10 * time.Millisecond) {
		select {
		case <-p.Done():
			t.Fatalf("relay %d-%d exited:\n%s", u, v, p.Output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("relay %d-%d not relaying after 5s:\n%s", u, v, p.Output())
		}
	}
}

// writeConfig writes node n's config: every other node a peer, the linked
// ones with a path (u < v: u sends to the relay, v learns the relay's
// address) and fast keepalives.
func (m *meshLab) writeConfig(n int) (path, sock string) {
	sock = filepath.Join(m.dir, fmt.Sprintf("n%d.sock", n))
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nnode: {name: n%d, id: %d}\npsk: {key: %q}\nsuite: aes-256-gcm\n", n, n, m.psk.String())
	fmt.Fprintf(&b, "local: {type: tap, name: skf0, address: %s/24}\n", meshInner(n))
	b.WriteString("underlay: {listen: [\"0.0.0.0:4800\"]}\n")
	fmt.Fprintf(&b, "mesh:\n  mode: %s\n  probe_interval: 200ms\n  filter: 3\n  tolerance: 2ms\n  hop_cost: 1ms\n  report_interval: 500ms\n", m.mode)
	switch m.mode {
	case "super":
		b.WriteString("  controllers: [1, 4]\n")
	case "static":
		var hops []string
		for d := 1; d <= meshNodes; d++ {
			if d != n && !meshLinked(n, d) {
				hops = append(hops, fmt.Sprintf("%d: %d", d, m.hops[n][d]))
			}
		}
		fmt.Fprintf(&b, "  next_hops: {%s}\n", strings.Join(hops, ", "))
	}
	b.WriteString("peers:\n")
	for p := 1; p <= meshNodes; p++ {
		switch {
		case p == n:
		case !meshLinked(n, p):
			fmt.Fprintf(&b, "  - {name: n%d, id: %d}\n", p, p)
		default:
			remote := "0.0.0.0:0"
			if n < p {
				remote = meshRelayAddr(n, p)
			}
			fmt.Fprintf(&b, "  - {name: n%d, id: %d, paths: [{remote: %q}], keepalive: 200ms, dead_after: 1s}\n", p, p, remote)
		}
	}
	fmt.Fprintf(&b, "control: {socket: %s}\nlog: {level: debug}\n", sock)
	path = filepath.Join(m.dir, fmt.Sprintf("n%d.yaml", n))
	m.must(os.WriteFile(path, []byte(b.String()), 0o600))
	return path, sock
}

// start runs skiff up on node n and waits for its control socket to answer
// and its TAP to exist.
func (m *meshLab) start(n int) {
	t := m.t
	t.Helper()
	nd := m.nodes[n]
	p, err := nd.ns.Start(nil, skiffBin, "up", "-c", nd.cfg)
	m.must(err)
	nd.proc = p
	nd.runs = append(nd.runs, p)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := api.Ask(ctx, nd.sock, api.Request{Op: "status"}) // a stale socket of a crashed run refuses
		cancel()
		if err == nil {
			if _, err = nd.ns.Run("ip", "link", "show", "skf0"); err == nil {
				return
			}
		}
		select {
		case <-p.Done():
			t.Fatalf("n%d: skiff up exited at start:\n%s\nconfig:\n%s", n, p.Output(), readFile(t, nd.cfg))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("n%d: skiff up not answering on its control socket with its TAP up after 10s: %v\n%s", n, err, lastLines(p.Output(), 30))
		}
	}
}

func (m *meshLab) ns(name string) *netns.NS {
	ns, err := m.lab.NS(name)
	m.must(err)
	return ns
}

func (m *meshLab) must(err error) {
	m.t.Helper()
	if err != nil {
		m.t.Fatal(err)
	}
}

func (m *meshLab) run(ns *netns.NS, name string, args ...string) string {
	m.t.Helper()
	out, err := ns.Run(name, args...)
	if err != nil {
		m.t.Fatal(err)
	}
	return string(out)
}

// meshRequireTools skips (fails under CI) without the programs.
func meshRequireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not installed", tool)
			}
			t.Skipf("%s is not installed", tool)
		}
	}
}

// ---- topology ----

// meshAdjacency lists each node's neighbours in ascending order.
func meshAdjacency() map[int][]int {
	adj := map[int][]int{}
	for _, l := range meshLinks {
		adj[l[0]] = append(adj[l[0]], l[1])
		adj[l[1]] = append(adj[l[1]], l[0])
	}
	for _, nb := range adj {
		slices.Sort(nb)
	}
	return adj
}

// meshDistances are the hop counts from node from (BFS).
func meshDistances(from int) map[int]int {
	adj := meshAdjacency()
	dist := map[int]int{from: 0}
	for queue := []int{from}; len(queue) > 0; queue = queue[1:] {
		for _, nb := range adj[queue[0]] {
			if _, ok := dist[nb]; !ok {
				dist[nb] = dist[queue[0]] + 1
				queue = append(queue, nb)
			}
		}
	}
	return dist
}

// meshNextHops is every node's next hop to every other on a shortest path,
// ties to the lowest next-hop id (a neighbour is its own next hop).
func meshNextHops() map[int]map[int]int {
	adj := meshAdjacency()
	dist := map[int]map[int]int{}
	for n := 1; n <= meshNodes; n++ {
		dist[n] = meshDistances(n)
	}
	hops := map[int]map[int]int{}
	for s := 1; s <= meshNodes; s++ {
		hops[s] = map[int]int{}
		for d := 1; d <= meshNodes; d++ {
			if d == s {
				continue
			}
			best := 0
			for _, nb := range adj[s] { // ascending: the first of the nearest wins
				if best == 0 || dist[nb][d] < dist[best][d] {
					best = nb
				}
			}
			hops[s][d] = best
		}
	}
	return hops
}

// meshStaticPath is the nodes a frame from s to d visits under hops, s and d
// included.
func meshStaticPath(hops map[int]map[int]int, s, d int) []int {
	path := []int{s}
	for n := s; n != d && len(path) <= meshNodes; {
		n = hops[n][d]
		path = append(path, n)
	}
	return path
}

// meshPairs lists the ordered pairs of distinct nodes that keep says.
func meshPairs(keep func(a, b int) bool) [][2]int {
	var pairs [][2]int
	for a := 1; a <= meshNodes; a++ {
		for b := 1; b <= meshNodes; b++ {
			if a != b && keep(a, b) {
				pairs = append(pairs, [2]int{a, b})
			}
		}
	}
	return pairs
}

// ---- probing the mesh ----

// waitPairs pings, in parallel, from the first node of each pair to the
// second's inner address until each has had an answer, up to max; it
// fails listing the pairs without, with the routes of their nodes.
func (m *meshLab) waitPairs(what string, pairs [][2]int, max time.Duration) time.Duration {
	t := m.t
	t.Helper()
	start := time.Now()
	deadline := start.Add(max)
	ok := make([]bool, len(pairs))
	var wg sync.WaitGroup
	for i, p := range pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if _, err := m.nodes[p[0]].ns.Run("ping", "-c", "1", "-W", "1", meshInner(p[1])); err == nil {
					ok[i] = true
					return
				}
				if time.Now().After(deadline) {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)
	var missing []string
	involved := map[int]bool{}
	for i, p := range pairs {
		if !ok[i] {
			missing = append(missing, fmt.Sprintf("n%d->n%d", p[0], p[1]))
			involved[p[0]], involved[p[1]] = true, true
		}
	}
	if len(missing) > 0 {
		var ids []int
		for n := range involved {
			ids = append(ids, n)
		}
		slices.Sort(ids)
		t.Fatalf("%s (%s): no ping answer within %v for %d of %d pairs: %s\n%s",
			m.mode, what, max, len(missing), len(pairs), strings.Join(missing, " "), m.dump(ids...))
	}
	return took
}

// meshRoute is one line of skiff route --json.
type meshRoute struct {
	ID          int      `json:"id"`
	Name        string   `json:"name"`
	NextHop     int      `json:"next_hop"`
	NextHopName string   `json:"next_hop_name"`
	LatencyMS   float64  `json:"latency_ms"`
	Cost        int      `json:"cost"`
	Reachable   bool     `json:"reachable"`
	ProxyCIDRs  []string `json:"proxy_cidrs"`
}

// meshPeer is one line of skiff peers --json.
type meshPeer struct {
	ID        int     `json:"id"`
	Name      string  `json:"name"`
	State     string  `json:"state"`
	Linked    bool    `json:"linked"`
	LatencyMS float64 `json:"latency_ms"`
	Loss      float64 `json:"loss"`
	NextHop   int     `json:"next_hop"`
}

// meshCLI runs skiff CMD -s SOCK -json in node n's namespace and decodes
// its output into v; it returns the output.
func (m *meshLab) meshCLI(n int, cmd string, v any) (string, error) {
	nd := m.nodes[n]
	out, err := nd.ns.Run(skiffBin, cmd, "-s", nd.sock, "-json")
	if err != nil {
		return string(out), err
	}
	if err := json.Unmarshal(out, v); err != nil {
		return string(out), fmt.Errorf("skiff %s -json: %w", cmd, err)
	}
	return string(out), nil
}

func (m *meshLab) routes(n int) ([]meshRoute, string, error) {
	var r []meshRoute
	out, err := m.meshCLI(n, "route", &r)
	return r, out, err
}

func (m *meshLab) peers(n int) ([]meshPeer, string, error) {
	var p []meshPeer
	out, err := m.meshCLI(n, "peers", &p)
	return p, out, err
}

// route is node n's route to node d.
func (m *meshLab) route(n, d int) (meshRoute, string, error) {
	routes, out, err := m.routes(n)
	if err != nil {
		return meshRoute{}, out, err
	}
	for _, r := range routes {
		if r.ID == d {
			return r, out, nil
		}
	}
	return meshRoute{}, out, fmt.Errorf("no route to n%d", d)
}

// waitRoute polls node n's route to d until ok, up to max.
func (m *meshLab) waitRoute(n, d int, max time.Duration, what string, ok func(meshRoute) bool) meshRoute {
	m.t.Helper()
	for deadline := time.Now().Add(max); ; time.Sleep(100 * time.Millisecond) {
		r, out, err := m.route(n, d)
		if err == nil && ok(r) {
			return r
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("%s: %s: not within %v: last %+v %v\n%s\n%s", m.mode, what, max, r, err, out, m.dump(n, d))
		}
	}
}

// waitPeer polls node n's peer p until ok, up to max.
func (m *meshLab) waitPeer(n, p int, max time.Duration, what string, ok func(meshPeer) bool) meshPeer {
	m.t.Helper()
	for deadline := time.Now().Add(max); ; time.Sleep(100 * time.Millisecond) {
		peers, out, err := m.peers(n)
		if err == nil {
			for _, q := range peers {
				if q.ID == p && ok(q) {
					return q
				}
			}
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("%s: n%d's peer n%d: %s: not within %v: %v\n%s", m.mode, n, p, what, max, err, out)
		}
	}
}

// dump is the routes and peers of the nodes, for failure messages.
func (m *meshLab) dump(ids ...int) string {
	var b strings.Builder
	for _, n := range ids {
		nd := m.nodes[n]
		if nd.proc == nil {
			fmt.Fprintf(&b, "n%d: not started\n", n)
			continue
		}
		select {
		case <-nd.proc.Done():
			fmt.Fprintf(&b, "n%d: not running\n", n)
			continue
		default:
		}
		for _, cmd := range []string{"route", "peers"} {
			out, err := nd.ns.Run(skiffBin, cmd, "-s", nd.sock, "-json")
			fmt.Fprintf(&b, "n%d skiff %s -json:", n, cmd)
			if err != nil {
				fmt.Fprintf(&b, " (%v)", err)
			}
			fmt.Fprintf(&b, "\n%s\n", strings.TrimSpace(string(out)))
		}
		if out, err := nd.ns.Run(skiffBin, "status", "-s", nd.sock); err == nil {
			fmt.Fprintf(&b, "n%d skiff status:\n%s\n", n, strings.TrimSpace(string(out)))
		}
	}
	return b.String()
}

// meshRTT is a ping's round-trip summary.
type meshRTT struct {
	min, avg time.Duration
	out      string
	err      error
}

var meshRTTLine = regexp.MustCompile(`= ([0-9.]+)/([0-9.]+)/([0-9.]+)/`)

// rtt sends three pings from node a to node b.
func (m *meshLab) rtt(a, b int) meshRTT {
	out, err := m.nodes[a].ns.Run("ping", "-c", "3", "-i", "0.2", "-W", "2", meshInner(b))
	r := meshRTT{out: string(out)}
	mm := meshRTTLine.FindStringSubmatch(r.out)
	if mm == nil {
		r.err = fmt.Errorf("no answers: %v", err)
		return r
	}
	ms := func(s string) time.Duration {
		f, _ := strconv.ParseFloat(s, 64)
		return time.Duration(f * float64(time.Millisecond))
	}
	r.min, r.avg = ms(mm[1]), ms(mm[2])
	return r
}

// ---- broadcast counting ----

// nftCounterSetup (re)creates, in node n's namespace, a netdev table that
// counts ARP requests for meshMarker arriving on skf0 (from skiff): a new
// table, so the counter starts at 0 and follows a TAP created anew.
func (m *meshLab) nftCounterSetup(n int) {
	m.t.Helper()
	rules := fmt.Sprintf(`add table netdev %[1]s
delete table netdev %[1]s
table netdev %[1]s {
	chain in {
		type filter hook ingress device "skf0" priority 0; policy accept;
		arp operation request arp daddr ip %[2]s counter
	}
}
`, meshTable, meshMarker)
	path := filepath.Join(m.dir, fmt.Sprintf("n%d-arp.nft", n))
	m.must(os.WriteFile(path, []byte(rules), 0o600))
	m.run(m.nodes[n].ns, "nft", "-f", path)
}

// nftCounter reads the packets of node n's counter.
func (m *meshLab) nftCounter(n int) uint64 {
	m.t.Helper()
	out := m.run(m.nodes[n].ns, "nft", "-j", "list", "table", "netdev", meshTable)
	var doc struct {
		Nftables []struct {
			Rule *struct {
				Expr []struct {
					Counter *struct {
						Packets uint64 `json:"packets"`
					} `json:"counter"`
				} `json:"expr"`
			} `json:"rule"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		m.t.Fatalf("n%d: nft -j output: %v\n%s", n, err, out)
	}
	for _, o := range doc.Nftables {
		if o.Rule == nil {
			continue
		}
		for _, e := range o.Rule.Expr {
			if e.Counter != nil {
				return e.Counter.Packets
			}
		}
	}
	m.t.Fatalf("n%d: no counter in nft output:\n%s", n, out)
	return 0
}

// sendARPRequest sends one broadcast ARP request "who has target" out of
// node n's TAP, through a raw packet socket opened in n's namespace.
func (m *meshLab) sendARPRequest(n int, target string) {
	t := m.t
	t.Helper()
	inNS(t, m.nodes[n].ns, func() {
		ifc, err := net.InterfaceByName("skf0")
		m.must(err)
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, 0) // protocol 0: sends, receives nothing
		m.must(err)
		defer unix.Close(fd)
		frame := meshARPRequest(ifc.HardwareAddr, net.ParseIP(meshInner(n)).To4(), net.ParseIP(target).To4())
		sa := &unix.SockaddrLinklayer{Protocol: meshHtons(unix.ETH_P_ARP), Ifindex: ifc.Index, Halen: 6}
		copy(sa.Addr[:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
		m.must(unix.Sendto(fd, frame, 0, sa))
	})
}

// meshARPRequest is a broadcast Ethernet frame (padded to 60 bytes) with an
// ARP request from mac/ip for target.
func meshARPRequest(mac net.HardwareAddr, ip, target net.IP) []byte {
	f := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	f = append(f, mac...)
	f = binary.BigEndian.AppendUint16(f, unix.ETH_P_ARP)
	f = append(f, 0, 1, 0x08, 0x00, 6, 4, 0, 1) // Ethernet, IPv4, request
	f = append(f, mac...)
	f = append(f, ip...)
	f = append(f, 0, 0, 0, 0, 0, 0)
	f = append(f, target...)
	return append(f, make([]byte, 60-len(f))...)
}

// meshHtons is v in network byte order, as sockaddr_ll wants it.
func meshHtons(v uint16) uint16 {
	return binary.NativeEndian.Uint16(binary.BigEndian.AppendUint16(nil, v))
}
