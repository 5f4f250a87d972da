// SPDX-License-Identifier: Apache-2.0

// Package probe estimates the one-way delay and loss of one directed link
// u->v at the receiver v, from u's sequence-numbered, timestamped probes.
//
// The delay of a probe is recv - sent: v's receive clock minus u's send
// clock. With unsynchronised clocks it contains the offset θv - θu and may
// be negative; package route shows why that offset does not change best
// paths. A Link keeps:
//
//   - a median over the last Window delays, which ignores single outliers
//     (a queueing spike, a retransmitted probe);
//   - Reported, the value v publishes as the edge cost: the first sample
//     sets it, and it moves to the median only when the median is more than
//     Tolerance away. This is the hysteresis of the routing system: jitter
//     within Tolerance never changes any input of route.Solve, so routes do
//     not flap, and every node solves the same published values;
//   - loss over the last LossWindow sequence numbers, from a bitmap;
//   - reachability: a sample within DeadAfter.
//
// Sequence numbers: a seq above the highest seen advances the window (the
// skipped ones count as lost until they arrive late); one inside the window
// fills its gap, or is a duplicate if already seen; one exactly LossWindow
// behind has no slot left and is ignored as late; one further behind is the
// sender restarting its count (at 1): the loss state restarts from it and
// its delay is used. Only accepted samples (not duplicates or late ones)
// update the delay and reachability.
//
// A Link is pure, driven by its owner: no goroutines, no clock reads (time
// is passed in), no allocation per Sample. It is not safe for concurrent
// use.
package probe

import (
	"math"
	"time"
)

// Limits and defaults of Config.
const (
	MaxWindow         = 63
	MaxLossWindow     = 1024
	DefaultWindow     = 5
	DefaultTolerance  = 2 * time.Millisecond
	DefaultDeadAfter  = 3 * time.Second
	DefaultLossWindow = 64
)

// Config tunes a Link. Zero fields take the defaults.
type Config struct {
	// Window is the number of recent samples the median filters over:
	// 1..MaxWindow (larger values are clamped), default 5.
	Window int
	// Tolerance is the hysteresis: Reported changes only when the median
	// moves more than this from it. Default 2ms; negative means none
	// (Reported follows the median).
	Tolerance time.Duration
	// DeadAfter: no accepted probe for this long makes the link
	// unreachable. Default 3s.
	DeadAfter time.Duration
	// LossWindow is the number of recent sequence numbers loss is computed
	// over: 1..MaxLossWindow (larger values are clamped), default 64.
	LossWindow int
}

func (c Config) withDefaults() Config {
	switch {
	case c.Window <= 0:
		c.Window = DefaultWindow
	case c.Window > MaxWindow:
		c.Window = MaxWindow
	}
	switch {
	case c.Tolerance == 0:
		c.Tolerance = DefaultTolerance
	case c.Tolerance < 0:
		c.Tolerance = -1
	}
	if c.DeadAfter <= 0 {
		c.DeadAfter = DefaultDeadAfter
	}
	switch {
	case c.LossWindow <= 0:
		c.LossWindow = DefaultLossWindow
	case c.LossWindow > MaxLossWindow:
		c.LossWindow = MaxLossWindow
	}
	return c
}

// Stats is a snapshot of a Link.
type Stats struct {
	Samples    uint64 // accepted probes
	Duplicates uint64 // seq already seen
	Late       uint64 // seq too old for the loss window, ignored
	Reordered  uint64 // accepted, but below the highest seq seen
	Restarts   uint64 // seq jumped back more than LossWindow

	Valid     bool  // at least one sample: the three delays below are set
	LastDelay int64 // ns, recv - sent of the last accepted probe
	Median    int64 // ns
	Reported  int64 // ns

	Loss       float64   // 0..1
	LastSample time.Time // now of the last accepted probe
}

// Link estimates the one-way delay and loss of one directed link at its
// receiver. Create it with NewLink.
type Link struct {
	cfg Config

	// Delays: a ring of the last n (<= Window) samples.
	delays   [MaxWindow]int64
	n, next  int
	median   int64
	reported int64
	last     int64
	lastAt   time.Time

	// Loss: bit seq%MaxLossWindow of seen is set if seq is in the window
	// (top-LossWindow, top] and was received. span is how many seqs of the
	// window are tracked (since the first, capped at LossWindow), got how
	// many of them were received.
	started bool
	top     uint32
	span    uint32
	got     uint32
	seen    [MaxLossWindow / 64]uint64

	samples, duplicates, late, reordered, restarts uint64
}

// NewLink returns a Link with c's defaults filled in.
func NewLink(c Config) *Link {
	return &Link{cfg: c.withDefaults()}
}

// Config returns the effective configuration, defaults filled in.
func (l *Link) Config() Config { return l.cfg }

// Reset forgets everything (peer restarted); the configuration stays.
func (l *Link) Reset() {
	*l = Link{cfg: l.cfg}
}

// Sample records a probe with sender sequence seq, sent at sender wall clock
// sent (ns), received at receiver wall clock recv (ns), at monotonic time
// now. The delay is recv - sent (saturating), negative if the clocks differ
// so. Duplicate and late seqs are counted and otherwise ignored; a jump back
// of more than LossWindow is a restart (see the package doc).
func (l *Link) Sample(seq uint32, sent, recv int64, now time.Time) {
	if !l.accept(seq) {
		return
	}
	d := subSat(recv, sent)
	l.samples++
	l.last, l.lastAt = d, now
	l.delays[l.next] = d
	if l.next++; l.next == l.cfg.Window {
		l.next = 0
	}
	l.n = min(l.n+1, l.cfg.Window)
	l.median = median(l.delays[:l.n])
	if l.samples == 1 || moved(l.median, l.reported, l.cfg.Tolerance) {
		l.reported = l.median
	}
}

// accept updates the sequence state and reports whether seq is a new
// sample.
func (l *Link) accept(seq uint32) bool {
	lw := uint32(l.cfg.LossWindow)
	if !l.started {
		l.restart(seq)
		return true
	}
	if seq > l.top {
		delta := seq - l.top
		if delta >= lw {
			clear(l.seen[:])
			l.got = 0
		} else {
			for i := uint32(1); i <= delta; i++ {
				s := l.top + i
				if s >= lw && l.bit(s-lw) { // s-lw leaves the window
					l.got--
				}
				l.seen[s/64%uint32(len(l.seen))] &^= 1 << (s % 64)
			}
		}
		l.top = seq
		l.span = uint32(min(uint64(lw), uint64(l.span)+uint64(delta)))
		l.mark(seq)
		return true
	}
	switch back := l.top - seq; {
	case back > lw:
		l.restarts++
		l.restart(seq)
		return true
	case back == lw:
		l.late++
		return false
	case l.bit(seq):
		l.duplicates++
		return false
	default:
		l.reordered++
		l.span = max(l.span, back+1)
		l.mark(seq)
		return true
	}
}

// restart starts the loss state at seq.
func (l *Link) restart(seq uint32) {
	clear(l.seen[:])
	l.started, l.top, l.span, l.got = true, seq, 1, 0
	l.mark(seq)
}

func (l *Link) bit(seq uint32) bool {
	return l.seen[seq/64%uint32(len(l.seen))]&(1<<(seq%64)) != 0
}

func (l *Link) mark(seq uint32) {
	l.seen[seq/64%uint32(len(l.seen))] |= 1 << (seq % 64)
	l.got++
}

// Median returns the median of the last Window delays in ns (for an even
// count, the floor of the mean of the middle two); ok is false before the
// first sample.
func (l *Link) Median() (ns int64, ok bool) {
	return l.median, l.n > 0
}

// Reported returns the sticky delay in ns: the first sample sets it, and it
// moves to the median only when |median - reported| > Tolerance. ok is false
// before the first sample.
func (l *Link) Reported() (ns int64, ok bool) {
	return l.reported, l.n > 0
}

// Loss returns the fraction of sequence numbers missing in the loss window:
// the last LossWindow seqs up to the highest seen, or fewer since the first
// (or a restart). 0 before the first sample.
func (l *Link) Loss() float64 {
	if l.span == 0 {
		return 0
	}
	return float64(l.span-l.got) / float64(l.span)
}

// Reachable reports whether a sample was accepted less than DeadAfter
// before now.
func (l *Link) Reachable(now time.Time) bool {
	return l.n > 0 && now.Sub(l.lastAt) < l.cfg.DeadAfter
}

// Stats returns a snapshot of the counters and estimates.
func (l *Link) Stats() Stats {
	return Stats{
		Samples:    l.samples,
		Duplicates: l.duplicates,
		Late:       l.late,
		Reordered:  l.reordered,
		Restarts:   l.restarts,
		Valid:      l.n > 0,
		LastDelay:  l.last,
		Median:     l.median,
		Reported:   l.reported,
		Loss:       l.Loss(),
		LastSample: l.lastAt,
	}
}

// subSat returns a - b, saturated to the int64 range.
func subSat(a, b int64) int64 {
	d := a - b
	if (a >= 0) != (b >= 0) && (d >= 0) != (a >= 0) { // overflow
		if a >= 0 {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return d
}

// moved reports whether |m - r| > tol; tol < 0 always moves.
func moved(m, r int64, tol time.Duration) bool {
	if tol < 0 {
		return true
	}
	var diff uint64
	if m >= r {
		diff = uint64(m) - uint64(r)
	} else {
		diff = uint64(r) - uint64(m)
	}
	return diff > uint64(tol)
}

// median returns the median of s (len 1..MaxWindow); for an even count the
// floor of the mean of the middle two, computed without overflow.
func median(s []int64) int64 {
	var buf [MaxWindow]int64
	v := buf[:copy(buf[:], s)]
	for i := 1; i < len(v); i++ { // insertion sort: Window is small
		x := v[i]
		j := i
		for ; j > 0 && v[j-1] > x; j-- {
			v[j] = v[j-1]
		}
		v[j] = x
	}
	mid := len(v) / 2
	if len(v)%2 == 1 {
		return v[mid]
	}
	a, b := v[mid-1], v[mid]
	return a>>1 + b>>1 + a&b&1
}
