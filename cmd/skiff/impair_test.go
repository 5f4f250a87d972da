// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiffnet/skiff/bench/impair"
)

func TestImpairUsage(t *testing.T) {
	ok := []string{"-l", "127.0.0.1:0", "-t", "127.0.0.1:9"}
	tests := []struct {
		args []string
		want string // in stderr
	}{
		{nil, "give both -l ADDR and -t ADDR"},
		{[]string{"-l", "127.0.0.1:0"}, "give both"},
		{[]string{"-t", "127.0.0.1:9"}, "give both"},
		{append([]string{"-drop", "1.5"}, ok...), `invalid value "1.5" for flag -drop`},
		{append([]string{"-drop", "x"}, ok...), `invalid value "x" for flag -drop`},
		{append([]string{"-dup", "-0.1"}, ok...), "flag -dup"},
		{append([]string{"-reorder", "200%"}, ok...), "flag -reorder"},
		{append([]string{"-delay", "-1ms"}, ok...), "flag -delay"},
		{append([]string{"-delay", "80"}, ok...), "flag -delay"},
		{append([]string{"-jitter", "2h"}, ok...), "flag -jitter"},
		{append([]string{"-reorder-by", "soon"}, ok...), "flag -reorder-by"},
		{append([]string{"-seed", "-1"}, ok...), "flag -seed"},
		{append([]string{"-max-queue", "0"}, ok...), "must be above 0"},
		{append([]string{"-max-clients", "-3"}, ok...), "must be above 0"},
		{append([]string{"-idle", "0s"}, ok...), "must be above 0"},
		{[]string{"-l", "127.0.0.1", "-t", "127.0.0.1:9"}, "-l: "},
		{[]string{"-l", "127.0.0.1:0", "-t", "127.0.0.1"}, "-t: "},
		{[]string{"-l", "127.0.0.1:0", "-t", "127.0.0.1:0"}, "-t: "},
		{[]string{"-l", "127.0.0.1:0", "-t", ":9"}, "-t: "},
		{[]string{"-l", "127.0.0.1:0", "-t", "0.0.0.0:9"}, "-t: "},
		{[]string{"-l", "127.0.0.1:99999", "-t", "127.0.0.1:9"}, "-l: "},
		{append(ok, "extra"), `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		code, out, errOut := runArgs(t, append([]string{"impair"}, tt.args...)...)
		if code != exitUsage || out != "" || !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, "usage: skiff impair") {
			t.Errorf("skiff impair %q = %d, %q, stderr %q; want 2 and %q", tt.args, code, out, errOut, tt.want)
		}
	}
	code, out, _ := runArgs(t, "help", "impair")
	if code != exitOK {
		t.Fatalf("skiff help impair = %d", code)
	}
	for _, f := range []string{"-l", "-t", "-drop", "-delay", "-jitter", "-reorder", "-reorder-by", "-dup", "-seed", "-max-queue", "-max-clients", "-idle", "-json"} {
		if !strings.Contains(out, "\n  "+f+" ") && !strings.Contains(out, "\n  "+f+"\n") {
			t.Errorf("skiff help impair does not document %s:\n%s", f, out)
		}
	}
}

// The flags make the relay's config.
func TestImpairFlags(t *testing.T) {
	fs := (&env{}).flagSet(&command{name: "impair"}, io.Discard)
	setupImpair(fs)
	err := fs.Parse([]string{"-drop", "5%", "-delay", "80ms", "-jitter", "5ms", "-reorder", "0.01", "-reorder-by", "3ms", "-dup", "0.02", "-seed", "9"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	fs.Visit(func(f *flag.Flag) { got[f.Name] = f.Value.String() })
	want := map[string]string{"drop": "0.05", "delay": "80ms", "jitter": "5ms", "reorder": "0.01", "reorder-by": "3ms", "dup": "0.02", "seed": "9"}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("-%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestParseAddrPort(t *testing.T) {
	tests := []struct {
		in     string
		listen bool
		want   string // "" means an error
	}{
		{"127.0.0.1:5000", false, "127.0.0.1:5000"},
		{"[::1]:5000", false, "[::1]:5000"},
		{"localhost:5000", false, "127.0.0.1:5000|[::1]:5000"},
		{":5000", true, "[::]:5000"},
		{"127.0.0.1:0", true, "127.0.0.1:0"},
		{":5000", false, ""},
		{"127.0.0.1:0", false, ""},
		{"[::]:9", false, ""},
		{"127.0.0.1", true, ""},
		{"127.0.0.1:x", true, ""},
		{"127.0.0.1:65536", true, ""},
	}
	for _, tt := range tests {
		got, err := parseAddrPort(tt.in, tt.listen)
		if tt.want == "" {
			if err == nil {
				t.Errorf("parseAddrPort(%q, %v) = %v, want an error", tt.in, tt.listen, got)
			}
			continue
		}
		if err != nil || !slices.Contains(strings.Split(tt.want, "|"), got.String()) {
			t.Errorf("parseAddrPort(%q, %v) = %v, %v; want %s", tt.in, tt.listen, got, err, tt.want)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// TestImpairCommand runs the command's relay on loopback and changes its
// parameters through its standard input.
func TestImpairCommand(t *testing.T) {
	lo := netip.MustParseAddr("127.0.0.1")
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(lo, 0)))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	echo := listen()
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := echo.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			echo.WriteToUDPAddrPort(buf[:n], from)
		}
	}()

	var stdout, stderr syncBuffer
	e := &env{stdout: &stdout, stderr: &stderr}
	in, toStdin := io.Pipe()
	defer toStdin.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	cfg := impair.Config{Listen: netip.AddrPortFrom(lo, 0), Target: echo.LocalAddr().(*net.UDPAddr).AddrPort()}
	go func() { done <- runImpair(ctx, e, cfg, in, true) }()

	started := regexp.MustCompile(`relaying (\S+) -> `)
	var relay netip.AddrPort
	waitUntil(t, "the relay to start", func() bool {
		m := started.FindStringSubmatch(stderr.String())
		if m != nil {
			relay = netip.MustParseAddrPort(m[1])
		}
		return m != nil
	})

	client := listen()
	buf := make([]byte, 100)
	ping := func() bool {
		client.WriteToUDPAddrPort([]byte("ping"), relay)
		client.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		n, _, err := client.ReadFromUDPAddrPort(buf)
		return err == nil && string(buf[:n]) == "ping"
	}
	send := func(line string) {
		if _, err := io.WriteString(toStdin, line+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	if !ping() {
		t.Fatal("no echo through the relay")
	}
	send("from-target drop 1")
	waitUntil(t, "from-target drop 1 to take effect", func() bool { return !ping() })
	send("no such command")
	send("drop 0")
	waitUntil(t, "drop 0 to take effect", ping)
	send("delay 40ms")
	waitUntil(t, "delay 40ms to take effect", func() bool {
		start := time.Now()
		client.WriteToUDPAddrPort([]byte("ping"), relay)
		client.SetReadDeadline(time.Now().Add(time.Second))
		_, _, err := client.ReadFromUDPAddrPort(buf)
		return err == nil && time.Since(start) >= 80*time.Millisecond // 40ms each way
	})
	send("stats")
	waitUntil(t, "the stats", func() bool { return strings.Contains(stdout.String(), "\n") })
	if !strings.Contains(stderr.String(), `unknown command "no"`) {
		t.Errorf("no error for a bad line on stderr:\n%s", stderr.String())
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the relay did not stop")
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("stdout has %d lines, want the stats twice:\n%s", len(lines), stdout.String())
	}
	var s impair.Stats
	if err := json.Unmarshal([]byte(lines[1]), &s); err != nil {
		t.Fatal(err)
	}
	if s.FromTarget.DropRandom == 0 || s.ToTarget.Received < 4 || s.ToTarget.Delayed == 0 || s.Clients != 1 {
		t.Errorf("final stats %+v", s)
	}
}

// waitUntil polls cond for up to 5s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
