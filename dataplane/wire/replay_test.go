// SPDX-License-Identifier: Apache-2.0

package wire

import (
	"math/rand/v2"
	"testing"
)

// refReplay is the obvious implementation: a set of seen counters and the
// highest one.
type refReplay struct {
	seen map[uint64]bool
	max  uint64
	any  bool
}

func (r *refReplay) accept(c uint64) bool {
	if r.any && c+ReplayWindow < r.max {
		return false
	}
	if r.seen[c] {
		return false
	}
	r.seen[c] = true
	if !r.any || c > r.max {
		r.max = c
	}
	r.any = true
	return true
}

func TestReplayAgainstReference(t *testing.T) {
	for seed := uint64(0); seed < 20; seed++ {
		rng := rand.New(rand.NewPCG(seed, 1))
		var r Replay
		ref := refReplay{seen: map[uint64]bool{}}
		base := uint64(0)
		for i := 0; i < 20000; i++ {
			var c uint64
			switch rng.IntN(10) {
			case 0: // jump far ahead
				base += uint64(rng.IntN(10 * ReplayWindow))
				c = base
			case 1: // old
				c = base - min(base, uint64(rng.IntN(3*ReplayWindow)))
			default: // near the front, reordered
				base += uint64(rng.IntN(3))
				c = base - min(base, uint64(rng.IntN(100)))
			}
			want := ref.accept(c)
			if r.Check(c) != want {
				t.Fatalf("seed %d step %d: Check(%d) = %v, want %v", seed, i, c, !want, want)
			}
			if got := r.Accept(c); got != want {
				t.Fatalf("seed %d step %d: Accept(%d) = %v, want %v", seed, i, c, got, want)
			}
		}
	}
}

func TestReplayEdges(t *testing.T) {
	var r Replay
	if !r.Accept(0) || r.Accept(0) {
		t.Fatal("counter 0 once")
	}
	if !r.Accept(ReplayWindow + 5) {
		t.Fatal("jump")
	}
	if !r.Accept(5) {
		t.Fatal("exactly at window edge must pass")
	}
	if r.Accept(4) {
		t.Fatal("beyond window edge must fail")
	}
	if !r.Accept(1 << 62) {
		t.Fatal("huge jump")
	}
	if r.Accept(ReplayWindow + 5) {
		t.Fatal("old after huge jump")
	}
}
