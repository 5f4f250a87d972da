// SPDX-License-Identifier: Apache-2.0

package impair

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Everything here runs on loopback only: 127.0.0.1 and ::1.
var (
	lo4 = netip.MustParseAddr("127.0.0.1")
	lo6 = netip.MustParseAddr("::1")
)

// checkLeaks fails the test if, once its other cleanups have run, goroutines
// it started are still running. Call it first.
func checkLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		for range 200 {
			if runtime.NumGoroutine() <= before {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		b := make([]byte, 1<<16)
		t.Errorf("goroutines leaked: %d before, %d after\n%s", before, runtime.NumGoroutine(), b[:runtime.Stack(b, true)])
	})
}

// listen binds a UDP socket on loopback address a, closed at cleanup.
func listen(t *testing.T, a netip.Addr) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(a, 0)))
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadBuffer(sockBuf)
	c.SetWriteBuffer(sockBuf)
	t.Cleanup(func() { c.Close() })
	return c
}

func addrOf(c *net.UDPConn) netip.AddrPort { return c.LocalAddr().(*net.UDPAddr).AddrPort() }

// echo answers every datagram on c with the same bytes, until c closes,
// and records the source addresses it saw.
type echo struct {
	c    *net.UDPConn
	mu   sync.Mutex
	from map[netip.AddrPort]int
	done chan struct{}
}

func startEcho(t *testing.T, a netip.Addr) *echo {
	e := &echo{c: listen(t, a), from: map[netip.AddrPort]int{}, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		buf := make([]byte, 64<<10)
		for {
			n, from, err := e.c.ReadFromUDPAddrPort(buf)
			if err != nil {
				return
			}
			e.mu.Lock()
			e.from[from]++
			e.mu.Unlock()
			e.c.WriteToUDPAddrPort(buf[:n], from)
		}
	}()
	t.Cleanup(func() { e.c.Close(); <-e.done })
	return e
}

func (e *echo) sources() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.from)
}

// startRelay runs a relay made with c until the test ends, then checks
// that Run returned nil.
func startRelay(t *testing.T, c Config) *Relay {
	t.Helper()
	r, err := New(c)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return 5s after its context was done")
		}
	})
	return r
}

// waitFor polls cond for up to 5s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, a := range []netip.Addr{lo4, lo6} {
		t.Run(a.String(), func(t *testing.T) {
			checkLeaks(t)
			target := startEcho(t, a)
			r := startRelay(t, Config{Listen: netip.AddrPortFrom(a, 0), Target: addrOf(target.c), Seed: 1})
			sizes := []int{0, 1, 64, 1400, 2049, 9000, 16385, 65000}
			const clients, rounds = 4, 50
			var wg sync.WaitGroup
			for i := range clients {
				c := listen(t, a)
				wg.Go(func() {
					buf := make([]byte, 64<<10)
					for j := range rounds {
						msg := make([]byte, sizes[j%len(sizes)])
						for k := range msg {
							msg[k] = byte(i*131 + j*7 + k)
						}
						if _, err := c.WriteToUDPAddrPort(msg, r.Addr()); err != nil {
							t.Error(err)
							return
						}
						c.SetReadDeadline(time.Now().Add(5 * time.Second))
						n, from, err := c.ReadFromUDPAddrPort(buf)
						if err != nil {
							t.Errorf("client %d round %d: %v", i, j, err)
							return
						}
						if from != r.Addr() || !bytes.Equal(buf[:n], msg) {
							t.Errorf("client %d round %d: got %d bytes from %v, want the %d sent to %v", i, j, n, from, len(msg), r.Addr())
							return
						}
					}
				})
			}
			wg.Wait()
			// The last echo may be back before the counters are up.
			waitFor(t, "the counters", func() bool {
				s := r.Stats()
				return s.ToTarget.Forwarded == clients*rounds && s.FromTarget.Forwarded == clients*rounds
			})
			s := r.Stats()
			t.Log(s)
			for _, d := range []DirStats{s.ToTarget, s.FromTarget} {
				if d.Received != clients*rounds || d.Forwarded != clients*rounds || d.Dropped != 0 || d.Queued != 0 {
					t.Errorf("stats %v, want %d received and forwarded", d, clients*rounds)
				}
			}
			if s.Clients != clients || s.ClientsOpened != clients || target.sources() != clients {
				t.Errorf("%d clients, %d opened, target saw %d sources; want %d", s.Clients, s.ClientsOpened, target.sources(), clients)
			}
		})
	}
}

// probe is what the statistical tests send: a sequence number and the
// send time, padded.
const probeSize = 64

// sink receives probes and records (seq, latency).
type sink struct {
	c     *net.UDPConn
	base  time.Time
	mu    sync.Mutex
	seqs  []uint64
	lats  []time.Duration
	count atomic.Int64
	done  chan struct{}
}

func startSink(t *testing.T, a netip.Addr, base time.Time) *sink {
	s := &sink{c: listen(t, a), base: base, done: make(chan struct{})}
	go func() {
		defer close(s.done)
		buf := make([]byte, 64<<10)
		for {
			n, err := s.c.Read(buf)
			if err != nil {
				return
			}
			now := time.Since(s.base)
			if n != probeSize {
				continue
			}
			s.mu.Lock()
			s.seqs = append(s.seqs, binary.BigEndian.Uint64(buf))
			s.lats = append(s.lats, now-time.Duration(binary.BigEndian.Uint64(buf[8:])))
			s.mu.Unlock()
			s.count.Add(1)
		}
	}()
	t.Cleanup(func() { s.c.Close(); <-s.done })
	return s
}

// sendProbes sends n probes from c to dst at about rate per second, but
// never more than window ahead of ahead() (when ahead is not nil): so that
// no socket buffer overflows however loaded the machine is.
func sendProbes(t *testing.T, c *net.UDPConn, dst netip.AddrPort, n, rate int, base time.Time, ahead func(sent int) int) {
	t.Helper()
	const window = 1000
	msg := make([]byte, probeSize)
	start := time.Now()
	for i := range n {
		if i%16 == 0 {
			if early := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); early > 0 {
				time.Sleep(early)
			}
			for ahead != nil && ahead(i) > window {
				time.Sleep(100 * time.Microsecond)
			}
		}
		binary.BigEndian.PutUint64(msg, uint64(i))
		binary.BigEndian.PutUint64(msg[8:], uint64(time.Since(base)))
		if _, err := c.WriteToUDPAddrPort(msg, dst); err != nil {
			t.Fatal(err)
		}
	}
}

// probeRun is what one run of probes through a relay measured.
type probeRun struct {
	n    int             // probes sent
	s    DirStats        // the relay's to-target counters afterwards
	seqs []uint64        // sequence numbers, in arrival order
	lats []time.Duration // their latencies, in arrival order
}

// runProbes sends n probes at about rate per second one way through a
// relay with p and seed, and returns what arrived at the target.
func runProbes(t *testing.T, p Params, seed uint64, n, rate int) probeRun {
	t.Helper()
	base := time.Now()
	target := startSink(t, lo4, base)
	r := startRelay(t, Config{Listen: netip.AddrPortFrom(lo4, 0), Target: addrOf(target.c), Params: p, Seed: seed})
	c := listen(t, lo4)
	d := r.dirs[toTarget]
	sendProbes(t, c, r.Addr(), n, rate, base, func(sent int) int {
		return max(sent-int(d.c.received.Load()), int(d.c.forwarded.Load()-uint64(target.count.Load())))
	})
	waitFor(t, "the relay to receive and send every probe", func() bool {
		// Every copy of every datagram received is accounted for: sent
		// on or dropped. (Queued == 0 alone is not enough: the sender may
		// hold a batch it took off the queue and has not sent yet.)
		s := d.stats()
		return s.Received == uint64(n) && s.Queued == 0 && s.Forwarded+s.Dropped == s.Received+s.Duplicated &&
			uint64(target.count.Load()) == s.Forwarded
	})
	target.mu.Lock()
	defer target.mu.Unlock()
	return probeRun{n: n, s: d.stats(), seqs: slices.Clone(target.seqs), lats: slices.Clone(target.lats)}
}

// quantile of sorted durations.
func quantile(d []time.Duration, q float64) time.Duration {
	return d[min(len(d)-1, int(q*float64(len(d))))]
}

// within checks that got is want within k standard deviations of a
// binomial rate over n trials.
func within(t *testing.T, name string, got, want float64, n, k int) {
	t.Helper()
	sigma := math.Sqrt(want * (1 - want) / float64(n))
	t.Logf("%s: measured %.4f, configured %.4f (tolerance ±%.4f)", name, got, want, float64(k)*sigma)
	if math.Abs(got-want) > float64(k)*sigma {
		t.Errorf("%s: measured %.4f, configured %.4f ± %.4f", name, got, want, float64(k)*sigma)
	}
}

// TestImpairments sends probes one way through a relay for each
// impairment and measures it at the target: 20,000 for a rate (5,000 with
// -short), which must be within 4 standard deviations of the configured one
// (the seed is fixed, so the outcome is too); 5,000 for a latency (2,000),
// which is never below the configured delay. How far above it may be
// depends on the machine's load: each latency run comes after a baseline
// run without impairments, and the bounds are the configured ones plus
// slack that grows with the baseline's latency. A run that misses them is
// repeated, up to 3 times.
func TestImpairments(t *testing.T) {
	n, nLat := 20_000, 5_000
	if testing.Short() {
		n, nLat = 5_000, 2_000
	}
	const rate, rateLat = 20_000, 5_000 // probes per second
	ms := time.Millisecond
	tests := []struct {
		name string
		n    int // probes sent, at
		rate int // this many per second
		p    Params
		// check fails t for a wrong outcome and returns a latency bound
		// missed, if any.
		check func(t *testing.T, r probeRun, slack latencySlack) error
	}{
		{"none", n, rate, Params{}, func(t *testing.T, r probeRun, slack latencySlack) error {
			n := r.n
			if len(r.seqs) != n || late(r.seqs) != 0 {
				t.Errorf("%d probes arrived, %d late; want %d in order", len(r.seqs), late(r.seqs), n)
			}
			lats := slices.Sorted(slices.Values(r.lats))
			t.Logf("no impairment: min %v p50 %v p90 %v p99 %v max %v", lats[0], quantile(lats, 0.5), quantile(lats, 0.9), quantile(lats, 0.99), lats[len(lats)-1])
			return nil
		}},
		{"drop", n, rate, Params{Drop: 0.1}, func(t *testing.T, r probeRun, slack latencySlack) error {
			n := r.n
			within(t, "drop", 1-float64(len(r.seqs))/float64(n), 0.1, n, 4)
			if r.s.DropRandom != uint64(n-len(r.seqs)) || late(r.seqs) != 0 {
				t.Errorf("%d dropped, %d counted; %d late", n-len(r.seqs), r.s.DropRandom, late(r.seqs))
			}
			return nil
		}},
		{"delay", nLat, rateLat, Params{Delay: 20 * ms}, func(t *testing.T, r probeRun, slack latencySlack) error {
			n := r.n
			if len(r.seqs) != n || late(r.seqs) != 0 || r.s.Delayed != uint64(n) {
				t.Errorf("%d probes arrived, %d late, %d delayed; want %d in order", len(r.seqs), late(r.seqs), r.s.Delayed, n)
			}
			lats := slices.Sorted(slices.Values(r.lats))
			t.Logf("delay 20ms: min %v p50 %v p90 %v p99 %v max %v", lats[0], quantile(lats, 0.5), quantile(lats, 0.9), quantile(lats, 0.99), lats[len(lats)-1])
			if lats[0] < 20*ms {
				t.Errorf("a probe arrived after %v, before the delay", lats[0])
			}
			// The tail is the machine's: bound the median and the 90th
			// percentile.
			if quantile(lats, 0.5) > 20*ms+slack.p50 || quantile(lats, 0.9) > 20*ms+slack.p90 {
				return fmt.Errorf("latency p50 %v p90 %v, want at most %v, %v", quantile(lats, 0.5), quantile(lats, 0.9), 20*ms+slack.p50, 20*ms+slack.p90)
			}
			return nil
		}},
		{"jitter", nLat, rateLat, Params{Delay: 10 * ms, Jitter: 20 * ms}, func(t *testing.T, r probeRun, slack latencySlack) error {
			n := r.n
			if len(r.seqs) != n {
				t.Errorf("%d probes arrived, want %d", len(r.seqs), n)
			}
			lats := slices.Sorted(slices.Values(r.lats))
			var sum time.Duration
			for _, l := range lats {
				sum += l
			}
			mean := sum / time.Duration(len(lats))
			p10, p50, p90 := quantile(lats, 0.1), quantile(lats, 0.5), quantile(lats, 0.9)
			t.Logf("delay 10ms jitter 20ms: min %v p10 %v p50 %v p90 %v p99 %v max %v mean %v; %.1f%% arrived late",
				lats[0], p10, p50, p90, quantile(lats, 0.99), lats[len(lats)-1], mean, 100*float64(late(r.seqs))/float64(n))
			if lats[0] < 10*ms {
				t.Errorf("a probe arrived after %v, before the delay", lats[0])
			}
			// Uniform on 10ms..30ms: deciles at 12ms, 20ms, 28ms (plus the
			// relay's own latency).
			if p10 < 11*ms || p50 < 19*ms || p90 < 27*ms {
				t.Errorf("latency p10 %v p50 %v p90 %v, want at least 11ms, 19ms, 27ms (12ms, 20ms, 28ms less sampling noise)", p10, p50, p90)
			}
			if p10 > 12*ms+slack.p50 || p50 > 20*ms+slack.p50 || p90 > 28*ms+slack.p90 {
				return fmt.Errorf("latency p10 %v p50 %v p90 %v, want at most %v, %v, %v", p10, p50, p90, 12*ms+slack.p50, 20*ms+slack.p50, 28*ms+slack.p90)
			}
			return nil
		}},
		{"reorder", n, rate, Params{Reorder: 0.05, ReorderBy: 5 * ms}, func(t *testing.T, r probeRun, slack latencySlack) error {
			n := r.n
			if len(r.seqs) != n {
				t.Errorf("%d probes arrived, want %d", len(r.seqs), n)
			}
			l := late(r.seqs)
			within(t, "reorder: late probes", float64(l)/float64(n), 0.05, n, 4)
			within(t, "reorder: counted", float64(r.s.Reordered)/float64(n), 0.05, n, 4)
			// A probe held back in the last ReorderBy may have nothing
			// left to overtake it.
			if l > int(r.s.Reordered) || l < int(r.s.Reordered)-rate*5/1000 {
				t.Errorf("%d late, %d reordered", l, r.s.Reordered)
			}
			return nil
		}},
		{"dup", n, rate, Params{Duplicate: 0.03}, func(t *testing.T, r probeRun, slack latencySlack) error {
			n := r.n
			seen := map[uint64]int{}
			for _, q := range r.seqs {
				seen[q]++
			}
			twice := 0
			for _, c := range seen {
				if c == 2 {
					twice++
				} else if c != 1 {
					t.Errorf("a probe arrived %d times", c)
				}
			}
			within(t, "dup", float64(twice)/float64(n), 0.03, n, 4)
			if len(seen) != n || uint64(twice) != r.s.Duplicated || r.s.Forwarded != uint64(n+twice) {
				t.Errorf("%d distinct probes, %d twice, %d counted duplicates, %d forwarded; want %d distinct", len(seen), twice, r.s.Duplicated, r.s.Forwarded, n)
			}
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for attempt := 1; ; attempt++ {
				var missed error
				t.Run(fmt.Sprint("run", attempt), func(t *testing.T) {
					checkLeaks(t)
					var slack latencySlack
					if tt.p.Delay > 0 {
						slack = baseline(t, tt.n, tt.rate)
					}
					r := runProbes(t, tt.p, 7, tt.n, tt.rate)
					t.Log(r.s)
					missed = tt.check(t, r, slack)
				})
				if missed == nil {
					break
				}
				if attempt == 3 {
					t.Fatalf("three runs missed a latency bound; the last: %v", missed)
				}
				t.Logf("run %d missed a latency bound (is the machine loaded?): %v", attempt, missed)
			}
		})
	}
}

// latencySlack is how far above the configured delay the median and the
// 90th percentile of the latency may be.
type latencySlack struct{ p50, p90 time.Duration }

// baseline measures the latency through a relay without impairments, now,
// and returns the slack it allows a run with: 2ms plus 4 times the
// baseline's median, 10ms plus 4 times its 90th percentile. On an idle
// machine, that is about 2.5ms and 11ms (and the relay needs 0.3ms, 0.4ms).
func baseline(t *testing.T, n, rate int) latencySlack {
	t.Helper()
	r := runProbes(t, Params{}, 1, n/2, rate)
	lats := slices.Sorted(slices.Values(r.lats))
	p50, p90 := quantile(lats, 0.5), quantile(lats, 0.9)
	s := latencySlack{p50: 2*time.Millisecond + 4*p50, p90: 10*time.Millisecond + 4*p90}
	t.Logf("baseline without impairments: latency p50 %v p90 %v: slack %v, %v", p50, p90, s.p50, s.p90)
	return s
}

// late counts the probes that arrived after a later one.
func late(seqs []uint64) int {
	n := 0
	var top uint64
	for i, q := range seqs {
		if i > 0 && q < top {
			n++
		}
		top = max(top, q)
	}
	return n
}

// The same seed and the same input make the same decisions, through a
// running relay: the same probes are dropped and duplicated.
func TestDeterministicRelay(t *testing.T) {
	checkLeaks(t)
	p := Params{Drop: 0.2, Duplicate: 0.2}
	a, b := runProbes(t, p, 99, 2000, 20_000), runProbes(t, p, 99, 2000, 20_000)
	if !slices.Equal(a.seqs, b.seqs) {
		t.Errorf("two runs with seed 99 delivered different probes: %d and %d", len(a.seqs), len(b.seqs))
	}
	if c := runProbes(t, p, 100, 2000, 20_000); slices.Equal(a.seqs, c.seqs) {
		t.Error("seeds 99 and 100 delivered the same probes")
	}
}

func TestMaxQueue(t *testing.T) {
	checkLeaks(t)
	target := startSink(t, lo4, time.Now())
	const max, n = 100, 1000
	r := startRelay(t, Config{Listen: netip.AddrPortFrom(lo4, 0), Target: addrOf(target.c), Params: Params{Delay: 10 * time.Second, Duplicate: 0.5}, MaxQueue: max})
	c := listen(t, lo4)
	sendProbes(t, c, r.Addr(), n, 100_000, time.Now(), func(sent int) int { return sent - int(r.dirs[toTarget].c.received.Load()) })
	waitFor(t, "every probe at the relay", func() bool { return r.Stats().ToTarget.Received == n })
	s := r.Stats().ToTarget
	t.Log(s)
	// Duplicates take queue slots too: every copy beyond the cap is dropped.
	if s.Queued != max || s.Forwarded != 0 || int(s.DropQueueFull) < n-max {
		t.Errorf("queued %d, forwarded %d, dropped for a full queue %d; want %d queued, the rest (at least %d) dropped", s.Queued, s.Forwarded, s.DropQueueFull, max, n-max)
	}
	if s.Dropped != s.DropQueueFull || s.DropRandom != 0 {
		t.Errorf("drops %v", s)
	}
	// Run's cleanup returns at once, with 100 datagrams 10s from due.
}

func TestSetParams(t *testing.T) {
	checkLeaks(t)
	target := startEcho(t, lo6)
	r := startRelay(t, Config{Listen: netip.AddrPortFrom(lo6, 0), Target: addrOf(target.c)})
	c := listen(t, lo6)
	buf := make([]byte, 100)
	// roundTrip sends a datagram and returns how long its echo took, or -1.
	roundTrip := func(wait time.Duration) time.Duration {
		start := time.Now()
		if _, err := c.WriteToUDPAddrPort([]byte("ping"), r.Addr()); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(wait))
		if _, _, err := c.ReadFromUDPAddrPort(buf); err != nil {
			if errors.Is(err, context.DeadlineExceeded) || isTimeout(err) {
				return -1
			}
			t.Fatal(err)
		}
		return time.Since(start)
	}
	if d := roundTrip(time.Second); d < 0 {
		t.Fatal("no echo without impairments")
	}

	r.SetParams(Params{Drop: 1}, Params{})
	for range 20 {
		if d := roundTrip(20 * time.Millisecond); d >= 0 {
			t.Fatal("an echo came back with to-target drop 1")
		}
	}
	if s := r.Stats(); s.ToTarget.DropRandom != 20 || s.FromTarget.Received != 1 {
		t.Errorf("after 20 drops: %v", s)
	}

	r.SetParams(Params{}, Params{Drop: 1})
	for range 20 {
		if d := roundTrip(20 * time.Millisecond); d >= 0 {
			t.Fatal("an echo came back with from-target drop 1")
		}
	}
	if s := r.Stats(); s.FromTarget.DropRandom != 20 {
		t.Errorf("after 20 drops from target: %v", s)
	}

	r.SetParams(Params{Delay: 30 * time.Millisecond}, Params{Delay: 20 * time.Millisecond})
	fastest := time.Hour
	for range 5 {
		d := roundTrip(time.Second)
		if d < 50*time.Millisecond {
			t.Errorf("round trip with 30ms + 20ms delay took %v", d)
		}
		fastest = min(fastest, d)
	}
	if fastest > 100*time.Millisecond { // the machine's load is in the rest
		t.Errorf("the fastest of 5 round trips with 30ms + 20ms delay took %v", fastest)
	}

	r.SetParams(Params{Drop: 7, Reorder: 0.5}, Params{Delay: -time.Second, Duplicate: math.NaN()})
	to, from := r.Params()
	if want := (Params{Drop: 1, Reorder: 0.5, ReorderBy: DefaultReorderBy}); to != want || from != (Params{}) {
		t.Errorf("Params() = %v; %v; want them clamped", to, from)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

func TestClients(t *testing.T) {
	checkLeaks(t)
	target := startEcho(t, lo4)
	r := startRelay(t, Config{Listen: netip.AddrPortFrom(lo4, 0), Target: addrOf(target.c), MaxClients: 2, IdleTimeout: time.Second})
	ping := func(c *net.UDPConn) bool {
		if _, err := c.WriteToUDPAddrPort([]byte("ping"), r.Addr()); err != nil {
			t.Fatal(err)
		}
		c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		buf := make([]byte, 10)
		n, _, err := c.ReadFromUDPAddrPort(buf)
		return err == nil && string(buf[:n]) == "ping"
	}
	a, b, c := listen(t, lo4), listen(t, lo4), listen(t, lo4)
	if !ping(a) || !ping(b) {
		t.Fatal("no echo")
	}
	if ping(c) {
		t.Fatal("a third client got through with MaxClients 2")
	}
	if s := r.Stats(); s.Clients != 2 || s.ToTarget.DropNoClient != 1 {
		t.Errorf("clients %d, dropped for no client %d; want 2, 1", s.Clients, s.ToTarget.DropNoClient)
	}
	waitFor(t, "the idle clients to expire", func() bool { return r.Stats().Clients == 0 })
	if !ping(c) || !ping(a) {
		t.Fatal("no echo after the mappings expired")
	}
	s := r.Stats()
	if s.Clients != 2 || s.ClientsOpened != 4 || s.ClientsExpired != 2 || target.sources() != 4 {
		t.Errorf("clients %d opened %d expired %d, target saw %d sources; want 2, 4, 2, 4", s.Clients, s.ClientsOpened, s.ClientsExpired, target.sources())
	}
}

// A client that only receives does not expire: answers from the target
// keep its mapping; once they stop, it expires.
func TestClientStaysWhileActive(t *testing.T) {
	checkLeaks(t)
	target := listen(t, lo4)
	r := startRelay(t, Config{Listen: netip.AddrPortFrom(lo4, 0), Target: addrOf(target), IdleTimeout: 500 * time.Millisecond})
	c := listen(t, lo4)
	buf := make([]byte, 10)
	c.WriteToUDPAddrPort([]byte("hello"), r.Addr())
	target.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, up, err := target.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatal(err)
	}
	for range 60 { // 1.5s, three timeouts, in steps well within one
		target.WriteToUDPAddrPort([]byte("news"), up)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, from, err := c.ReadFromUDPAddrPort(buf); err != nil || from != r.Addr() || string(buf[:n]) != "news" {
			t.Fatalf("got %q from %v, %v; want news from the relay", buf[:n], from, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
	if s := r.Stats(); s.ClientsOpened != 1 || s.ClientsExpired != 0 || s.ToTarget.Received != 1 {
		t.Errorf("opened %d expired %d, %d sent; want 1, 0, 1", s.ClientsOpened, s.ClientsExpired, s.ToTarget.Received)
	}
	waitFor(t, "the mapping to expire", func() bool { return r.Stats().Clients == 0 })
	if s := r.Stats(); s.ClientsExpired != 1 {
		t.Errorf("expired %d, want 1", s.ClientsExpired)
	}
}

func TestRunStops(t *testing.T) {
	checkLeaks(t)
	target := startEcho(t, lo4)
	r, err := New(Config{Listen: netip.AddrPortFrom(lo4, 0), Target: addrOf(target.c), Params: Params{Delay: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx) }()
	cl := listen(t, lo4)
	for i := range 10 { // 10 clients, each with its own socket and reader
		cl := cl
		if i > 0 {
			cl = listen(t, lo4)
		}
		cl.WriteToUDPAddrPort([]byte("held for an hour"), r.Addr())
	}
	waitFor(t, "10 clients", func() bool { return r.Stats().Clients == 10 })
	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return")
	}
	if err := r.Run(context.Background()); err == nil {
		t.Error("a second Run returned nil")
	}
	if _, err := cl.WriteToUDPAddrPort([]byte("x"), r.Addr()); err != nil {
		t.Fatal(err)
	}
	// The listen socket is closed: the port can be bound again.
	again, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(r.Addr()))
	if err != nil {
		t.Fatalf("the relay's port is still bound: %v", err)
	}
	again.Close()

	// Close stops a relay that never ran; Run then returns ErrClosed.
	r2, err := New(Config{Listen: netip.AddrPortFrom(lo4, 0), Target: addrOf(target.c)})
	if err != nil {
		t.Fatal(err)
	}
	r2.Close()
	if err := r2.Run(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close = %v, want ErrClosed", err)
	}
}

func TestNewErrors(t *testing.T) {
	target := netip.AddrPortFrom(lo4, 9)
	taken := listen(t, lo4)
	tests := []struct {
		name string
		c    Config
		want string
	}{
		{"no listen", Config{Target: target}, "no listen address"},
		{"no target", Config{Listen: netip.AddrPortFrom(lo4, 0)}, "bad target"},
		{"target port 0", Config{Listen: netip.AddrPortFrom(lo4, 0), Target: netip.AddrPortFrom(lo4, 0)}, "bad target"},
		{"bad params", Config{Listen: netip.AddrPortFrom(lo4, 0), Target: target, Params: Params{Drop: 2, Delay: -1}}, "params: drop 2 out of range 0..1\ndelay -1ns"},
		{"negative queue", Config{Listen: netip.AddrPortFrom(lo4, 0), Target: target, MaxQueue: -1}, "negative limit"},
		{"port taken", Config{Listen: addrOf(taken), Target: target}, "listen on " + addrOf(taken).String()},
	}
	for _, tt := range tests {
		r, err := New(tt.c)
		if err == nil {
			r.Close()
			t.Errorf("%s: no error", tt.name)
			continue
		}
		if !bytes.Contains([]byte(err.Error()), []byte(tt.want)) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}

// BenchmarkRelay measures datagrams per second through a relay with no
// impairment, one way, with at most a window of datagrams in flight (so
// none is lost), beside the same transfer without the relay.
func BenchmarkRelay(b *testing.B) {
	for _, size := range []int{64, 1400} {
		for _, via := range []string{"direct", "relay"} {
			b.Run(fmt.Sprintf("%s/%d", via, size), func(b *testing.B) {
				benchRelay(b, size, via == "relay")
			})
		}
	}
}

func benchRelay(b *testing.B, size int, viaRelay bool) {
	lc := func() *net.UDPConn {
		c, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(lo4, 0)))
		if err != nil {
			b.Fatal(err)
		}
		c.SetReadBuffer(sockBuf)
		c.SetWriteBuffer(sockBuf)
		return c
	}
	const window = 512
	tokens := make(chan struct{}, window) // one per datagram in flight
	sinkC, src := lc(), lc()
	defer src.Close()
	var got atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			if _, err := sinkC.Read(buf); err != nil {
				return
			}
			got.Add(1)
			<-tokens
		}
	}()
	dst := addrOf(sinkC)
	if viaRelay {
		r, err := New(Config{Listen: netip.AddrPortFrom(lo4, 0), Target: dst})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		ran := make(chan struct{})
		go func() { r.Run(ctx); close(ran) }()
		defer func() { cancel(); <-ran }()
		dst = r.Addr()
	}
	defer func() { sinkC.Close(); <-done }()
	msg := make([]byte, size)
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		tokens <- struct{}{}
		if _, err := src.WriteToUDPAddrPort(msg, dst); err != nil {
			b.Fatal(err)
		}
	}
	for range window {
		select {
		case tokens <- struct{}{}: // all back
		case <-time.After(5 * time.Second):
			b.Fatalf("%d of %d datagrams arrived", got.Load(), b.N)
		}
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/el.Seconds(), "dgrams/s")
}
