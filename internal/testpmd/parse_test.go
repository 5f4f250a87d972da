// SPDX-License-Identifier: Apache-2.0

package testpmd

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The files in testdata are replies of dpdk-testpmd 22.11.11 (Debian 12)
// with a memif port, cut at the prompts (CRLF echo included) of a testpmd
// server and client run as Start runs them (stdbuf -o0, -i).

func readTestdata(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestParseStatsSamples(t *testing.T) {
	for _, tc := range []struct {
		file string
		want Stats
	}{
		{"port_stats_traffic.txt", Stats{HasNIC: true,
			RxPackets: 14618848, RxBytes: 935606272, TxPackets: 14618848, TxBytes: 935606272,
			RxPPS: 5285691, RxBPS: 2706274296, TxPPS: 5285691, TxBPS: 2706274296}},
		{"port_stats_txonly.txt", Stats{HasNIC: true, TxPackets: 2048, TxBytes: 131072}},
		{"port_stats_disconnected.txt", Stats{HasNIC: true}},
		{"fwd_stats_traffic.txt", Stats{HasFwd: true, Fwd: FwdStats{
			RxPackets: 15764064, RxTotal: 15764064, TxPackets: 15764064, TxTotal: 15764064}}},
		{"stop_macswap.txt", Stats{HasFwd: true, Fwd: FwdStats{
			RxPackets: 16803968, RxTotal: 16803968, TxPackets: 16803968, TxTotal: 16803968}}},
		{"stop_txonly_dropped.txt", Stats{HasFwd: true, Fwd: FwdStats{
			TxPackets: 2048, TxDropped: 223747360, TxTotal: 223749408}}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			m, err := ParseStats(readTestdata(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(m) != 1 {
				t.Fatalf("ports %v, want only 0", m)
			}
			if got := m[0]; got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

// A NIC and a forward block together, as Proc.Stats reads them, and
// testpmd's optional and unknown lines.
func TestParseStatsMerged(t *testing.T) {
	text := readTestdata(t, "port_stats_traffic.txt") + readTestdata(t, "stop_txonly_dropped.txt") +
		"\n  ---------------------- Forward statistics for port 1  ----------------------\n" +
		"  RX-packets: 5              RX-dropped: 1             RX-total: 6\n" +
		"  RX-error: 2\n" +
		"  RX-nombufs: 3             \n" +
		"  Bad-ipcsum: 9              Bad-l4csum: 9             Bad-outer-l4csum: 9\n" +
		"  RX-bursts : 4 [100% of 1 pkts]\n" +
		"  TX-packets: 12345678901234567TX-dropped: 12345678901234567TX-total: 18446744073709551615\n" +
		"  ----------------------------------------------------------------------------\n" +
		"  RX-packets: 77\n" // outside any block
	m, err := ParseStats(text)
	if err != nil {
		t.Fatal(err)
	}
	if s := m[0]; !s.HasNIC || !s.HasFwd || s.RxPackets != 14618848 || s.Fwd.TxDropped != 223747360 {
		t.Errorf("port 0: %+v", s)
	}
	want1 := Stats{HasFwd: true, Fwd: FwdStats{RxPackets: 5, RxDropped: 1, RxTotal: 6, RxErrors: 2, RxNoMbufs: 3,
		TxPackets: 12345678901234567, TxDropped: 12345678901234567, TxTotal: 1<<64 - 1}}
	if m[1] != want1 {
		t.Errorf("port 1: got  %+v\nwant %+v", m[1], want1)
	}
}

func TestParseStatsErrors(t *testing.T) {
	for _, text := range []string{
		"",
		readTestdata(t, "summary_up.txt"),
		"Command not found\n",
		"  ####### NIC statistics for port 0  #######\n  RX-packets: 18446744073709551616\n",
		"  ####### NIC statistics for port 65536  #######\n",
	} {
		if m, err := ParseStats(text); err == nil {
			t.Errorf("ParseStats(%q) = %+v, want an error", text, m)
		}
	}
}

func TestParseSummary(t *testing.T) {
	for file, status := range map[string]string{"summary_up.txt": "up", "summary_down.txt": "down"} {
		rows, err := ParseSummary(readTestdata(t, file))
		if err != nil {
			t.Fatal(err)
		}
		want := PortSummary{Port: 0, MAC: []byte{0x6e, 0x50, 0x3b, 0xa6, 0x66, 0xc8}, Name: "net_memif0", Driver: "net_memif", Status: status, Speed: "100 Gbps"}
		if len(rows) != 1 || !reflect.DeepEqual(rows[0], want) {
			t.Errorf("%s: got %+v, want [%+v]", file, rows, want)
		}
		if rows[0].Up() != (status == "up") {
			t.Errorf("%s: Up() = %v", file, rows[0].Up())
		}
	}
	for _, text := range []string{"", "Invalid port 3\n", "Port MAC Address\n", "Port MAC Address\n0 zz:00 a b up\n", "Port MAC\n0 02:00:00:00:00:00 a\n"} {
		if rows, err := ParseSummary(text); err == nil {
			t.Errorf("ParseSummary(%q) = %+v, want an error", text, rows)
		}
	}
}

// The splitter cuts a whole session the same way however the output is
// chunked, and each reply starts with its command's echo.
func TestPromptSplitter(t *testing.T) {
	for _, file := range []string{"session_server.txt", "session_client.txt"} {
		text := readTestdata(t, file)
		want := strings.Split(text, Prompt)
		r := rand.New(rand.NewPCG(1, 2))
		for range 50 {
			var s promptSplitter
			var got []string
			for b := []byte(text); len(b) > 0; {
				n := min(len(b), 1+r.IntN(12))
				got = append(got, s.feed(b[:n])...)
				b = b[n:]
			}
			got = append(got, s.rest())
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: split into %d pieces, want %d", file, len(got), len(want))
			}
		}
		if !strings.Contains(want[0], "Checking link statuses") {
			t.Errorf("%s: start-up output %q", file, want[0])
		}
		for _, seg := range want[1:] {
			cmd, _, _ := strings.Cut(seg, "\r\n")
			if rest := stripEcho(seg, cmd); rest == seg || strings.Contains(rest, cmd+"\r\n") {
				t.Errorf("%s: echo %q not stripped from %q", file, cmd, seg)
			}
		}
	}
	if got := stripEcho("Command not found\n", "show port stats 0"); got != "Command not found\n" {
		t.Errorf("stripEcho removed a line that is not the echo: %q", got)
	}
}

// formatStats prints s the way testpmd 22.11 does (app/test-pmd/config.c
// nic_stats_display, testpmd.c fwd_stats_display).
func formatStats(port uint16, s Stats) string {
	var b strings.Builder
	if s.HasNIC {
		const border = "########################"
		fmt.Fprintf(&b, "\n  %s NIC statistics for port %-2d %s\n", border, port, border)
		fmt.Fprintf(&b, "  RX-packets: %-10d RX-missed: %-10d RX-bytes:  %-d\n", s.RxPackets, s.RxMissed, s.RxBytes)
		fmt.Fprintf(&b, "  RX-errors: %-d\n", s.RxErrors)
		fmt.Fprintf(&b, "  RX-nombuf:  %-10d\n", s.RxNoMbuf)
		fmt.Fprintf(&b, "  TX-packets: %-10d TX-errors: %-10d TX-bytes:  %-d\n", s.TxPackets, s.TxErrors, s.TxBytes)
		fmt.Fprintf(&b, "\n  Throughput (since last show)\n")
		fmt.Fprintf(&b, "  Rx-pps: %12d          Rx-bps: %12d\n  Tx-pps: %12d          Tx-bps: %12d\n", s.RxPPS, s.RxBPS, s.TxPPS, s.TxBPS)
		fmt.Fprintf(&b, "  %s############################%s\n", border, border)
	}
	if s.HasFwd {
		const border = "----------------------"
		f := s.Fwd
		fmt.Fprintf(&b, "\n  %s Forward statistics for port %-2d %s\n", border, port, border)
		fmt.Fprintf(&b, "  RX-packets: %-14d RX-dropped: %-14dRX-total: %-d\n", f.RxPackets, f.RxDropped, f.RxTotal)
		if f.RxErrors+f.RxNoMbufs > 0 {
			fmt.Fprintf(&b, "  RX-error: %-d\n", f.RxErrors)
			fmt.Fprintf(&b, "  RX-nombufs: %-14d\n", f.RxNoMbufs)
		}
		fmt.Fprintf(&b, "  TX-packets: %-14d TX-dropped: %-14dTX-total: %-d\n", f.TxPackets, f.TxDropped, f.TxTotal)
		fmt.Fprintf(&b, "  %s--------------------------------%s\n", border, border)
	}
	return b.String()
}

func TestFormatStatsMatchesTestpmd(t *testing.T) {
	for _, file := range []string{"port_stats_traffic.txt", "stop_txonly_dropped.txt", "fwd_stats_traffic.txt"} {
		text := readTestdata(t, file)
		m, err := ParseStats(text)
		if err != nil {
			t.Fatal(err)
		}
		// Each line formatStats prints is in testpmd's own output.
		for line := range strings.Lines(formatStats(0, m[0])) {
			if line != "\n" && !strings.Contains(text, line) {
				t.Errorf("%s: formatStats line %q is not testpmd's", file, line)
			}
		}
	}
}

// FuzzParseStats: ParseStats never panics, and what it reads, printed the
// way testpmd prints it, reads back the same.
func FuzzParseStats(f *testing.F) {
	for _, name := range []string{"port_stats_traffic.txt", "port_stats_txonly.txt", "port_stats_disconnected.txt",
		"fwd_stats_traffic.txt", "stop_macswap.txt", "stop_txonly_dropped.txt", "summary_up.txt", "session_server.txt"} {
		f.Add(readTestdata(f, name))
	}
	f.Add(formatStats(3, Stats{HasNIC: true, HasFwd: true, RxPackets: 1, Fwd: FwdStats{RxErrors: 1, TxTotal: 1<<64 - 1}}))
	f.Add("  ## NIC statistics for port 0 ##\n  RX-packets: 99999999999999999999\n")
	f.Fuzz(func(t *testing.T, text string) {
		m, err := ParseStats(text)
		if err != nil {
			return
		}
		if len(m) == 0 {
			t.Fatal("no ports and no error")
		}
		var b bytes.Buffer
		for port, s := range m {
			if !s.HasNIC && !s.HasFwd {
				t.Fatalf("port %d without a block: %+v", port, s)
			}
			b.WriteString(formatStats(port, s))
		}
		again, err := ParseStats(b.String())
		if err != nil {
			t.Fatalf("reparse: %v\n%s", err, b.String())
		}
		if !reflect.DeepEqual(again, m) {
			t.Fatalf("reparse differs:\n got %+v\nwant %+v\n%s", again, m, b.String())
		}
	})
}

// FuzzParseSummary: ParseSummary never panics, and its rows printed the way
// testpmd prints them (config.c port_summary_display) read back the same.
func FuzzParseSummary(f *testing.F) {
	f.Add(readTestdata(f, "summary_up.txt"))
	f.Add(readTestdata(f, "summary_down.txt"))
	f.Add("Port MAC Address       Name         Driver         Status   Link\n0    02:00:00:00:00:00 a b up None\n1    02:00:00:00:00:01 a b down 10 Mbps\nDone\n")
	f.Fuzz(func(t *testing.T, text string) {
		rows, err := ParseSummary(text)
		if err != nil {
			return
		}
		var b strings.Builder
		b.WriteString("Number of available ports: 1\nPort MAC Address       Name         Driver         Status   Link\n")
		for _, r := range rows {
			fmt.Fprintf(&b, "%-4d %s %-12s %-14s %s %s\n", r.Port, strings.ToUpper(r.MAC.String()), r.Name, r.Driver, r.Status, r.Speed)
		}
		again, err := ParseSummary(b.String())
		if err != nil {
			t.Fatalf("reparse: %v\n%s", err, b.String())
		}
		if !reflect.DeepEqual(again, rows) {
			t.Fatalf("reparse differs:\n got %+v\nwant %+v", again, rows)
		}
	})
}
