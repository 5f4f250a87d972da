// SPDX-License-Identifier: Apache-2.0

package suite

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/skiffnet/skiff/control/api"
	"github.com/skiffnet/skiff/dataplane/wire"
	"github.com/skiffnet/skiff/internal/testpmd"
	"golang.org/x/sys/unix"
)

// memif rows: dpdk-testpmd stands in for a VPP router. Its memif driver
// connects as a client to site-a's skiff (memif server, as with VPP) and
// sends in txonly mode: 64- or 1400-byte frames, as fast as the ring takes
// them, never reading. skiff seals them and sends them through the veth
// underlay to site-b, where a netdev-ingress nftables rule counts skiff
// data datagrams and drops them before the IP stack: site-b's skiff only
// keeps the session up (handshake and keepalives pass) and does no
// decryption, so that on a 2-CPU machine testpmd's busy-polling lcore owns
// one CPU and site-a's skiff the other (skiff is pinned to every CPU but
// testpmd's). The load saturates: what the ring cannot take, testpmd counts
// as TX-dropped, as a NIC's full transmit ring; that is back-pressure, not
// loss. Lost are frames that testpmd put in the ring and that did not
// arrive at site-b.
//
//	dpdk-testpmd txonly --memif--> site-a skiff --ul0==veth==ul0--> site-b: nft counts, drops (skiff-b: keepalives only)
//	(forwarding lcore: CPU n-1)   (CPUs 0..n-2)
//
// testpmd-memif is the anchor: a testpmd txonly client into a testpmd
// rxonly server, what the memif transport itself carries on the machine,
// each forwarding lcore on a CPU of its own.

// Fixed parts of a memif measurement.
const (
	memifWarmup  = 300 * time.Millisecond // after start, before the window
	memifSettle  = 300 * time.Millisecond // after stop, for the last frames to arrive
	sinkTable    = "skiff_bench_sink"
	memifPeerMAC = "02:00:00:00:00:02" // destination MAC of testpmd's frames
	ipUDPHeaders = 28                  // IPv4 (no options) and UDP headers
)

// memifMissing says which tool a memif row needs and the machine lacks, ""
// if none.
func memifMissing(row Row) string {
	if !testpmd.Available() {
		return "needs dpdk-testpmd and stdbuf (apt-get install dpdk-dev librte-net-memif23 librte-mempool-ring23)"
	}
	if row.Kind == KindSkiff {
		for tool, pkg := range map[string]string{"nft": "nftables", "taskset": "util-linux"} {
			if _, err := exec.LookPath(tool); err != nil {
				return fmt.Sprintf("needs %s (apt-get install %s)", tool, pkg)
			}
		}
	}
	return ""
}

// cpuPlan places testpmd and skiff on the CPUs this process may use:
// testpmd's forwarding lcore on the last, its main lcore (asleep at the
// prompt) on the first, skiff on all but the last. With one CPU all share
// it.
type cpuPlan struct {
	cpus      []int
	fwd, main int
	skiff     string // taskset -c list
}

func planCPUs() cpuPlan {
	var set unix.CPUSet
	var cpus []int
	if unix.SchedGetaffinity(0, &set) == nil {
		for i := 0; i < len(set)*64; i++ {
			if set.IsSet(i) {
				cpus = append(cpus, i)
			}
		}
	}
	if len(cpus) == 0 {
		cpus = []int{0}
	}
	p := cpuPlan{cpus: cpus, fwd: cpus[len(cpus)-1], main: cpus[0]}
	rest := cpus
	if len(cpus) > 1 {
		rest = cpus[:len(cpus)-1]
	}
	var s []string
	for _, c := range rest {
		s = append(s, strconv.Itoa(c))
	}
	p.skiff = strings.Join(s, ",")
	return p
}

// MemifRun is what one memif measurement (one frame size, one repeat)
// counted. The window counts are between two snapshots Seconds apart while
// testpmd sends; the totals from before testpmd started to a moment after
// it stopped, so that frames in flight are not taken for lost.
type MemifRun struct {
	Seconds float64 `json:"seconds"`
	// Sent: frames testpmd put into the memif ring; Refused: frames it
	// could not (the ring was full: back-pressure, its TX-dropped).
	Sent    uint64 `json:"sent"`
	Refused uint64 `json:"refused"`
	// Arrived: frames at the far end (site-b's nft count of skiff data
	// datagrams, or the testpmd rxonly server's RX-packets).
	Arrived uint64 `json:"arrived"`
	// CPUSeconds: user+system seconds of site-a's skiff in the window
	// (kernel work in its context, such as the veth transmit and site-b's
	// receive up to the nft drop, included); CPUsBusy: busy seconds of the
	// CPUs skiff is pinned to, everything on them (kernel threads,
	// site-b's skiff, this bench) included.
	CPUSeconds float64 `json:"skiff_cpu_s,omitempty"`
	CPUsBusy   float64 `json:"skiff_cpus_busy_s,omitempty"`
	// Whole-run totals: sent by testpmd, taken from the ring by skiff,
	// datagrams skiff sent to the underlay, arrived at the far end.
	TotalSent    uint64 `json:"total_sent"`
	TotalTaken   uint64 `json:"total_taken,omitempty"`
	TotalOut     uint64 `json:"total_out,omitempty"`
	TotalArrived uint64 `json:"total_arrived"`
	// Drops counts, over the whole run, site-a's skiff's drops by reason,
	// its memif port's faults and its underlay port's send errors.
	Drops map[string]uint64 `json:"drops,omitempty"`
	// Datagram is the UDP payload of a data datagram (skiff rows).
	Datagram int `json:"datagram_bytes,omitempty"`
}

// PPS is the frames/s that arrived in the window.
func (m *MemifRun) PPS() float64 { return float64(m.Arrived) / m.Seconds }

// MppsPerCore is millions of frames/s per CPU-second of site-a's skiff.
func (m *MemifRun) MppsPerCore() float64 {
	if m.CPUSeconds <= 0 {
		return math.NaN()
	}
	return float64(m.Arrived) / m.CPUSeconds / 1e6
}

// Lost is the fraction of the frames testpmd sent that did not arrive.
func (m *MemifRun) Lost() float64 {
	if m.TotalSent == 0 || m.TotalArrived >= m.TotalSent {
		return 0
	}
	return float64(m.TotalSent-m.TotalArrived) / float64(m.TotalSent)
}

// GeneratorBound reports whether the ring took (nearly) everything
// testpmd offered: the receiver kept up, testpmd was the limit.
func (m *MemifRun) GeneratorBound() bool {
	return float64(m.Refused) < MaxLoss*float64(m.Sent+m.Refused)
}

func (m *MemifRun) trial() Trial {
	return Trial{SentPPS: float64(m.Sent) / m.Seconds, Delivered: m.PPS(), Loss: m.Lost()}
}

func (m *MemifRun) String() string {
	s := fmt.Sprintf("%.0f frames/s arrived over %.2fs (testpmd sent %.0f/s, ring full for %.0f/s)",
		m.PPS(), m.Seconds, float64(m.Sent)/m.Seconds, float64(m.Refused)/m.Seconds)
	if m.CPUSeconds > 0 {
		s += fmt.Sprintf("; skiff %.2f CPU s (%.2f Mpps/core), its CPUs busy %.2f s", m.CPUSeconds, m.MppsPerCore(), m.CPUsBusy)
	}
	s += fmt.Sprintf("; run totals: sent %d", m.TotalSent)
	if m.TotalTaken > 0 || m.TotalOut > 0 {
		s += fmt.Sprintf(", taken by skiff %d, datagrams out %d", m.TotalTaken, m.TotalOut)
	}
	s += fmt.Sprintf(", arrived %d", m.TotalArrived)
	if len(m.Drops) > 0 {
		s += fmt.Sprintf(", drops %v", m.Drops)
	}
	return s
}

// problem describes lost frames and skiff's drops, "" if there were none
// (or fewer than MaxLoss of the frames).
func (m *MemifRun) problem() string {
	var drops uint64
	for _, n := range m.Drops {
		drops += n
	}
	if m.Lost() < MaxLoss && float64(drops) < MaxLoss*float64(max(1, m.TotalSent)) {
		return ""
	}
	return fmt.Sprintf("%.3f%% of the frames testpmd put into the ring did not arrive: %s", 100*m.Lost(), m)
}

// memifSnap is one reading of the counters of a memif measurement, each
// with the time it was taken.
type memifSnap struct {
	gen       testpmd.Stats // the txonly client
	tGen      time.Time
	rx        uint64 // testpmd-memif: the rxonly server's RX-packets
	nftPkts   uint64 // skiff rows: site-b's nft counter (GSO super-packets count once)
	nftBytes  uint64
	tRx       time.Time
	cpu, busy int64 // skiff rows: site-a skiff's and its CPUs' busy ticks
	tCPU      time.Time
	st        *api.Status // skiff rows: site-a's status
}

// startMemif finishes a skiff memif row's bed once both nodes run: the
// sink at site-b, the session up, testpmd connected to site-a's memif.
func (bd *bed) startMemif(ctx context.Context) error {
	pa := bd.tunnels[0]
	if err := waitFor(ctx, 10*time.Second, pa, func() bool { _, err := os.Stat(bd.memifSock); return err == nil }); err != nil {
		return fmt.Errorf("site-a's memif socket %s: %w\n%s", bd.memifSock, err, lastLines(pa.Output(), 20))
	}
	rules := fmt.Sprintf(`table netdev %s {
	chain in {
		type filter hook ingress device "ul0" priority 0; policy accept;
		ip protocol udp udp dport %s @th,64,16 0x%02x%02x counter drop
	}
}
`, sinkTable, skiffPort, wire.Version, wire.TypeData)
	path := filepath.Join(bd.dir, "sink.nft")
	if err := os.WriteFile(path, []byte(rules), 0o600); err != nil {
		return err
	}
	if out, err := bd.b.Run("nft", "-f", path); err != nil {
		return fmt.Errorf("site-b's nftables sink: %w: %s", err, out)
	}
	if err := waitFor(ctx, 20*time.Second, pa, func() bool {
		st, err := bd.status()
		return err == nil && len(st.Peers) > 0 && st.Peers[0].State == "up"
	}); err != nil {
		st, _ := bd.status()
		return fmt.Errorf("no session between the sites: %w (site-a's status: %+v)\n%s", err, st, lastLines(pa.Output(), 20))
	}
	p, err := testpmd.Launch(testpmd.Options{
		Name: "txonly", Role: "client", Socket: bd.memifSock, Forward: "txonly", NoStart: true,
		TxPkts: []int{64}, EthPeer: memifPeerMAC,
		Lcores: fmt.Sprintf("0@%d,1@%d", bd.cpus.main, bd.cpus.fwd),
	}, nil)
	bd.pmd = p
	if err != nil {
		return pmdError(p, err)
	}
	if err := p.WaitLinkUp(10 * time.Second); err != nil {
		return pmdError(p, err)
	}
	return waitFor(ctx, 5*time.Second, pa, func() bool {
		st, err := bd.status()
		return err == nil && memifCounter(st, "connected") == 1
	})
}

// startTestpmdPair starts testpmd-memif's pair: an rxonly server
// (forwarding) and a txonly client, each forwarding lcore on a CPU of its
// own.
func (bd *bed) startTestpmdPair() error {
	sock := filepath.Join(bd.dir, "memif.sock")
	srv, err := testpmd.Launch(testpmd.Options{
		Name: "rxonly", Role: "server", Socket: sock, Forward: "rxonly",
		Lcores: fmt.Sprintf("0@%d,1@%d", bd.cpus.fwd, bd.cpus.main),
	}, nil)
	bd.pmdSrv = srv
	if err != nil {
		return pmdError(srv, err)
	}
	cli, err := testpmd.Launch(testpmd.Options{
		Name: "txonly", Role: "client", Socket: sock, Forward: "txonly", NoStart: true,
		TxPkts: []int{64}, EthPeer: memifPeerMAC,
		Lcores: fmt.Sprintf("0@%d,1@%d", bd.cpus.main, bd.cpus.fwd),
	}, nil)
	bd.pmd = cli
	if err != nil {
		return pmdError(cli, err)
	}
	for _, p := range []*testpmd.Proc{cli, srv} {
		if err := p.WaitLinkUp(10 * time.Second); err != nil {
			return pmdError(p, err)
		}
	}
	return nil
}

func pmdError(p *testpmd.Proc, err error) error {
	if p == nil {
		return err
	}
	return fmt.Errorf("%w\n%s", err, lastLines(p.Log(), 20))
}

// status asks site-a's skiff for its status.
func (bd *bed) status() (*api.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r, err := api.Ask(ctx, bd.ctlA, api.Request{Op: "status"})
	if err != nil {
		return nil, err
	}
	if r.Status == nil {
		return nil, errors.New("site-a answered without a status")
	}
	return r.Status, nil
}

// memifCounter reads a numeric field of the memif port's stats (booleans
// read as 0 and 1), 0 when missing.
func memifCounter(st *api.Status, key string) uint64 {
	if st == nil {
		return 0
	}
	return number(st.Local.Stats, key)
}

func number(stats any, key string) uint64 {
	m, _ := stats.(map[string]any)
	switch v := m[key].(type) {
	case float64:
		return uint64(v)
	case bool:
		if v {
			return 1
		}
	}
	return 0
}

// snap reads the counters; full also reads site-a's status (the window's
// snapshots leave it out: it is only needed for the totals).
func (bd *bed) snap(full bool) (memifSnap, error) {
	var s memifSnap
	var err error
	if bd.row.Kind == KindSkiff {
		s.tCPU = time.Now()
		pids := bd.tunnelPids()
		if len(pids) == 0 {
			return s, errors.New("site-a's skiff is not running")
		}
		if s.cpu, err = cpuTicks(pids[:1]); err != nil {
			return s, err
		}
		if s.busy, err = busyTicks(bd.cpus.skiff); err != nil {
			return s, err
		}
		t0 := time.Now()
		if s.nftPkts, s.nftBytes, err = bd.sinkCounter(); err != nil {
			return s, err
		}
		s.tRx = t0.Add(time.Since(t0) / 2)
		if full {
			if s.st, err = bd.status(); err != nil {
				return s, err
			}
		}
	} else {
		t0 := time.Now()
		srv, err := bd.pmdSrv.Stats()
		if err != nil {
			return s, err
		}
		s.tRx = t0.Add(time.Since(t0) / 2)
		s.rx = srv.RxPackets
	}
	t0 := time.Now()
	if s.gen, err = bd.pmd.Stats(); err != nil {
		return s, err
	}
	s.tGen = t0.Add(time.Since(t0) / 2)
	return s, nil
}

// sinkCounter reads site-b's nft counter: packets (a GSO super-packet of
// many datagrams counts once) and bytes (IP packet lengths).
func (bd *bed) sinkCounter() (pkts, bytes uint64, err error) {
	out, err := bd.b.Run("nft", "-j", "list", "table", "netdev", sinkTable)
	if err != nil {
		return 0, 0, fmt.Errorf("reading site-b's nft counter: %w", err)
	}
	return parseNftCounter(out)
}

// parseNftCounter finds the one counter in nft -j output.
func parseNftCounter(out []byte) (pkts, bytes uint64, err error) {
	var doc struct {
		Nftables []struct {
			Rule *struct {
				Expr []map[string]json.RawMessage `json:"expr"`
			} `json:"rule"`
		} `json:"nftables"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		return 0, 0, fmt.Errorf("nft -j output: %w", err)
	}
	for _, o := range doc.Nftables {
		if o.Rule == nil {
			continue
		}
		for _, e := range o.Rule.Expr {
			if c, ok := e["counter"]; ok {
				var n struct{ Packets, Bytes uint64 }
				if err := json.Unmarshal(c, &n); err != nil {
					return 0, 0, fmt.Errorf("nft counter %s: %w", c, err)
				}
				return n.Packets, n.Bytes, nil
			}
		}
	}
	return 0, 0, fmt.Errorf("no counter in nft output %q", out)
}

// busyTicks is the busy time (user, nice, system, irq, softirq) of the
// CPUs in list (comma-separated numbers), in USER_HZ ticks, from /proc/stat.
func busyTicks(list string) (int64, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	want := map[string]bool{}
	for _, c := range strings.Split(list, ",") {
		want["cpu"+c] = true
	}
	var sum int64
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 8 || !want[f[0]] {
			continue
		}
		for _, i := range []int{1, 2, 3, 6, 7} {
			n, err := strconv.ParseInt(f[i], 10, 64)
			if err != nil {
				return 0, fmt.Errorf("/proc/stat: %q", line)
			}
			sum += n
		}
	}
	return sum, nil
}

// memifTrial lets testpmd send size-byte frames for window and returns
// what was counted.
func (bd *bed) memifTrial(ctx context.Context, size int, window time.Duration) (*MemifRun, error) {
	gen := bd.pmd
	if _, err := gen.Command("set txpkts " + strconv.Itoa(size)); err != nil {
		return nil, err
	}
	pre, err := bd.snap(true)
	if err != nil {
		return nil, err
	}
	if err := gen.StartForwarding(); err != nil {
		return nil, err
	}
	started := true
	defer func() {
		if started {
			gen.StopForwarding()
		}
	}()
	if err := sleep(ctx, memifWarmup); err != nil {
		return nil, err
	}
	a, err := bd.snap(false)
	if err != nil {
		return nil, err
	}
	if err := sleep(ctx, window); err != nil {
		return nil, err
	}
	b, err := bd.snap(false)
	if err != nil {
		return nil, err
	}
	started = false
	if _, err := gen.StopForwarding(); err != nil {
		return nil, err
	}
	if err := sleep(ctx, memifSettle); err != nil {
		return nil, err
	}
	post, err := bd.snap(true)
	if err != nil {
		return nil, err
	}
	if !post.gen.LinkUp {
		return nil, errors.New("testpmd's memif link went down during the run")
	}
	m := &MemifRun{
		Seconds:   b.tRx.Sub(a.tRx).Seconds(),
		Sent:      b.gen.TxPackets - a.gen.TxPackets,
		Refused:   b.gen.Fwd.TxDropped - a.gen.Fwd.TxDropped,
		TotalSent: post.gen.TxPackets - pre.gen.TxPackets,
	}
	// testpmd's counters are read a moment after the window's: scale them.
	if g := b.tGen.Sub(a.tGen).Seconds(); g > 0 {
		m.Sent = uint64(float64(m.Sent) * m.Seconds / g)
		m.Refused = uint64(float64(m.Refused) * m.Seconds / g)
	}
	if bd.row.Kind != KindSkiff {
		m.Arrived, m.TotalArrived = b.rx-a.rx, post.rx-pre.rx
		return m, nil
	}
	m.CPUSeconds = float64(b.cpu-a.cpu) / userHZ
	m.CPUsBusy = float64(b.busy-a.busy) / userHZ
	if c := b.tCPU.Sub(a.tCPU).Seconds(); c > 0 {
		// Per the same window as the frames.
		m.CPUSeconds *= m.Seconds / c
		m.CPUsBusy *= m.Seconds / c
	}
	m.TotalTaken = memifCounter(post.st, "rx_frames") - memifCounter(pre.st, "rx_frames")
	m.TotalOut = post.st.Tx.Out - pre.st.Tx.Out
	m.Drops = skiffDrops(pre.st, post.st)
	// Datagrams from the nft counter: every data datagram of the run has
	// the same length (one frame size, one suite), so the bytes beyond
	// one IP and UDP header per packet (per GSO super-packet) divide into
	// datagrams of that length, which skiff's own counters tell.
	if m.TotalOut == 0 {
		return m, fmt.Errorf("site-a sent no datagrams: %s", m)
	}
	outBytes := post.st.Tx.OutBytes - pre.st.Tx.OutBytes
	if outBytes%m.TotalOut != 0 {
		return m, fmt.Errorf("site-a's datagrams differ in length (%d bytes in %d): cannot count them at site-b", outBytes, m.TotalOut)
	}
	m.Datagram = int(outBytes / m.TotalOut)
	count := func(x, y memifSnap) (uint64, error) {
		payload := (y.nftBytes - x.nftBytes) - ipUDPHeaders*(y.nftPkts-x.nftPkts)
		if payload%uint64(m.Datagram) != 0 {
			return 0, fmt.Errorf("site-b counted %d bytes of data in %d packets: not a whole number of %d-byte datagrams",
				y.nftBytes-x.nftBytes, y.nftPkts-x.nftPkts, m.Datagram)
		}
		return payload / uint64(m.Datagram), nil
	}
	if m.Arrived, err = count(a, b); err != nil {
		return m, err
	}
	if m.TotalArrived, err = count(pre, post); err != nil {
		return m, err
	}
	return m, nil
}

// skiffDrops are the counters of frames site-a's skiff dropped between two
// statuses: the dataplane's drops by reason (tx: local to underlay), the
// memif port's receive faults and the underlay port's send errors.
func skiffDrops(pre, post *api.Status) map[string]uint64 {
	d := map[string]uint64{}
	for reason, n := range post.Tx.Drops {
		if n > pre.Tx.Drops[reason] {
			d["tx."+reason] = n - pre.Tx.Drops[reason]
		}
	}
	for _, k := range []string{"rx_bad_desc", "rx_too_long", "bad_ring"} {
		if n := memifCounter(post, k) - memifCounter(pre, k); n > 0 {
			d["memif."+k] = n
		}
	}
	for i := range min(len(pre.Underlay), len(post.Underlay)) {
		m, _ := post.Underlay[i].Stats.(map[string]any)
		for _, k := range underlayErrors {
			if n := number(m, k) - number(pre.Underlay[i].Stats, k); n > 0 && n < 1<<62 {
				d["underlay."+k] = n
			}
		}
	}
	if len(d) == 0 {
		return nil
	}
	return d
}

// underlayErrors are the send-error counters of the underlay ports' stats:
// udp's (TxTooBig, TxUnreachable, TxOther) and afxdp's (TxFull, TxErrors,
// TxBadOffload).
var underlayErrors = []string{"TxTooBig", "TxUnreachable", "TxOther", "TxFull", "TxErrors", "TxBadOffload"}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// memifOnce runs repeat i of memif row ri: both frame sizes in one bed.
func (r *runner) memifOnce(ctx context.Context, rr *RowResult, ri, i int) {
	row := rr.Row
	spent := 0.0
	advance := func(s float64) { spent += s; r.prog.advance(s) }
	defer func() { r.prog.advance(r.cost(row) - spent) }()
	r.prog.set(ri, row.Name, i, "setup", true)
	bd, err := build(ctx, row, r.buildOpts(row, i))
	advance(costSetup + costMemifSetup)
	if err != nil {
		r.fail(ctx, rr, i, "setup", err)
		return
	}
	defer func() {
		r.prog.set(ri, row.Name, i, "teardown", false)
		bd.close()
	}()
	alive := func() bool {
		if err := bd.tunnelsAlive(); err != nil {
			r.fail(ctx, rr, i, "tunnel", err)
			return false
		}
		for _, p := range []*testpmd.Proc{bd.pmd, bd.pmdSrv} {
			if p == nil {
				continue
			}
			if gone, err := p.Exited(); gone {
				r.fail(ctx, rr, i, "testpmd", fmt.Errorf("%s exited (%v):\n%s", p.Options().Name, err, lastLines(p.Log(), 20)))
				return false
			}
		}
		return ctx.Err() == nil
	}
	for _, size := range row.FrameSizes() {
		metric := ppsMetric(size)
		metrics := []string{metric}
		if row.Kind == KindSkiff {
			metrics = append(metrics, cpuMetric(size), ppsCoreMetric(size))
		}
		r.prog.set(ri, row.Name, i, fmt.Sprintf("%d-byte frames/s, testpmd saturating memif for %v", size, r.o.MemifTime), true)
		m, err := bd.memifTrial(ctx, size, r.o.MemifTime)
		advance(r.costMemifSize())
		if err != nil {
			if m != nil {
				err = fmt.Errorf("%w (%s)", err, m)
			}
			r.fail(ctx, rr, i, metric, err, metrics...)
		} else {
			rr.Memif[metric][i] = m
			rr.Trials[metric][i] = []Trial{m.trial()}
			rr.Samples[metric][i] = m.PPS()
			if row.Kind == KindSkiff {
				rr.Samples[cpuMetric(size)][i] = m.CPUSeconds
				rr.Samples[ppsCoreMetric(size)][i] = m.MppsPerCore()
			}
			if m.GeneratorBound() {
				rr.LowerBound[metric] = true
			}
			r.verbose("%s r%d %s: %s", row.Name, i+1, metric, m)
			if p := m.problem(); p != "" {
				r.fail(ctx, rr, i, metric, errors.New(p), metrics...)
			}
		}
		if !alive() {
			return
		}
	}
	if row.Kind == KindSkiff {
		if mb, err := peakRSS(bd.tunnelPids()); err != nil {
			r.fail(ctx, rr, i, MRSS, err, MRSS)
		} else {
			rr.Samples[MRSS][i] = mb
		}
	}
}
