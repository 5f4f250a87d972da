// SPDX-License-Identifier: Apache-2.0

package suite

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/skiffnet/skiff/bench/netns"
	"github.com/skiffnet/skiff/dataplane/wire"
	"github.com/skiffnet/skiff/internal/testpmd"
)

// Addresses of the topology.
const (
	underlayA = "198.18.0.1"
	underlayB = "198.18.0.2"
	innerA    = "10.99.0.1"
	innerB    = "10.99.0.2"
	vxlanVNI  = "42"
	vxlanPort = "4789"
	wgPort    = "51820"
	skiffPort = "4800"
)

// bed is one row's topology, built afresh for every repeat: sites a and b
// joined by the veth underlay ul0, the tunnel between them, and the two
// namespaces where the traffic starts and ends (the sites themselves, or
// hosts behind them for afpacket).
type bed struct {
	row     Row
	skiff   string
	lab     *netns.Lab
	a, b    *netns.NS
	ha, hb  *netns.NS
	dir     string
	tunnels []*netns.Proc // the tunnel processes (skiff or wireguard-go)
	wgSocks []string
	port    int // next traffic port

	profile string // skiff rows: path prefix of the nodes' CPU profiles ("" = none)

	// memif rows.
	cpus      cpuPlan
	memifSock string        // site-a's memif socket
	ctlA      string        // site-a's control socket
	pmd       *testpmd.Proc // the txonly client
	pmdSrv    *testpmd.Proc // testpmd-memif: the rxonly server
}

// buildOpts are what build needs besides the row.
type buildOpts struct {
	skiff, wgGo string
	profile     string // skiff rows: write CPU profiles to profile + "-site-a.pprof" and "-site-b.pprof"
}

// build creates the row's topology and starts its tunnel; on error, what
// was built is removed.
func build(ctx context.Context, row Row, o buildOpts) (bd *bed, err error) {
	lab, err := netns.New()
	if err != nil {
		return nil, err
	}
	bd = &bed{row: row, skiff: o.skiff, lab: lab, port: 5201, profile: o.profile}
	defer func() {
		if err != nil {
			bd.close()
			bd = nil
		}
	}()
	if bd.dir, err = os.MkdirTemp("", "skiff-bench-"); err != nil {
		return bd, err
	}
	if row.Memif() {
		bd.cpus = planCPUs()
	}
	if row.Kind == KindTestpmd {
		return bd, bd.startTestpmdPair()
	}
	if bd.a, err = lab.NS("site-a"); err != nil {
		return bd, err
	}
	if bd.b, err = lab.NS("site-b"); err != nil {
		return bd, err
	}
	bd.ha, bd.hb = bd.a, bd.b
	if err = lab.Link(bd.a, "ul0", bd.b, "ul0"); err != nil {
		return bd, err
	}
	for i, ns := range []*netns.NS{bd.a, bd.b} {
		if err = bd.setMTU(ns, "ul0", row.UnderlayMTU); err != nil {
			return bd, err
		}
		if err = ns.Addr("ul0", []string{underlayA, underlayB}[i]+"/30"); err != nil {
			return bd, err
		}
		if row.NoUnderlayGSO {
			if out, err := ns.Run("ethtool", "-K", "ul0", "tx-udp-segmentation", "off"); err != nil {
				return bd, fmt.Errorf("ethtool -K ul0 tx-udp-segmentation off: %w: %s", err, out)
			}
		}
	}
	switch row.Kind {
	case KindVeth:
		for i, ns := range []*netns.NS{bd.a, bd.b} {
			if err = ns.Addr("ul0", []string{innerA, innerB}[i]+"/24"); err != nil {
				return bd, err
			}
		}
	case KindVXLAN:
		for i := range 2 {
			if err = bd.kernelVXLAN(i, false); err != nil {
				return bd, err
			}
		}
	case KindWG:
		if o.wgGo == "" {
			return bd, errors.New("wireguard-go rows need --wireguard-go PATH")
		}
		if err = bd.wireguard(ctx, o.wgGo); err != nil {
			return bd, err
		}
	case KindSkiff:
		if err = bd.startSkiff(ctx); err != nil {
			return bd, err
		}
		if row.Memif() {
			return bd, bd.startMemif(ctx)
		}
	default:
		return bd, fmt.Errorf("unknown row kind %q", row.Kind)
	}
	if err = bd.waitTunnel(ctx, 20*time.Second); err != nil {
		return bd, err
	}
	return bd, bd.noUDPSegmentation()
}

// noUDPSegmentation turns UDP segmentation offload off on the device the
// near end sends its traffic through. A generator that sends runs of
// datagrams with UDP_SEGMENT (GSO) would otherwise hand the tunnel device
// one super-packet per run, carried whole by veth, vxlan and offloading
// TUN/TAP tunnels alike, and frames/s would count runs, not frames: with
// the offload off, the kernel cuts runs into single datagrams before the
// device.
func (bd *bed) noUDPSegmentation() error {
	out, err := bd.ha.Run("ip", "-o", "route", "get", innerB)
	if err != nil {
		return err
	}
	f := strings.Fields(string(out))
	dev := ""
	for i := 0; i+1 < len(f); i++ {
		if f[i] == "dev" {
			dev = f[i+1]
		}
	}
	if dev == "" {
		return fmt.Errorf("no device in the route to %s: %q", innerB, out)
	}
	if _, err := bd.ha.Run("ethtool", "-K", dev, "tx-udp-segmentation", "off"); err != nil {
		return fmt.Errorf("%w (is ethtool installed?)", err)
	}
	return nil
}

func (bd *bed) setMTU(ns *netns.NS, dev string, mtu int) error {
	if mtu == 0 || mtu == 1500 {
		return nil
	}
	_, err := ns.Run("ip", "link", "set", dev, "mtu", strconv.Itoa(mtu))
	return err
}

// kernelVXLAN makes vx0 at site i (0 = a) with the inner address; tx
// checksum offload off when the other end is skiff (see the README).
func (bd *bed) kernelVXLAN(i int, txOff bool) error {
	ns := []*netns.NS{bd.a, bd.b}[i]
	local, remote := underlayA, underlayB
	if i == 1 {
		local, remote = remote, local
	}
	if _, err := ns.Run("ip", "link", "add", "vx0", "type", "vxlan", "id", vxlanVNI, "local", local, "remote", remote, "dstport", vxlanPort, "dev", "ul0"); err != nil {
		return err
	}
	if err := bd.setMTU(ns, "vx0", bd.row.InnerMTU()); err != nil {
		return err
	}
	if txOff {
		if _, err := ns.Run("ethtool", "-K", "vx0", "tx", "off"); err != nil {
			return fmt.Errorf("%w (is ethtool installed?)", err)
		}
	}
	return ns.Addr("vx0", []string{innerA, innerB}[i]+"/24")
}

// wireguard starts wireguard-go in the foreground at both sites, configures
// it through its UAPI socket and gives it the inner address and MTU 1420.
func (bd *bed) wireguard(ctx context.Context, wgGo string) error {
	var priv [2]*ecdh.PrivateKey
	for i := range priv {
		k, err := ecdh.X25519().GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		priv[i] = k
	}
	for i, ns := range []*netns.NS{bd.a, bd.b} {
		// The UAPI socket lives in /var/run/wireguard, shared by every
		// namespace: the device names must differ.
		dev := bd.lab.Prefix + "w" + string(rune('a'+i))
		sock := filepath.Join("/var/run/wireguard", dev+".sock")
		bd.wgSocks = append(bd.wgSocks, sock)
		p, err := ns.Start(nil, wgGo, "-f", dev)
		if err != nil {
			return err
		}
		bd.tunnels = append(bd.tunnels, p)
		if err := waitFor(ctx, 10*time.Second, p, func() bool { _, err := os.Stat(sock); return err == nil }); err != nil {
			return fmt.Errorf("wireguard-go: no UAPI socket %s: %w\n%s", sock, err, lastLines(p.Output(), 20))
		}
		peer := []string{underlayB, underlayA}[i]
		cfg := fmt.Sprintf("set=1\nprivate_key=%s\nlisten_port=%s\nreplace_peers=true\npublic_key=%s\nendpoint=%s:%s\nreplace_allowed_ips=true\nallowed_ip=10.99.0.0/24\n\n",
			hex.EncodeToString(priv[i].Bytes()), wgPort, hex.EncodeToString(priv[1-i].PublicKey().Bytes()), peer, wgPort)
		if err := uapiSet(sock, cfg); err != nil {
			return fmt.Errorf("wireguard-go UAPI %s: %w", sock, err)
		}
		if err := bd.setMTU(ns, dev, 1420); err != nil {
			return err
		}
		if err := ns.Addr(dev, []string{innerA, innerB}[i]+"/24"); err != nil {
			return err
		}
	}
	return nil
}

// uapiSet sends a set operation to a WireGuard UAPI socket and checks the
// errno it answers.
func uapiSet(sock, cfg string) error {
	c, err := net.DialTimeout("unix", sock, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte(cfg)); err != nil {
		return err
	}
	var resp []byte
	buf := make([]byte, 512)
	for !strings.HasSuffix(string(resp), "\n\n") {
		n, err := c.Read(buf)
		resp = append(resp, buf[:n]...)
		if err != nil {
			return fmt.Errorf("reading the answer %q: %w", resp, err)
		}
	}
	if !strings.Contains(string(resp), "errno=0\n") {
		return fmt.Errorf("refused: %q", strings.TrimSpace(string(resp)))
	}
	return nil
}

// skiffConfig is one site's config.
const skiffConfig = `version: 1
node: {name: %[1]s, id: %[2]d}
%[3]ssuite: %[4]s
lz4: %[5]v
local: %[6]s
underlay:
%[16]s  listen: ["%[7]s"]
  mtu: %[8]d
  mtu_policy: %[9]s
peers:
  - name: %[10]s
    id: %[11]d
    codec: %[12]s
%[13]s    paths: [{remote: "%[14]s"}]
control: {socket: %[15]s}
log: {level: warn}
`

// startSkiff starts skiff up at both sites (site-a only with codec vxlan:
// site-b is then a kernel vxlan device) and waits for their control
// sockets.
func (bd *bed) startSkiff(ctx context.Context) error {
	row := bd.row
	mtu := row.InnerMTU()
	if row.Local == "afpacket" || row.Local == "afxdp" {
		var err error
		if bd.ha, err = bd.lab.NS("host-a"); err != nil {
			return err
		}
		hosts := []*netns.NS{bd.ha}
		if row.Codec != "vxlan" {
			if bd.hb, err = bd.lab.NS("host-b"); err != nil {
				return err
			}
			hosts = append(hosts, bd.hb)
		}
		for i, h := range hosts {
			site := []*netns.NS{bd.a, bd.b}[i]
			if err := bd.lab.Link(h, "lan0", site, "lan0"); err != nil {
				return err
			}
			if err := bd.setMTU(h, "lan0", mtu); err != nil {
				return err
			}
			if err := bd.setMTU(site, "lan0", mtu); err != nil {
				return err
			}
			if err := h.Addr("lan0", []string{innerA, innerB}[i]+"/24"); err != nil {
				return err
			}
			if row.Local == "afxdp" {
				// A veth leaves checksums to an offload that never runs;
				// AF_XDP carries frames as they are, so the hosts must
				// checksum in software, as a NIC would on the wire.
				if out, err := h.Run("ethtool", "-K", "lan0", "tx", "off"); err != nil {
					return fmt.Errorf("ethtool -K lan0 tx off (ethtool is needed for local=afxdp rows): %w: %s", err, out)
				}
			}
		}
	}
	psk, err := wire.GeneratePSK()
	if err != nil {
		return err
	}
	sites := 2
	if row.Codec == "vxlan" {
		sites = 1
		if err := bd.kernelVXLAN(1, true); err != nil {
			return err
		}
	}
	names := []string{"site-a", "site-b"}
	underlay := []string{underlayA, underlayB}
	for i := range sites {
		ns := []*netns.NS{bd.a, bd.b}[i]
		local := fmt.Sprintf("{type: tap, name: skf0, address: %s/24, mtu: %d}", []string{innerA, innerB}[i], mtu)
		switch row.Local {
		case "afpacket":
			local = "{type: afpacket, name: lan0}"
		case "afxdp":
			local = "{type: afxdp, name: lan0}"
		case "memif":
			// Site-a: testpmd connects here. Site-b: a memif nobody
			// connects to, a local port that is quiet (no kernel
			// device sending neighbour discovery) and drops what
			// comes: the data never reaches it (see startMemif).
			sock := filepath.Join(bd.dir, names[i]+"-memif.sock")
			if i == 0 {
				bd.memifSock = sock
			}
			local = fmt.Sprintf("{type: memif, memif: {socket: %q, id: 0, role: server}}", sock)
		}
		underlayType := ""
		if row.Underlay == "afxdp" && (i == 0 || !row.Memif()) {
			underlayType = "  type: afxdp\n  interface: ul0\n"
		}
		pskLine, vniLine := fmt.Sprintf("psk: {key: %q}\n", psk.String()), ""
		listen, remote := underlay[i]+":"+skiffPort, underlay[1-i]+":"+skiffPort
		suite, lz4 := row.Suite, row.LZ4
		if row.Codec == "vxlan" {
			pskLine, vniLine = "", "    vni: "+vxlanVNI+"\n"
			listen, remote = "0.0.0.0:"+vxlanPort, underlay[1-i]+":"+vxlanPort
			suite, lz4 = defaultSuite, false
		}
		sock := filepath.Join(bd.dir, names[i]+".sock")
		cfg := fmt.Sprintf(skiffConfig, names[i], i+1, pskLine, suite, lz4, local, listen, row.UnderlayMTU, row.Policy,
			names[1-i], 2-i, row.Codec, vniLine, remote, sock, underlayType)
		path := filepath.Join(bd.dir, names[i]+".yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			return err
		}
		if i == 0 {
			bd.ctlA = sock
		}
		args := []string{bd.skiff, "up", "-c", path}
		if bd.profile != "" {
			args = append(args, "-cpuprofile", bd.profile+"-"+names[i]+".pprof")
		}
		if row.Memif() && len(bd.cpus.cpus) > 1 {
			// Off testpmd's forwarding CPU (ip netns exec and taskset
			// exec: the process is skiff itself).
			args = append([]string{"taskset", "-c", bd.cpus.skiff}, args...)
		}
		p, err := ns.Start(nil, args[0], args[1:]...)
		if err != nil {
			return err
		}
		bd.tunnels = append(bd.tunnels, p)
		if err := waitFor(ctx, 10*time.Second, p, func() bool { _, err := os.Stat(sock); return err == nil }); err != nil {
			return fmt.Errorf("skiff up at %s: %w\nconfig:\n%s\noutput:\n%s", names[i], err, cfg, lastLines(p.Output(), 20))
		}
	}
	return nil
}

// waitTunnel pings across until an answer comes.
func (bd *bed) waitTunnel(ctx context.Context, max time.Duration) error {
	deadline := time.Now().Add(max)
	for {
		if _, err := bd.ha.Run("ping", "-c", "1", "-W", "1", innerB); err == nil {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := bd.tunnelsAlive(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			for _, p := range bd.tunnels {
				fmt.Fprintf(&b, "\n%s:\n%s", p.Name, lastLines(p.Output(), 20))
			}
			return fmt.Errorf("no ping answer across the tunnel within %v%s", max, b.String())
		}
	}
}

// tunnelsAlive reports a tunnel process that has exited.
func (bd *bed) tunnelsAlive() error {
	for _, p := range bd.tunnels {
		select {
		case <-p.Done():
			return fmt.Errorf("%s exited:\n%s", p.Name, lastLines(p.Output(), 20))
		default:
		}
	}
	return nil
}

// tunnelPids are the process ids of the tunnel processes (ip netns exec
// execs the command, so the started process is the tunnel itself).
func (bd *bed) tunnelPids() []int {
	var pids []int
	for _, p := range bd.tunnels {
		if p.Cmd.Process != nil {
			pids = append(pids, p.Cmd.Process.Pid)
		}
	}
	return pids
}

// close stops the tunnel processes (SIGTERM, so skiff removes what it
// created) and removes the namespaces and files. Safe on a partial bed.
func (bd *bed) close() {
	// testpmd first (the client, then the server): a memif peer that
	// goes away under a polling testpmd can crash it.
	for _, p := range []*testpmd.Proc{bd.pmd, bd.pmdSrv} {
		if p != nil {
			p.Stop()
		}
	}
	for _, p := range bd.tunnels {
		p.Stop(3 * time.Second)
	}
	bd.lab.Close()
	for _, s := range bd.wgSocks {
		os.Remove(s)
	}
	if bd.dir != "" {
		os.RemoveAll(bd.dir)
	}
}

// waitFor polls cond every 20 ms until it holds, p exits, ctx ends or
// timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, p *netns.Proc, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if p != nil {
			select {
			case <-p.Done():
				return errors.New("the process exited")
			default:
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %v", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}
