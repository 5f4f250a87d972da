// SPDX-License-Identifier: Apache-2.0

package suite

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Metric keys, as in the JSON report.
const (
	MTCP1    = "tcp1_gbps"
	MTCP4    = "tcp4_gbps"
	MPPS64   = "pps64"
	MPPS1400 = "pps1400"
	MPPS9000 = "pps9000"
	MRTT50   = "rtt_p50_us"
	MRTT99   = "rtt_p99_us"
	MCPU     = "cpu_s_per_gb"
	MRSS     = "rss_mb"

	// memif rows with skiff (local=memif): site-a's skiff's CPU seconds
	// during the measurement window of 64- and 1400-byte frames, and the
	// frames/s per core that makes (millions of frames per CPU-second).
	MCPU64       = "cpu_s64"
	MCPU1400     = "cpu_s1400"
	MPPSCore64   = "mpps_per_core64"
	MPPSCore1400 = "mpps_per_core1400"
)

// Metrics lists every metric in report order.
var Metrics = []string{MTCP1, MTCP4, MPPS64, MPPS1400, MPPS9000, MRTT50, MRTT99, MCPU, MRSS, MCPU64, MPPSCore64, MCPU1400, MPPSCore1400}

// ppsMetric is the metric of frames/s of size-byte frames.
func ppsMetric(size int) string { return "pps" + strconv.Itoa(size) }

// cpuMetric and ppsCoreMetric are a memif row's CPU seconds and frames/s
// per core metrics of size-byte frames.
func cpuMetric(size int) string     { return "cpu_s" + strconv.Itoa(size) }
func ppsCoreMetric(size int) string { return "mpps_per_core" + strconv.Itoa(size) }

// Measures reports whether the row measures metric m.
func (r Row) Measures(m string) bool {
	if r.Memif() {
		switch m {
		case MPPS64, MPPS1400:
			return true
		case MRSS, MCPU64, MCPU1400, MPPSCore64, MPPSCore1400:
			return r.Kind == KindSkiff
		}
		return false
	}
	switch m {
	case MCPU, MRSS:
		return r.Tunnel()
	case MPPS9000:
		return r.InnerMTU() >= 9000-14
	case MCPU64, MCPU1400, MPPSCore64, MPPSCore1400:
		return false
	}
	return true
}

// RowResult is what the repeats of one row measured.
type RowResult struct {
	Row Row
	// Samples holds, per metric, one value per repeat; NaN where the
	// repeat produced none (an error).
	Samples map[string][]float64
	// LowerBound marks frames/s metrics where the unpaced generator lost
	// nothing in some repeat: the value is the generator's limit.
	LowerBound map[string]bool
	// Failed marks metrics that at least one repeat failed to measure
	// (the errors are in Errors); a metric neither measured nor failed
	// was not reached (an interrupted run).
	Failed map[string]bool
	// Trials holds, per frames/s metric and repeat, the trials of the
	// rate search.
	Trials map[string][][]Trial
	// Memif holds, per frames/s metric and repeat, the counters of a
	// memif row's measurement (nil where none was made).
	Memif  map[string][]*MemifRun
	Errors []string
	// Skipped, if not empty, says why the row was not run (a missing
	// tool, such as dpdk-testpmd for memif rows).
	Skipped string
}

func newRowResult(r Row, repeats int) *RowResult {
	rr := &RowResult{Row: r, Samples: map[string][]float64{}, LowerBound: map[string]bool{}, Failed: map[string]bool{},
		Trials: map[string][][]Trial{}, Memif: map[string][]*MemifRun{}}
	for _, m := range Metrics {
		if strings.HasPrefix(m, "pps") && r.Measures(m) {
			rr.Trials[m] = make([][]Trial, repeats)
			if r.Memif() {
				rr.Memif[m] = make([]*MemifRun, repeats)
			}
		}
		if r.Measures(m) {
			s := make([]float64, repeats)
			for i := range s {
				s[i] = math.NaN()
			}
			rr.Samples[m] = s
		}
	}
	return rr
}

// Summary is the summary of metric m, ok false if the row does not
// measure it or no repeat produced a value.
func (rr *RowResult) Summary(m string) (Summary, bool) {
	return Summarize(rr.Samples[m])
}

// Machine describes where the run happened.
type Machine struct {
	CPU    string  `json:"cpu"`
	Cores  int     `json:"cores"`
	MemGB  float64 `json:"mem_gb"`
	Kernel string  `json:"kernel"`
	Go     string  `json:"go"`
	Skiff  string  `json:"skiff"`
	Date   string  `json:"date"`
}

// machineInfo collects the machine's description; skiffVersion is the
// tunnel binary's `skiff version` line.
func machineInfo(skiffVersion string) Machine {
	m := Machine{Cores: runtime.NumCPU(), Go: runtime.Version(), Skiff: skiffVersion, Date: time.Now().UTC().Format(time.RFC3339)}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
		f.Close()
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
				m.MemGB = math.Round(kb/(1<<20)*10) / 10
			}
		}
	}
	return m
}

// Settings are the knobs of a run, as the JSON report records them.
type Settings struct {
	Repeat        int     `json:"repeat"`
	Quick         bool    `json:"quick"`
	TCPSeconds    float64 `json:"tcp_seconds"`
	StepSeconds   float64 `json:"search_step_seconds"`
	Steps         int     `json:"search_steps"`
	MaxLoss       float64 `json:"max_loss"`
	RTTProbes     int     `json:"rtt_probes"`
	RTTIntervalMS float64 `json:"rtt_interval_ms"`
	// MemifSeconds is the measurement window of each frame size of a
	// memif row (0: the run had none).
	MemifSeconds float64 `json:"memif_window_seconds,omitempty"`
	ElapsedS     float64 `json:"elapsed_s"`
}

// Report is the outcome of a run.
type Report struct {
	Rows     []*RowResult
	Machine  Machine
	Settings Settings
}

// jsonRow is a row of the JSON report: the medians under the metric keys
// (null when the row has no value: CPU and RSS of kernel anchors, failed
// measurements; pps9000 only on rows that measure it), and per metric the
// spread ((max-min)/median), min, max and the per-repeat samples.
type jsonRow struct {
	Name        string                   `json:"name"`
	TCP1        *float64                 `json:"tcp1_gbps"`
	TCP4        *float64                 `json:"tcp4_gbps"`
	PPS64       *float64                 `json:"pps64"`
	PPS1400     *float64                 `json:"pps1400"`
	PPS9000     json.RawMessage          `json:"pps9000,omitempty"`
	RTT50       *float64                 `json:"rtt_p50_us"`
	RTT99       *float64                 `json:"rtt_p99_us"`
	CPU         *float64                 `json:"cpu_s_per_gb"`
	RSS         *float64                 `json:"rss_mb"`
	CPU64       json.RawMessage          `json:"cpu_s64,omitempty"`
	PPSCore64   json.RawMessage          `json:"mpps_per_core64,omitempty"`
	CPU1400     json.RawMessage          `json:"cpu_s1400,omitempty"`
	PPSCore1400 json.RawMessage          `json:"mpps_per_core1400,omitempty"`
	Spread      map[string]*float64      `json:"spread"`
	Min         map[string]float64       `json:"min"`
	Max         map[string]float64       `json:"max"`
	Samples     map[string][]*float64    `json:"samples"`
	LowerBound  []string                 `json:"lower_bound,omitempty"`
	Trials      map[string][][]jsonTrial `json:"trials"`
	Memif       map[string][]*MemifRun   `json:"memif,omitempty"`
	Spec        string                   `json:"spec"`
	InnerMTU    int                      `json:"inner_mtu"`
	Errors      []string                 `json:"errors,omitempty"`
	Skipped     string                   `json:"skipped,omitempty"`
}

// jsonTrial is a trial of a rate search: frames/s offered (0: unpaced),
// sent and delivered, the loss fraction, and whether arrivals lagged.
type jsonTrial struct {
	Offered   float64 `json:"offered"`
	Sent      float64 `json:"sent"`
	Delivered float64 `json:"delivered"`
	Loss      float64 `json:"loss"`
	Lagged    bool    `json:"lagged,omitempty"`
}

type jsonReport struct {
	Rows     []jsonRow `json:"rows"`
	Machine  Machine   `json:"machine"`
	Settings Settings  `json:"settings"`
}

func ptr(x float64) *float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return nil
	}
	x = round(x)
	return &x
}

// JSON returns the report as indented JSON.
func (rep *Report) JSON() ([]byte, error) {
	out := jsonReport{Rows: []jsonRow{}, Machine: rep.Machine, Settings: rep.Settings}
	for _, rr := range rep.Rows {
		jr := jsonRow{Name: rr.Row.Name, Spec: rr.Row.Spec(), InnerMTU: rr.Row.InnerMTU(), Errors: rr.Errors, Skipped: rr.Skipped,
			Spread: map[string]*float64{}, Min: map[string]float64{}, Max: map[string]float64{}, Samples: map[string][]*float64{},
			Trials: map[string][][]jsonTrial{}}
		for m, reps := range rr.Trials {
			out := make([][]jsonTrial, len(reps))
			for i, ts := range reps {
				out[i] = []jsonTrial{}
				for _, t := range ts {
					out[i] = append(out[i], jsonTrial{math.Round(t.Offered), math.Round(t.SentPPS), math.Round(t.Delivered), round(t.Loss), t.Lagged})
				}
			}
			jr.Trials[m] = out
		}
		med := map[string]*float64{}
		for _, m := range Metrics {
			samples, measured := rr.Samples[m]
			if !measured {
				continue
			}
			ps := make([]*float64, len(samples))
			for i, v := range samples {
				ps[i] = ptr(v)
			}
			jr.Samples[m] = ps
			if s, ok := Summarize(samples); ok {
				med[m] = ptr(s.Median)
				jr.Spread[m] = ptr(s.Spread)
				jr.Min[m], jr.Max[m] = round(s.Min), round(s.Max)
			}
			if rr.LowerBound[m] {
				jr.LowerBound = append(jr.LowerBound, m)
			}
		}
		jr.TCP1, jr.TCP4, jr.PPS64, jr.PPS1400 = med[MTCP1], med[MTCP4], med[MPPS64], med[MPPS1400]
		jr.RTT50, jr.RTT99, jr.CPU, jr.RSS = med[MRTT50], med[MRTT99], med[MCPU], med[MRSS]
		for m, f := range map[string]*json.RawMessage{MPPS9000: &jr.PPS9000, MCPU64: &jr.CPU64, MPPSCore64: &jr.PPSCore64,
			MCPU1400: &jr.CPU1400, MPPSCore1400: &jr.PPSCore1400} {
			if _, measured := rr.Samples[m]; measured {
				*f, _ = json.Marshal(med[m])
			}
		}
		if len(rr.Memif) > 0 {
			jr.Memif = rr.Memif
		}
		out.Rows = append(out.Rows, jr)
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// column is one column of the table.
type column struct {
	metric, head string
	format       func(float64) string
}

func fmtFixed(decimals int) func(float64) string {
	return func(x float64) string { return strconv.FormatFloat(x, 'f', decimals, 64) }
}

// fmtAuto prints 3 significant digits, at most 2 decimals.
func fmtAuto(x float64) string {
	switch a := math.Abs(x); {
	case a >= 100:
		return strconv.FormatFloat(x, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(x, 'f', 1, 64)
	}
	return strconv.FormatFloat(x, 'f', 2, 64)
}

func fmtK(x float64) string { return fmtAuto(x / 1000) }

func fmtM(x float64) string { return fmtAuto(x / 1e6) }

func (rep *Report) columns() []column {
	cols := []column{
		{MTCP1, "TCP1 Gbit/s", fmtAuto},
		{MTCP4, "TCP4 Gbit/s", fmtAuto},
		{MPPS64, "64B kfps", fmtK},
		{MPPS1400, "1400B kfps", fmtK},
	}
	for _, rr := range rep.Rows {
		if _, ok := rr.Samples[MPPS9000]; ok {
			cols = append(cols, column{MPPS9000, "9000B kfps", fmtK})
			break
		}
	}
	return append(cols,
		column{MRTT50, "RTT p50 us", fmtFixed(0)},
		column{MRTT99, "RTT p99 us", fmtFixed(0)},
		column{MCPU, "CPU s/GB", fmtAuto},
		column{MRSS, "RSS MiB", fmtFixed(1)},
	)
}

// memifColumns are the columns of the memif rows' table.
func memifColumns() []column {
	return []column{
		{MPPS64, "64B Mfps", fmtM},
		{MCPU64, "64B skiff CPU s", fmtAuto},
		{MPPSCore64, "64B Mpps/core", fmtAuto},
		{MPPS1400, "1400B Mfps", fmtM},
		{MCPU1400, "1400B skiff CPU s", fmtAuto},
		{MPPSCore1400, "1400B Mpps/core", fmtAuto},
	}
}

// cell is "median [min-max]" (just the median with one sample), ">=" in
// front of a generator-bound frames/s value, "-" for a metric the row does
// not measure, "skip" for a row that was skipped, "fail" when every repeat
// failed, "n/a" when none got to it.
func (rr *RowResult) cell(c column) string {
	samples, measured := rr.Samples[c.metric]
	if !measured {
		return "-"
	}
	if rr.Skipped != "" {
		return "skip"
	}
	s, ok := Summarize(samples)
	if !ok {
		if rr.Failed[c.metric] {
			return "fail"
		}
		return "n/a"
	}
	v := c.format(s.Median)
	if rr.LowerBound[c.metric] {
		v = ">=" + v
	}
	if s.N > 1 {
		v += " [" + c.format(s.Min) + "-" + c.format(s.Max) + "]"
	}
	return v
}

// WriteTable writes the table of medians [min-max] and a legend, and when
// the run has memif rows, their table and legend.
func (rep *Report) WriteTable(w io.Writer) error {
	if err := writeTable(w, rep.Rows, rep.columns()); err != nil {
		return err
	}
	s := rep.Settings
	fmt.Fprintf(w, "\nmedian [min-max] of %d repeat(s); TCP %gs per run, receiver's view; kfps = thousands of Ethernet frames/s delivered with < %g%% loss (%d search steps of %gs after an unpaced blast; >= : the generator, not the tunnel, was the limit); RTT of %d probes %gms apart; CPU s/GB = user+system seconds of both sites' tunnel processes per GB moved by 1 TCP stream; RSS = peak resident set of the larger tunnel process; '-' = not applicable.\n",
		s.Repeat, s.TCPSeconds, 100*MaxLoss, s.Steps, s.StepSeconds, s.RTTProbes, s.RTTIntervalMS)
	var memif []*RowResult
	for _, rr := range rep.Rows {
		if rr.Row.Memif() {
			memif = append(memif, rr)
		}
	}
	if len(memif) > 0 {
		fmt.Fprintln(w)
		if err := writeTable(w, memif, memifColumns()); err != nil {
			return err
		}
		fmt.Fprintf(w, "\nmemif rows: a dpdk-testpmd txonly client (its forwarding lcore busy-polls a CPU of its own) fills site-a's memif for %gs per frame size; Mfps = millions of frames/s arriving at site-b (testpmd-memif: at a testpmd rxonly server; memif rows' kfps above are the same), >= : testpmd, not the receiver, was the limit; skiff CPU s = user+system seconds of site-a's skiff (pinned to the other CPUs) in that window; Mpps/core = Mfps / (skiff CPU s / window).\n",
			s.MemifSeconds)
	}
	m := rep.Machine
	fmt.Fprintf(w, "machine: %s, %d cores, %.1f GB, Linux %s, %s, skiff %s, %s\n", m.CPU, m.Cores, m.MemGB, m.Kernel, m.Go, m.Skiff, m.Date)
	for _, rr := range rep.Rows {
		if rr.Skipped != "" {
			fmt.Fprintf(w, "skipped: %s: %s\n", rr.Row.Name, rr.Skipped)
		}
		for _, e := range rr.Errors {
			fmt.Fprintf(w, "error: %s: %s\n", rr.Row.Name, e)
		}
	}
	return nil
}

// writeTable writes one table: a row per result, a cell per column.
func writeTable(w io.Writer, rows []*RowResult, cols []column) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	head := []string{"row"}
	for _, c := range cols {
		head = append(head, c.head)
	}
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, rr := range rows {
		line := []string{rr.Row.Name}
		for _, c := range cols {
			line = append(line, rr.cell(c))
		}
		fmt.Fprintln(tw, strings.Join(line, "\t"))
	}
	return tw.Flush()
}

// Failures counts the errors recorded in every row.
func (rep *Report) Failures() int {
	n := 0
	for _, rr := range rep.Rows {
		n += len(rr.Errors)
	}
	return n
}
