// SPDX-License-Identifier: Apache-2.0

package traffic

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/skiffnet/skiff/dataplane/port/udp"
)

// Tests talk over loopback only.
var loopbacks = []struct{ name, addr string }{
	{"v4", "127.0.0.1:0"},
	{"v6", "[::1]:0"},
}

// listenUDP opens a port on a loopback address, skipping the test when
// the host has no IPv6 loopback.
func listenUDP(t testing.TB, addr string) *udp.Port {
	t.Helper()
	p, err := ListenUDP(addr)
	if err != nil {
		if errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT) {
			t.Skipf("no loopback %s: %v", addr, err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// startSink runs UDPSink on a fresh loopback port until ctx is done or the
// run ends, and returns its address and its result.
func startSink(t *testing.T, ctx context.Context, addr string) (string, <-chan SinkResult) {
	t.Helper()
	p := listenUDP(t, addr)
	got := make(chan SinkResult, 1)
	go func() {
		r, err := UDPSink(ctx, p)
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	return p.LocalAddr().String(), got
}

// retry runs a timing-sensitive check up to 5 times, a second apart: the
// loopback shares the CPUs with whatever else runs (other packages' tests),
// so a slow attempt is not a failure. check returns its problems; those of
// the last attempt are the test's errors.
func retry(t *testing.T, check func() []string) {
	t.Helper()
	const attempts = 5
	for i := 1; ; i++ {
		problems := check()
		if len(problems) == 0 {
			return
		}
		if i == attempts {
			for _, p := range problems {
				t.Error(p)
			}
			return
		}
		t.Logf("attempt %d: %s; again", i, strings.Join(problems, "; "))
		time.Sleep(time.Second)
	}
}

func TestUDPPaced(t *testing.T) {
	for _, lo := range loopbacks {
		t.Run(lo.name, func(t *testing.T) {
			listenUDP(t, lo.addr) // skip without this loopback
			retry(t, func() (problems []string) {
				bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				addr, got := startSink(t, ctx, lo.addr)
				const rate, size = 20000, 200
				gen, err := UDPGenerate(ctx, addr, GenOptions{Size: size, Rate: rate, Duration: time.Second})
				if err != nil {
					t.Fatal(err)
				}
				genDone := time.Now()
				sink := <-got
				t.Logf("%v\n%v", gen, sink)
				// The end marker ends the sink, not its 30s timeout.
				if d := time.Since(genDone); d > 2*time.Second {
					bad("the sink ended %v after the generator", d)
				}
				if gen.Mode != ModeUDPGen || gen.OfferedPPS != rate || gen.Size != size {
					bad("generator result %+v", gen)
				}
				want := SinkResult{Mode: ModeUDPSink, Sent: gen.Sent, Received: gen.Sent, Bytes: gen.Sent * size}
				if sink.Sent != want.Sent || sink.Received != want.Received || sink.Lost != 0 || sink.Loss != 0 ||
					sink.Duplicates != 0 || sink.Reordered != 0 || sink.Bytes != want.Bytes || sink.Mode != want.Mode {
					bad("sink %+v, want %+v", sink, want)
				}
				if raceEnabled {
					return problems // too slow for the rate
				}
				if math.Abs(gen.PPS-rate) > rate/10 || gen.Seconds < 0.9 || gen.Seconds > 1.2 {
					bad("generator sent %.0f datagrams/s in %.2fs, offered %d/s for 1s", gen.PPS, gen.Seconds, rate)
				}
				if math.Abs(sink.PPS-rate) > rate/10 {
					bad("sink received %.0f datagrams/s, offered %d/s", sink.PPS, rate)
				}
				return problems
			})
		})
	}
}

// The generator as fast as it goes, at the smallest and a typical size.
// The sink may drop some (it shares the CPUs), but the counts add up.
func TestUDPUnpaced(t *testing.T) {
	for _, size := range []int{64, 1400} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		addr, got := startSink(t, ctx, "127.0.0.1:0")
		gen, err := UDPGenerate(ctx, addr, GenOptions{Size: size, Duration: 500 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		sink := <-got
		cancel()
		t.Logf("%v\n%v", gen, sink)
		if gen.Sent < 10000 || gen.OfferedPPS != 0 {
			t.Errorf("unpaced generator: %+v", gen)
		}
		if sink.Sent != gen.Sent || sink.Received+sink.Lost != sink.Sent || sink.Received == 0 || sink.Duplicates != 0 {
			t.Errorf("sink %+v after generator %+v", sink, gen)
		}
	}
}

func TestUDPSinkTimeout(t *testing.T) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, got := startSink(t, ctx, "127.0.0.1:0")
	r := <-got
	if d := time.Since(start); d < 300*time.Millisecond || d > 3*time.Second {
		t.Errorf("sink with a 300ms timeout returned after %v", d)
	}
	if r != (SinkResult{Mode: ModeUDPSink}) {
		t.Errorf("sink without a generator: %+v", r)
	}
}

// relay forwards datagrams from its port to dst, dropping, duplicating or
// holding back data datagrams as act says, and counts what it did. A held
// datagram goes out after the next data datagram, or before the end
// marker.
type relay struct {
	conn                    *net.UDPConn
	dst                     *net.UDPAddr
	act                     func(i int) (drop, dup, hold bool)
	dropped, duped, swapped int
	done                    chan struct{}
}

func startRelay(t *testing.T, dst string, act func(i int) (drop, dup, hold bool)) *relay {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadBuffer(4 << 20)
	r := &relay{conn: c, dst: net.UDPAddrFromAddrPort(netip.MustParseAddrPort(dst)), act: act, done: make(chan struct{})}
	t.Cleanup(r.stop)
	go r.run(t)
	return r
}

func (r *relay) addr() string { return r.conn.LocalAddr().String() }

// stop ends the relay; its counts may be read afterwards.
func (r *relay) stop() {
	r.conn.Close()
	<-r.done
}

func (r *relay) run(t *testing.T) {
	defer close(r.done)
	b := make([]byte, 65536)
	var held []byte
	i := 0
	send := func(p []byte) {
		if _, err := r.conn.WriteToUDP(p, r.dst); err != nil {
			t.Error(err)
		}
	}
	for {
		n, _, err := r.conn.ReadFromUDP(b)
		if err != nil {
			return
		}
		p := b[:n]
		if binary.BigEndian.Uint32(p) != MagicData {
			if held != nil {
				send(held) // not overtaken: no swap
				held = nil
			}
			send(p)
			continue
		}
		drop, dup, hold := r.act(i)
		i++
		switch {
		case drop:
			r.dropped++
			continue
		case hold && held == nil:
			held = append([]byte(nil), p...)
			continue
		}
		send(p)
		if dup {
			send(p)
			r.duped++
		}
		if held != nil {
			send(held)
			held = nil
			r.swapped++
		}
	}
}

func TestUDPLoss(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr, got := startSink(t, ctx, "127.0.0.1:0")
	rl := startRelay(t, addr, func(i int) (bool, bool, bool) { return i%10 == 9, false, false })
	gen, err := UDPGenerate(ctx, rl.addr(), GenOptions{Size: 64, Rate: 10000, Duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sink := <-got
	rl.stop()
	t.Logf("%v\n%v", gen, sink)
	if rl.dropped == 0 || sink.Sent != gen.Sent || sink.Lost != int64(rl.dropped) || sink.Received != gen.Sent-int64(rl.dropped) ||
		sink.Duplicates != 0 || sink.Reordered != 0 {
		t.Errorf("relay dropped %d of %d: sink %+v", rl.dropped, gen.Sent, sink)
	}
	if want := float64(rl.dropped) / float64(gen.Sent); math.Abs(sink.Loss-want) > 1e-9 || math.Abs(sink.Loss-0.1) > 0.01 {
		t.Errorf("loss %v, want %v", sink.Loss, want)
	}
}

func TestUDPDuplicatesReordering(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr, got := startSink(t, ctx, "127.0.0.1:0")
	rl := startRelay(t, addr, func(i int) (bool, bool, bool) { return false, i%7 == 3, i%10 == 5 })
	gen, err := UDPGenerate(ctx, rl.addr(), GenOptions{Size: 100, Rate: 10000, Duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sink := <-got
	rl.stop()
	t.Logf("%v\n%v; relay duplicated %d, swapped %d", gen, sink, rl.duped, rl.swapped)
	if rl.duped == 0 || rl.swapped == 0 {
		t.Fatal("the relay did nothing")
	}
	if sink.Sent != gen.Sent || sink.Received != gen.Sent || sink.Lost != 0 || sink.Loss != 0 ||
		sink.Duplicates != int64(rl.duped) || sink.Reordered != int64(rl.swapped) || sink.Bytes != gen.Sent*100 {
		t.Errorf("sink %+v", sink)
	}
}

// The sink follows one run: datagrams that are not the generator's, or of
// another run, do not count.
func TestUDPSinkIgnoresStrangers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr, got := startSink(t, ctx, "127.0.0.1:0")
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("hello"))
	c.Write(make([]byte, 100))
	probe := make([]byte, ProbeLen)
	putHeader(probe, header{magic: MagicProbe, run: 7, seq: 1})
	c.Write(probe)
	gen, err := UDPGenerate(ctx, addr, GenOptions{Size: 64, Rate: 5000, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// Late datagrams of another run, before the marker's grace is over.
	other := make([]byte, 64)
	putHeader(other, header{magic: MagicData, run: 1, seq: 5})
	c.Write(other)
	putHeader(other, header{magic: MagicEnd, run: 1, seq: 5})
	c.Write(other)
	sink := <-got
	if sink.Sent != gen.Sent || sink.Received != gen.Sent || sink.Lost != 0 || sink.Bytes != 64*gen.Sent {
		t.Errorf("sink %+v after generator %+v", sink, gen)
	}
}

func TestSinkCount(t *testing.T) {
	s := new(sink)
	for _, q := range []uint64{
		10, 11, 13, 12, // 12 reordered
		13,                   // duplicate
		9,                    // reordered (before the first)
		5 + window + 100,     // a jump: 14..window+104 missing
		12,                   // too old to tell: reordered
		window + 104,         // reordered
		window + 104,         // duplicate
		3*window + 7,         // a jump beyond the window
		3*window + 7 - 1000,  // reordered
		3*window + 7 - 1000,  // duplicate
		window + 104 + 1<<10, // too old: reordered
	} {
		s.add(q, 10)
	}
	want := sink{any: true, highest: 3*window + 7, received: 11, dups: 3, reordered: 6, bytes: 110}
	s.seen = [window / 64]uint64{}
	if *s != want {
		t.Errorf("counted %+v, want %+v", *s, want)
	}
}

// The pacer on a simulated clock.
func TestPacer(t *testing.T) {
	start := time.Unix(1000, 0)
	run := func(rate uint64, d time.Duration, stall func(now time.Time) time.Duration) (p *pacer, sent uint64, end time.Time, maxWake uint64) {
		p = newPacer(rate, d, start)
		now := start
		var wake uint64 // sent in the current wake-up
		for i := 0; i < 10_000_000; i++ {
			n, at, done := p.next(now, sent)
			if done {
				return p, sent, now, maxWake
			}
			if n == 0 {
				if !at.After(now) {
					t.Fatalf("rate %d: asked to wait until %v at %v", rate, at, now)
				}
				now = at.Add(stall(at))
				wake = 0
				continue
			}
			if n > batchSize {
				t.Fatalf("rate %d: a send of %d", rate, n)
			}
			sent += uint64(n)
			wake += uint64(n)
			maxWake = max(maxWake, wake)
			now = now.Add(time.Microsecond) // the send takes a while
		}
		t.Fatalf("rate %d: no end", rate)
		return
	}
	none := func(time.Time) time.Duration { return 0 }
	for _, rate := range []uint64{1, 100, 1000, 64000, 1000000} {
		p, sent, end, maxWake := run(rate, time.Second, none)
		if sent != rate || p.skipped != 0 {
			t.Errorf("rate %d: sent %d, skipped %d", rate, sent, p.skipped)
		}
		if d := end.Sub(start); d < time.Second-time.Millisecond || d > time.Second+time.Millisecond {
			t.Errorf("rate %d: ran for %v", rate, d)
		}
		if maxWake > p.quantum+batchSize {
			t.Errorf("rate %d: %d datagrams in a wake-up", rate, maxWake)
		}
	}
	// A late wake-up is caught up, a quantum and a batch at a time.
	stalled := false
	p, sent, _, maxWake := run(100000, time.Second, func(now time.Time) time.Duration {
		if !stalled && now.Sub(start) > 500*time.Millisecond {
			stalled = true
			return 20 * time.Millisecond
		}
		return 10 * time.Microsecond
	})
	if sent != 100000 || p.skipped != 0 || maxWake > p.quantum+batchSize {
		t.Errorf("after a 20ms stall: sent %d, skipped %d, at most %d a wake-up", sent, p.skipped, maxWake)
	}
	// A long stall is given up beyond maxLag.
	stalled = false
	p, sent, _, _ = run(100000, time.Second, func(now time.Time) time.Duration {
		if !stalled && now.Sub(start) > 500*time.Millisecond {
			stalled = true
			return 200 * time.Millisecond
		}
		return 0
	})
	if p.skipped < 100000*150/1000 || sent+p.skipped != 100000 {
		t.Errorf("after a 200ms stall: sent %d, skipped %d", sent, p.skipped)
	}
	// A sender too slow for the rate does not make the run much longer.
	p, sent, end, _ := run(100000, time.Second, func(time.Time) time.Duration { return time.Millisecond })
	if d := end.Sub(start); d > time.Second+maxLag+2*time.Millisecond || sent >= 100000 {
		t.Errorf("a slow sender: sent %d in %v", sent, d)
	}
}

// The hot loops allocate nothing per datagram: a generator's pacing and
// send, a sink's read and count, an echo.
func TestUDPNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	rx, tx := listenUDP(t, "127.0.0.1:0"), listenUDP(t, "127.0.0.1:0")
	pkts := newPackets(batchSize, 100)
	for _, pk := range pkts {
		pk.SetLen(100)
		putHeader(pk.Data(), header{magic: MagicData, run: 1})
		pk.Addr = rx.LocalAddr()
	}
	g := &generator{p: tx, pkts: pkts}
	in := newPackets(batchSize, maxRecv)
	s := new(sink)
	pc := newPacer(1e9, time.Hour, time.Now())
	sl := newSleeper(context.Background())
	allocs := testing.AllocsPerRun(100, func() {
		pc.next(time.Now(), g.issued)
		sl.until(time.Now().Add(10 * time.Microsecond))
		if err := g.send(batchSize); err != nil {
			t.Fatal(err)
		}
		for got := 0; got < batchSize; {
			n, err := rx.ReadBatch(in)
			if err != nil {
				t.Fatal(err)
			}
			s.count(in[:n])
			got += n
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per batch", allocs)
	}
	if s.received != 101*batchSize {
		t.Errorf("sink counted %d", s.received)
	}
	// The echo server's loop: read a batch, write it back.
	allocs = testing.AllocsPerRun(100, func() {
		g.send(1)
		n, _ := rx.ReadBatch(in)
		rx.WriteBatch(in[:n])
		tx.ReadBatch(in)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per echo", allocs)
	}
}

// A whole run allocates a bounded amount, whatever the datagram count.
func TestUDPRunAllocs(t *testing.T) {
	if raceEnabled || testing.Short() {
		t.Skip("the race detector allocates")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	addr, got := startSink(t, ctx, "127.0.0.1:0")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	gen, err := UDPGenerate(ctx, addr, GenOptions{Size: 64, Rate: 100000, Duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sink := <-got
	runtime.ReadMemStats(&after)
	allocs := after.Mallocs - before.Mallocs
	t.Logf("%d allocations for %d datagrams sent, %d received", allocs, gen.Sent, sink.Received)
	if gen.Sent < 10000 || allocs > 2000 {
		t.Errorf("%d allocations for %d datagrams", allocs, gen.Sent)
	}
}
