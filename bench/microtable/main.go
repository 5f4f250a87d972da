// SPDX-License-Identifier: Apache-2.0

// Command microtable turns `go test -bench` output into the table that
// `make bench-micro` prints: ns/frame, MB/s and allocs/op per benchmark,
// grouped by frame size, with the transmit pipeline compared against the
// plain AES-256-GCM Seal anchor measured in the same run.
//
// It reads the benchmark output on stdin, echoes it to stderr, prints the
// table on stdout, and exits 1 if any benchmark allocates (allocs/op > 0)
// or if no benchmark ran.
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
)

// result is one benchmark line.
type result struct {
	pkg    string
	name   string // without "Benchmark" and the -GOMAXPROCS suffix
	ns     float64
	mbps   float64
	allocs float64
}

func main() {
	rs, err := parse(io.TeeReader(os.Stdin, os.Stderr))
	if err != nil {
		fmt.Fprintln(os.Stderr, "microtable:", err)
		os.Exit(1)
	}
	os.Exit(report(os.Stdout, rs))
}

func parse(r io.Reader) ([]result, error) {
	var rs []result
	pkg := ""
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if p, ok := strings.CutPrefix(line, "pkg: "); ok {
			pkg = strings.TrimPrefix(p, "github.com/skiffnet/skiff/")
			continue
		}
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		res := result{pkg: pkg, name: strings.TrimPrefix(f[0], "Benchmark"), allocs: -1}
		if i := strings.LastIndexByte(res.name, '-'); i > 0 {
			if _, err := strconv.Atoi(res.name[i+1:]); err == nil {
				res.name = res.name[:i]
			}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			switch f[i+1] {
			case "ns/op":
				res.ns = v
			case "MB/s":
				res.mbps = v
			case "allocs/op":
				res.allocs = v
			}
		}
		rs = append(rs, res)
	}
	return rs, sc.Err()
}

// size is the trailing /N of a benchmark name, or 0.
func size(name string) int {
	i := strings.LastIndexByte(name, '/')
	if i < 0 {
		return 0
	}
	n, _ := strconv.Atoi(name[i+1:])
	return n
}

func report(w io.Writer, rs []result) int {
	if len(rs) == 0 {
		fmt.Fprintln(w, "no benchmarks ran")
		return 1
	}
	sort.SliceStable(rs, func(i, j int) bool { return size(rs[i].name) < size(rs[j].name) })
	fmt.Fprintf(w, "| %-44s | %-18s | %10s | %10s | %9s |\n", "benchmark", "package", "ns/frame", "MB/s", "allocs/op")
	fmt.Fprintf(w, "|%s|%s|%s|%s|%s|\n", strings.Repeat("-", 46), strings.Repeat("-", 20), strings.Repeat("-", 12), strings.Repeat("-", 12), strings.Repeat("-", 11))
	bad := 0
	anchor := map[int]float64{}
	tx := map[int]float64{}
	for _, r := range rs {
		fmt.Fprintf(w, "| %-44s | %-18s | %10.1f | %10.1f | %9s |\n", r.name, r.pkg, r.ns, r.mbps, allocs(r.allocs))
		if r.allocs > 0 {
			bad++
		}
		if strings.HasPrefix(r.name, "AnchorSeal/") {
			anchor[size(r.name)] = r.mbps
		}
		if strings.HasPrefix(r.name, "Tx/aes-256-gcm/") {
			tx[size(r.name)] = r.mbps
		}
	}
	fmt.Fprintln(w)
	var sizes []int
	for s := range anchor {
		sizes = append(sizes, s)
	}
	sort.Ints(sizes)
	for _, s := range sizes {
		if tx[s] == 0 || anchor[s] == 0 {
			continue
		}
		ratio := tx[s] / anchor[s]
		line := fmt.Sprintf("tx pipeline aes-256-gcm %5d B: %8.1f MB/s = %.2fx plain AES-256-GCM Seal (%.1f MB/s)", s, tx[s], ratio, anchor[s])
		if s == 1400 {
			verdict := "met"
			if ratio < 0.8 {
				verdict = "NOT met"
			}
			line += fmt.Sprintf("  [goal >= 0.80x: %s]", verdict)
		}
		fmt.Fprintln(w, line)
	}
	if bad > 0 {
		fmt.Fprintf(w, "\n%d benchmark(s) allocate per op; the hot path must not\n", bad)
		return 1
	}
	return 0
}

func allocs(v float64) string {
	if v < 0 {
		return "-"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}
