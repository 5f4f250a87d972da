// SPDX-License-Identifier: Apache-2.0

package traffic

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"
)

// startEcho runs EchoServe on a fresh loopback port until ctx is done.
func startEcho(t *testing.T, ctx context.Context, addr string) (string, <-chan EchoResult) {
	t.Helper()
	p := listenUDP(t, addr)
	got := make(chan EchoResult, 1)
	go func() {
		r, err := EchoServe(ctx, p)
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	return p.LocalAddr().String(), got
}

func TestEchoRTT(t *testing.T) {
	for _, lo := range loopbacks {
		t.Run(lo.name, func(t *testing.T) {
			listenUDP(t, lo.addr) // skip without this loopback
			retry(t, func() (problems []string) {
				bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				sctx, stop := context.WithCancel(ctx)
				addr, echoed := startEcho(t, sctx, lo.addr)
				const count, size = 200, 100
				start := time.Now()
				r, err := EchoProbe(ctx, addr, ProbeOptions{Count: count, Interval: time.Millisecond, Size: size})
				if err != nil {
					t.Fatal(err)
				}
				took := time.Since(start)
				stop()
				e := <-echoed
				t.Logf("%v in %v\n%v", r, took, e)
				if r.Mode != ModeRTT || r.Samples != count || r.Lost != 0 {
					bad("probe %+v", r)
				}
				if e.Mode != ModeEcho || e.Echoed != count || e.Bytes != count*size {
					bad("echo server %+v", e)
				}
				if !(0 < r.Min && r.Min <= r.P50 && r.P50 <= r.P90 && r.P90 <= r.P99 && r.P99 <= r.Max) {
					bad("percentiles out of order: %+v", r)
				}
				if raceEnabled {
					return problems // the race detector's slowness, not the loopback's
				}
				if r.Max >= 10000 {
					bad("a round trip of %vµs on loopback", r.Max)
				}
				// All answered: no waiting after the last probe.
				if took < (count-1)*time.Millisecond || took > count*time.Millisecond+500*time.Millisecond {
					bad("%d probes 1ms apart took %v", count, took)
				}
				return problems
			})
		})
	}
}

// Without an echo server every probe is lost; the prober waits ProbeWait
// for them and reports, without an error.
func TestEchoProbeNoServer(t *testing.T) {
	ln, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.LocalAddr().String()
	ln.Close()
	start := time.Now()
	r, err := EchoProbe(context.Background(), addr, ProbeOptions{Count: 5, Interval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < ProbeWait || d > ProbeWait+time.Second {
		t.Errorf("took %v, want about %v", d, ProbeWait)
	}
	if r != (RTTResult{Mode: ModeRTT, Lost: 5}) {
		t.Errorf("probe to nobody: %+v", r)
	}
}

// Answers that are not our probes' do not count; a probe answered twice
// counts once.
func TestEchoProbeStrangers(t *testing.T) {
	srv, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		b := make([]byte, 2048)
		for i := 0; ; i++ {
			n, from, err := srv.ReadFromUDP(b)
			if err != nil {
				return
			}
			if i%2 == 1 {
				continue // every other probe lost
			}
			srv.WriteToUDP(b[:n], from)
			srv.WriteToUDP(b[:n], from)                        // twice
			srv.WriteToUDP([]byte("junk"), from)               // too short
			srv.WriteToUDP(append([]byte{1}, b[1:n]...), from) // bad magic
			wrong := append([]byte(nil), b[:n]...)
			wrong[4]++ // another run
			srv.WriteToUDP(wrong, from)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := EchoProbe(ctx, srv.LocalAddr().String(), ProbeOptions{Count: 20, Interval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Samples != 10 || r.Lost != 10 {
		t.Errorf("probe %+v, want 10 samples and 10 lost", r)
	}
}

func TestPercentile(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 1000; i++ {
		s = append(s, time.Duration(i))
	}
	for _, c := range []struct{ p, want int }{{50, 500}, {90, 900}, {99, 990}, {100, 1000}} {
		if got := percentile(s, c.p); got != time.Duration(c.want) {
			t.Errorf("p%d of 1..1000 = %d, want %d", c.p, got, c.want)
		}
	}
	if got := percentile(s[:1], 99); got != 1 {
		t.Errorf("p99 of one sample = %d", got)
	}
}
