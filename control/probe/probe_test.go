// SPDX-License-Identifier: Apache-2.0

package probe

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

const ms = int64(time.Millisecond)

var t0 = time.Unix(1000, 0)

// feed samples delays with consecutive seqs from 1, one per 100 ms.
func feed(l *Link, delays ...int64) {
	seq := l.Stats().Samples
	for _, d := range delays {
		seq++
		l.Sample(uint32(seq), 5e18, 5e18+d, t0.Add(time.Duration(seq)*100*time.Millisecond))
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []int64
		want int64
	}{
		{[]int64{7}, 7},
		{[]int64{10, 50, 20}, 20},
		{[]int64{10, 50, 20, 40}, 30},
		{[]int64{3, 4}, 3},       // floor of 3.5
		{[]int64{-3, -4}, -4},    // floor of -3.5
		{[]int64{-3, 4}, 0},      // floor of 0.5
		{[]int64{5, 5, 1, 9}, 5}, // equal middles
		{[]int64{math.MaxInt64, math.MaxInt64 - 2}, math.MaxInt64 - 1},
		{[]int64{math.MinInt64, math.MaxInt64}, -1},
		{[]int64{math.MinInt64, math.MinInt64}, math.MinInt64},
		{[]int64{9, 1, 8, 2, 7, 3, 6}, 6},
	}
	for _, tc := range tests {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %d, want %d", tc.in, got, tc.want)
		}
	}
}

func TestMedianWindow(t *testing.T) {
	l := NewLink(Config{Window: 5})
	if _, ok := l.Median(); ok {
		t.Fatal("Median ok before any sample")
	}
	steps := []struct {
		d    int64
		want int64
	}{
		{10, 10}, {50, 30}, {20, 20}, {40, 30}, {30, 30}, // 10 20 30 40 50
		{100, 40}, // 10 drops out: 20 30 40 50 100
		{0, 30},   // 50 drops out: 0 20 30 40 100
	}
	for i, s := range steps {
		feed(l, s.d)
		if got, ok := l.Median(); !ok || got != s.want {
			t.Fatalf("after sample %d (%d): Median = %d, %v; want %d", i+1, s.d, got, ok, s.want)
		}
	}
	l = NewLink(Config{Window: 4})
	feed(l, 1, 2, 3, 4, 100, 100)
	if got, _ := l.Median(); got != 52 { // 3 4 100 100
		t.Fatalf("Window 4: Median = %d, want 52", got)
	}
}

func TestJitterWithinTolerance(t *testing.T) {
	l := NewLink(Config{}) // Window 5, Tolerance 2ms
	base := 50 * ms
	feed(l, base)
	medians := map[int64]bool{}
	rng := rand.New(rand.NewPCG(1, 1))
	for i := range 2000 {
		d := base + rng.Int64N(2*ms+1) - ms // ±1 ms
		if i%2 == 0 {
			d = base + 19*ms/10 // and alternating +1.9 ms
		}
		feed(l, d)
		m, _ := l.Median()
		medians[m] = true
		if r, ok := l.Reported(); !ok || r != base {
			t.Fatalf("sample %d: Reported = %d, want %d (median %d)", i, r, base, m)
		}
	}
	if len(medians) < 100 {
		t.Fatalf("only %d distinct medians: the jitter is not exercising the filter", len(medians))
	}
	// Exactly at the tolerance it stays; just past it, it moves.
	feed(l, base+2*ms, base+2*ms, base+2*ms, base+2*ms, base+2*ms)
	if r, _ := l.Reported(); r != base {
		t.Fatalf("Reported = %d after a median move of exactly the tolerance, want %d", r, base)
	}
	feed(l, base+2*ms+1, base+2*ms+1, base+2*ms+1)
	if r, _ := l.Reported(); r != base+2*ms+1 {
		t.Fatalf("Reported = %d after a median move of 2ms+1ns, want %d", r, base+2*ms+1)
	}
}

func TestStep(t *testing.T) {
	for w := 1; w <= 9; w++ {
		l := NewLink(Config{Window: w})
		feed(l, 20*ms, 20*ms, 20*ms, 20*ms, 20*ms, 20*ms, 20*ms, 20*ms, 20*ms, 20*ms)
		need := (w + 1) / 2 // ceil(w/2) samples move the median
		for i := 1; i <= w; i++ {
			feed(l, 100*ms)
			r, _ := l.Reported()
			switch {
			case i < need && r != 20*ms:
				t.Fatalf("Window %d: Reported %d after %d samples of the step, want unchanged", w, r, i)
			case i >= need && r == 20*ms:
				t.Fatalf("Window %d: Reported unchanged after %d samples of the step", w, i)
			case i > w/2 && r != 100*ms: // a majority: the median is the new value
				t.Fatalf("Window %d: Reported %d after %d samples of the step, want 100ms", w, r, i)
			}
		}
	}
}

func TestNegativeDelays(t *testing.T) {
	l := NewLink(Config{})
	// The receiver's clock is 10 s behind the sender's.
	for seq := uint32(1); seq <= 5; seq++ {
		sent := int64(seq) * 1e9
		l.Sample(seq, sent, sent-10e9+30*ms, t0)
	}
	if m, _ := l.Median(); m != -10e9+30*ms {
		t.Fatalf("Median = %d, want %d", m, -10e9+30*ms)
	}
	if r, _ := l.Reported(); r != -10e9+30*ms {
		t.Fatalf("Reported = %d", r)
	}
	// Saturation instead of wrap-around on absurd stamps.
	l.Reset()
	l.Sample(1, math.MaxInt64, math.MinInt64, t0)
	if s := l.Stats(); s.LastDelay != math.MinInt64 {
		t.Fatalf("LastDelay = %d, want saturation at MinInt64", s.LastDelay)
	}
}

func TestLoss(t *testing.T) {
	l := NewLink(Config{LossWindow: 8})
	if l.Loss() != 0 {
		t.Fatal("loss before any sample")
	}
	got := func(want float64, why string) {
		t.Helper()
		if l.Loss() != want {
			t.Fatalf("%s: Loss = %v, want %v", why, l.Loss(), want)
		}
	}
	for _, seq := range []uint32{1, 2, 4, 5, 6, 8} {
		l.Sample(seq, 0, 1, t0)
	}
	got(2.0/8, "seqs 1..8 without 3 and 7")
	l.Sample(9, 0, 1, t0)
	got(2.0/8, "window 2..9") // 3 and 7 missing
	l.Sample(10, 0, 1, t0)
	l.Sample(11, 0, 1, t0)
	got(1.0/8, "window 4..11") // 7 missing
	l.Sample(7, 0, 1, t0)      // late but inside the window
	got(0, "7 arrived late")
	if s := l.Stats(); s.Reordered != 1 || s.Samples != 10 {
		t.Fatalf("Stats = %+v, want 1 reordered, 10 samples", s)
	}
	l.Sample(15, 0, 1, t0) // 12, 13, 14 missing
	got(3.0/8, "window 8..15")
	l.Sample(100, 0, 1, t0) // a gap longer than the window
	got(7.0/8, "window 93..100")

	// Starting in the middle of a sequence: only seqs since the first
	// count, and a late one below the first extends the span.
	l = NewLink(Config{LossWindow: 64})
	l.Sample(1000, 0, 1, t0)
	l.Sample(1001, 0, 1, t0)
	got(0, "first two")
	l.Sample(998, 0, 1, t0)
	got(1.0/4, "998 late: 999 missing of 998..1001")
}

func TestDuplicates(t *testing.T) {
	l := NewLink(Config{Window: 3})
	l.Sample(1, 0, 10, t0)
	l.Sample(2, 0, 20, t0)
	l.Sample(3, 0, 30, t0)
	for _, seq := range []uint32{3, 2, 1, 3} {
		l.Sample(seq, 0, 1e12, t0.Add(time.Hour)) // wild delay, later time
	}
	s := l.Stats()
	if s.Duplicates != 4 || s.Samples != 3 || s.Median != 20 || s.LastDelay != 30 || !s.LastSample.Equal(t0) || s.Loss != 0 {
		t.Fatalf("Stats = %+v; duplicates must be counted and otherwise ignored", s)
	}
}

func TestLateAndRestart(t *testing.T) {
	l := NewLink(Config{LossWindow: 16})
	for seq := uint32(1000); seq < 1010; seq++ {
		if seq != 1005 {
			l.Sample(seq, 0, 1, t0)
		}
	}
	l.Sample(1009-16, 0, 1, t0) // exactly LossWindow back: late
	s := l.Stats()
	if s.Late != 1 || s.Restarts != 0 || s.Samples != 9 || s.Loss != 1.0/10 {
		t.Fatalf("after a late seq: %+v", s)
	}
	// The sender restarted: seq starts at 1 again.
	for seq := uint32(1); seq <= 4; seq++ {
		l.Sample(seq, 0, 2, t0)
	}
	s = l.Stats()
	if s.Restarts != 1 || s.Samples != 13 || s.Loss != 0 || s.Duplicates != 0 || s.LastDelay != 2 {
		t.Fatalf("after a restart: %+v", s)
	}
	// The old numbering is now far ahead: seeing it again is a forward jump
	// (all seqs between counted lost), not another restart.
	l.Sample(1010, 0, 1, t0)
	if s = l.Stats(); s.Restarts != 1 || s.Loss != 15.0/16 {
		t.Fatalf("after the old numbering again: %+v", s)
	}
}

func TestReachable(t *testing.T) {
	l := NewLink(Config{DeadAfter: time.Second})
	if l.Reachable(t0) {
		t.Fatal("reachable before any sample")
	}
	l.Sample(1, 0, 1, t0)
	if !l.Reachable(t0) || !l.Reachable(t0.Add(time.Second-1)) {
		t.Fatal("unreachable within DeadAfter")
	}
	if l.Reachable(t0.Add(time.Second)) {
		t.Fatal("reachable DeadAfter after the last sample")
	}
	l.Sample(1, 0, 1, t0.Add(2*time.Second)) // a duplicate does not revive it
	if l.Reachable(t0.Add(2 * time.Second)) {
		t.Fatal("a duplicate made the link reachable")
	}
	l.Sample(2, 0, 1, t0.Add(2*time.Second))
	if !l.Reachable(t0.Add(2 * time.Second)) {
		t.Fatal("a new sample did not make the link reachable")
	}
	l.Reset()
	if l.Reachable(t0.Add(2*time.Second)) || l.Stats() != (Stats{}) || l.Config().DeadAfter != time.Second {
		t.Fatalf("after Reset: %+v", l.Stats())
	}
}

func TestConfigDefaults(t *testing.T) {
	got := NewLink(Config{}).Config()
	want := Config{Window: 5, Tolerance: 2 * time.Millisecond, DeadAfter: 3 * time.Second, LossWindow: 64}
	if got != want {
		t.Fatalf("defaults = %+v, want %+v", got, want)
	}
	got = NewLink(Config{Window: 1000, Tolerance: -5, DeadAfter: -1, LossWindow: 5000}).Config()
	want = Config{Window: MaxWindow, Tolerance: -1, DeadAfter: 3 * time.Second, LossWindow: MaxLossWindow}
	if got != want {
		t.Fatalf("clamped = %+v, want %+v", got, want)
	}
	// Negative tolerance: Reported follows the median.
	l := NewLink(Config{Window: 1, Tolerance: -1})
	feed(l, 10, 11, 10)
	if r, _ := l.Reported(); r != 10 {
		t.Fatalf("Reported = %d, want 10", r)
	}
}

func TestSampleAllocs(t *testing.T) {
	l := NewLink(Config{Window: MaxWindow, LossWindow: MaxLossWindow})
	seq := uint32(0)
	now := t0
	if n := testing.AllocsPerRun(1000, func() {
		seq += 1 + seq%3 // gaps
		now = now.Add(time.Millisecond)
		l.Sample(seq, 0, int64(seq%7), now)
		l.Sample(seq-1, 0, 1, now) // reordered or duplicate
		l.Sample(seq-5000, 0, 1, now)
		_ = l.Stats()
	}); n != 0 {
		t.Fatalf("Sample allocates %v times", n)
	}
}

// model is a slow reference Link: maps and sorting instead of rings and
// bitmaps, math/big instead of overflow reasoning.
type model struct {
	cfg      Config
	started  bool
	top, low uint32
	seen     map[uint32]bool
	delays   []int64
	reported int64
	last     int64
	lastAt   time.Time
	st       Stats
}

func (m *model) restart(seq uint32) {
	m.started, m.top, m.low = true, seq, seq
	m.seen = map[uint32]bool{seq: true}
}

func (m *model) sample(seq uint32, sent, recv int64, now time.Time) {
	lw := uint64(m.cfg.LossWindow)
	switch back := uint64(m.top) - uint64(seq); {
	case !m.started:
		m.restart(seq)
	case seq > m.top:
		m.top = seq
		m.seen[seq] = true
	case back > lw:
		m.st.Restarts++
		m.restart(seq)
	case back == lw:
		m.st.Late++
		return
	case m.seen[seq]:
		m.st.Duplicates++
		return
	default:
		m.st.Reordered++
		m.seen[seq] = true
		m.low = min(m.low, seq)
	}
	d := new(big.Int).Sub(big.NewInt(recv), big.NewInt(sent))
	switch {
	case d.Cmp(big.NewInt(math.MaxInt64)) > 0:
		m.last = math.MaxInt64
	case d.Cmp(big.NewInt(math.MinInt64)) < 0:
		m.last = math.MinInt64
	default:
		m.last = d.Int64()
	}
	m.st.Samples++
	m.lastAt = now
	m.delays = append(m.delays, m.last)
	med := m.median()
	diff := new(big.Int).Sub(big.NewInt(med), big.NewInt(m.reported))
	if m.st.Samples == 1 || m.cfg.Tolerance < 0 || diff.Abs(diff).Cmp(big.NewInt(int64(m.cfg.Tolerance))) > 0 {
		m.reported = med
	}
}

func (m *model) recent() []int64 {
	return m.delays[max(0, len(m.delays)-m.cfg.Window):]
}

func (m *model) median() int64 {
	r := slices.Sorted(slices.Values(m.recent()))
	if len(r)%2 == 1 {
		return r[len(r)/2]
	}
	sum := new(big.Int).Add(big.NewInt(r[len(r)/2-1]), big.NewInt(r[len(r)/2]))
	return sum.Div(sum, big.NewInt(2)).Int64() // Euclidean: floor for a positive divisor
}

func (m *model) loss() float64 {
	if !m.started {
		return 0
	}
	lo := uint64(m.low)
	if top := uint64(m.top); top+1 >= uint64(m.cfg.LossWindow) {
		lo = max(lo, top+1-uint64(m.cfg.LossWindow))
	}
	span := uint64(m.top) - lo + 1
	var got uint64
	for s := lo; s <= uint64(m.top); s++ {
		if m.seen[uint32(s)] {
			got++
		}
	}
	return float64(span-got) / float64(span)
}

// check compares l with the model and asserts the invariants.
func (m *model) check(t *testing.T, l *Link, now time.Time) {
	t.Helper()
	s := l.Stats()
	want := m.st
	want.Valid = len(m.delays) > 0
	if want.Valid {
		want.LastDelay, want.Median, want.Reported, want.LastSample = m.last, m.median(), m.reported, m.lastAt
	}
	want.Loss = m.loss()
	if s != want {
		t.Fatalf("Stats\n got  %+v\n want %+v", s, want)
	}
	if s.Loss < 0 || s.Loss > 1 {
		t.Fatalf("Loss = %v", s.Loss)
	}
	if r := m.recent(); len(r) > 0 && (s.Median < slices.Min(r) || s.Median > slices.Max(r)) {
		t.Fatalf("Median %d outside the recent samples %v", s.Median, r)
	}
	if got, want := l.Reachable(now), want.Valid && now.Sub(m.lastAt) < m.cfg.DeadAfter; got != want {
		t.Fatalf("Reachable = %v, want %v", got, want)
	}
}

// run decodes records of 23 bytes: a mode byte, a seq, sent, recv (ns) and
// a time step in ms. The mode picks the seq: the next one, a small jump
// either way, an absolute value, or one near LossWindow behind.
func run(t *testing.T, cfg Config, data []byte) {
	l := NewLink(cfg)
	m := &model{cfg: l.Config()}
	var seq uint32
	now := t0
	for len(data) >= 23 {
		mode, arg := data[0], binary.LittleEndian.Uint32(data[1:])
		sent := int64(binary.LittleEndian.Uint64(data[5:]))
		recv := int64(binary.LittleEndian.Uint64(data[13:]))
		dt := time.Duration(int16(binary.LittleEndian.Uint16(data[21:]))) * time.Millisecond
		data = data[23:]
		switch mode % 8 {
		case 0, 1, 2:
			seq++
		case 3, 4:
			seq += uint32(int8(arg))
		case 5:
			seq = arg
		case 6:
			seq = m.top - uint32(m.cfg.LossWindow) + uint32(int8(arg)%3)
		case 7:
			if mode&0x80 != 0 {
				l.Reset()
				m = &model{cfg: l.Config()}
			}
			now = now.Add(dt)
			m.check(t, l, now)
			continue
		}
		now = now.Add(dt)
		l.Sample(seq, sent, recv, now)
		m.sample(seq, sent, recv, now)
		m.check(t, l, now)
	}
}

type rec struct {
	mode       byte
	arg        uint32
	sent, recv int64
	dtMs       int16
}

func encode(rs ...rec) []byte {
	var b []byte
	for _, r := range rs {
		b = append(b, r.mode)
		b = binary.LittleEndian.AppendUint32(b, r.arg)
		b = binary.LittleEndian.AppendUint64(b, uint64(r.sent))
		b = binary.LittleEndian.AppendUint64(b, uint64(r.recv))
		b = binary.LittleEndian.AppendUint16(b, uint16(r.dtMs))
	}
	return b
}

func randRecords(rng *rand.Rand, n int) []byte {
	rs := make([]rec, n)
	base := rng.Int64N(2e18)
	for i := range rs {
		r := rec{mode: byte(rng.IntN(256)), arg: rng.Uint32(), dtMs: int16(rng.IntN(1500))}
		if rng.IntN(4) != 0 {
			r.mode &^= 7 // mostly in order
		}
		r.sent = base + int64(i)*1e9
		r.recv = r.sent + rng.Int64N(200*ms) - 100*ms
		if rng.IntN(50) == 0 {
			r.sent, r.recv = int64(rng.Uint64()), int64(rng.Uint64())
		}
		rs[i] = r
	}
	return encode(rs...)
}

// TestAgainstModel runs long random sequences through Link and the model.
func TestAgainstModel(t *testing.T) {
	seeds := 300
	if testing.Short() {
		seeds = 50
	}
	for seed := range uint64(seeds) {
		rng := rand.New(rand.NewPCG(seed, 7))
		cfg := Config{
			Window:     1 + rng.IntN(MaxWindow+2),
			Tolerance:  time.Duration(rng.Int64N(10*ms)) - time.Millisecond,
			DeadAfter:  time.Duration(1+rng.IntN(3)) * time.Second,
			LossWindow: []int{1, 2, 3, 8, 64, 100, 1023, 1024}[rng.IntN(8)],
		}
		run(t, cfg, randRecords(rng, 400))
	}
}

func FuzzSample(f *testing.F) {
	f.Add(uint8(5), uint16(64), int16(2), encode(
		rec{0, 0, 0, 20e6, 100}, rec{0, 0, 1e9, 1e9 + 21e6, 100}, rec{3, 3, 2e9, 2e9 + 19e6, 100},
		rec{3, 0xff, 3e9, 3e9 + 90e6, 100}, rec{0, 0, 4e9, 4e9 - 5e6, 4000}, rec{7, 0, 0, 0, 3000},
	))
	f.Add(uint8(4), uint16(8), int16(0), encode(
		rec{5, 1000, 0, 5, 1}, rec{6, 0, 0, 5, 1}, rec{6, 1, 0, 5, 1}, rec{5, 1, 0, 5, 1},
		rec{5, 0xffffffff, 0, 5, 1}, rec{0, 0, 0, 5, 1}, rec{0x87, 0, 0, 0, 1}, rec{0, 0, 0, 5, 1},
	))
	f.Add(uint8(2), uint16(1), int16(-1), encode(
		rec{0, 0, math.MaxInt64, math.MinInt64, -5}, rec{0, 0, math.MinInt64, math.MaxInt64, 0},
		rec{4, 0xfe, 0, 0, 0}, rec{4, 0x01, -1, 1, 0},
	))
	f.Add(uint8(63), uint16(1024), int16(100), randRecords(rand.New(rand.NewPCG(1, 1)), 100))
	f.Fuzz(func(t *testing.T, window uint8, lossWindow uint16, tolMs int16, data []byte) {
		cfg := Config{
			Window:     int(window),
			Tolerance:  time.Duration(tolMs) * time.Millisecond,
			DeadAfter:  2 * time.Second,
			LossWindow: int(lossWindow),
		}
		run(t, cfg, data)
	})
}

func BenchmarkSample(b *testing.B) {
	for _, w := range []int{5, MaxWindow} {
		b.Run(fmt.Sprint("window", w), func(b *testing.B) {
			l := NewLink(Config{Window: w})
			var seq uint32
			b.ReportAllocs()
			for b.Loop() {
				seq++
				l.Sample(seq, 1e18, 1e18+int64(seq%17)*ms, t0)
			}
		})
	}
}
