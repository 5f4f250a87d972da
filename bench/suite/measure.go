// SPDX-License-Identifier: Apache-2.0

package suite

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/skiffnet/skiff/bench/netns"
)

// What skiff traffic prints with -json, per mode (only the fields used).
type (
	tcpResult struct {
		Mode    string  `json:"mode"`
		Bytes   int64   `json:"bytes"`
		Seconds float64 `json:"seconds"`
		Gbps    float64 `json:"gbps"`
	}
	udpSinkResult struct {
		Mode     string  `json:"mode"`
		Sent     int64   `json:"sent"`
		Received int64   `json:"received"` // distinct datagrams
		Lost     int64   `json:"lost"`
		Loss     float64 `json:"loss"`
		Seconds  float64 `json:"seconds"` // first to last arrival
		PPS      float64 `json:"pps"`
	}
	udpGenResult struct {
		Mode    string  `json:"mode"`
		Sent    int64   `json:"sent"`
		Seconds float64 `json:"seconds"`
		PPS     float64 `json:"pps"`
	}
	rttResult struct {
		Mode    string  `json:"mode"`
		Samples int     `json:"samples"`
		Lost    int     `json:"lost"`
		P50     float64 `json:"p50_us"`
		P99     float64 `json:"p99_us"`
	}
)

// nextPort is a fresh port for the next measurement, so that nothing of
// the previous one (a late datagram, a TIME_WAIT) interferes.
func (bd *bed) nextPort() string {
	bd.port++
	return strconv.Itoa(bd.port)
}

// server starts a skiff traffic server in the far host namespace and waits
// until its socket (proto "tcp" or "udp") is bound to port.
func (bd *bed) server(ctx context.Context, proto, port string, args ...string) (*netns.Proc, error) {
	p, err := bd.hb.Start(nil, bd.skiff, append([]string{"traffic"}, args...)...)
	if err != nil {
		return nil, err
	}
	err = waitFor(ctx, 10*time.Second, p, func() bool { return bound(p, proto, port) })
	if err != nil {
		p.Kill()
		return nil, fmt.Errorf("%s: not listening on %s/%s: %w\n%s", p.Name, port, proto, err, lastLines(p.Output(), 10))
	}
	return p, nil
}

// bound reports whether a socket of p's network namespace is bound to
// port (LISTEN for tcp).
func bound(p *netns.Proc, proto, port string) bool {
	if p.Cmd.Process == nil {
		return false
	}
	n, _ := strconv.Atoi(port)
	want := fmt.Sprintf(":%04X", n)
	f, err := os.Open(fmt.Sprintf("/proc/%d/net/%s", p.Cmd.Process.Pid, proto))
	if err != nil {
		return false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasSuffix(f[1], want) {
			continue
		}
		if proto == "udp" || f[3] == "0A" {
			return true
		}
	}
	return false
}

// client runs a skiff traffic client in the near host namespace and
// returns its output.
func (bd *bed) client(ctx context.Context, timeout time.Duration, args ...string) (string, error) {
	p, err := bd.ha.Start(nil, bd.skiff, append([]string{"traffic"}, args...)...)
	if err != nil {
		return "", err
	}
	if err := wait(ctx, p, timeout); err != nil {
		return p.Output(), fmt.Errorf("%s: %w\n%s", p.Name, err, lastLines(p.Output(), 10))
	}
	return p.Output(), nil
}

// wait waits for p to exit, at most timeout, and kills it if it does not
// or ctx ends.
func wait(ctx context.Context, p *netns.Proc, timeout time.Duration) error {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.Done():
		return p.Wait(time.Second) // done already: returns at once
	case <-ctx.Done():
		p.Kill()
		return ctx.Err()
	case <-t.C:
		p.Kill()
		return fmt.Errorf("still running after %v", timeout)
	}
}

// decode reads the last JSON object line of a skiff traffic output.
func decode(out string, v any) error {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); strings.HasPrefix(l, "{") {
			if err := json.Unmarshal([]byte(l), v); err != nil {
				return fmt.Errorf("%w in %q", err, l)
			}
			return nil
		}
	}
	return fmt.Errorf("no JSON result in %q", lastLines(out, 5))
}

// tcp runs a TCP transfer of d with streams connections from the near to
// the far end and returns the receiver's view.
func (bd *bed) tcp(ctx context.Context, streams int, d time.Duration) (tcpResult, error) {
	port := bd.nextPort()
	addr := innerB + ":" + port
	limit := d + 30*time.Second
	// No SHA-256 at the receiver (senders with -t never hash): hashing
	// would take CPU from the tunnel being measured and cap the anchors.
	sargs := []string{"-l", addr, "-nosha", "-json", "-timeout", limit.String()}
	cargs := []string{"-c", addr, "-t", d.String(), "-json", "-timeout", limit.String()}
	if streams > 1 {
		sargs = append(sargs, "-P", strconv.Itoa(streams))
		cargs = append(cargs, "-P", strconv.Itoa(streams))
	}
	srv, err := bd.server(ctx, "tcp", port, sargs...)
	if err != nil {
		return tcpResult{}, err
	}
	defer srv.Kill()
	if _, err := bd.client(ctx, limit, cargs...); err != nil {
		return tcpResult{}, err
	}
	if err := wait(ctx, srv, 10*time.Second); err != nil {
		return tcpResult{}, fmt.Errorf("%s: %w\n%s", srv.Name, err, lastLines(srv.Output(), 10))
	}
	var r tcpResult
	if err := decode(srv.Output(), &r); err != nil {
		return r, err
	}
	if r.Bytes <= 0 || r.Seconds <= 0 {
		return r, fmt.Errorf("the receiver got nothing: %s", lastLines(srv.Output(), 3))
	}
	return r, nil
}

// A trial whose frames arrive over more than lagFactor times the sending
// time plus lagSlack lagged: the tunnel queued what it could not carry.
const (
	lagFactor = 1.1
	lagSlack  = 20 * time.Millisecond
)

// udpTrial sends frameSize-byte Ethernet frames (UDP payload frameSize-42)
// at rate frames/s (0: unpaced) for d and reports what arrived.
func (bd *bed) udpTrial(ctx context.Context, frameSize int, rate float64, d time.Duration) (Trial, error) {
	port := bd.nextPort()
	addr := innerB + ":" + port
	sink, err := bd.server(ctx, "udp", port, "-u", "-l", addr, "-json", "-timeout", (d + 10*time.Second).String())
	if err != nil {
		return Trial{}, err
	}
	defer sink.Kill()
	out, err := bd.client(ctx, d+20*time.Second, "-u", "-c", addr, "-s", strconv.Itoa(frameSize-42),
		"-r", strconv.FormatFloat(rate, 'f', 0, 64), "-t", d.String(), "-json")
	if err != nil {
		return Trial{}, err
	}
	var gen udpGenResult
	if err := decode(out, &gen); err != nil {
		return Trial{}, err
	}
	if err := wait(ctx, sink, d+15*time.Second); err != nil {
		return Trial{}, fmt.Errorf("%s: %w\n%s", sink.Name, err, lastLines(sink.Output(), 10))
	}
	var rx udpSinkResult
	if err := decode(sink.Output(), &rx); err != nil {
		return Trial{}, err
	}
	if gen.Sent <= 0 || gen.Seconds <= 0 {
		return Trial{}, fmt.Errorf("the generator sent nothing: %s", lastLines(out, 3))
	}
	got := min(gen.Sent, rx.Received) // distinct sequence numbers
	return Trial{
		Offered:   rate,
		SentPPS:   float64(gen.Sent) / gen.Seconds,
		Delivered: float64(got) / max(gen.Seconds, rx.Seconds),
		Loss:      float64(gen.Sent-got) / float64(gen.Sent),
		Lagged:    rx.Seconds > gen.Seconds*lagFactor+lagSlack.Seconds(),
	}, nil
}

// rtt sends count probes interval apart to an echo server at the far end.
func (bd *bed) rtt(ctx context.Context, count int, interval time.Duration) (rttResult, error) {
	port := bd.nextPort()
	addr := innerB + ":" + port
	limit := time.Duration(count)*interval + 30*time.Second
	echo, err := bd.server(ctx, "udp", port, "-e", "-l", addr, "-timeout", limit.String())
	if err != nil {
		return rttResult{}, err
	}
	defer echo.Stop(2 * time.Second)
	out, err := bd.client(ctx, limit, "-e", "-c", addr, "-n", strconv.Itoa(count), "-i", interval.String(), "-json")
	if err != nil {
		return rttResult{}, err
	}
	var r rttResult
	if err := decode(out, &r); err != nil {
		return r, err
	}
	if r.Samples == 0 {
		return r, fmt.Errorf("no probe came back (%d lost)", r.Lost)
	}
	return r, nil
}

// cpuTicks is the user+system time of the processes, in clock ticks
// (USER_HZ, 100 per second on Linux).
func cpuTicks(pids []int) (int64, error) {
	var sum int64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, err
		}
		s := string(b)
		// The command name is in parentheses and may hold spaces.
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			return 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 13 {
			return 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
		}
		// f[0] is field 3 (state): utime and stime are fields 14 and 15.
		u, err1 := strconv.ParseInt(f[11], 10, 64)
		st, err2 := strconv.ParseInt(f[12], 10, 64)
		if err1 != nil || err2 != nil {
			return 0, fmt.Errorf("/proc/%d/stat: %q", pid, s)
		}
		sum += u + st
	}
	return sum, nil
}

const userHZ = 100

// peakRSS is the largest VmHWM of the processes, in MiB.
func peakRSS(pids []int) (float64, error) {
	var peak float64
	for _, pid := range pids {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return 0, err
		}
		found := false
		for _, line := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
				kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
				if err != nil {
					return 0, fmt.Errorf("/proc/%d/status: %q", pid, line)
				}
				peak, found = max(peak, kb/1024), true
			}
		}
		if !found {
			return 0, fmt.Errorf("/proc/%d/status: no VmHWM", pid)
		}
	}
	return peak, nil
}
