// SPDX-License-Identifier: Apache-2.0

package impair

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// decisions returns the first n decisions of a direction seeded with seed.
func decisions(seed uint64, p Params, n int) []decision {
	var src rand.PCG
	src.Seed(seed, streamToTarget)
	p = p.clamped()
	out := make([]decision, n)
	for i := range out {
		out[i] = decide(&src, &p)
	}
	return out
}

var mixed = Params{Drop: 0.1, Delay: 5 * time.Millisecond, Jitter: 10 * time.Millisecond, Reorder: 0.02, Duplicate: 0.05}

func TestDecideDeterministic(t *testing.T) {
	a := decisions(42, mixed, 100_000)
	b := decisions(42, mixed, 100_000)
	if !slices.Equal(a, b) {
		t.Fatal("two runs with seed 42 decided differently")
	}
	if c := decisions(43, mixed, 100_000); slices.Equal(a, c) {
		t.Fatal("seeds 42 and 43 decided the same")
	}
	// The two directions draw from different streams of one seed.
	var from rand.PCG
	from.Seed(42, streamFromTarget)
	p := mixed.clamped()
	same := 0
	for i := range 1000 {
		if decide(&from, &p) == a[i] {
			same++
		}
	}
	if same > 900 {
		t.Errorf("from-target repeats to-target's decisions (%d of 1000 equal)", same)
	}
}

// A higher rate changes the decisions of the same datagrams, never shifts
// the later ones: the drops at 5% are a subset of the drops at 10%.
func TestDecideNested(t *testing.T) {
	low := decisions(7, Params{Drop: 0.05, Duplicate: 0.01}, 50_000)
	high := decisions(7, Params{Drop: 0.10, Duplicate: 0.01}, 50_000)
	for i := range low {
		if low[i].drop && !high[i].drop {
			t.Fatalf("datagram %d dropped at 5%% but not at 10%%", i)
		}
		if !high[i].drop && low[i] != high[i] {
			t.Fatalf("datagram %d kept at both rates, decided differently: %+v, %+v", i, low[i], high[i])
		}
	}
}

// TestDecideRates checks the decision function's rates and delays over a
// million draws, within 5 standard deviations.
func TestDecideRates(t *testing.T) {
	const n = 1_000_000
	p := mixed.clamped()
	ds := decisions(1, mixed, n)
	var drops, dups, reorders, kept int
	var sum float64
	lo, hi := time.Duration(math.MaxInt64), time.Duration(0)
	for _, d := range ds {
		if d.drop {
			if d.dup || d.reorder || d.delay != 0 {
				t.Fatalf("a dropped datagram has other decisions: %+v", d)
			}
			drops++
			continue
		}
		kept++
		if d.dup {
			dups++
		}
		jitter := d.delay - p.Delay
		if d.reorder {
			reorders++
			jitter -= p.ReorderBy
		}
		if jitter < 0 || jitter >= p.Jitter {
			t.Fatalf("delay %v out of bounds (reorder %v)", d.delay, d.reorder)
		}
		lo, hi = min(lo, jitter), max(hi, jitter)
		sum += float64(jitter)
	}
	rate := func(name string, got, of int, want float64) {
		t.Helper()
		r := float64(got) / float64(of)
		sigma := math.Sqrt(want * (1 - want) / float64(of))
		t.Logf("%s: %.5f (want %.5f ± %.5f)", name, r, want, 5*sigma)
		if math.Abs(r-want) > 5*sigma {
			t.Errorf("%s rate %.5f, want %.5f ± %.5f", name, r, want, 5*sigma)
		}
	}
	rate("drop", drops, n, p.Drop)
	rate("dup", dups, kept, p.Duplicate)
	rate("reorder", reorders, kept, p.Reorder)
	// Uniform on [0, Jitter): mean Jitter/2, sd Jitter/sqrt(12).
	mean := time.Duration(sum / float64(kept))
	tol := time.Duration(5 * float64(p.Jitter) / math.Sqrt(12*float64(kept)))
	t.Logf("jitter: mean %v (want %v ± %v), range %v..%v", mean, p.Jitter/2, tol, lo, hi)
	if mean < p.Jitter/2-tol || mean > p.Jitter/2+tol {
		t.Errorf("jitter mean %v, want %v ± %v", mean, p.Jitter/2, tol)
	}
	if lo > p.Jitter/100 || hi < p.Jitter*99/100 {
		t.Errorf("jitter range %v..%v does not span 0..%v", lo, hi, p.Jitter)
	}
}

func TestDecideEdges(t *testing.T) {
	for _, d := range decisions(3, Params{Drop: 1}, 1000) {
		if !d.drop {
			t.Fatal("drop 1 kept a datagram")
		}
	}
	for _, d := range decisions(3, Params{Duplicate: 1, Reorder: 1, ReorderBy: time.Millisecond}, 1000) {
		if d.drop || !d.dup || !d.reorder || d.delay != time.Millisecond {
			t.Fatalf("dup 1 reorder 1: %+v", d)
		}
	}
	for _, d := range decisions(3, Params{}, 1000) {
		if d != (decision{}) {
			t.Fatalf("zero params: %+v", d)
		}
	}
}

func TestQueueOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var q queue
	var want []item
	for i := range 5000 {
		it := item{due: rng.Int64N(100), seq: uint64(i)}
		q.push(it)
		want = append(want, it)
		if rng.IntN(3) == 0 { // interleave pops with pushes
			slices.SortStableFunc(want, func(a, b item) int {
				if a.before(&b) {
					return -1
				}
				if b.before(&a) {
					return 1
				}
				return 0
			})
			if got := q.pop(); got != want[0] {
				t.Fatalf("pop %+v, want %+v", got, want[0])
			}
			want = want[1:]
		}
	}
	var last item
	for i := 0; len(q) > 0; i++ {
		it := q.pop()
		if i > 0 && it.before(&last) {
			t.Fatalf("pop %+v after %+v", it, last)
		}
		last = it
	}
}

func TestParamsValidate(t *testing.T) {
	if err := mixed.Validate(); err != nil {
		t.Errorf("valid params: %v", err)
	}
	bad := Params{Drop: 1.5, Delay: -time.Second, Jitter: 2 * time.Hour, Reorder: math.NaN(), ReorderBy: -1, Duplicate: -0.1}
	err := bad.Validate()
	if err == nil {
		t.Fatal("bad params are valid")
	}
	for _, want := range []string{"drop 1.5", "delay -1s", "jitter 2h0m0s", "reorder NaN", "reorder-by -1ns", "dup -0.1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %q", err, want)
		}
	}
	c := bad.clamped()
	want := Params{Drop: 1, Jitter: MaxDelay}
	if c != want {
		t.Errorf("clamped = %+v, want %+v", c, want)
	}
	if c := (Params{Reorder: 0.1}).clamped(); c.ReorderBy != DefaultReorderBy {
		t.Errorf("reorder-by defaults to %v, want %v", c.ReorderBy, DefaultReorderBy)
	}
	if s := mixed.String(); s != "drop 0.1 delay 5ms jitter 10ms reorder 0.02 reorder-by 0s dup 0.05" {
		t.Errorf("String() = %q", s)
	}
}
