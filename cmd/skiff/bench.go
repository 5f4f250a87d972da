// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/skiffnet/skiff/bench/suite"
)

// rowsFlag is --rows: a comma list, remembering whether it was given.
type rowsFlag struct {
	names []string
	set   bool
}

func (f *rowsFlag) String() string { return strings.Join(f.names, ",") }

func (f *rowsFlag) Set(s string) error {
	f.set, f.names = true, []string{}
	for _, n := range strings.Split(s, ",") {
		if n = strings.TrimSpace(n); n != "" {
			f.names = append(f.names, n)
		}
	}
	return nil
}

// rowSpecs is --row, repeatable.
type rowSpecs []suite.Row

func (f *rowSpecs) String() string { return "" }

func (f *rowSpecs) Set(s string) error {
	r, err := suite.ParseRow(s)
	if err != nil {
		return err
	}
	*f = append(*f, r)
	return nil
}

// notDefault lists the catalog rows a run without --rows leaves out.
func notDefault() string {
	var names []string
	for _, c := range suite.Catalog {
		if !c.Default {
			names = append(names, c.Row.Name)
		}
	}
	if len(names) > 1 {
		return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
	}
	return strings.Join(names, "")
}

func setupBench(fs *flag.FlagSet) func(e *env, args []string) error {
	quick := fs.Bool("quick", false, "a short run (within 2 minutes): rows veth, vxlan, wireguard-go (with --wireguard-go), skiff-none and skiff-aes-256-gcm, 1 repeat, TCP 2s, 4 search steps of 0.5s, 200 RTT probes")
	repeat := fs.Int("repeat", 0, "measure every row `N` times (interleaved: all rows once, then again) and report median and spread (default 3, 1 with --quick)")
	jsonFile := fs.String("json", "", "also write the results to `FILE` as JSON: {\"rows\":[{\"name\", \"tcp1_gbps\", \"tcp4_gbps\", \"pps64\", \"pps1400\", \"pps9000\" (rows with a 9000-byte inner MTU), \"rtt_p50_us\", \"rtt_p99_us\", \"cpu_s_per_gb\", \"rss_mb\", memif rows with skiff also \"cpu_s64\", \"mpps_per_core64\", \"cpu_s1400\", \"mpps_per_core1400\": medians, null when not measured; \"spread\", \"min\", \"max\", \"samples\": per metric; \"trials\": every search trial; \"memif\": memif rows' counters per repeat; \"lower_bound\", \"spec\", \"inner_mtu\", \"errors\", \"skipped\"}], \"machine\":{...}, \"settings\":{...}}")
	svgFile := fs.String("svg", "", "also draw TCP Gbit/s and frames/s per row (but the memif rows) as an SVG bar chart in `FILE`")
	wgGo := fs.String("wireguard-go", "", "the wireguard-go binary (`PATH`): adds the wireguard-go anchor row (README: how to install it at a pinned version)")
	skiffBin := fs.String("skiff", "", "the skiff binary (`PATH`) to run the tunnels and the traffic with (default: this one)")
	var rows rowsFlag
	fs.Var(&rows, "rows", "the rows to run, a comma `LIST` of "+strings.Join(suite.CatalogNames(), ", ")+" and --row names (default: all but "+notDefault()+"; wireguard-go only with --wireguard-go; the memif rows testpmd-memif, skiff-aes-256-gcm-memif and skiff-none-memif are skipped without dpdk-testpmd; --rows= runs only the --row rows)")
	var custom rowSpecs
	fs.Var(&custom, "row", suite.RowSpecHelp)
	tcpTime := fs.Duration("tcp-time", 0, "length of each TCP run, `DURATION` (default 5s, 2s with --quick)")
	stepTime := fs.Duration("step-time", 0, "length of each trial of the frames/s search, `DURATION` (default 1s, 500ms with --quick)")
	steps := fs.Int("steps", 0, "`N` paced trials of the frames/s search after the unpaced blast (default 6, 4 with --quick)")
	probes := fs.Int("rtt-probes", 0, "`N` round-trip probes per RTT measurement, 2ms apart (default 500, 200 with --quick)")
	memifTime := fs.Duration("memif-time", 0, "memif rows: how long testpmd saturates the memif per frame size, `DURATION` measured after a 300ms warm-up (default 3s, 1.5s with --quick)")
	profDir := fs.String("cpuprofile", "", "write a CPU profile of every skiff node (skiff up -cpuprofile) to `DIR`/ROW-rREPEAT-site-a.pprof and -site-b.pprof (go tool pprof)")
	verbose := fs.Bool("v", false, "print every trial and every error in full on stderr")
	return noArgs(func(e *env) error {
		if strings.HasSuffix(strings.ToLower(*svgFile), ".png") {
			return usagef("--svg writes SVG only (convert it to PNG with e.g. rsvg-convert)")
		}
		if *repeat < 0 || *steps < 0 || *probes < 0 || *tcpTime < 0 || *stepTime < 0 || *memifTime < 0 {
			return usagef("negative --repeat, --steps, --rtt-probes, --tcp-time, --step-time or --memif-time")
		}
		var names []string
		if rows.set {
			names = rows.names
		}
		selected, err := suite.SelectRows(names, custom, *quick, *wgGo != "")
		if err != nil {
			return usagef("%v", err)
		}
		bin := *skiffBin
		if bin == "" {
			if bin, err = os.Executable(); err != nil {
				return fmt.Errorf("finding this binary (give --skiff PATH): %w", err)
			}
		}
		if bin, err = filepath.Abs(bin); err != nil {
			return err
		}
		wg := *wgGo
		if wg != "" {
			if wg, err = filepath.Abs(wg); err != nil {
				return err
			}
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
		defer stop()
		rep, err := suite.Run(ctx, suite.Options{
			Skiff: bin, WireguardGo: wg, Rows: selected, Repeat: *repeat, Quick: *quick,
			TCPTime: *tcpTime, StepTime: *stepTime, Steps: *steps, RTTProbes: *probes, RTTInterval: 2 * time.Millisecond,
			MemifTime: *memifTime, CPUProfileDir: *profDir,
			Progress: e.stderr, Verbose: *verbose,
		})
		if ctx.Err() != nil {
			if rep != nil {
				fmt.Fprintln(e.stdout, "interrupted; what was measured so far:")
				rep.WriteTable(e.stdout)
			}
			return errors.New("interrupted: namespaces, devices and processes removed")
		}
		if err != nil {
			return err
		}
		if err := rep.WriteTable(e.stdout); err != nil {
			return err
		}
		if *jsonFile != "" {
			b, err := rep.JSON()
			if err != nil {
				return err
			}
			if err := os.WriteFile(*jsonFile, b, 0o644); err != nil {
				return err
			}
		}
		if *svgFile != "" {
			if err := os.WriteFile(*svgFile, rep.SVG(), 0o644); err != nil {
				return err
			}
		}
		if n := rep.Failures(); n > 0 {
			return fmt.Errorf("%d measurement(s) failed (errors under the table)", n)
		}
		return nil
	})
}
