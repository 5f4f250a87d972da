// SPDX-License-Identifier: Apache-2.0

package route

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

const ms = int64(time.Millisecond)

// randGraph returns n distinct random ids and random true delays in
// 0..100 ms. With coarse set, delays are multiples of 10 ms (some zero), so
// equal-cost paths and zero-cost cycles are common and the tie-breaking is
// exercised.
func randGraph(rng *rand.Rand, n int, coarse bool) ([]uint16, []Edge) {
	ids := make([]uint16, 0, n)
	for len(ids) < n {
		id := uint16(rng.IntN(1 << 16))
		if rng.IntN(2) == 0 {
			id = uint16(rng.IntN(16)) // small ids too, 0 included
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	density := rng.Float64()
	var edges []Edge
	for _, u := range ids {
		for _, v := range ids {
			if u == v || rng.Float64() > density {
				continue
			}
			c := rng.Int64N(100*ms + 1)
			if coarse {
				c = rng.Int64N(11) * 10 * ms
			}
			edges = append(edges, Edge{From: u, To: v, Cost: c})
		}
	}
	return ids, edges
}

type best struct {
	cost  int64
	hops  int
	first uint16
	ok    bool
}

// better orders paths by cost, then hops, then first hop id: the
// documented tie-breaking.
func (b best) better(c best) bool {
	if !c.ok {
		return true
	}
	if b.cost != c.cost {
		return b.cost < c.cost
	}
	if b.hops != c.hops {
		return b.hops < c.hops
	}
	return b.first < c.first
}

// bruteForce enumerates every simple path and returns the best by
// (cost, hops, first hop) for every ordered pair.
func bruteForce(ids []uint16, edges []Edge, hopCost int64) map[[2]uint16]best {
	w := map[[2]uint16]int64{}
	for _, e := range edges {
		if e.From == e.To {
			continue
		}
		k := [2]uint16{e.From, e.To}
		if c, ok := w[k]; !ok || e.Cost+hopCost < c {
			w[k] = e.Cost + hopCost
		}
	}
	res := map[[2]uint16]best{}
	var path []uint16
	var walk func(cost int64)
	walk = func(cost int64) {
		s, cur := path[0], path[len(path)-1]
		if len(path) > 1 {
			b := best{cost: cost, hops: len(path) - 1, first: path[1], ok: true}
			if k := [2]uint16{s, cur}; b.better(res[k]) {
				res[k] = b
			}
		}
		for _, next := range ids {
			c, ok := w[[2]uint16{cur, next}]
			if !ok || slices.Contains(path, next) {
				continue
			}
			path = append(path, next)
			walk(cost + c)
			path = path[:len(path)-1]
		}
	}
	for _, s := range ids {
		path = append(path[:0], s)
		walk(0)
	}
	return res
}

func edgeCost(edges []Edge, hopCost int64) map[[2]uint16]int64 {
	w := map[[2]uint16]int64{}
	for _, e := range edges {
		k := [2]uint16{e.From, e.To}
		if c, ok := w[k]; e.From != e.To && (!ok || e.Cost+hopCost < c) {
			w[k] = e.Cost + hopCost
		}
	}
	return w
}

// checkWalk follows Next from s to t and checks that it is loop-free, takes
// Hops steps over existing edges, costs Dist, and matches Path.
func checkWalk(t *testing.T, tab *Table, w map[[2]uint16]int64, s, d uint16) {
	t.Helper()
	want, _ := tab.Dist(s, d)
	seen := map[uint16]bool{s: true}
	path := []uint16{s}
	var cost int64
	for cur := s; cur != d; {
		next, ok := tab.Next(cur, d)
		if !ok {
			t.Fatalf("%d->%d: Next(%d) not ok on a reachable pair", s, d, cur)
		}
		c, ok := w[[2]uint16{cur, next}]
		if !ok {
			t.Fatalf("%d->%d: Next(%d)=%d is not an edge", s, d, cur, next)
		}
		if seen[next] {
			t.Fatalf("%d->%d: loop at %d, path %v", s, d, next, path)
		}
		seen[next] = true
		cost += c
		path = append(path, next)
		cur = next
	}
	if cost != want {
		t.Fatalf("%d->%d: following Next costs %d, Dist %d", s, d, cost, want)
	}
	if len(path)-1 != tab.Hops(s, d) {
		t.Fatalf("%d->%d: following Next takes %d hops, Hops %d", s, d, len(path)-1, tab.Hops(s, d))
	}
	if got := tab.Path(s, d); !slices.Equal(got, path) {
		t.Fatalf("%d->%d: Path %v, following Next %v", s, d, got, path)
	}
}

func TestSolveBruteForce(t *testing.T) {
	for seed := range uint64(600) {
		rng := rand.New(rand.NewPCG(seed, 1))
		n := 2 + rng.IntN(6)
		ids, edges := randGraph(rng, n, seed%2 == 1)
		var hopCost int64
		if seed%3 == 0 {
			hopCost = rng.Int64N(20 * ms)
		}
		tab, err := Solve(ids, edges, hopCost)
		if err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
		ref := bruteForce(ids, edges, hopCost)
		w := edgeCost(edges, hopCost)
		for _, s := range ids {
			for _, d := range ids {
				if s == d {
					if v, ok := tab.Next(s, d); !ok || v != d || tab.Hops(s, d) != 0 {
						t.Fatalf("seed %d: self %d: Next %d %v Hops %d", seed, s, v, ok, tab.Hops(s, d))
					}
					if c, ok := tab.Dist(s, d); !ok || c != 0 {
						t.Fatalf("seed %d: self %d: Dist %d %v", seed, s, c, ok)
					}
					continue
				}
				b := ref[[2]uint16{s, d}]
				dist, okD := tab.Dist(s, d)
				via, okN := tab.Next(s, d)
				if okD != b.ok || okN != b.ok {
					t.Fatalf("seed %d: %d->%d reachable: Dist %v Next %v, brute force %v", seed, s, d, okD, okN, b.ok)
				}
				if !b.ok {
					continue
				}
				if dist != b.cost || tab.Hops(s, d) != b.hops || via != b.first {
					t.Fatalf("seed %d: %d->%d: got cost %d hops %d via %d, brute force %d %d %d",
						seed, s, d, dist, tab.Hops(s, d), via, b.cost, b.hops, b.first)
				}
				checkWalk(t, tab, w, s, d)
			}
		}
	}
}

// TestSolveZeroCycles: all edges cost 0, so every pair of nodes lies on a
// zero-cost cycle; Next must still be loop-free and take the fewest hops.
func TestSolveZeroCycles(t *testing.T) {
	ids := []uint16{5, 1, 4, 2, 3}
	var edges []Edge
	for i, u := range ids { // a ring 5->1->4->2->3->5 and its reverse
		v := ids[(i+1)%len(ids)]
		edges = append(edges, Edge{u, v, 0}, Edge{v, u, 0})
	}
	tab, err := Solve(ids, edges, 0)
	if err != nil {
		t.Fatal(err)
	}
	w := edgeCost(edges, 0)
	for _, s := range ids {
		for _, d := range ids {
			if s != d {
				checkWalk(t, tab, w, s, d)
				if h := tab.Hops(s, d); h > 2 {
					t.Errorf("%d->%d: %d hops on a 5-ring", s, d, h)
				}
			}
		}
	}
}

// withOffsets returns the edges as measured by clocks with offsets theta:
// m(u,v) = d(u,v) + θv - θu.
func withOffsets(edges []Edge, theta map[uint16]int64) []Edge {
	m := make([]Edge, len(edges))
	for i, e := range edges {
		m[i] = Edge{e.From, e.To, e.Cost + theta[e.To] - theta[e.From]}
	}
	return m
}

func TestSolveClockOffsets(t *testing.T) {
	negative := 0
	for seed := range uint64(400) {
		rng := rand.New(rand.NewPCG(seed, 2))
		n := 2 + rng.IntN(30)
		ids, edges := randGraph(rng, n, seed%2 == 1)
		theta := map[uint16]int64{}
		for _, id := range ids {
			theta[id] = rng.Int64N(20*int64(time.Second)+1) - 10*int64(time.Second)
		}
		measured := withOffsets(edges, theta)
		for _, e := range measured {
			if e.Cost < 0 {
				negative++
			}
		}
		for _, hopCost := range []int64{0, 1, 5 * ms} {
			truth, err := Solve(ids, edges, hopCost)
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			got, err := Solve(ids, measured, hopCost)
			if err != nil {
				t.Fatalf("seed %d hop %d: offsets: %v", seed, hopCost, err)
			}
			if !got.SameNextHops(truth) {
				t.Errorf("seed %d hop %d: next hops differ with clock offsets", seed, hopCost)
			}
			for _, s := range ids {
				for _, d := range ids {
					v1, ok1 := truth.Next(s, d)
					v2, ok2 := got.Next(s, d)
					if v1 != v2 || ok1 != ok2 || truth.Hops(s, d) != got.Hops(s, d) {
						t.Fatalf("seed %d hop %d: %d->%d: Next %d,%v / %d,%v Hops %d / %d",
							seed, hopCost, s, d, v1, ok1, v2, ok2, truth.Hops(s, d), got.Hops(s, d))
					}
					c1, _ := truth.Dist(s, d)
					c2, _ := got.Dist(s, d)
					if ok1 && c2-c1 != theta[d]-theta[s] {
						t.Fatalf("seed %d: %d->%d: Dist %d with offsets, %d without, want difference θt-θs = %d",
							seed, s, d, c2, c1, theta[d]-theta[s])
					}
				}
			}
		}
	}
	if negative < 1000 {
		t.Fatalf("only %d negative measured edges: the offsets are not exercising negative edges", negative)
	}
}

func TestSolveNegativeCycle(t *testing.T) {
	tests := []struct {
		name    string
		edges   []Edge
		hopCost int64
		cycle   []uint16 // the nodes of the only negative cycle
	}{
		{"two nodes", []Edge{{1, 2, 5}, {2, 1, -10}}, 0, []uint16{1, 2}},
		{"hop cost too small", []Edge{{1, 2, 5}, {2, 1, -12}}, 3, []uint16{1, 2}},
		{"three nodes", []Edge{{1, 2, 10 * ms}, {2, 3, -3 * ms}, {3, 1, -8 * ms}}, 0, []uint16{1, 2, 3}},
		{"unreachable from the rest", []Edge{{1, 2, 1}, {3, 4, -1}, {4, 3, 0}}, 0, []uint16{3, 4}},
		{"offsets plus one bad report", append(withOffsets([]Edge{{1, 2, 10}, {2, 3, 10}, {3, 4, 10}, {4, 1, 10}},
			map[uint16]int64{1: 7e9, 2: -3e9, 3: 0, 4: 1e9}), Edge{3, 1, -7e9 - 1}), 0, []uint16{1, 2, 3}},
		{"behind a positive detour", []Edge{{1, 2, 50}, {2, 1, 50}, {2, 3, 7}, {3, 4, 3}, {4, 2, -11}}, 0, []uint16{2, 3, 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Solve([]uint16{1, 2, 3, 4}, tc.edges, tc.hopCost)
			if !errors.Is(err, ErrNegativeCycle) {
				t.Fatalf("err = %v, want ErrNegativeCycle", err)
			}
			var a, b uint16
			if _, e := fmt.Sscanf(strings.TrimPrefix(err.Error(), ErrNegativeCycle.Error()), " through nodes %d and %d", &a, &b); e != nil {
				t.Fatalf("error %q names no nodes: %v", err, e)
			}
			if a == b || !slices.Contains(tc.cycle, a) || !slices.Contains(tc.cycle, b) {
				t.Fatalf("error %q names nodes off the cycle %v", err, tc.cycle)
			}
		})
	}
	// The same cycles with enough hop cost are fine.
	if _, err := Solve([]uint16{1, 2}, []Edge{{1, 2, 5}, {2, 1, -10}}, 3); err != nil {
		t.Fatalf("hop cost 3 on a -5 two-cycle: %v", err)
	}
	// A negative self edge is ignored, not a cycle.
	if _, err := Solve([]uint16{1, 2}, []Edge{{1, 1, -10}, {1, 2, 1}}, 0); err != nil {
		t.Fatalf("negative self edge: %v", err)
	}
}

// TestSolveNegativeCycleRandom: Solve fails exactly when some simple cycle
// is negative, and the two nodes it names lie on one negative simple cycle.
func TestSolveNegativeCycleRandom(t *testing.T) {
	failed := 0
	for seed := range uint64(500) {
		rng := rand.New(rand.NewPCG(seed, 5))
		n := 2 + rng.IntN(5)
		ids, edges := randGraph(rng, n, false)
		for i := range edges {
			edges[i].Cost = rng.Int64N(150) - 40
		}
		w := edgeCost(edges, 0)
		// onNegative[{a,b}]: a and b lie on one negative simple cycle.
		onNegative := map[[2]uint16]bool{}
		var path []uint16
		var walk func(cost int64)
		walk = func(cost int64) {
			cur := path[len(path)-1]
			if c, ok := w[[2]uint16{cur, path[0]}]; ok && len(path) > 1 && cost+c < 0 {
				for _, a := range path {
					for _, b := range path {
						onNegative[[2]uint16{a, b}] = true
					}
				}
			}
			for _, next := range ids {
				if c, ok := w[[2]uint16{cur, next}]; ok && !slices.Contains(path, next) {
					path = append(path, next)
					walk(cost + c)
					path = path[:len(path)-1]
				}
			}
		}
		for _, s := range ids {
			path = append(path[:0], s)
			walk(0)
		}
		_, err := Solve(ids, edges, 0)
		if (err != nil) != (len(onNegative) > 0) {
			t.Fatalf("seed %d: Solve error %v, brute force finds a negative cycle: %v", seed, err, len(onNegative) > 0)
		}
		if err == nil {
			continue
		}
		failed++
		var a, b uint16
		if _, e := fmt.Sscanf(strings.TrimPrefix(err.Error(), ErrNegativeCycle.Error()), " through nodes %d and %d", &a, &b); e != nil || !errors.Is(err, ErrNegativeCycle) {
			t.Fatalf("seed %d: error %q", seed, err)
		}
		if a == b || !onNegative[[2]uint16{a, b}] {
			t.Fatalf("seed %d: %q: %d and %d are not on one negative cycle", seed, err, a, b)
		}
	}
	if failed < 50 || failed > 450 {
		t.Fatalf("%d of 500 graphs had a negative cycle: tune the cost range", failed)
	}
}

func TestSolveErrors(t *testing.T) {
	tests := []struct {
		name    string
		nodes   []uint16
		edges   []Edge
		hopCost int64
		want    error
		msg     string
	}{
		{"unknown to", []uint16{1, 2}, []Edge{{1, 2, 1}, {1, 9, 1}}, 0, ErrUnknownNode, "9 in edge 1->9"},
		{"unknown from", []uint16{1, 2}, []Edge{{7, 2, 1}}, 0, ErrUnknownNode, "7 in edge 7->2"},
		{"unknown self edge", []uint16{1, 2}, []Edge{{3, 3, 1}}, 0, ErrUnknownNode, "3->3"},
		{"duplicate node", []uint16{4, 1, 2, 4}, nil, 0, ErrDuplicateNode, "node 4"},
		{"negative hop cost", []uint16{1, 2}, nil, -1, ErrCostRange, "hop cost -1"},
		{"cost too large", []uint16{1, 2}, []Edge{{1, 2, MaxCost(2) + 1}}, 0, ErrCostRange, "1->2"},
		{"cost plus hop too large", []uint16{1, 2}, []Edge{{1, 2, MaxCost(2)}}, 1, ErrCostRange, "1->2"},
		{"cost too small", []uint16{1, 2}, []Edge{{2, 1, -MaxCost(2) - 1}}, 0, ErrCostRange, "2->1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tab, err := Solve(tc.nodes, tc.edges, tc.hopCost)
			if !errors.Is(err, tc.want) || tab != nil {
				t.Fatalf("Solve = %v, %v; want %v", tab, err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q does not mention %q", err, tc.msg)
			}
		})
	}
	// The extremes of the range are accepted and exact.
	lim := MaxCost(3)
	tab, err := Solve([]uint16{1, 2, 3}, []Edge{{1, 2, lim}, {2, 3, lim}, {3, 1, -lim}, {2, 1, -lim}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := tab.Dist(1, 3); c != 2*lim {
		t.Fatalf("Dist(1,3) = %d, want %d", c, 2*lim)
	}
}

func TestSolveDuplicateEdges(t *testing.T) {
	tab, err := Solve([]uint16{1, 2}, []Edge{{1, 2, 30}, {1, 2, 10}, {1, 2, 20}}, 5)
	if err != nil {
		t.Fatal(err)
	}
	if c, ok := tab.Dist(1, 2); !ok || c != 15 {
		t.Fatalf("Dist(1,2) = %d, %v; want the lowest edge plus hop cost, 15", c, ok)
	}
}

func TestSolveDeterministic(t *testing.T) {
	for seed := range uint64(100) {
		rng := rand.New(rand.NewPCG(seed, 3))
		ids, edges := randGraph(rng, 2+rng.IntN(20), true)
		// Duplicate some edges with higher costs.
		for _, e := range edges[:len(edges)/3] {
			edges = append(edges, Edge{e.From, e.To, e.Cost + rng.Int64N(10*ms)})
		}
		want, err := Solve(ids, edges, ms)
		if err != nil {
			t.Fatal(err)
		}
		for range 5 {
			ids2, edges2 := slices.Clone(ids), slices.Clone(edges)
			rng.Shuffle(len(ids2), func(i, j int) { ids2[i], ids2[j] = ids2[j], ids2[i] })
			rng.Shuffle(len(edges2), func(i, j int) { edges2[i], edges2[j] = edges2[j], edges2[i] })
			got, err := Solve(ids2, edges2, ms)
			if err != nil {
				t.Fatal(err)
			}
			if !got.SameNextHops(want) || !slices.Equal(got.dist, want.dist) {
				t.Fatalf("seed %d: shuffled input gives a different table", seed)
			}
			for _, s := range ids {
				if !slices.Equal(got.Row(s), want.Row(s)) {
					t.Fatalf("seed %d: Row(%d) differs", seed, s)
				}
			}
		}
	}
}

func TestSolveUnreachable(t *testing.T) {
	tab, err := Solve([]uint16{3, 1, 2}, []Edge{{1, 2, 7}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := tab.Nodes(); !slices.Equal(got, []uint16{1, 2, 3}) {
		t.Fatalf("Nodes = %v", got)
	}
	for _, p := range [][2]uint16{{1, 3}, {2, 1}, {3, 1}, {1, 99}, {99, 1}, {99, 99}} {
		if v, ok := tab.Next(p[0], p[1]); ok {
			t.Errorf("Next(%d,%d) = %d, true; want unreachable", p[0], p[1], v)
		}
		if _, ok := tab.Dist(p[0], p[1]); ok {
			t.Errorf("Dist(%d,%d) ok", p[0], p[1])
		}
		if h := tab.Hops(p[0], p[1]); h != -1 {
			t.Errorf("Hops(%d,%d) = %d, want -1", p[0], p[1], h)
		}
		if path := tab.Path(p[0], p[1]); path != nil {
			t.Errorf("Path(%d,%d) = %v, want nil", p[0], p[1], path)
		}
	}
	if v, ok := tab.Next(3, 3); !ok || v != 3 {
		t.Errorf("Next(3,3) = %d, %v; want 3, true", v, ok)
	}
	want := []Entry{
		{To: 2, Via: 2, Cost: 7, Hops: 1, Reachable: true},
		{To: 3, Hops: -1},
	}
	if got := tab.Row(1); !slices.Equal(got, want) {
		t.Fatalf("Row(1) = %+v, want %+v", got, want)
	}
	if got := tab.Row(99); got != nil {
		t.Fatalf("Row(99) = %+v, want nil", got)
	}
	if got := tab.Path(1, 2); !slices.Equal(got, []uint16{1, 2}) {
		t.Fatalf("Path(1,2) = %v", got)
	}
}

func TestSolveEmpty(t *testing.T) {
	tab, err := Solve(nil, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Nodes()) != 0 || tab.Row(1) != nil {
		t.Fatal("empty table not empty")
	}
}

func BenchmarkSolve(b *testing.B) {
	for _, n := range []int{16, 64, 256} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(uint64(n), 4))
			ids := make([]uint16, n)
			theta := map[uint16]int64{}
			for i := range ids {
				ids[i] = uint16(i + 1)
				theta[ids[i]] = rng.Int64N(20e9) - 10e9
			}
			var edges []Edge
			for _, u := range ids {
				for _, v := range ids {
					if u != v && rng.IntN(4) != 0 { // 75% of all links measured
						edges = append(edges, Edge{u, v, rng.Int64N(100*ms) + theta[v] - theta[u]})
					}
				}
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Solve(ids, edges, ms); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
