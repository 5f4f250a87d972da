// SPDX-License-Identifier: Apache-2.0

package suite

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestParseRow(t *testing.T) {
	tests := []struct {
		spec string
		want Row
	}{
		{"name=x", Row{Name: "x", Kind: KindSkiff, Suite: "aes-256-gcm", Policy: "clamp", Local: "tap", Codec: "skiff", Underlay: "udp", UnderlayMTU: 1500}},
		{"name=p,suite=none,lz4=on,policy=fragment,local=afpacket,local_mtu=9000,underlay_mtu=9100,codec=skiff,underlay=udp",
			Row{Name: "p", Kind: KindSkiff, Suite: "none", LZ4: true, Policy: "fragment", Local: "afpacket", LocalMTU: 9000, Codec: "skiff", Underlay: "udp", UnderlayMTU: 9100}},
		{" suite = chacha20-poly1305 , lz4=off ", Row{Name: "skiff-chacha20-poly1305", Kind: KindSkiff, Suite: "chacha20-poly1305", Policy: "clamp", Local: "tap", Codec: "skiff", Underlay: "udp", UnderlayMTU: 1500}},
		{"codec=vxlan", Row{Name: "skiff-vxlan", Kind: KindSkiff, Suite: "aes-256-gcm", Policy: "clamp", Local: "tap", Codec: "vxlan", Underlay: "udp", UnderlayMTU: 1500}},
		{"kind=veth,underlay_mtu=9000", Row{Name: "veth-ul9000", Kind: KindVeth, UnderlayMTU: 9000}},
		{"lz4=on,policy=fragment,local_mtu=9000", Row{Name: "skiff-aes-256-gcm-lz4-fragment-mtu9000", Kind: KindSkiff, Suite: "aes-256-gcm", LZ4: true, Policy: "fragment", Local: "tap", LocalMTU: 9000, Codec: "skiff", Underlay: "udp", UnderlayMTU: 1500}},
		{"local=memif", Row{Name: "skiff-aes-256-gcm-memif", Kind: KindSkiff, Suite: "aes-256-gcm", Policy: "clamp", Local: "memif", Codec: "skiff", Underlay: "udp", UnderlayMTU: 1500}},
		{"suite=none,local=memif,underlay=afxdp,lz4=on", Row{Name: "skiff-none-lz4-memif-afxdp-underlay", Kind: KindSkiff, Suite: "none", LZ4: true, Policy: "clamp", Local: "memif", Codec: "skiff", Underlay: "afxdp", UnderlayMTU: 1500}},
		{"name=m,local=memif,policy=fragment,underlay_mtu=9000", Row{Name: "m", Kind: KindSkiff, Suite: "aes-256-gcm", Policy: "fragment", Local: "memif", Codec: "skiff", Underlay: "udp", UnderlayMTU: 9000}},
		{"kind=testpmd", Row{Name: "testpmd", Kind: KindTestpmd, UnderlayMTU: 1500}},
		{"local=memif,underlay_gso=off", Row{Name: "skiff-aes-256-gcm-memif-nogso", Kind: KindSkiff, Suite: "aes-256-gcm", Policy: "clamp", Local: "memif", Codec: "skiff", Underlay: "udp", UnderlayMTU: 1500, NoUnderlayGSO: true}},
		{"underlay_gso=on", Row{Name: "skiff-aes-256-gcm", Kind: KindSkiff, Suite: "aes-256-gcm", Policy: "clamp", Local: "tap", Codec: "skiff", Underlay: "udp", UnderlayMTU: 1500}},
		{"name=anchor,kind=testpmd", Row{Name: "anchor", Kind: KindTestpmd, UnderlayMTU: 1500}},
	}
	for _, tt := range tests {
		got, err := ParseRow(tt.spec)
		if err != nil {
			t.Errorf("ParseRow(%q): %v", tt.spec, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseRow(%q) =\n %+v, want\n %+v", tt.spec, got, tt.want)
		}
		// Spec round-trips.
		again, err := ParseRow(got.Spec())
		if err == nil && got.LocalMTU == 0 && again.LocalMTU == got.InnerMTU() {
			again.LocalMTU = 0 // Spec spells out the automatic MTU
		}
		if err != nil || again != got {
			t.Errorf("ParseRow(%q).Spec() = %q parses to %+v, %v", tt.spec, got.Spec(), again, err)
		}
	}
	bad := []struct{ spec, want string }{
		{"name", "not key=value"},
		{"name=", "not key=value"},
		{"suite=rot13", "suite=rot13"},
		{"lz4=maybe", "on or off"},
		{"policy=squeeze", "clamp, fragment or none"},
		{"local=tun", "tap, afpacket, afxdp or memif"},
		{"local_mtu=100", "576..9000"},
		{"local_mtu=x", "576..9000"},
		{"underlay_mtu=70000", "576..65535"},
		{"codec=gre", "skiff or vxlan"},
		{"underlay=memif", "local=memif"},
		{"colour=red", "unknown key"},
		{"name=a,name=b", "twice"},
		{"name=a b", "without spaces"},
		{"codec=vxlan,lz4=on", "no lz4"},
		{"codec=vxlan,suite=none", "no suite"},
		{"codec=vxlan,policy=fragment", "cannot fragment"},
		{"kind=veth,suite=none", "skiff rows only"},
		{"kind=tunnel", "skiff, veth, vxlan, wireguard-go or testpmd"},
		{"local=memif,local_mtu=1400", "no MTU"},
		{"local=memif,codec=vxlan", "codec vxlan is not supported"},
		{"local=memif,underlay_mtu=1400", "1400-byte frames"},
		{"local=memif,policy=fragment,underlay_mtu=1400", "1400-byte frames"},
		{"kind=testpmd,underlay_mtu=9000", "no underlay_mtu"},
		{"kind=testpmd,local=memif", "skiff rows only"},
		{"kind=testpmd,suite=none", "skiff rows only"},
		{"kind=veth,underlay_gso=off", "skiff rows only"},
		{"underlay_gso=maybe", "on or off"},
		{"local_mtu=9000", "do not fit"}, // clamp cannot carry 9000-byte frames over 1500
	}
	for _, tt := range bad {
		if _, err := ParseRow(tt.spec); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseRow(%q) = %v, want an error with %q", tt.spec, err, tt.want)
		}
	}
}

func TestInnerMTUAndFrames(t *testing.T) {
	tests := []struct {
		spec   string
		mtu    int
		frames []int
	}{
		{"suite=aes-256-gcm", 1414, []int{64, 1400}},
		{"suite=none", 1430, []int{64, 1400}},
		{"suite=aes-256-gcm,policy=fragment", 1500, []int{64, 1400}},
		{"codec=vxlan", 1450, []int{64, 1400}},
		{"policy=fragment,local_mtu=9000", 9000, []int{64, 1400, 9000}},
		{"policy=fragment,local_mtu=9000,underlay_mtu=9100", 9000, []int{64, 1400, 9000}},
		{"kind=veth", 1500, []int{64, 1400}},
		{"kind=vxlan", 1450, []int{64, 1400}},
		{"kind=wireguard-go", 1420, []int{64, 1400}},
		{"kind=veth,underlay_mtu=9000", 9000, []int{64, 1400, 9000}},
		{"local=memif", 1414, []int{64, 1400}},
		{"local=memif,underlay_mtu=9100", 9000, []int{64, 1400}}, // memif rows: 64 and 1400 only
		{"kind=testpmd", 1500, []int{64, 1400}},
	}
	for _, tt := range tests {
		r, err := ParseRow(tt.spec)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.InnerMTU(); got != tt.mtu {
			t.Errorf("%s: InnerMTU = %d, want %d", tt.spec, got, tt.mtu)
		}
		if got := r.FrameSizes(); !slices.Equal(got, tt.frames) {
			t.Errorf("%s: FrameSizes = %v, want %v", tt.spec, got, tt.frames)
		}
	}
}

func TestSelectRows(t *testing.T) {
	names := func(rows []Row) string {
		var n []string
		for _, r := range rows {
			n = append(n, r.Name)
		}
		return strings.Join(n, ",")
	}
	custom, _ := ParseRow("name=mine,suite=none,lz4=on")
	tests := []struct {
		names  []string
		custom []Row
		quick  bool
		wg     bool
		want   string
	}{
		{nil, nil, false, false, "veth,vxlan,skiff-none,skiff-aes-256-gcm,skiff-aes-256-gcm-lz4,skiff-chacha20-poly1305,skiff-aes-256-gcm-frag9000,skiff-aes-256-gcm-jumbo9000,skiff-aes-256-gcm-afpacket,skiff-aes-256-gcm-afxdp,testpmd-memif,skiff-aes-256-gcm-memif,skiff-none-memif"},
		{nil, nil, false, true, "veth,vxlan,wireguard-go,skiff-none,skiff-aes-256-gcm,skiff-aes-256-gcm-lz4,skiff-chacha20-poly1305,skiff-aes-256-gcm-frag9000,skiff-aes-256-gcm-jumbo9000,skiff-aes-256-gcm-afpacket,skiff-aes-256-gcm-afxdp,testpmd-memif,skiff-aes-256-gcm-memif,skiff-none-memif"},
		{[]string{"skiff-none-memif", "testpmd-memif"}, nil, false, false, "skiff-none-memif,testpmd-memif"},
		{nil, nil, true, false, "veth,vxlan,skiff-none,skiff-aes-256-gcm"},
		{nil, []Row{custom}, true, false, "veth,vxlan,skiff-none,skiff-aes-256-gcm,mine"},
		{[]string{"skiff-vxlan", "veth"}, nil, false, false, "skiff-vxlan,veth"},
		{[]string{"mine", "veth"}, []Row{custom}, false, false, "mine,veth"},
		{[]string{}, []Row{custom}, false, false, "mine"},
	}
	for _, tt := range tests {
		rows, err := SelectRows(tt.names, tt.custom, tt.quick, tt.wg)
		if err != nil {
			t.Errorf("SelectRows(%v): %v", tt.names, err)
			continue
		}
		if got := names(rows); got != tt.want {
			t.Errorf("SelectRows(%v, quick %v, wg %v) = %s, want %s", tt.names, tt.quick, tt.wg, got, tt.want)
		}
	}
	veth, _ := ParseRow("name=veth,kind=veth")
	for _, tt := range []struct {
		names  []string
		custom []Row
		want   string
	}{
		{[]string{"nope"}, nil, "unknown row"},
		{[]string{"veth", "veth"}, nil, "twice"},
		{[]string{"wireguard-go"}, nil, "--wireguard-go"},
		{nil, []Row{veth}, "built-in"},
		{nil, []Row{custom, custom}, "twice"},
		{[]string{}, nil, "no rows"},
	} {
		if _, err := SelectRows(tt.names, tt.custom, false, false); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("SelectRows(%v, %v) = %v, want an error with %q", tt.names, tt.custom, err, tt.want)
		}
	}
	// Every catalog row is valid: its spec parses back to the same row.
	for _, c := range Catalog {
		r := c.Row.withDefaults()
		back, err := ParseRow(r.Spec())
		if err != nil {
			t.Errorf("%s: spec %q: %v", r.Name, r.Spec(), err)
			continue
		}
		if back.InnerMTU() != r.InnerMTU() || back.Name != r.Name || back.Suite != r.Suite || back.Policy != r.Policy ||
			back.Kind != r.Kind || back.Local != r.Local || back.Memif() != r.Memif() {
			t.Errorf("%s: spec %q parses to %+v", r.Name, r.Spec(), back)
		}
	}
}

func TestSummarize(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		in                  []float64
		n                   int
		med, lo, hi, spread float64
	}{
		{[]float64{3, 1, 2}, 3, 2, 1, 3, 1},
		{[]float64{10, 8, 12, 9}, 4, 9.5, 8, 12, 4 / 9.5},
		{[]float64{5}, 1, 5, 5, 5, 0},
		{[]float64{nan, 4, 6}, 2, 5, 4, 6, 0.4},
		{[]float64{7, 7, 7}, 3, 7, 7, 7, 0},
	}
	for _, tt := range tests {
		s, ok := Summarize(tt.in)
		if !ok || s.N != tt.n || s.Median != tt.med || s.Min != tt.lo || s.Max != tt.hi || math.Abs(s.Spread-tt.spread) > 1e-12 {
			t.Errorf("Summarize(%v) = %+v, %v; want n %d median %v min %v max %v spread %v", tt.in, s, ok, tt.n, tt.med, tt.lo, tt.hi, tt.spread)
		}
	}
	if _, ok := Summarize([]float64{nan, nan}); ok {
		t.Error("Summarize of only NaNs is ok")
	}
	if s, _ := Summarize([]float64{-1, 0, 1}); !math.IsNaN(s.Spread) {
		t.Errorf("spread around a zero median = %v, want NaN", s.Spread)
	}
	if m := Median([]float64{4, 1, 9, 2}); m != 3 {
		t.Errorf("Median = %v, want 3", m)
	}
}

// channel simulates a tunnel for Search: frames up to capacity/s pass
// (minus a tiny random loss), above it the excess is lost and, with
// livelock, what gets through falls as the offered rate rises; the
// generator cannot offer more than genMax/s.
type channel struct {
	capacity, genMax float64
	livelock         bool
	pacedMax         float64 // the paced generator's limit (it shares the CPUs); 0 = genMax
	blastShare       float64 // if > 0: what an unpaced blast leaves the tunnel, as a share of capacity
	noise            float64 // random loss fraction below capacity
	buffer           float64 // frames queued before any is lost (trials of 0.5s)
	edge             float64 // if > 0: a little loss starts above this rate, growing slowly
	rng              *rand.Rand
	trials           int
}

func (c *channel) probe(ctx context.Context, rate float64) (Trial, error) {
	c.trials++
	sent := c.genMax
	if rate > 0 {
		sent = min(rate, c.genMax)
		if c.pacedMax > 0 {
			sent = min(sent, c.pacedMax)
		}
	}
	through := min(sent, c.capacity)
	if c.livelock && sent > c.capacity {
		through = c.capacity * max(0.2, 1-0.5*(sent-c.capacity)/c.capacity)
	}
	if rate == 0 && c.blastShare > 0 && sent > c.capacity {
		through = c.blastShare * c.capacity
	}
	if c.noise > 0 {
		through *= 1 - c.noise*c.rng.Float64()
	}
	if c.edge > 0 && sent > c.edge && through == sent {
		through = sent * (1 - 0.005 - 0.3*(sent-c.edge)/sent)
	}
	if c.buffer > 0 && sent > c.capacity {
		const d = 0.5
		queued := (sent - c.capacity) * d
		got, window := sent*d, sent*d/c.capacity
		if queued > c.buffer {
			got, window = (c.capacity*d + c.buffer), d+c.buffer/c.capacity
		}
		return Trial{Offered: rate, SentPPS: sent, Delivered: got / window, Loss: 1 - got/(sent*d), Lagged: window > d*lagFactor+lagSlack.Seconds()}, nil
	}
	return Trial{Offered: rate, SentPPS: sent, Delivered: through, Loss: 1 - through/sent}, nil
}

func TestSearch(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name  string
		ch    channel
		steps int
		bound bool
		tol   float64 // acceptable shortfall below capacity, as a fraction
	}{
		{"saturating", channel{capacity: 80e3, genMax: 400e3}, 6, false, 0.05},
		{"livelock", channel{capacity: 40e3, genMax: 300e3, livelock: true}, 6, false, 0.10},
		{"livelock-quick", channel{capacity: 40e3, genMax: 300e3, livelock: true}, 4, false, 0.10},
		{"noisy", channel{capacity: 100e3, genMax: 250e3, noise: 0.0005}, 6, false, 0.08},
		// As measured on skiff: the unpaced blast starves the tunnel (5 %
		// gets through), the paced generator reaches 100k/s at most.
		{"starved", channel{capacity: 60e3, genMax: 525e3, pacedMax: 100e3, livelock: true, blastShare: 0.05}, 6, false, 0.08},
		{"starved-quick", channel{capacity: 60e3, genMax: 525e3, pacedMax: 100e3, livelock: true, blastShare: 0.05}, 4, false, 0.10},
		{"generator-bound", channel{capacity: 500e3, genMax: 150e3}, 6, true, 0},
		// Little loss well below saturation, as skiff showed.
		{"soft edge", channel{capacity: 150e3, genMax: 1.2e6, edge: 80e3}, 6, false, 0.10},
		{"soft edge quick", channel{capacity: 150e3, genMax: 1.2e6, edge: 80e3}, 4, false, 0.10},
		// The paced generator cannot offer what the tunnel carries.
		{"paced generator", channel{capacity: 200e3, genMax: 250e3, pacedMax: 150e3}, 4, true, 0},
		// A deep queue absorbs a whole short blast: no loss, but late.
		{"deep queue", channel{capacity: 70e3, genMax: 200e3, buffer: 100e3}, 4, false, 0.05},
		{"queue and loss", channel{capacity: 70e3, genMax: 200e3, buffer: 20e3}, 4, false, 0.05},
		{"close to the generator", channel{capacity: 140e3, genMax: 150e3}, 6, false, 0.04},
	}
	for _, tt := range tests {
		ch := tt.ch
		ch.rng = rng
		var progressed []int
		res, err := Search(context.Background(), ch.probe, tt.steps, func(step int) { progressed = append(progressed, step) })
		if err != nil {
			t.Fatal(err)
		}
		if res.GeneratorBound != tt.bound {
			t.Errorf("%s: generator-bound %v, want %v", tt.name, res.GeneratorBound, tt.bound)
		}
		want := min(ch.capacity, ch.genMax)
		if ch.edge > 0 {
			want = min(want, ch.edge)
		}
		if ch.pacedMax > 0 && tt.bound {
			want = ch.pacedMax
		}
		t.Logf("%s: %.0f of %.0f/s in %d trials", tt.name, res.PPS, want, len(res.Trials))
		if res.PPS > want || res.PPS < want*(1-tt.tol) {
			t.Errorf("%s: found %.0f/s, want %.0f/s within -%.0f%%; trials:\n%v", tt.name, res.PPS, want, 100*tt.tol, res.Trials)
		}
		for _, tr := range res.Trials {
			if tr.Passed() && tr.Delivered > res.PPS {
				t.Errorf("%s: a passing trial delivered %.0f > result %.0f", tt.name, tr.Delivered, res.PPS)
			}
		}
		if maxTrials := tt.steps + 1; ch.trials > maxTrials || len(res.Trials) != ch.trials || len(progressed) != ch.trials {
			t.Errorf("%s: %d trials (%d recorded, %d progress calls), want at most %d", tt.name, ch.trials, len(res.Trials), len(progressed), maxTrials)
		}
	}
	// A probe error ends the search.
	boom := errors.New("boom")
	calls := 0
	_, err := Search(context.Background(), func(ctx context.Context, rate float64) (Trial, error) {
		calls++
		if calls == 3 {
			return Trial{}, boom
		}
		return Trial{Offered: rate, SentPPS: 1000, Delivered: 500, Loss: 0.5}, nil
	}, 6, nil)
	if !errors.Is(err, boom) || calls != 3 {
		t.Errorf("Search with a failing probe = %v after %d calls", err, calls)
	}
	// Nothing passes: 0, after the steps and 2 extra trials.
	res, err := Search(context.Background(), func(ctx context.Context, rate float64) (Trial, error) {
		return Trial{Offered: rate, SentPPS: max(rate, 1000), Delivered: 0, Loss: 1}, nil
	}, 5, nil)
	if err != nil || res.PPS != 0 || res.GeneratorBound || len(res.Trials) != 1+5+2 {
		t.Errorf("Search of a dead channel = %+v, %v", res, err)
	}
	// Nothing passed within the steps: extra trials go on down until one
	// does.
	ch := channel{capacity: 150e3, genMax: 1.2e6, edge: 90e3}
	res, err = Search(context.Background(), ch.probe, 2, nil)
	if err != nil || res.PPS == 0 || len(res.Trials) < 4 {
		t.Errorf("Search with a low edge and 2 steps = %.0f/s after %d trials (%v): %v", res.PPS, len(res.Trials), err, res.Trials)
	}
}

// sampleReport is a report of two rows and three repeats, one of them
// failed for the skiff row's pps64.
func sampleReport() *Report {
	veth := newRowResult(Row{Name: "veth", Kind: KindVeth}.withDefaults(), 3)
	sk := newRowResult(Row{Name: "skiff-<aes>&", Suite: "aes-256-gcm", Policy: "fragment", LocalMTU: 9000}.withDefaults(), 3)
	for i := range 3 {
		f := float64(i)
		veth.Samples[MTCP1][i] = 10 + f
		veth.Samples[MTCP4][i] = 14 + f
		veth.Samples[MPPS64][i] = 150e3 + 1e3*f
		veth.Samples[MPPS1400][i] = 140e3
		veth.Samples[MRTT50][i] = 30
		veth.Samples[MRTT99][i] = 80 + f
		sk.Samples[MTCP1][i] = 2 + 0.1*f
		sk.Samples[MTCP4][i] = 2.5
		if i != 1 {
			sk.Samples[MPPS64][i] = 60e3 + 2e3*f
		}
		sk.Samples[MPPS1400][i] = 55e3
		sk.Samples[MPPS9000][i] = 20e3
		sk.Samples[MRTT50][i] = 60
		sk.Samples[MRTT99][i] = 200
		sk.Samples[MCPU][i] = 7.5 + f
		sk.Samples[MRSS][i] = 25
	}
	veth.LowerBound[MPPS64] = true
	sk.Trials[MPPS64][0] = []Trial{{Offered: 0, SentPPS: 300e3, Delivered: 80e3, Loss: 0.733}, {Offered: 77.6e3, SentPPS: 77.5e3, Delivered: 77.5e3}}
	sk.Errors = []string{"repeat 2: pps64: something broke"}
	return &Report{
		Rows:     []*RowResult{veth, sk},
		Machine:  Machine{CPU: "Test CPU", Cores: 2, Kernel: "6.18", Go: "go1.26", Skiff: "dev", Date: "2026-01-01T00:00:00Z"},
		Settings: Settings{Repeat: 3, TCPSeconds: 5, StepSeconds: 1, Steps: 6, MaxLoss: MaxLoss, RTTProbes: 500, RTTIntervalMS: 2},
	}
}

func TestJSONShape(t *testing.T) {
	b, err := sampleReport().JSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Rows    []map[string]json.RawMessage `json:"rows"`
		Machine map[string]any               `json:"machine"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if len(doc.Rows) != 2 {
		t.Fatalf("%d rows", len(doc.Rows))
	}
	for _, k := range []string{"cpu", "cores", "kernel", "go", "skiff", "date"} {
		if _, ok := doc.Machine[k]; !ok {
			t.Errorf("machine has no %q: %v", k, doc.Machine)
		}
	}
	common := []string{"name", "tcp1_gbps", "tcp4_gbps", "pps64", "pps1400", "rtt_p50_us", "rtt_p99_us", "cpu_s_per_gb", "rss_mb", "spread", "min", "max", "samples"}
	for _, row := range doc.Rows {
		for _, k := range common {
			if _, ok := row[k]; !ok {
				t.Errorf("row %s has no %q", row["name"], k)
			}
		}
	}
	veth, sk := doc.Rows[0], doc.Rows[1]
	num := func(row map[string]json.RawMessage, k string) any {
		var v any
		json.Unmarshal(row[k], &v)
		return v
	}
	checks := []struct {
		row  map[string]json.RawMessage
		key  string
		want any
	}{
		{veth, "name", "veth"},
		{veth, "tcp1_gbps", 11.0},
		{veth, "pps64", 151000.0},
		{veth, "cpu_s_per_gb", nil}, // kernel anchor: null
		{veth, "rss_mb", nil},
		{sk, "name", "skiff-<aes>&"},
		{sk, "pps64", 62000.0}, // median of the two repeats that worked
		{sk, "pps9000", 20000.0},
		{sk, "cpu_s_per_gb", 8.5},
		{sk, "rss_mb", 25.0},
	}
	for _, c := range checks {
		if got := num(c.row, c.key); got != c.want {
			t.Errorf("%s: %s = %v, want %v", num(c.row, "name"), c.key, got, c.want)
		}
	}
	if _, ok := veth["pps9000"]; ok {
		t.Error("veth (1500) has pps9000")
	}
	var spread map[string]*float64
	json.Unmarshal(sk["spread"], &spread)
	if s := spread["tcp1_gbps"]; s == nil || math.Abs(*s-0.2/2.1) > 1e-3 {
		t.Errorf("skiff tcp1 spread = %v, want %.4f", s, 0.2/2.1)
	}
	var samples map[string][]*float64
	json.Unmarshal(sk["samples"], &samples)
	if p := samples["pps64"]; len(p) != 3 || p[1] != nil || p[0] == nil || *p[0] != 60000 {
		t.Errorf("skiff pps64 samples = %v, want [60000 null 64000]", p)
	}
	var trials map[string][][]map[string]any
	if err := json.Unmarshal(sk["trials"], &trials); err != nil || len(trials["pps64"]) != 3 || len(trials["pps64"][0]) != 2 ||
		trials["pps64"][0][1]["delivered"] != 77500.0 || len(trials["pps64"][1]) != 0 || len(trials["pps9000"]) != 3 {
		t.Errorf("skiff trials = %s (%v)", sk["trials"], err)
	}
	var lb []string
	json.Unmarshal(veth["lower_bound"], &lb)
	if !slices.Equal(lb, []string{"pps64"}) {
		t.Errorf("veth lower_bound = %v", lb)
	}
	var errs []string
	json.Unmarshal(sk["errors"], &errs)
	if len(errs) != 1 {
		t.Errorf("skiff errors = %v", errs)
	}
}

func TestTable(t *testing.T) {
	var b bytes.Buffer
	if err := sampleReport().WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"row", "TCP1 Gbit/s", "9000B kfps", "RSS MiB",
		"11.0 [10.0-12.0]", // veth tcp1
		">=151 [150-152]",  // veth pps64, generator-bound
		"62.0 [60.0-64.0]", // skiff pps64, two samples
		"8.50 [7.50-9.50]", // skiff CPU
		"error: skiff-<aes>&: repeat 2: pps64: something broke",
		"machine: Test CPU, 2 cores",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	// Kernel anchors: no CPU, no RSS, no 9000-byte frames.
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "veth ") && strings.Count(line, " - ") < 1 {
			t.Errorf("veth line without '-' cells: %q", line)
		}
	}
}

func TestSVGWellFormed(t *testing.T) {
	rep := sampleReport()
	for _, r := range []*Report{rep, {Machine: rep.Machine, Settings: rep.Settings}} {
		svg := r.SVG()
		d := xml.NewDecoder(bytes.NewReader(svg))
		var texts []string
		root := ""
		for {
			tok, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("SVG is not well-formed XML: %v\n%s", err, svg)
			}
			switch tok := tok.(type) {
			case xml.StartElement:
				if root == "" {
					root = tok.Name.Local
				}
			case xml.CharData:
				texts = append(texts, string(tok))
			}
		}
		if root != "svg" {
			t.Errorf("root element %q", root)
		}
		if len(r.Rows) == 0 {
			continue
		}
		all := strings.Join(texts, "|")
		for _, want := range []string{"skiff-<aes>&", "veth", "TCP throughput, Gbit/s", "Frames/s delivered at < 0.1% loss", "9000-byte frames", "≥151k", "11.0"} {
			if !strings.Contains(all, want) {
				t.Errorf("SVG text lacks %q: %s", want, all)
			}
		}
	}
}

func TestNiceScale(t *testing.T) {
	for _, tt := range []struct{ hi, scale, step float64 }{
		{0, 1, 0.25}, {0.9, 1, 0.2}, {1.3, 1.4, 0.2}, {2.2, 2.5, 0.5}, {3, 3, 0.5}, {7.7, 8, 1}, {10, 10, 2}, {12.1, 14, 2},
		{151000, 160000, 20000}, {318000, 350000, 50000},
	} {
		scale, step := niceScale(tt.hi)
		if math.Abs(scale-tt.scale) > 1e-9*tt.scale || math.Abs(step-tt.step) > 1e-9*tt.scale {
			t.Errorf("niceScale(%v) = %v, %v; want %v, %v", tt.hi, scale, step, tt.scale, tt.step)
		}
	}
	for _, tt := range []struct {
		x    float64
		want string
	}{{0, "0"}, {999, "999"}, {1000, "1k"}, {151000, "151k"}, {1.5e6, "1.5M"}, {12345, "12.3k"}} {
		if got := fmtSI(tt.x); got != tt.want {
			t.Errorf("fmtSI(%v) = %q, want %q", tt.x, got, tt.want)
		}
	}
}

func TestProcCounters(t *testing.T) {
	pid := os.Getpid()
	x := 0
	for i := range 50_000_000 { // burn a little CPU
		x += i
	}
	_ = x
	ticks, err := cpuTicks([]int{pid})
	if err != nil || ticks < 0 {
		t.Errorf("cpuTicks(self) = %d, %v", ticks, err)
	}
	mb, err := peakRSS([]int{pid, pid})
	if err != nil || mb < 1 || mb > 1<<20 {
		t.Errorf("peakRSS(self) = %v MiB, %v", mb, err)
	}
	if _, err := cpuTicks([]int{1 << 30}); err == nil {
		t.Error("cpuTicks of a missing process: no error")
	}
}
