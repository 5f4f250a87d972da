// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skiffnet/skiff/bench/netns"
	"github.com/skiffnet/skiff/bench/traffic"
	"github.com/skiffnet/skiff/control/api"
	"github.com/skiffnet/skiff/dataplane/wire"
)

// skiffBin is the skiff binary under test, built once by TestMain.
var skiffBin string

func TestMain(m *testing.M) {
	code := func() int {
		if os.Geteuid() != 0 {
			return m.Run() // the tests skip (or fail under CI) themselves
		}
		dir, err := os.MkdirTemp("", "skiff-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		skiffBin = filepath.Join(dir, "skiff")
		out, err := exec.Command("go", "build", "-o", skiffBin, "github.com/skiffnet/skiff/cmd/skiff").CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "build skiff: %v\n%s", err, out)
			return 1
		}
		netns.Clean()
		return m.Run()
	}()
	os.Exit(code)
}

// topo is a two-site topology. a and b run skiff; ha and hb are where the
// LAN traffic starts and ends (the sites themselves for a tap with an
// address; separate host namespaces behind a bridge or a raw NIC).
type topo struct {
	t    *testing.T
	lab  *netns.Lab
	kind string // tap, bridge, afpacket, afxdp (the LAN side)
	// xdpUnderlay makes the nodes use AF_XDP on underlay link 0.
	xdpUnderlay bool
	a, b        *netns.NS
	ha, hb      *netns.NS
	dir         string
	psk         wire.PSK
}

// Inner addresses of the two LAN ends.
const (
	innerA = "10.99.0.1"
	innerB = "10.99.0.2"
)

// underlay returns site s's (0 = a, 1 = b) address on underlay link i.
func underlay(link, s int) string { return fmt.Sprintf("198.18.%d.%d", link, s+1) }

// newTopo builds sites a and b joined by `links` veth underlays
// (198.18.i.1/30 <-> 198.18.i.2/30, devices ul<i>), with the LAN side of the
// given kind.
func newTopo(t *testing.T, kind string, links int) *topo {
	t.Helper()
	netns.RequireRoot(t)
	lab, err := netns.New()
	if err != nil {
		t.Fatal(err)
	}
	tp := &topo{t: t, lab: lab, kind: kind, dir: t.TempDir()}
	t.Cleanup(func() {
		if err := lab.Close(); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	tp.psk, _ = wire.GeneratePSK()
	tp.a = tp.ns("a")
	tp.b = tp.ns("b")
	for i := 0; i < links; i++ {
		dev := fmt.Sprintf("ul%d", i)
		tp.must(lab.Link(tp.a, dev, tp.b, dev))
		tp.must(tp.a.Addr(dev, underlay(i, 0)+"/30"))
		tp.must(tp.b.Addr(dev, underlay(i, 1)+"/30"))
	}
	tp.ha, tp.hb = tp.a, tp.b
	if kind == "bridge" || kind == "afpacket" || kind == "afxdp" {
		tp.ha = tp.ns("ha")
		tp.hb = tp.ns("hb")
		for i, pair := range [][2]*netns.NS{{tp.ha, tp.a}, {tp.hb, tp.b}} {
			host, site := pair[0], pair[1]
			tp.must(lab.Link(host, "lan0", site, "lan0"))
			tp.must(host.Addr("lan0", []string{innerA, innerB}[i]+"/24"))
			if kind == "afxdp" {
				// veth leaves checksums to an offload that never runs on
				// a virtual wire, and AF_XDP carries the frame as it is:
				// make the hosts checksum in software, as a real NIC
				// would on the wire (README: AF_XDP).
				tp.run(host, "ethtool", "-K", "lan0", "tx", "off")
			}
			if kind == "bridge" {
				tp.run(site, "ip", "link", "add", "br0", "type", "bridge")
				tp.run(site, "ip", "link", "set", "br0", "up")
				tp.run(site, "ip", "link", "set", "lan0", "master", "br0")
			}
		}
	}
	return tp
}

func (tp *topo) ns(name string) *netns.NS {
	ns, err := tp.lab.NS(name)
	tp.must(err)
	return ns
}

func (tp *topo) must(err error) {
	tp.t.Helper()
	if err != nil {
		tp.t.Fatal(err)
	}
}

func (tp *topo) run(ns *netns.NS, name string, args ...string) string {
	tp.t.Helper()
	out, err := ns.Run(name, args...)
	if err != nil {
		tp.t.Fatal(err)
	}
	return string(out)
}

// nodeOpts configures one skiff node of a topology.
type nodeOpts struct {
	site      int // 0 = a, 1 = b
	suite     string
	lz4       bool
	mtuPolicy string   // default fragment
	localMTU  int      // tap MTU; 0 = 1500
	listen    []string // default: 0.0.0.0:4800
	paths     []string // peer remotes; default: the other site on link 0
	codec     string
	vni       int
	vlanMap   string // file contents; empty: none
	keepalive string
	deadAfter string
	kind      string // local port kind for this node; default the topology's
}

func (tp *topo) config(o nodeOpts) (path, sock string) {
	names := []string{"site-a", "site-b"}
	me, other := o.site, 1-o.site
	sock = filepath.Join(tp.dir, names[me]+".sock")
	if o.suite == "" {
		o.suite = "aes-256-gcm"
	}
	if o.mtuPolicy == "" {
		o.mtuPolicy = "fragment"
	}
	if o.localMTU == 0 {
		o.localMTU = 1500
	}
	if o.listen == nil {
		o.listen = []string{"0.0.0.0:4800"}
	}
	if o.paths == nil {
		o.paths = []string{underlay(0, other) + ":4800"}
	}
	if o.codec == "" {
		o.codec = "skiff"
	}
	var local string
	inner := []string{innerA, innerB}[me]
	kind := tp.kind
	if o.kind != "" {
		kind = o.kind
	}
	switch kind {
	case "tap":
		local = fmt.Sprintf("{type: tap, name: skf0, address: %s/24, mtu: %d}", inner, o.localMTU)
	case "bridge":
		local = fmt.Sprintf("{type: tap, name: skf0, bridge: br0, mtu: %d}", o.localMTU)
	case "afpacket":
		local = "{type: afpacket, name: lan0}"
	case "afxdp":
		local = "{type: afxdp, name: lan0}"
	case "memif":
		// A filesystem socket: the memif peer (testpmd) runs outside the
		// site's namespace.
		local = fmt.Sprintf("{type: memif, memif: {socket: %s, role: server}}", filepath.Join(tp.dir, names[me]+"-memif.sock"))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nnode: {name: %s, id: %d}\n", names[me], me+1)
	if o.codec == "skiff" {
		fmt.Fprintf(&b, "psk: {key: %q}\n", tp.psk.String())
	}
	fmt.Fprintf(&b, "suite: %s\nlz4: %v\nlocal: %s\n", o.suite, o.lz4, local)
	fmt.Fprintf(&b, "underlay:\n  listen: [%s]\n  mtu: 1500\n  mtu_policy: %s\n", quoteList(o.listen), o.mtuPolicy)
	if tp.xdpUnderlay {
		b.WriteString("  type: afxdp\n  interface: ul0\n")
	}
	if o.vlanMap != "" {
		mp := filepath.Join(tp.dir, names[me]+"-vlanmap.txt")
		tp.must(os.WriteFile(mp, []byte(o.vlanMap), 0o644))
		fmt.Fprintf(&b, "vlan_map: %s\n", mp)
	}
	fmt.Fprintf(&b, "peers:\n  - name: %s\n    id: %d\n    codec: %s\n", names[other], other+1, o.codec)
	if o.codec == "vxlan" {
		fmt.Fprintf(&b, "    vni: %d\n", o.vni)
	}
	b.WriteString("    paths:\n")
	for _, p := range o.paths {
		fmt.Fprintf(&b, "      - remote: %q\n", p)
	}
	if o.keepalive != "" {
		fmt.Fprintf(&b, "    keepalive: %s\n", o.keepalive)
	}
	if o.deadAfter != "" {
		fmt.Fprintf(&b, "    dead_after: %s\n", o.deadAfter)
	}
	fmt.Fprintf(&b, "control: {socket: %s}\nlog: {level: debug}\n", sock)
	path = filepath.Join(tp.dir, names[me]+".yaml")
	tp.must(os.WriteFile(path, []byte(b.String()), 0o600))
	return path, sock
}

func quoteList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// node is a running skiff.
type node struct {
	tp   *topo
	ns   *netns.NS
	proc *netns.Proc
	cfg  string
	sock string
}

// start runs skiff up with the options' config on its site.
func (tp *topo) start(o nodeOpts) *node {
	tp.t.Helper()
	cfg, sock := tp.config(o)
	return tp.startConfig(o.site, cfg, sock)
}

func (tp *topo) startConfig(site int, cfg, sock string) *node {
	tp.t.Helper()
	ns := []*netns.NS{tp.a, tp.b}[site]
	p, err := ns.Start(nil, skiffBin, "up", "-c", cfg)
	tp.must(err)
	n := &node{tp: tp, ns: ns, proc: p, cfg: cfg, sock: sock}
	tp.t.Cleanup(func() {
		if tp.t.Failed() {
			tp.t.Logf("%s output:\n%s", ns.Name, lastLines(p.Output(), 40))
		}
		p.Stop(5 * time.Second)
	})
	// Wait for the control socket: the node is up (or it exited).
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, err := os.Stat(sock); err == nil {
			return n
		}
		select {
		case <-p.Done():
			tp.t.Fatalf("skiff up exited at start:\n%s", p.Output())
		default:
		}
		if time.Now().After(deadline) {
			tp.t.Fatalf("skiff up: no control socket after 10s:\n%s", p.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop stops the node with SIGTERM and checks it exits cleanly.
func (n *node) stop() {
	n.tp.t.Helper()
	if err := n.proc.Stop(5 * time.Second); err != nil {
		n.tp.t.Fatalf("skiff did not exit cleanly: %v\n%s", err, lastLines(n.proc.Output(), 30))
	}
}

// status asks the node for its status.
func (n *node) status() *api.Status {
	n.tp.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := api.Ask(ctx, n.sock, api.Request{Op: "status"})
	if err != nil {
		n.tp.t.Fatalf("status: %v\n%s", err, lastLines(n.proc.Output(), 30))
	}
	return r.Status
}

// waitPing pings from host ns to addr until one answer comes, up to max.
func (tp *topo) waitPing(from *netns.NS, addr string, max time.Duration) time.Duration {
	tp.t.Helper()
	start := time.Now()
	for {
		if _, err := from.Run("ping", "-c", "1", "-W", "1", addr); err == nil {
			return time.Since(start)
		}
		if time.Since(start) > max {
			tp.t.Fatalf("no ping answer from %s within %v", addr, max)
		}
	}
}

// ping sends count pings and fails if any is lost.
func (tp *topo) ping(from *netns.NS, addr string, count int, extra ...string) {
	tp.t.Helper()
	args := append([]string{"-c", fmt.Sprint(count), "-i", "0.05", "-W", "2"}, extra...)
	out, err := from.Run("ping", append(args, addr)...)
	if err != nil {
		tp.t.Fatalf("ping %s: %v\n%s", addr, err, out)
	}
	if !strings.Contains(string(out), fmt.Sprintf("%d received", count)) {
		tp.t.Fatalf("ping %s lost packets:\n%s", addr, out)
	}
}

// transfer moves n bytes over TCP from host ns `from` to `to` (listening
// on addr) and checks the SHA-256 at both ends. during, if not nil, runs
// once the transfer is under way.
func (tp *topo) transfer(from, to *netns.NS, addr string, n string, during func()) traffic.Result {
	tp.t.Helper()
	srv, err := to.Start(nil, skiffBin, "traffic", "-l", addr+":5201", "-json", "-timeout", "90s")
	tp.must(err)
	time.Sleep(50 * time.Millisecond)
	cli, err := from.Start(nil, skiffBin, "traffic", "-c", addr+":5201", "-n", n, "-json", "-timeout", "90s")
	tp.must(err)
	if during != nil {
		during()
	}
	if err := cli.Wait(2 * time.Minute); err != nil {
		tp.t.Fatalf("send: %v\n%s\nreceiver: %s", err, cli.Output(), srv.Output())
	}
	if err := srv.Wait(30 * time.Second); err != nil {
		tp.t.Fatalf("receive: %v\n%s", err, srv.Output())
	}
	var sent, recv traffic.Result
	if err := json.Unmarshal([]byte(cli.Output()), &sent); err != nil {
		tp.t.Fatalf("sender output %q: %v", cli.Output(), err)
	}
	if err := json.Unmarshal([]byte(srv.Output()), &recv); err != nil {
		tp.t.Fatalf("receiver output %q: %v", srv.Output(), err)
	}
	if sent.Bytes != recv.Bytes || sent.SHA256 != recv.SHA256 {
		tp.t.Fatalf("transfer corrupted:\nsent     %v\nreceived %v", sent, recv)
	}
	return recv
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}
