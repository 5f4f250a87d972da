// SPDX-License-Identifier: Apache-2.0

package suite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/skiffnet/skiff/bench/netns"
)

// Options configure a run. Zero durations and counts take the defaults of
// a normal run, or of a quick one with Quick.
type Options struct {
	Skiff       string // the skiff binary: tunnels and traffic (required)
	WireguardGo string // the wireguard-go binary, for wireguard-go rows
	Rows        []Row  // what to measure, in order (see SelectRows)
	Repeat      int    // repeats of every row; 0 = 3 (1 with Quick)
	Quick       bool   // shorter runs and fewer search steps

	TCPTime     time.Duration // each TCP run; 0 = 5s (2s with Quick)
	StepTime    time.Duration // each trial of a rate search; 0 = 1s (0.5s)
	Steps       int           // paced trials after the blast; 0 = 6 (4)
	RTTProbes   int           // probes of the RTT measurement; 0 = 500 (200)
	RTTInterval time.Duration // between probes; 0 = 2ms
	MemifTime   time.Duration // memif rows: the measurement window of each frame size; 0 = 3s (1.5s)

	// CPUProfileDir, if not empty, is where skiff rows' nodes write CPU
	// profiles (skiff up -cpuprofile): ROW-rREPEAT-site-a.pprof and
	// -site-b.pprof.
	CPUProfileDir string

	// Progress, if not nil, gets a progress line that is redrawn in place
	// when it is a terminal, and one line per measurement otherwise.
	Progress io.Writer
	// Verbose also writes every trial's outcome, and errors in full, to
	// Progress.
	Verbose bool
}

func (o *Options) defaults() {
	pick := func(normal, quick time.Duration) time.Duration {
		if o.Quick {
			return quick
		}
		return normal
	}
	if o.Repeat <= 0 {
		o.Repeat = 3
		if o.Quick {
			o.Repeat = 1
		}
	}
	if o.TCPTime <= 0 {
		o.TCPTime = pick(5*time.Second, 2*time.Second)
	}
	if o.StepTime <= 0 {
		o.StepTime = pick(time.Second, 500*time.Millisecond)
	}
	if o.Steps <= 0 {
		o.Steps = 6
		if o.Quick {
			o.Steps = 4
		}
	}
	if o.RTTProbes <= 0 {
		o.RTTProbes = 500
		if o.Quick {
			o.RTTProbes = 200
		}
	}
	if o.RTTInterval <= 0 {
		o.RTTInterval = 2 * time.Millisecond
	}
	if o.MemifTime <= 0 {
		o.MemifTime = pick(3*time.Second, 1500*time.Millisecond)
	}
}

// ErrNotRoot is Run's error without root.
var ErrNotRoot = errors.New("skiff bench needs root: it creates network namespaces, veth and tunnel devices (run it as root, e.g. with sudo)")

// Run measures every row Repeat times, interleaved (every row's first
// repeat, then every row's second, ...), each time in a fresh topology
// that it removes afterwards, also when ctx ends (then Run returns
// ctx.Err() with what was measured so far). A failed measurement is
// recorded in its row's Errors and the run goes on; only problems that
// stop every row (no root, no binary) are errors.
func Run(ctx context.Context, o Options) (*Report, error) {
	o.defaults()
	if os.Geteuid() != 0 {
		return nil, ErrNotRoot
	}
	if len(o.Rows) == 0 {
		return nil, errors.New("no rows to run")
	}
	if err := executable(o.Skiff); err != nil {
		return nil, fmt.Errorf("skiff binary: %w", err)
	}
	tools := []string{"ip", "ping", "ethtool"}
	for _, r := range o.Rows {
		if r.Kind == KindWG {
			if err := executable(o.WireguardGo); err != nil {
				return nil, fmt.Errorf("--wireguard-go: %w", err)
			}
		}
	}
	for _, t := range tools {
		if _, err := exec.LookPath(t); err != nil {
			return nil, fmt.Errorf("%s is not installed (apt-get install --no-install-recommends iproute2 iputils-ping ethtool)", t)
		}
	}
	netns.Clean()
	version := "unknown"
	if out, err := exec.Command(o.Skiff, "version").Output(); err == nil {
		version = strings.TrimPrefix(strings.TrimSpace(string(out)), "skiff ")
	}
	rep := &Report{Machine: machineInfo(version), Settings: Settings{
		Repeat: o.Repeat, Quick: o.Quick, TCPSeconds: o.TCPTime.Seconds(), StepSeconds: o.StepTime.Seconds(),
		Steps: o.Steps, MaxLoss: MaxLoss, RTTProbes: o.RTTProbes, RTTIntervalMS: float64(o.RTTInterval) / float64(time.Millisecond),
	}}
	if o.CPUProfileDir != "" {
		if err := os.MkdirAll(o.CPUProfileDir, 0o755); err != nil {
			return nil, err
		}
	}
	r := &runner{o: o, rep: rep}
	var plan float64
	for _, row := range o.Rows {
		rr := newRowResult(row, o.Repeat)
		if row.Memif() {
			rep.Settings.MemifSeconds = o.MemifTime.Seconds()
			rr.Skipped = memifMissing(row)
		}
		rep.Rows = append(rep.Rows, rr)
		if rr.Skipped == "" {
			plan += r.cost(row)
		}
	}
	r.prog = newProgress(o.Progress, plan*float64(o.Repeat), len(o.Rows), o.Repeat)
	defer r.prog.close()
	for _, rr := range rep.Rows {
		if rr.Skipped != "" {
			r.prog.log("%s: skipped: %s", rr.Row.Name, rr.Skipped)
		}
	}
	start := time.Now()
	defer func() { rep.Settings.ElapsedS = math.Round(time.Since(start).Seconds()*10) / 10 }()
	for i := range o.Repeat {
		for ri, rr := range rep.Rows {
			if rr.Skipped != "" {
				continue
			}
			if rr.Row.Memif() {
				r.memifOnce(ctx, rr, ri, i)
			} else {
				r.once(ctx, rr, ri, i)
			}
			if err := ctx.Err(); err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
}

func executable(path string) error {
	if path == "" {
		return errors.New("no path given")
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is not an executable file", path)
	}
	return nil
}

type runner struct {
	o    Options
	rep  *Report
	prog *progress
}

// Planned seconds of the parts of a row, for the ETA.
const (
	costSetup    = 2.5
	costTeardown = 0.5
	costTCP      = 0.7 // on top of the TCP time
	costTrial    = 0.5 // on top of the step time
	costRTT      = 0.6 // on top of the probes
	// memif rows: testpmd's start and the session, on top of costSetup;
	// per frame size on top of the window.
	costMemifSetup = 2.0
	costMemifSize  = 1.0
)

func (r *runner) costTCP() float64   { return r.o.TCPTime.Seconds() + costTCP }
func (r *runner) costTrial() float64 { return r.o.StepTime.Seconds() + costTrial }
func (r *runner) costRTT() float64 {
	return float64(r.o.RTTProbes)*r.o.RTTInterval.Seconds() + costRTT
}

func (r *runner) costMemifSize() float64 { return r.o.MemifTime.Seconds() + costMemifSize }

func (r *runner) cost(row Row) float64 {
	if row.Memif() {
		return costSetup + costMemifSetup + float64(len(row.FrameSizes()))*r.costMemifSize() + costTeardown
	}
	return costSetup + 2*r.costTCP() + float64(len(row.FrameSizes())*(r.o.Steps+1))*r.costTrial() + r.costRTT() + costTeardown
}

// once runs repeat i of row ri.
func (r *runner) once(ctx context.Context, rr *RowResult, ri, i int) {
	row := rr.Row
	spent := 0.0 // planned seconds accounted for so far
	advance := func(s float64) { spent += s; r.prog.advance(s) }
	defer func() { r.prog.advance(r.cost(row) - spent) }()
	fail := func(what string, err error, metrics ...string) { r.fail(ctx, rr, i, what, err, metrics...) }
	r.prog.set(ri, row.Name, i, "setup", true)
	bd, err := build(ctx, row, r.buildOpts(row, i))
	advance(costSetup)
	if err != nil {
		fail("setup", err)
		return
	}
	defer func() {
		r.prog.set(ri, row.Name, i, "teardown", false)
		bd.close()
	}()
	pids := bd.tunnelPids()
	alive := func() bool {
		if err := bd.tunnelsAlive(); err != nil {
			fail("tunnel", err)
			return false
		}
		return ctx.Err() == nil
	}

	// RTT first, while the tunnel is idle: light load, and no backlog of
	// an overload trial.
	r.prog.set(ri, row.Name, i, "round-trip time", true)
	rt, err := bd.rtt(ctx, r.o.RTTProbes, r.o.RTTInterval)
	advance(r.costRTT())
	if err != nil {
		fail("rtt", err, MRTT50, MRTT99)
	} else {
		rr.Samples[MRTT50][i], rr.Samples[MRTT99][i] = rt.P50, rt.P99
		r.verbose("%s r%d rtt: p50 %.0f us p99 %.0f us (%d samples, %d lost)", row.Name, i+1, rt.P50, rt.P99, rt.Samples, rt.Lost)
	}
	if !alive() {
		return
	}

	for _, streams := range []int{1, 4} {
		metric := MTCP1
		if streams == 4 {
			metric = MTCP4
		}
		r.prog.set(ri, row.Name, i, fmt.Sprintf("TCP %d stream(s)", streams), true)
		c0, cerr := cpuTicks(pids)
		res, err := bd.tcp(ctx, streams, r.o.TCPTime)
		c1, cerr2 := cpuTicks(pids)
		advance(r.costTCP())
		if err != nil {
			fail(metric, err, metric, MCPU)
		} else {
			rr.Samples[metric][i] = res.Gbps
			r.verbose("%s r%d %s: %.3f Gbit/s (%d bytes in %.2fs)", row.Name, i+1, metric, res.Gbps, res.Bytes, res.Seconds)
			if streams == 1 && row.Tunnel() {
				if cerr != nil || cerr2 != nil {
					fail(MCPU, errors.Join(cerr, cerr2), MCPU)
				} else {
					rr.Samples[MCPU][i] = float64(c1-c0) / userHZ / (float64(res.Bytes) / 1e9)
				}
			}
		}
		if !alive() {
			return
		}
	}

	for _, size := range row.FrameSizes() {
		metric := ppsMetric(size)
		probe := func(ctx context.Context, rate float64) (Trial, error) {
			t, err := bd.udpTrial(ctx, size, rate, r.o.StepTime)
			advance(r.costTrial())
			if err == nil {
				r.verbose("%s r%d %s: %v", row.Name, i+1, metric, t)
			}
			return t, err
		}
		before := spent
		res, err := Search(ctx, probe, r.o.Steps, func(step int) {
			what := fmt.Sprintf("%d-byte frames/s, trial %d/%d", size, step+1, r.o.Steps+1)
			if step > r.o.Steps {
				what = fmt.Sprintf("%d-byte frames/s, extra trial %d (nothing passed yet)", size, step-r.o.Steps)
			}
			r.prog.set(ri, row.Name, i, what, step == 0)
		})
		// A search that ended early: account for its planned trials.
		advance(max(0, float64(r.o.Steps+1)*r.costTrial()-(spent-before)))
		rr.Trials[metric][i] = res.Trials
		if err != nil {
			fail(metric, err, metric)
		} else {
			rr.Samples[metric][i] = res.PPS
			if res.GeneratorBound {
				rr.LowerBound[metric] = true
			}
			r.verbose("%s r%d %s: %.0f frames/s (generator-bound %v)", row.Name, i+1, metric, res.PPS, res.GeneratorBound)
		}
		if !alive() {
			return
		}
	}

	if row.Tunnel() {
		if mb, err := peakRSS(pids); err != nil {
			fail(MRSS, err, MRSS)
		} else {
			rr.Samples[MRSS][i] = mb
		}
	}
}

// fail records an error of repeat i's metrics (all the row's for "setup"
// and "tunnel", which end the repeat).
func (r *runner) fail(ctx context.Context, rr *RowResult, i int, what string, err error, metrics ...string) {
	if ctx.Err() != nil {
		return // interrupted: not the row's fault
	}
	if len(metrics) == 0 {
		metrics = Metrics
	}
	for _, m := range metrics {
		if _, ok := rr.Samples[m]; ok && math.IsNaN(rr.Samples[m][i]) {
			rr.Failed[m] = true
		}
	}
	msg := fmt.Sprintf("repeat %d: %s: %v", i+1, what, err)
	rr.Errors = append(rr.Errors, msg)
	if !r.o.Verbose {
		msg = firstLine(msg)
	}
	r.prog.log("%s: %s", rr.Row.Name, msg)
}

// buildOpts are build's options for repeat i of row.
func (r *runner) buildOpts(row Row, i int) buildOpts {
	o := buildOpts{skiff: r.o.Skiff, wgGo: r.o.WireguardGo}
	if r.o.CPUProfileDir != "" && row.Kind == KindSkiff {
		o.profile = filepath.Join(r.o.CPUProfileDir, fmt.Sprintf("%s-r%d", row.Name, i+1))
	}
	return o
}

func (r *runner) verbose(format string, args ...any) {
	if r.o.Verbose {
		r.prog.log(format, args...)
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// progress draws the progress line.
type progress struct {
	w          io.Writer
	tty        bool
	mu         sync.Mutex
	start      time.Time
	total      float64 // planned seconds of the whole run
	done       float64 // planned seconds of what is done
	rows, reps int
	line       string
	stop       chan struct{}
	stopped    sync.WaitGroup
}

func newProgress(w io.Writer, total float64, rows, reps int) *progress {
	p := &progress{w: w, start: time.Now(), total: total, rows: rows, reps: reps, stop: make(chan struct{})}
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			p.tty = true
		}
	}
	if p.tty {
		p.stopped.Add(1)
		go func() {
			defer p.stopped.Done()
			t := time.NewTicker(500 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-p.stop:
					return
				case <-t.C:
					p.mu.Lock()
					p.draw()
					p.mu.Unlock()
				}
			}
		}()
	}
	return p
}

// set shows what runs now; major says it is worth a line of its own when
// the output is not a terminal.
func (p *progress) set(row int, name string, rep int, what string, major bool) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.line = fmt.Sprintf("[%d/%d %s, repeat %d/%d] %s", row+1, p.rows, name, rep+1, p.reps, what)
	if p.tty || major {
		p.draw()
	}
}

func (p *progress) advance(s float64) {
	p.mu.Lock()
	p.done += s
	p.mu.Unlock()
}

// draw writes the line (p.mu held).
func (p *progress) draw() {
	if p.w == nil || p.line == "" {
		return
	}
	elapsed := time.Since(p.start)
	eta := p.total - p.done
	if p.done > 0 {
		eta *= elapsed.Seconds() / p.done
	}
	s := fmt.Sprintf("%s | %s elapsed, ETA %s", p.line, fmtDur(elapsed.Seconds()), fmtDur(max(0, eta)))
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", s)
	} else {
		fmt.Fprintln(p.w, s)
	}
}

// log prints a message above the progress line.
func (p *progress) log(format string, args ...any) {
	if p.w == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty {
		fmt.Fprint(p.w, "\r\033[K")
	}
	fmt.Fprintf(p.w, format+"\n", args...)
	if p.tty {
		p.draw()
	}
}

func (p *progress) close() {
	close(p.stop)
	p.stopped.Wait()
	if p.w != nil && p.tty {
		p.mu.Lock()
		fmt.Fprint(p.w, "\r\033[K")
		p.mu.Unlock()
	}
	if p.w != nil {
		fmt.Fprintf(p.w, "bench: %s\n", fmtDur(time.Since(p.start).Seconds()))
	}
}

func fmtDur(s float64) string {
	d := time.Duration(s) * time.Second
	if d >= time.Hour {
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}
