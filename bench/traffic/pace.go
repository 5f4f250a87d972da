// SPDX-License-Identifier: Apache-2.0

package traffic

import (
	"context"
	"math/bits"
	"runtime"
	"time"
)

// The pacer spreads a run of datagrams over time at a fixed rate. It wakes
// up once per quantum (paceQuantum's worth of datagrams, 1 to a batch),
// not per datagram, and sends what is due in sendmmsg batches of at most
// batchSize. The schedule is absolute (datagram i is due at
// start + i/rate), so a late wake-up is caught up, but gently: a wake-up
// sends its quantum plus at most one batch of what it owes, and the next
// one comes a quantum later, so the catch-up never bursts more than one
// batch beyond the rate. What it owes is capped at maxLag's worth: past
// that (a long stall, or a rate the sender cannot reach) the schedule gives
// the rest up, and the achieved rate falls below the offered one. The run
// ends when the schedule is done, or at the latest maxLag after its
// nominal end.
//
//	due(t)  = min(floor((t - start) * rate), total) - skipped - issued
//	wake-up: send min(due, quantum + batch), in batches; sleep a quantum
//	caught up: sleep until due reaches quantum
const (
	paceQuantum = 500 * time.Microsecond
	maxLag      = 50 * time.Millisecond
)

type pacer struct {
	rate      uint64 // datagrams per second, > 0
	start     time.Time
	total     uint64 // datagrams in the run
	skipped   uint64 // datagrams given up by the schedule
	quantum   uint64 // datagrams per wake-up
	period    time.Duration
	maxDebt   uint64
	budget    uint64    // left to send in this wake-up
	notBefore time.Time // the next wake-up
	deadline  time.Time // the latest end
}

func newPacer(rate uint64, d time.Duration, start time.Time) *pacer {
	p := &pacer{rate: rate, start: start, total: 1<<64 - 1, deadline: start.Add(min(d, 1<<62) + maxLag)}
	if hi, lo := bits.Mul64(rate, uint64(max(d, 0))); hi < 1e9 {
		p.total, _ = bits.Div64(hi, lo, 1e9)
	}
	p.quantum = min(max(p.count(paceQuantum), 1), batchSize)
	p.period = p.at(p.quantum)
	p.maxDebt = max(p.count(maxLag), 4*batchSize)
	return p
}

// count is the number of datagrams in d at the rate, rounded down.
func (p *pacer) count(d time.Duration) uint64 {
	hi, lo := bits.Mul64(p.rate, uint64(d))
	if hi >= 1e9 {
		return 1<<64 - 1
	}
	q, _ := bits.Div64(hi, lo, 1e9)
	return q
}

// next returns how many datagrams to send at now (at most a batch), given
// the issued ones so far; or 0 and the time to wake up; or done when the
// run is complete.
func (p *pacer) next(now time.Time, issued uint64) (n int, wake time.Time, done bool) {
	left := p.total - min(p.total, issued+p.skipped)
	if left == 0 || !now.Before(p.deadline) {
		return 0, time.Time{}, true
	}
	if p.budget == 0 {
		if now.Before(p.notBefore) {
			return 0, p.notBefore, false
		}
		target := min(p.count(max(now.Sub(p.start), 0)), p.total)
		due := int64(target - p.skipped - issued) // negative: ahead of time
		if due > int64(p.maxDebt) {
			p.skipped += uint64(due) - p.maxDebt
			due = int64(p.maxDebt)
			left = p.total - min(p.total, issued+p.skipped)
		}
		want := min(p.quantum, left)
		if due < int64(want) {
			return 0, p.start.Add(p.at(issued + p.skipped + want)), false
		}
		// The quantum and at most a batch of what is owed.
		p.budget = min(uint64(due), want+batchSize)
		p.notBefore = now.Add(p.period)
	}
	n = int(min(p.budget, batchSize, left))
	p.budget -= uint64(n)
	return n, time.Time{}, false
}

// at is the time from start at which datagram count i becomes due,
// rounded up.
func (p *pacer) at(i uint64) time.Duration {
	hi, lo := bits.Mul64(i, 1e9)
	if hi >= p.rate {
		return 1<<63 - 1
	}
	q, r := bits.Div64(hi, lo, p.rate)
	if r != 0 {
		q++
	}
	return time.Duration(min(q, 1<<63-1))
}

// sleeper waits until a point in time with a precision finer than the Go
// timer's (which rounds short sleeps up to about a millisecond): long waits
// on a timer, abandoned when ctx is done, the last few milliseconds in
// nanosleep(2) on a thread with the smallest timer slack, and waits shorter
// than a nanosleep's wake-up (above a million datagrams per second) by
// yielding in a loop.
type sleeper struct {
	ctx   context.Context
	timer *time.Timer
}

func newSleeper(ctx context.Context) *sleeper {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &sleeper{ctx: ctx, timer: t}
}

const (
	// coarse is how long before the deadline a timer wait ends, to let
	// the fine sleep finish it.
	coarse = 3 * time.Millisecond
	// spin is the longest wait spent yielding instead of sleeping.
	spin = 30 * time.Microsecond
)

func (s *sleeper) until(t time.Time) {
	d := time.Until(t)
	if d <= 0 {
		return
	}
	if d > 2*coarse {
		s.timer.Reset(d - coarse)
		select {
		case <-s.timer.C:
		case <-s.ctx.Done():
			s.timer.Stop()
			return
		}
		if d = time.Until(t); d <= 0 {
			return
		}
	}
	if d > spin {
		fineSleep(d)
		return
	}
	for time.Now().Before(t) {
		runtime.Gosched()
	}
}
