// SPDX-License-Identifier: Apache-2.0

package main

import (
	"encoding/json"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

// freePort returns a loopback address with a port that was free a moment
// ago, for a command that binds it itself.
func trafficFreePort(t *testing.T, network string) string {
	t.Helper()
	var addr string
	switch network {
	case "tcp":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = ln.Addr().String()
		ln.Close()
	default:
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr = c.LocalAddr().String()
		c.Close()
	}
	return addr
}

type trafficRun struct {
	code        int
	out, errOut string
}

// startArgs runs a command line in the background.
func trafficStart(t *testing.T, args ...string) <-chan trafficRun {
	t.Helper()
	done := make(chan trafficRun, 1)
	go func() {
		code, out, errOut := runArgs(t, args...)
		done <- trafficRun{code, out, errOut}
	}()
	return done
}

// jsonObject checks that out is exactly one JSON object with exactly the
// keys and the mode given, and returns it.
func trafficJSON(t *testing.T, what, out string, mode string, keys ...string) map[string]any {
	t.Helper()
	if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "}\n") {
		t.Errorf("%s: not one line of JSON: %q", what, out)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("%s: %v: %q", what, err, out)
	}
	var got []string
	for k := range m {
		got = append(got, k)
	}
	slices.Sort(got)
	slices.Sort(keys)
	if !slices.Equal(got, keys) {
		t.Errorf("%s: keys %v, want %v", what, got, keys)
	}
	if m["mode"] != mode {
		t.Errorf("%s: mode %v, want %q", what, m["mode"], mode)
	}
	return m
}

func trafficWait(t *testing.T, what string, c <-chan trafficRun) trafficRun {
	t.Helper()
	select {
	case r := <-c:
		if r.code != 0 {
			t.Fatalf("%s = %d, stdout %q, stderr %q", what, r.code, r.out, r.errOut)
		}
		return r
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not end", what)
	}
	panic("unreachable")
}

func TestTrafficTCP(t *testing.T) {
	addr := trafficFreePort(t, "tcp")
	srv := trafficStart(t, "traffic", "-l", addr, "-json", "-timeout", "20s")
	cli := trafficWait(t, "send", trafficStart(t, "traffic", "-c", addr, "-n", "1M", "-seed", "7", "-json", "-timeout", "20s"))
	recv := trafficWait(t, "receive", srv)
	keys := []string{"mode", "bytes", "seconds", "gbps", "streams", "sha256", "peer"}
	s := trafficJSON(t, "sender", cli.out, "tcp", keys...)
	r := trafficJSON(t, "receiver", recv.out, "tcp", keys...)
	if s["bytes"] != float64(1<<20) || r["bytes"] != s["bytes"] || r["sha256"] != s["sha256"] || s["streams"] != 1.0 || s["peer"] != addr {
		t.Errorf("sent %v\nreceived %v", s, r)
	}

	// Parallel streams for a duration: no digest.
	addr = trafficFreePort(t, "tcp")
	srv = trafficStart(t, "traffic", "-l", addr, "-P", "3", "-json", "-timeout", "20s")
	cli = trafficWait(t, "parallel send", trafficStart(t, "traffic", "-c", addr, "-t", "300ms", "-P", "3", "-json", "-timeout", "20s"))
	recv = trafficWait(t, "parallel receive", srv)
	keys = []string{"mode", "bytes", "seconds", "gbps", "streams", "peer"}
	s = trafficJSON(t, "parallel sender", cli.out, "tcp", keys...)
	r = trafficJSON(t, "parallel receiver", recv.out, "tcp", keys...)
	if s["bytes"].(float64) <= 0 || r["bytes"] != s["bytes"] || r["streams"] != 3.0 {
		t.Errorf("sent %v\nreceived %v", s, r)
	}

	// Without -json: one line.
	addr = trafficFreePort(t, "tcp")
	srv = trafficStart(t, "traffic", "-l", addr, "-timeout", "20s")
	cli = trafficWait(t, "send", trafficStart(t, "traffic", "-c", addr, "-n", "10K", "-timeout", "20s"))
	recv = trafficWait(t, "receive", srv)
	for _, out := range []string{cli.out, recv.out} {
		if !strings.HasPrefix(out, "10240 bytes in ") || !strings.Contains(out, ", sha256 ") || strings.Count(out, "\n") != 1 {
			t.Errorf("human output %q", out)
		}
	}
}

func TestTrafficUDP(t *testing.T) {
	addr := trafficFreePort(t, "udp")
	sink := trafficStart(t, "traffic", "-u", "-l", addr, "-json", "-timeout", "20s")
	time.Sleep(100 * time.Millisecond) // let the sink bind
	gen := trafficWait(t, "generator", trafficStart(t, "traffic", "-u", "-c", addr, "-s", "100", "-r", "10000", "-t", "300ms", "-json"))
	recv := trafficWait(t, "sink", sink)
	g := trafficJSON(t, "generator", gen.out, "udp-gen", "mode", "sent", "seconds", "pps", "offered_pps", "size")
	s := trafficJSON(t, "sink", recv.out, "udp-sink", "mode", "sent", "received", "lost", "loss", "duplicates", "reordered", "bytes", "seconds", "pps")
	if g["sent"].(float64) <= 0 || g["offered_pps"] != 10000.0 || g["size"] != 100.0 {
		t.Errorf("generator %v", g)
	}
	if s["sent"] != g["sent"] || s["received"] != g["sent"] || s["lost"] != 0.0 || s["bytes"] != 100*g["sent"].(float64) {
		t.Errorf("sink %v after generator %v", s, g)
	}

	// A sink without a generator times out and reports nothing received.
	start := time.Now()
	recv = trafficWait(t, "lonely sink", trafficStart(t, "traffic", "-u", "-l", trafficFreePort(t, "udp"), "-json", "-timeout", "200ms"))
	s = trafficJSON(t, "lonely sink", recv.out, "udp-sink", "mode", "sent", "received", "lost", "loss", "duplicates", "reordered", "bytes", "seconds", "pps")
	if s["received"] != 0.0 || s["sent"] != 0.0 || time.Since(start) > 5*time.Second {
		t.Errorf("lonely sink %v", s)
	}
}

func TestTrafficEcho(t *testing.T) {
	addr := trafficFreePort(t, "udp")
	srv := trafficStart(t, "traffic", "-e", "-l", addr, "-json", "-timeout", "3s")
	time.Sleep(100 * time.Millisecond)
	cli := trafficWait(t, "probe", trafficStart(t, "traffic", "-e", "-c", addr, "-n", "50", "-i", "2ms", "-s", "80", "-json"))
	r := trafficJSON(t, "probe", cli.out, "rtt", "mode", "samples", "lost", "p50_us", "p90_us", "p99_us", "max_us", "min_us")
	if r["samples"] != 50.0 || r["lost"] != 0.0 || r["p50_us"].(float64) > r["max_us"].(float64) {
		t.Errorf("probe %v", r)
	}
	e := trafficJSON(t, "echo server", trafficWait(t, "echo server", srv).out, "echo", "mode", "echoed", "bytes")
	if e["echoed"] != 50.0 || e["bytes"] != 50*80.0 {
		t.Errorf("echo server %v", e)
	}
}

func TestTrafficUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string // in stderr
	}{
		{[]string{}, "give exactly one of -l ADDR (receive) and -c ADDR (send)"},
		{[]string{"-l", ":1", "-c", "x:1"}, "give exactly one of"},
		{[]string{"-u", "-e", "-l", ":1"}, "-u and -e exclude each other"},
		{[]string{"-c", "x:1", "-n", "1M", "-t", "1s"}, "-n and -t exclude each other"},
		{[]string{"-u", "-c", "x:1", "-P", "2"}, "-P does not apply to the UDP generator"},
		{[]string{"-u", "-l", ":1", "-P", "2"}, "-P does not apply to the UDP sink"},
		{[]string{"-e", "-c", "x:1", "-P", "2"}, "-P does not apply to the echo probe"},
		{[]string{"-l", ":1", "-n", "1M"}, "-n does not apply to TCP receive"},
		{[]string{"-l", ":1", "-t", "1s"}, "-t does not apply to TCP receive"},
		{[]string{"-c", "x:1", "-r", "100"}, "-r does not apply to TCP send"},
		{[]string{"-c", "x:1", "-s", "100"}, "-s does not apply to TCP send"},
		{[]string{"-c", "x:1", "-i", "1ms"}, "-i does not apply to TCP send"},
		{[]string{"-u", "-c", "x:1", "-n", "10"}, "-n does not apply to the UDP generator"},
		{[]string{"-u", "-c", "x:1", "-seed", "3"}, "-seed does not apply to the UDP generator"},
		{[]string{"-u", "-l", ":1", "-t", "1s"}, "-t does not apply to the UDP sink"},
		{[]string{"-e", "-l", ":1", "-s", "100"}, "-s does not apply to the echo server"},
		{[]string{"-e", "-c", "x:1", "-r", "10"}, "-r does not apply to the echo probe"},
		{[]string{"-e", "-c", "x:1", "-t", "1s"}, "-t does not apply to the echo probe"},
		{[]string{"-c", "x:1", "-n", "lots"}, `-n: bad size "lots"`},
		{[]string{"-c", "x:1", "-P", "0"}, "-P must be at least 1"},
		{[]string{"-c", "x:1", "-t", "-1s"}, "-t must be positive"},
		{[]string{"-u", "-c", "x:1", "-s", "15"}, "-s 15 out of range 16..65507"},
		{[]string{"-u", "-c", "x:1", "-s", "65508"}, "-s 65508 out of range"},
		{[]string{"-u", "-c", "x:1", "-r", "-5"}, "-r must not be negative"},
		{[]string{"-e", "-c", "x:1", "-s", "20"}, "-s 20 out of range 24..65507"},
		{[]string{"-e", "-c", "x:1", "-n", "0"}, `-n: bad probe count "0"`},
		{[]string{"-e", "-c", "x:1", "-i", "0s"}, "-i must be positive"},
		{[]string{"-l", ":1", "-timeout", "0s"}, "-timeout must be positive"},
		{[]string{"-l", ":1", "extra"}, `unexpected argument "extra"`},
		{[]string{"-x"}, "flag provided but not defined: -x"},
	}
	for _, tt := range tests {
		args := append([]string{"traffic"}, tt.args...)
		code, out, errOut := runArgs(t, args...)
		if code != 2 || out != "" || !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, "usage: skiff traffic") {
			t.Errorf("skiff %q = %d, stdout %q, stderr %q; want 2 and %q with usage", args, code, out, errOut, tt.want)
		}
	}
}

func TestTrafficRuntimeErrors(t *testing.T) {
	// A port in use, and an address that does not parse.
	ln, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, args := range [][]string{
		{"traffic", "-u", "-l", ln.LocalAddr().String()},
		{"traffic", "-e", "-l", "127.0.0.1"},
		{"traffic", "-u", "-c", "127.0.0.1", "-t", "10ms"},
	} {
		code, out, errOut := runArgs(t, args...)
		if code != 1 || out != "" || !strings.HasPrefix(errOut, "skiff traffic: ") {
			t.Errorf("skiff %q = %d, stdout %q, stderr %q; want 1 and an error", args, code, out, errOut)
		}
	}
}

func TestTrafficHelp(t *testing.T) {
	code, out, _ := runArgs(t, "help", "traffic")
	if code != 0 {
		t.Fatalf("skiff help traffic = %d", code)
	}
	for _, f := range []string{"-l ADDR", "-c ADDR", "-u", "-e", "-n N", "-t DURATION", "-P N", "-seed S", "-s SIZE", "-r PPS", "-i INTERVAL", "-timeout DURATION", "-json", "Modes", "udp-sink", "rtt"} {
		if !strings.Contains(out, f) {
			t.Errorf("skiff help traffic lacks %q:\n%s", f, out)
		}
	}
}
