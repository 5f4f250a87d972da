// SPDX-License-Identifier: Apache-2.0

package suite

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
	"github.com/skiffnet/skiff/dataplane/wire"
	"github.com/skiffnet/skiff/internal/testpmd"
)

// TestRunTiny runs a tiny bench end to end (veth and one skiff row, one
// repeat, very short runs) and checks the report and that nothing is left
// behind.
func TestRunTiny(t *testing.T) {
	netns.RequireRoot(t)
	if testing.Short() {
		t.Skip("builds skiff and runs a bench in network namespaces (~20s)")
	}
	bin := filepath.Join(t.TempDir(), "skiff")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/skiffnet/skiff/cmd/skiff").CombinedOutput(); err != nil {
		t.Fatalf("build skiff: %v\n%s", err, out)
	}
	rows, err := SelectRows([]string{"veth", "skiff-aes-256-gcm"}, nil, false, false)
	if err != nil {
		t.Fatal(err)
	}
	var progress strings.Builder
	start := time.Now()
	rep, err := Run(context.Background(), Options{
		Skiff: bin, Rows: rows, Repeat: 1,
		TCPTime: 500 * time.Millisecond, StepTime: 250 * time.Millisecond, Steps: 1, RTTProbes: 20,
		Progress: &progress, Verbose: true,
	})
	t.Logf("bench took %v; progress:\n%s", time.Since(start).Round(time.Millisecond), progress.String())
	if err != nil {
		t.Fatal(err)
	}
	if n := rep.Failures(); n > 0 {
		t.Errorf("%d measurements failed", n)
	}
	b, err := rep.JSON()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Rows []struct {
			Name    string             `json:"name"`
			TCP1    *float64           `json:"tcp1_gbps"`
			TCP4    *float64           `json:"tcp4_gbps"`
			PPS64   *float64           `json:"pps64"`
			PPS1400 *float64           `json:"pps1400"`
			RTT50   *float64           `json:"rtt_p50_us"`
			RTT99   *float64           `json:"rtt_p99_us"`
			CPU     *float64           `json:"cpu_s_per_gb"`
			RSS     *float64           `json:"rss_mb"`
			Spread  map[string]float64 `json:"spread"`
			Errors  []string           `json:"errors"`
		} `json:"rows"`
		Machine Machine `json:"machine"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if len(doc.Rows) != 2 || doc.Rows[0].Name != "veth" || doc.Rows[1].Name != "skiff-aes-256-gcm" {
		t.Fatalf("rows: %s", b)
	}
	for _, r := range doc.Rows {
		for name, v := range map[string]*float64{"tcp1": r.TCP1, "tcp4": r.TCP4, "rtt50": r.RTT50, "rtt99": r.RTT99} {
			if v == nil || *v <= 0 {
				t.Errorf("%s: %s = %v, want > 0", r.Name, name, v)
			}
		}
		// A search this short may find no rate without loss on a busy
		// machine: 0 is a result, null is not.
		for name, v := range map[string]*float64{"pps64": r.PPS64, "pps1400": r.PPS1400} {
			if v == nil || *v < 0 {
				t.Errorf("%s: %s = %v, want a value", r.Name, name, v)
			}
		}
		if r.Spread["tcp1_gbps"] != 0 {
			t.Errorf("%s: spread of one repeat = %v", r.Name, r.Spread["tcp1_gbps"])
		}
	}
	veth, sk := doc.Rows[0], doc.Rows[1]
	if veth.CPU != nil || veth.RSS != nil {
		t.Errorf("veth has CPU %v, RSS %v; want null", veth.CPU, veth.RSS)
	}
	if sk.CPU == nil || *sk.CPU <= 0 || sk.RSS == nil || *sk.RSS < 1 {
		t.Errorf("skiff has CPU %v s/GB, RSS %v MiB", sk.CPU, sk.RSS)
	}
	if doc.Machine.Cores < 1 || doc.Machine.Kernel == "" || doc.Machine.Skiff == "" {
		t.Errorf("machine: %+v", doc.Machine)
	}
	// Nothing left: no namespace of this process, no tunnel process.
	out, _ := exec.Command("ip", "netns", "list").Output()
	if prefix := fmt.Sprintf("sk%d", os.Getpid()); strings.Contains(string(out), prefix) {
		t.Errorf("namespaces left behind:\n%s", out)
	}
	if out, err := exec.Command("pgrep", "-f", bin).Output(); err == nil {
		t.Errorf("processes left behind: %s", out)
	}
	var table strings.Builder
	rep.WriteTable(&table)
	t.Logf("\n%s", table.String())
}

// TestRunMemif runs the memif rows (the testpmd anchor and a skiff row)
// briefly and checks their figures and that nothing is left behind.
func TestRunMemif(t *testing.T) {
	netns.RequireRoot(t)
	if testing.Short() {
		t.Skip("builds skiff and runs dpdk-testpmd against it in network namespaces (~20s)")
	}
	testpmd.Need(t)
	bin := filepath.Join(t.TempDir(), "skiff")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/skiffnet/skiff/cmd/skiff").CombinedOutput(); err != nil {
		t.Fatalf("build skiff: %v\n%s", err, out)
	}
	rows, err := SelectRows([]string{"testpmd-memif", "skiff-none-memif"}, nil, false, false)
	if err != nil {
		t.Fatal(err)
	}
	var progress strings.Builder
	prof := t.TempDir()
	rep, err := Run(context.Background(), Options{
		Skiff: bin, Rows: rows, Repeat: 1, MemifTime: 500 * time.Millisecond, CPUProfileDir: prof,
		Progress: &progress, Verbose: true,
	})
	t.Logf("progress:\n%s", progress.String())
	if err != nil {
		t.Fatal(err)
	}
	if n := rep.Failures(); n > 0 {
		t.Errorf("%d measurements failed", n)
	}
	anchor, sk := rep.Rows[0], rep.Rows[1]
	for _, rr := range rep.Rows {
		if rr.Skipped != "" {
			t.Fatalf("%s skipped: %s", rr.Row.Name, rr.Skipped)
		}
		for _, m := range []string{MPPS64, MPPS1400} {
			run := rr.Memif[m][0]
			if v := rr.Samples[m][0]; !(v > 1000) || run == nil || run.Arrived == 0 || run.TotalArrived != run.TotalSent {
				t.Errorf("%s %s = %v frames/s, run %v", rr.Row.Name, m, v, run)
			}
		}
	}
	for _, m := range []string{MCPU64, MPPSCore64, MCPU1400, MPPSCore1400, MRSS} {
		if v := sk.Samples[m][0]; !(v > 0) {
			t.Errorf("%s %s = %v", sk.Row.Name, m, v)
		}
	}
	if run := sk.Memif[MPPS64][0]; run != nil && (run.Datagram != wire.HeaderLen+64 || run.TotalTaken != run.TotalSent || run.TotalOut != run.TotalSent) {
		t.Errorf("skiff 64-byte run: %+v", run)
	}
	if _, ok := anchor.Samples[MCPU64]; ok {
		t.Error("the testpmd anchor measures skiff's CPU")
	}
	if p, _ := filepath.Glob(filepath.Join(prof, "skiff-none-memif-r1-site-a.pprof")); len(p) != 1 {
		t.Errorf("no CPU profile of site-a in %s", prof)
	}
	out, _ := exec.Command("ip", "netns", "list").Output()
	if prefix := fmt.Sprintf("sk%d", os.Getpid()); strings.Contains(string(out), prefix) {
		t.Errorf("namespaces left behind:\n%s", out)
	}
	if dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), fmt.Sprintf("skiff-dpdk-%d-*", os.Getpid()))); len(dirs) > 0 {
		t.Errorf("testpmd runtime directories left behind: %v", dirs)
	}
	if out, err := exec.Command("pgrep", "-f", bin).Output(); err == nil {
		t.Errorf("processes left behind: %s", out)
	}
	var table strings.Builder
	rep.WriteTable(&table)
	t.Logf("\n%s", table.String())
}
