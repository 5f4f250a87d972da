// SPDX-License-Identifier: Apache-2.0

package impair

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// Params are the impairments of one direction. The zero value forwards
// every datagram at once.
type Params struct {
	Drop      float64       // probability a datagram is dropped, 0..1
	Delay     time.Duration // added to every datagram
	Jitter    time.Duration // plus a uniform random 0..Jitter
	Reorder   float64       // probability a datagram is held back an extra ReorderBy, so later ones overtake it
	ReorderBy time.Duration // default DefaultReorderBy when Reorder > 0 and this is 0
	Duplicate float64       // probability a datagram is sent twice
}

// DefaultReorderBy is how long a reordered datagram is held back when
// Params.ReorderBy is 0.
const DefaultReorderBy = 2 * time.Millisecond

// MaxDelay bounds Delay, Jitter and ReorderBy.
const MaxDelay = time.Hour

// Validate returns every problem of p, joined, or nil.
func (p Params) Validate() error {
	var errs []error
	prob := func(name string, v float64) {
		if !(v >= 0 && v <= 1) { // also catches NaN
			errs = append(errs, fmt.Errorf("%s %v out of range 0..1", name, v))
		}
	}
	dur := func(name string, d time.Duration) {
		if d < 0 || d > MaxDelay {
			errs = append(errs, fmt.Errorf("%s %v out of range 0..%v", name, d, MaxDelay))
		}
	}
	prob("drop", p.Drop)
	dur("delay", p.Delay)
	dur("jitter", p.Jitter)
	prob("reorder", p.Reorder)
	dur("reorder-by", p.ReorderBy)
	prob("dup", p.Duplicate)
	return errors.Join(errs...)
}

// clamped returns p with every value forced into its range (NaN counts as
// 0) and ReorderBy defaulted.
func (p Params) clamped() Params {
	prob := func(v float64) float64 {
		if math.IsNaN(v) || v < 0 {
			return 0
		}
		return min(v, 1)
	}
	dur := func(d time.Duration) time.Duration { return min(max(d, 0), MaxDelay) }
	p.Drop = prob(p.Drop)
	p.Delay = dur(p.Delay)
	p.Jitter = dur(p.Jitter)
	p.Reorder = prob(p.Reorder)
	p.ReorderBy = dur(p.ReorderBy)
	p.Duplicate = prob(p.Duplicate)
	if p.Reorder > 0 && p.ReorderBy == 0 {
		p.ReorderBy = DefaultReorderBy
	}
	return p
}

// String formats p in the words of the command lines that set it, e.g.
// "drop 0.05 delay 80ms jitter 0s reorder 0 reorder-by 0s dup 0".
func (p Params) String() string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	return strings.Join([]string{
		"drop", f(p.Drop), "delay", p.Delay.String(), "jitter", p.Jitter.String(),
		"reorder", f(p.Reorder), "reorder-by", p.ReorderBy.String(), "dup", f(p.Duplicate),
	}, " ")
}

// decision is the fate of one datagram.
type decision struct {
	drop    bool
	dup     bool          // send it twice (both copies at the same due time)
	reorder bool          // delay includes ReorderBy
	delay   time.Duration // Delay + jitter (+ ReorderBy)
}

// decide draws the fate of the next datagram from src with p (clamped).
// It always draws exactly four numbers, in the order drop, duplicate,
// reorder, jitter, so the n-th datagram's draws depend only on the seed
// and n: the same seed and input make the same decisions, and with a
// higher rate the datagrams dropped (or duplicated, or reordered) are a
// superset of those at a lower rate.
func decide(src *rand.PCG, p *Params) decision {
	uDrop, uDup, uReorder, uJitter := unit(src), unit(src), unit(src), unit(src)
	if uDrop < p.Drop {
		return decision{drop: true}
	}
	d := decision{dup: uDup < p.Duplicate, reorder: uReorder < p.Reorder, delay: p.Delay}
	d.delay += time.Duration(uJitter * float64(p.Jitter))
	if d.reorder {
		d.delay += p.ReorderBy
	}
	return d
}

// unit returns a uniform float64 in [0, 1) made of one draw.
func unit(src *rand.PCG) float64 {
	return float64(src.Uint64()>>11) / (1 << 53)
}

// Streams of the two directions' PCGs, so that they draw independent
// numbers from one seed.
const (
	streamToTarget   = 0x746f2d746172676d // "to-targm"
	streamFromTarget = 0x66726f6d2d746172 // "from-tar"
)
