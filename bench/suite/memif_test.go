// SPDX-License-Identifier: Apache-2.0

package suite

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func TestMemifMeasures(t *testing.T) {
	for _, tt := range []struct {
		spec string
		want []string
	}{
		{"local=memif", []string{MPPS64, MPPS1400, MRSS, MCPU64, MPPSCore64, MCPU1400, MPPSCore1400}},
		{"kind=testpmd", []string{MPPS64, MPPS1400}},
		{"suite=none", []string{MTCP1, MTCP4, MPPS64, MPPS1400, MRTT50, MRTT99, MCPU, MRSS}},
		{"kind=veth", []string{MTCP1, MTCP4, MPPS64, MPPS1400, MRTT50, MRTT99}},
	} {
		r, err := ParseRow(tt.spec)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, m := range Metrics {
			if r.Measures(m) {
				got = append(got, m)
			}
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") {
			t.Errorf("%s measures %v, want %v", tt.spec, got, tt.want)
		}
		if r.Memif() != (strings.Contains(tt.spec, "memif") || strings.Contains(tt.spec, "testpmd")) {
			t.Errorf("%s: Memif() = %v", tt.spec, r.Memif())
		}
	}
	// The catalog's memif rows are what their names say.
	for _, c := range Catalog {
		if strings.Contains(c.Row.Name, "-memif") != c.Row.Memif() {
			t.Errorf("catalog row %s: Memif() = %v", c.Row.Name, c.Row.Memif())
		}
	}
}

func TestMemifRun(t *testing.T) {
	m := &MemifRun{Seconds: 2, Sent: 6e6, Refused: 20e6, Arrived: 6e6, CPUSeconds: 1.5, TotalSent: 7e6, TotalArrived: 7e6}
	if m.PPS() != 3e6 || m.MppsPerCore() != 4 || m.Lost() != 0 || m.GeneratorBound() || m.problem() != "" {
		t.Errorf("%s: pps %v, Mpps/core %v, lost %v, generator-bound %v, problem %q", m, m.PPS(), m.MppsPerCore(), m.Lost(), m.GeneratorBound(), m.problem())
	}
	if tr := m.trial(); tr.SentPPS != 3e6 || tr.Delivered != 3e6 || tr.Offered != 0 || !tr.Passed() {
		t.Errorf("trial %+v", tr)
	}
	// The ring took everything: testpmd was the limit.
	if g := (&MemifRun{Seconds: 1, Sent: 1e6, Refused: 10}).GeneratorBound(); !g {
		t.Error("10 refused of a million: not generator-bound")
	}
	// Frames lost past the ring, and drops in skiff, are problems.
	lost := &MemifRun{Seconds: 1, Sent: 1e6, Arrived: 1e6, TotalSent: 1e6, TotalTaken: 1e6, TotalOut: 99e4, TotalArrived: 99e4,
		Drops: map[string]uint64{"tx.no_session": 1e4}}
	if p := lost.problem(); !strings.Contains(p, "1.000% of the frames") || !strings.Contains(p, "tx.no_session") {
		t.Errorf("problem = %q", p)
	}
	if p := (&MemifRun{Seconds: 1, TotalSent: 1e6, TotalArrived: 1e6, Drops: map[string]uint64{"underlay.TxOther": 5e3}}).problem(); p == "" {
		t.Error("5000 underlay send errors in a million frames: no problem")
	}
	if v := (&MemifRun{Seconds: 1, Arrived: 5}).MppsPerCore(); !math.IsNaN(v) {
		t.Errorf("Mpps/core without CPU time = %v, want NaN", v)
	}
}

func TestParseNftCounter(t *testing.T) {
	out := []byte(`{"nftables": [{"metainfo": {"version": "1.0.6", "json_schema_version": 1}}, {"table": {"family": "netdev", "name": "skiff_bench_sink", "handle": 1}}, {"chain": {"family": "netdev", "table": "skiff_bench_sink", "name": "in", "handle": 1, "type": "filter", "hook": "ingress", "prio": 0, "policy": "accept"}}, {"rule": {"family": "netdev", "table": "skiff_bench_sink", "chain": "in", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 4800}}, {"counter": {"packets": 431623, "bytes": 2995429060}}, {"drop": null}]}}]}`)
	p, b, err := parseNftCounter(out)
	if err != nil || p != 431623 || b != 2995429060 {
		t.Errorf("parseNftCounter = %d, %d, %v", p, b, err)
	}
	// 64-byte frames, aes-256-gcm: 108-byte datagrams, 64 to a GSO packet.
	if n := (b - ipUDPHeaders*p) / 108; (b-ipUDPHeaders*p)%108 != 0 || n != 27623552 {
		t.Errorf("%d datagrams (remainder %d)", n, (b-ipUDPHeaders*p)%108)
	}
	for _, bad := range []string{``, `{"nftables": []}`, `{"nftables": [{"rule": {"expr": [{"counter": {"packets": "x"}}]}}]}`} {
		if _, _, err := parseNftCounter([]byte(bad)); err == nil {
			t.Errorf("parseNftCounter(%q): no error", bad)
		}
	}
}

func TestCPUPlan(t *testing.T) {
	p := planCPUs()
	if len(p.cpus) == 0 || p.skiff == "" || p.main != p.cpus[0] || p.fwd != p.cpus[len(p.cpus)-1] {
		t.Fatalf("plan %+v", p)
	}
	if len(p.cpus) > 1 && strings.Contains(","+p.skiff+",", ","+itoa(p.fwd)+",") {
		t.Errorf("skiff %s shares testpmd's forwarding CPU %d", p.skiff, p.fwd)
	}
	if n, err := busyTicks(p.skiff); err != nil || n <= 0 {
		t.Errorf("busyTicks(%s) = %d, %v", p.skiff, n, err)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// memifReport has a testpmd anchor, a skiff memif row and a skipped one
// besides a veth row.
func memifReport() *Report {
	veth := newRowResult(Row{Name: "veth", Kind: KindVeth}.withDefaults(), 2)
	anchor := newRowResult(Row{Name: "testpmd-memif", Kind: KindTestpmd}.withDefaults(), 2)
	sk := newRowResult(Row{Name: "skiff-aes-256-gcm-memif", Local: "memif"}.withDefaults(), 2)
	skipped := newRowResult(Row{Name: "skiff-none-memif", Suite: "none", Local: "memif"}.withDefaults(), 2)
	skipped.Skipped = "needs dpdk-testpmd"
	for i := range 2 {
		f := float64(i)
		for _, m := range []string{MTCP1, MTCP4, MPPS64, MPPS1400, MRTT50, MRTT99} {
			veth.Samples[m][i] = 10 + f
		}
		anchor.Samples[MPPS64][i] = 15e6 + 1e6*f
		anchor.Samples[MPPS1400][i] = 3.4e6
		sk.Samples[MPPS64][i] = 3.4e6 + 0.2e6*f
		sk.Samples[MCPU64][i] = 3
		sk.Samples[MPPSCore64][i] = 3.4 + 0.2*f
		sk.Samples[MPPS1400][i] = 1.2e6
		sk.Samples[MCPU1400][i] = 3
		sk.Samples[MPPSCore1400][i] = 1.2
		sk.Samples[MRSS][i] = 14
		sk.Memif[MPPS64][i] = &MemifRun{Seconds: 3, Sent: 10.2e6, Refused: 29e6, Arrived: uint64(10.2e6 + 0.6e6*f), CPUSeconds: 3, TotalSent: 11e6, TotalArrived: 11e6, Datagram: 108}
		sk.Trials[MPPS64][i] = []Trial{sk.Memif[MPPS64][i].trial()}
	}
	anchor.LowerBound[MPPS1400] = true
	return &Report{
		Rows:     []*RowResult{veth, anchor, sk, skipped},
		Machine:  Machine{CPU: "Test CPU", Cores: 2, Kernel: "6.18", Go: "go1.26", Skiff: "dev", Date: "2026-01-01T00:00:00Z"},
		Settings: Settings{Repeat: 2, TCPSeconds: 5, StepSeconds: 1, Steps: 6, MaxLoss: MaxLoss, RTTProbes: 500, RTTIntervalMS: 2, MemifSeconds: 3},
	}
}

func TestMemifTable(t *testing.T) {
	var b bytes.Buffer
	if err := memifReport().WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"64B Mfps", "64B skiff CPU s", "64B Mpps/core", "1400B Mpps/core",
		"15.5 [15.0-16.0]", // anchor 64B Mfps
		">=3.40",           // anchor 1400B: generator-bound
		"3.50 [3.40-3.60]", // skiff 64B Mfps and Mpps/core
		"for 3s per frame size",
		"skipped: skiff-none-memif: needs dpdk-testpmd",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		switch f[0] {
		case "skiff-none-memif":
			if !strings.Contains(line, "skip") {
				t.Errorf("skipped row without 'skip' cells: %q", line)
			}
		case "veth":
			if strings.Contains(line, "skip") || strings.Count(line, " - ") != 1 {
				t.Errorf("veth line %q", line)
			}
		}
	}
	// The memif table lists the memif rows only.
	memif := out[strings.Index(out, "64B Mfps"):]
	if strings.Contains(memif, "\nveth ") {
		t.Errorf("veth in the memif table:\n%s", memif)
	}
	// A run without memif rows has no memif table.
	b.Reset()
	sampleReport().WriteTable(&b)
	if strings.Contains(b.String(), "Mfps") {
		t.Errorf("memif table without memif rows:\n%s", b.String())
	}
}

func TestMemifJSON(t *testing.T) {
	b, err := memifReport().JSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Rows     []map[string]json.RawMessage `json:"rows"`
		Settings map[string]any               `json:"settings"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if doc.Settings["memif_window_seconds"] != 3.0 {
		t.Errorf("settings: %v", doc.Settings)
	}
	veth, anchor, sk, skipped := doc.Rows[0], doc.Rows[1], doc.Rows[2], doc.Rows[3]
	for _, k := range []string{"cpu_s64", "mpps_per_core64", "memif", "skipped"} {
		if _, ok := veth[k]; ok {
			t.Errorf("veth has %q", k)
		}
	}
	val := func(row map[string]json.RawMessage, k string) any {
		var v any
		json.Unmarshal(row[k], &v)
		return v
	}
	for _, c := range []struct {
		row  map[string]json.RawMessage
		key  string
		want any
	}{
		{anchor, "pps64", 15.5e6},
		{anchor, "tcp1_gbps", nil},
		{sk, "pps64", 3.5e6},
		{sk, "cpu_s64", 3.0},
		{sk, "mpps_per_core64", 3.5},
		{sk, "mpps_per_core1400", 1.2},
		{sk, "rss_mb", 14.0},
		{sk, "spec", "name=skiff-aes-256-gcm-memif,kind=skiff,suite=aes-256-gcm,lz4=off,policy=clamp,local=memif,codec=skiff,underlay=udp,underlay_mtu=1500"},
		{skipped, "skipped", "needs dpdk-testpmd"},
		{skipped, "pps64", nil},
	} {
		if got := val(c.row, c.key); got != c.want {
			t.Errorf("%s: %s = %v, want %v", val(c.row, "name"), c.key, got, c.want)
		}
	}
	if _, ok := anchor["cpu_s64"]; ok {
		t.Error("testpmd-memif has cpu_s64")
	}
	var runs map[string][]*MemifRun
	if err := json.Unmarshal(sk["memif"], &runs); err != nil || len(runs[MPPS64]) != 2 || runs[MPPS64][1] == nil ||
		runs[MPPS64][1].Arrived != 10.8e6 || runs[MPPS64][1].Datagram != 108 || runs[MPPS1400][0] != nil {
		t.Errorf("memif runs %s (%v)", sk["memif"], err)
	}
}

func TestMemifSVG(t *testing.T) {
	svg := string(memifReport().SVG())
	if strings.Contains(svg, "testpmd-memif") || strings.Contains(svg, "skiff-aes-256-gcm-memif") || !strings.Contains(svg, "veth") ||
		!strings.Contains(svg, "memif rows: see the table") {
		t.Errorf("SVG with memif rows:\n%s", svg)
	}
}
