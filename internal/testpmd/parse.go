// SPDX-License-Identifier: Apache-2.0

// Package testpmd runs DPDK's dpdk-testpmd with its memif driver (net_memif)
// as a peer for skiff's own memif implementation in interop tests and
// benchmarks. Start launches one instance in interactive mode with its
// stdin piped, and the Proc it returns drives it through testpmd's command
// prompt: start and stop forwarding, wait for the memif link, read the
// port's counters. The parsers of testpmd's replies are pure functions in
// this file; the process handling is in testpmd_linux.go.
//
// testpmd needs no root here (--no-huge, --no-pci, its runtime directory in
// a temporary directory of its own), only the binary: Debian's dpdk-dev
// package, with librte-net-memif23 and librte-mempool-ring23, which EAL
// loads from its PMD directory without -d. Need skips a test without it,
// or fails it under CI.
//
// What testpmd 22.11 (Debian 12) does that callers must design around:
//
//   - A testpmd client tries to connect once, when its port starts, and
//     never retries: start its server (testpmd or skiff's) first.
//   - testpmd can segfault when its memif peer disconnects while its
//     forwarding lcore polls. Stop its forwarding (StopForwarding) before
//     the peer goes away; a Stop of testpmd itself is safe.
//   - The memif driver's counters read zero while the link is down and
//     restart from zero on reconnect: read Stats before the peer leaves.
//   - txonly never reads, so whatever is sent to it stalls once the ring
//     is full; its own excess shows as Fwd.TxDropped.
//   - Two instances on two CPUs: see Options.Lcores.
package testpmd

import (
	"bytes"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
)

// Stats is one port's counters as testpmd prints them.
//
// The NIC counters are the memif driver's own, from "show port stats". The
// driver reports them only while the peer is connected (a port whose link
// is down reads all zeros) and starts them again from zero when the peer
// reconnects, so read them while LinkUp.
//
// While the lcore forwards, packets and bytes are read at slightly
// different moments (bytes need not be packets times the frame size); once
// forwarding stopped, they add up.
//
// Fwd is testpmd's forwarding engine's view since the last "start", from
// "show fwd stats all" or "stop". Its RX- and TX-packets are differences
// of the NIC counters against a snapshot taken at start, so if the peer
// disconnected after counting began they wrap around (a value near 2^64);
// TX-dropped is counted by testpmd itself and stays valid.
type Stats struct {
	LinkUp bool // port link state when read (only set by Proc.Stats)

	HasNIC bool // the text held a "NIC statistics for port" block
	HasFwd bool // the text held a "Forward statistics for port" block

	// NIC counters ("show port stats").
	RxPackets, RxBytes, RxMissed, RxErrors, RxNoMbuf uint64
	TxPackets, TxBytes, TxErrors                     uint64
	// Throughput since the previous "show port stats" of this port (zero
	// the first time).
	RxPPS, RxBPS, TxPPS, TxBPS uint64

	Fwd FwdStats
}

// FwdStats is a "Forward statistics for port N" block.
type FwdStats struct {
	RxPackets, RxDropped, RxTotal uint64 // RX-dropped is the NIC's RX-missed
	TxPackets, TxDropped, TxTotal uint64 // TX-dropped: frames the driver did not take (ring full, link down), freed by testpmd
	RxErrors, RxNoMbufs           uint64 // printed by testpmd only when either is non-zero
}

var (
	reNICHeader = regexp.MustCompile(`NIC statistics for port (\d+)`)
	reFwdHeader = regexp.MustCompile(`Forward statistics for port (\d+)`)
	// Blocks whose counters must not land in a port's Stats: the sum over
	// all ports and the per-stream blocks of multi-stream setups.
	reOtherHeader = regexp.MustCompile(`Accumulated forward statistics|Forward Stats for RX Port`)
	reRule        = regexp.MustCompile(`^\s*(#{10,}|-{10,}|\+{10,})\s*$`)
	reCounter     = regexp.MustCompile(`([A-Za-z][A-Za-z-]*):\s*(\d+)`)
)

// ParseStats reads every "NIC statistics for port N" block ("show port
// stats") and "Forward statistics for port N" block ("show fwd stats",
// "stop") in text, by port. A later block of a port overwrites the counters
// it prints. Lines it does not know are skipped, so a whole reply, async
// log lines included, can be passed. It fails if text holds no such block
// or a counter does not fit in 64 bits.
func ParseStats(text string) (map[uint16]Stats, error) {
	const (
		none = iota
		nic
		fwd
		other
	)
	out := map[uint16]Stats{}
	section, port := none, uint16(0)
	for line := range strings.Lines(text) {
		if hdr, m := nic, reNICHeader.FindStringSubmatch(line); m != nil || reFwdHeader.MatchString(line) {
			if m == nil {
				hdr, m = fwd, reFwdHeader.FindStringSubmatch(line)
			}
			p, err := strconv.ParseUint(m[1], 10, 16)
			if err != nil {
				return nil, fmt.Errorf("testpmd stats: port in %q: %w", strings.TrimSpace(line), err)
			}
			section, port = hdr, uint16(p)
			s := out[port]
			if hdr == nic {
				s.HasNIC = true
			} else {
				s.HasFwd = true
			}
			out[port] = s
			continue
		}
		if reOtherHeader.MatchString(line) {
			section = other
			continue
		}
		if reRule.MatchString(line) {
			section = none
			continue
		}
		if section != nic && section != fwd {
			continue
		}
		if strings.Contains(line, "Stats reg") { // per-queue stats-map lines reuse the port keys
			continue
		}
		s := out[port]
		for _, m := range reCounter.FindAllStringSubmatch(line, -1) {
			v, err := strconv.ParseUint(m[2], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("testpmd stats: %s in %q: %w", m[1], strings.TrimSpace(line), err)
			}
			if f := counterField(&s, section == fwd, m[1]); f != nil {
				*f = v
			}
		}
		out[port] = s
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("testpmd stats: no NIC or forward statistics block in %q", clip(text))
	}
	return out, nil
}

func counterField(s *Stats, fwd bool, key string) *uint64 {
	if fwd {
		switch key {
		case "RX-packets":
			return &s.Fwd.RxPackets
		case "RX-dropped":
			return &s.Fwd.RxDropped
		case "RX-total":
			return &s.Fwd.RxTotal
		case "RX-error":
			return &s.Fwd.RxErrors
		case "RX-nombufs":
			return &s.Fwd.RxNoMbufs
		case "TX-packets":
			return &s.Fwd.TxPackets
		case "TX-dropped":
			return &s.Fwd.TxDropped
		case "TX-total":
			return &s.Fwd.TxTotal
		}
		return nil
	}
	switch key {
	case "RX-packets":
		return &s.RxPackets
	case "RX-missed":
		return &s.RxMissed
	case "RX-bytes":
		return &s.RxBytes
	case "RX-errors":
		return &s.RxErrors
	case "RX-nombuf":
		return &s.RxNoMbuf
	case "TX-packets":
		return &s.TxPackets
	case "TX-errors":
		return &s.TxErrors
	case "TX-bytes":
		return &s.TxBytes
	case "Rx-pps":
		return &s.RxPPS
	case "Rx-bps":
		return &s.RxBPS
	case "Tx-pps":
		return &s.TxPPS
	case "Tx-bps":
		return &s.TxBPS
	}
	return nil
}

// PortSummary is one row of "show port summary".
type PortSummary struct {
	Port   uint16
	MAC    net.HardwareAddr
	Name   string // net_memif0
	Driver string // net_memif
	Status string // link status: "up" or "down"
	Speed  string // "100 Gbps", "None"
}

// Up reports whether the link is up.
func (s PortSummary) Up() bool { return s.Status == "up" }

// ParseSummary reads the rows of "show port summary" (one port or all):
//
//	Number of available ports: 1
//	Port MAC Address       Name         Driver         Status   Link
//	0    6E:50:3B:A6:66:C8 net_memif0   net_memif      up       100 Gbps
//
// It fails if text holds no header or a row after it is malformed.
func ParseSummary(text string) ([]PortSummary, error) {
	var rows []PortSummary
	header := false
	for line := range strings.Lines(text) {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "Port" && f[1] == "MAC" {
			header = true
			continue
		}
		if !header || len(f) == 0 {
			continue
		}
		p, err := strconv.ParseUint(f[0], 10, 16)
		if err != nil {
			// The rows end at the first line that does not start with
			// a port number (the next prompt's output, a log line).
			if len(rows) > 0 {
				break
			}
			return nil, fmt.Errorf("testpmd summary: row %q: %w", strings.TrimSpace(line), err)
		}
		if len(f) < 5 {
			return nil, fmt.Errorf("testpmd summary: short row %q", strings.TrimSpace(line))
		}
		mac, err := net.ParseMAC(f[1])
		if err != nil || len(mac) != 6 {
			return nil, fmt.Errorf("testpmd summary: MAC in %q: %v", strings.TrimSpace(line), err)
		}
		rows = append(rows, PortSummary{Port: uint16(p), MAC: mac, Name: f[2], Driver: f[3], Status: f[4], Speed: strings.Join(f[5:], " ")})
	}
	if !header {
		return nil, fmt.Errorf("testpmd summary: no header in %q", clip(text))
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("testpmd summary: no port rows in %q", clip(text))
	}
	return rows, nil
}

// Prompt is what testpmd prints when it waits for a command.
const Prompt = "testpmd> "

// promptSplitter cuts testpmd's stdout at each prompt. Fed the output in
// pieces of any size, it returns the text before each prompt once the
// prompt has arrived: the first piece is the start-up output, each later
// one the reply to one command, beginning with the command's echo.
type promptSplitter struct{ buf []byte }

func (s *promptSplitter) feed(b []byte) []string {
	s.buf = append(s.buf, b...)
	var segs []string
	for {
		i := bytes.Index(s.buf, []byte(Prompt))
		if i < 0 {
			return segs
		}
		segs = append(segs, string(s.buf[:i]))
		s.buf = s.buf[i+len(Prompt):]
	}
}

// rest is what came after the last prompt (at exit: the reply to quit).
func (s *promptSplitter) rest() string { return string(s.buf) }

// stripEcho removes the echo of cmd that starts its reply seg: testpmd's
// command line echoes what it reads, ending it with "\r\n".
func stripEcho(seg, cmd string) string {
	line, rest, ok := strings.Cut(seg, "\n")
	if ok && strings.TrimSpace(line) == strings.TrimSpace(cmd) {
		return rest
	}
	return seg
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
