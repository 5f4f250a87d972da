// SPDX-License-Identifier: Apache-2.0

package suite

import (
	"context"
	"fmt"
	"math"
)

// MaxLoss is the loss below which a rate counts as delivered: 0.1 %.
const MaxLoss = 0.001

// Trial is one fixed-rate (or unpaced) UDP run through the tunnel.
type Trial struct {
	Offered   float64 // requested frames/s; 0 = unpaced (as fast as the generator can)
	SentPPS   float64 // what the generator actually sent, frames/s
	Delivered float64 // frames/s that arrived (duplicates not counted), over the longer of the sending and the arriving
	Loss      float64 // fraction of the sent frames that did not arrive
	// Lagged is set when the frames kept arriving well after the
	// generator stopped: the tunnel queued them rather than keeping up
	// (deep socket buffers or rings hide an overload in a short trial).
	Lagged bool
}

// Passed reports whether the tunnel carried the trial's rate: less than
// MaxLoss lost, and no backlog.
func (t Trial) Passed() bool { return t.Loss < MaxLoss && !t.Lagged }

func (t Trial) String() string {
	off := "unpaced"
	if t.Offered > 0 {
		off = fmt.Sprintf("%.0f/s", t.Offered)
	}
	lag := ""
	if t.Lagged {
		lag = " (lagged)"
	}
	return fmt.Sprintf("offered %s sent %.0f/s delivered %.0f/s loss %.3f%%%s", off, t.SentPPS, t.Delivered, 100*t.Loss, lag)
}

// Probe runs one trial at rate frames/s (0 = unpaced).
type Probe func(ctx context.Context, rate float64) (Trial, error)

// SearchResult is the outcome of a rate search.
type SearchResult struct {
	// PPS is the delivered rate of the fastest trial with loss below
	// MaxLoss and no backlog, 0 if none had.
	PPS float64
	// GeneratorBound is set when even the unpaced blast passed, or when
	// the best trial's generator fell short of the offered rate and no
	// trial failed at a sent rate within 10 % above: PPS is then the
	// generator's limit, a lower bound of the tunnel's.
	GeneratorBound bool
	Trials         []Trial
}

// Search finds the highest rate delivered with less than MaxLoss. One
// unpaced blast gives the upper bound (the generator's own rate); then
// steps paced trials narrow the range between the fastest rate that passed
// (lo) and the slowest that failed (hi). After a failure the next rate is
// just below what got through, which is where a tunnel that saturates
// starts losing, if that failure fell more than 10 % short or something
// has passed already, and not twice in a row. If the blast lost more than
// 90 % the tunnel was starved of CPU by the generator rather than
// saturated, and the search starts at the geometric middle between what
// got through and the top. Otherwise it steps down by 8 to 25 % while
// nothing has passed (less when the last failure came close), and bisects
// (geometrically: the generator can be many times faster than a tunnel)
// once something has. A failed rate the generator did not reach counts as
// what it sent. If nothing has passed after steps trials, up to
// max(2, steps/2) more go on down. Progress, if not nil, is called before
// each trial with its number (0 = the blast).
func Search(ctx context.Context, probe Probe, steps int, progress func(step int)) (SearchResult, error) {
	var res SearchResult
	try := func(step int, rate float64) (Trial, error) {
		if progress != nil {
			progress(step)
		}
		t, err := probe(ctx, rate)
		if err != nil {
			return t, err
		}
		res.Trials = append(res.Trials, t)
		return t, nil
	}
	blast, err := try(0, 0)
	if err != nil {
		return res, err
	}
	if blast.Passed() {
		res.PPS, res.GeneratorBound = blast.Delivered, true
		return res, nil
	}
	lo, hi := 0.0, blast.SentPPS
	last := &blast  // the previous trial if it failed, else nil
	hinted := false // the previous rate was a hint
	var best Trial
	// While nothing has passed, up to extra more trials go on down.
	extra := max(2, steps/2)
	for i := 1; (i <= steps || (lo == 0 && i <= steps+extra)) && hi > lo*1.01; i++ {
		var hint, deficit float64
		if last != nil && last.SentPPS > 0 {
			hint = 0.97 * last.Delivered
			deficit = 1 - last.Delivered/last.SentPPS
		}
		var rate float64
		switch {
		case i == 1 && blast.Loss > 0.9 && hint > 0:
			// The blast starved the tunnel (the generator took the
			// CPU): what got through is a poor guess, likely far
			// below what passes. Start between it and the top.
			rate = mid(hint, hi)
		case !hinted && hint > lo*1.05 && hint < hi && (deficit > 0.1 || lo > 0):
			// Just below what got through.
			rate, hinted = hint, true
		case lo == 0:
			// Nothing passed yet: step down by 8 to 25 %, less the
			// closer the last failure came to passing.
			rate, hinted = hi*(1-min(0.25, max(0.08, 2*deficit+0.05))), false
		default:
			rate, hinted = mid(lo, hi), false
		}
		if rate < 1 {
			break
		}
		t, err := try(i, rate)
		if err != nil {
			return res, err
		}
		if t.Passed() {
			// Rate passed, also when the paced generator fell short
			// of it: the search then goes on offering more.
			lo = max(lo, rate)
			if t.Delivered > res.PPS {
				res.PPS, best = t.Delivered, t
			}
			last = nil
		} else {
			hi = max(lo, min(rate, t.SentPPS))
			last = &t
		}
	}
	// The best trial fell short of its offered rate and nothing failed
	// near it: the generator, not the tunnel, set the limit.
	if res.PPS > 0 && best.SentPPS < 0.95*best.Offered {
		res.GeneratorBound = true
		for _, t := range res.Trials {
			if !t.Passed() && t.SentPPS < 1.1*res.PPS {
				res.GeneratorBound = false
			}
		}
	}
	return res, nil
}

// mid is the next rate between a passing lo (0: none yet) and a failing hi.
func mid(lo, hi float64) float64 {
	if lo <= 0 {
		return hi / 2
	}
	return math.Sqrt(lo * hi)
}
