// SPDX-License-Identifier: Apache-2.0

package route

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Edge is a measured one-way cost from From to To in nanoseconds; may be
// negative (clock offsets, see the package doc).
type Edge struct {
	From, To uint16
	Cost     int64
}

// Errors returned by Solve, wrapped with the offending node or edge.
var (
	ErrNegativeCycle = errors.New("route: negative cycle")
	ErrUnknownNode   = errors.New("route: unknown node")
	ErrDuplicateNode = errors.New("route: duplicate node")
	ErrCostRange     = errors.New("route: cost out of range")
)

// inf marks a missing edge or an unreachable pair.
const inf = math.MaxInt64

// MaxCost returns the largest |Edge.Cost + hopCost| and hopCost Solve
// accepts for n nodes: 2^62/n ns (208 days for 256 nodes, 9.7 hours for
// 65536). The bound makes every sum Solve forms exact: a path has at most
// n-1 edges, and Floyd–Warshall adds two path costs.
func MaxCost(n int) int64 {
	return (1 << 62) / int64(max(n, 1))
}

// Table is the result of Solve: next hop, cost and hop count for every
// ordered pair of nodes. It is immutable and safe for concurrent use.
type Table struct {
	ids  []uint16 // sorted; the index of an id is its row and column
	dist []int64  // n*n, [s*n+t]; inf if unreachable
	via  []uint16 // n*n next-hop id; 0 if unreachable
	hops []int32  // n*n; -1 if unreachable
}

// Entry is one destination in a Table row.
type Entry struct {
	To, Via   uint16
	Cost      int64 // includes hop costs; 0 if unreachable
	Hops      int   // -1 if unreachable
	Reachable bool
}

// Solve computes all-pairs shortest paths over nodes (ids, any order,
// duplicates an error) and edges (edges naming unknown nodes are an error
// that names the edge; duplicate edges: keep the lowest cost; self edges
// ignored). hopCost (0..MaxCost) is added to every edge. Deterministic: among
// equal-cost paths the next hop is the one with the fewest hops to the
// destination, then the lowest id, so every node solving the same input gets
// the same table regardless of node or edge order, and following Next is
// loop-free. A negative cycle is an error wrapping ErrNegativeCycle.
func Solve(nodes []uint16, edges []Edge, hopCost int64) (*Table, error) {
	ids := slices.Clone(nodes)
	slices.Sort(ids)
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			return nil, fmt.Errorf("%w %d", ErrDuplicateNode, ids[i])
		}
	}
	n := len(ids)
	limit := MaxCost(n)
	if hopCost < 0 || hopCost > limit {
		return nil, fmt.Errorf("%w: hop cost %d, want 0..%d", ErrCostRange, hopCost, limit)
	}

	// w is the edge cost matrix including hopCost.
	w := make([]int64, n*n)
	for i := range w {
		w[i] = inf
	}
	for _, e := range edges {
		s, okFrom := slices.BinarySearch(ids, e.From)
		t, okTo := slices.BinarySearch(ids, e.To)
		if !okFrom || !okTo {
			unknown := e.To
			if !okFrom {
				unknown = e.From
			}
			return nil, fmt.Errorf("%w %d in edge %d->%d", ErrUnknownNode, unknown, e.From, e.To)
		}
		if s == t {
			continue
		}
		if e.Cost < -limit || e.Cost > limit-hopCost {
			return nil, fmt.Errorf("%w: edge %d->%d cost %d, want %d..%d", ErrCostRange, e.From, e.To, e.Cost, -limit, limit-hopCost)
		}
		w[s*n+t] = min(w[s*n+t], e.Cost+hopCost)
	}

	// Floyd–Warshall on distances only. With |w| <= limit and no negative
	// cycle among the nodes seen so far, every entry is the cost of a simple
	// path, |d| <= (n-1)·limit < 2^62, so dik+dkj cannot overflow. Any
	// negative diagonal entry is a negative cycle: stop at the first one.
	d := slices.Clone(w)
	for i := range n {
		d[i*n+i] = 0
	}
	for k := range n {
		rowK := d[k*n : k*n+n]
		full := !slices.Contains(rowK, inf)
		for i := range n {
			dik := d[i*n+k]
			if dik == inf || i == k {
				continue
			}
			rowI := d[i*n : i*n+n]
			rowI = rowI[:len(rowK)]
			if full { // the common case once k passes a few hubs: no branch
				for j, dkj := range rowK {
					rowI[j] = min(rowI[j], dik+dkj)
				}
			} else {
				for j, dkj := range rowK {
					if dkj != inf && dik+dkj < rowI[j] {
						rowI[j] = dik + dkj
					}
				}
			}
			// The first negative diagonal entry is d(i,k) + d(k,i): two
			// shortest paths that share no node (a shared node would split
			// the walk into two cycles, each >= 0 since no diagonal was
			// negative before), so a simple negative cycle through i and k.
			if rowI[i] < 0 {
				return nil, fmt.Errorf("%w through nodes %d and %d (cost %d)", ErrNegativeCycle, ids[i], ids[k], rowI[i])
			}
		}
	}

	// Next hops: per destination t, a breadth-first search backwards from t
	// over the tight edges s->h (w(s,h) + d(h,t) = d(s,t)), which are exactly
	// the first edges of shortest s->t paths. Nodes are dequeued in order of
	// hops to t; s takes the lowest-id h among the tight neighbours with the
	// fewest hops, so hops(s,t) = hops(via,t) + 1 and Next never loops.
	via := make([]uint16, n*n)
	hops := make([]int32, n*n)
	for i := range hops {
		hops[i] = -1
	}
	// The edges into each node h: inSrc[inStart[h]:inStart[h+1]], ascending
	// source index, with their costs in inCost.
	inStart := make([]int32, n+1)
	m := 0
	for h := range n {
		inStart[h] = int32(m)
		for s := range n {
			if w[s*n+h] != inf {
				m++
			}
		}
	}
	inStart[n] = int32(m)
	inSrc := make([]int32, 0, m)
	inCost := make([]int64, 0, m)
	for h := range n {
		for s := range n {
			if c := w[s*n+h]; c != inf {
				inSrc = append(inSrc, int32(s))
				inCost = append(inCost, c)
			}
		}
	}
	col := make([]int64, n)  // d(·,t)
	hcol := make([]int32, n) // hops(·,t)
	vcol := make([]int32, n) // index of via(·,t)
	queue := make([]int32, 0, n)
	for t := range n {
		for s := range n {
			col[s] = d[s*n+t]
			hcol[s] = -1
		}
		hcol[t], vcol[t] = 0, int32(t)
		queue = append(queue[:0], int32(t))
		for q := 0; q < len(queue); q++ {
			h := queue[q]
			dht, hh := col[h], hcol[h]
			lo, hi := inStart[h], inStart[h+1]
			costs := inCost[lo:hi]
			srcs := inSrc[lo:hi]
			srcs = srcs[:len(costs)]
			for e, wsh := range costs {
				s := srcs[e]
				if wsh+dht != col[s] {
					continue
				}
				switch hs := hcol[s]; {
				case hs < 0:
					hcol[s], vcol[s] = hh+1, h
					queue = append(queue, s)
				case hs == hh+1 && h < vcol[s]:
					vcol[s] = h
				}
			}
		}
		for s := range n {
			if hcol[s] >= 0 {
				hops[s*n+t] = hcol[s]
				via[s*n+t] = ids[vcol[s]]
			}
		}
	}
	return &Table{ids: ids, dist: d, via: via, hops: hops}, nil
}

func (t *Table) index(id uint16) (int, bool) {
	return slices.BinarySearch(t.ids, id)
}

// pair returns the flat index of (from, to), or false if either is unknown.
func (t *Table) pair(from, to uint16) (int, bool) {
	s, ok1 := t.index(from)
	d, ok2 := t.index(to)
	return s*len(t.ids) + d, ok1 && ok2
}

// Nodes returns the node ids, sorted.
func (t *Table) Nodes() []uint16 {
	return slices.Clone(t.ids)
}

// Next returns the neighbour of from on the chosen path to to. ok is false
// if to is unreachable from from or either node is unknown; from == to
// (a known node) gives (to, true).
func (t *Table) Next(from, to uint16) (via uint16, ok bool) {
	p, ok := t.pair(from, to)
	if !ok || t.hops[p] < 0 {
		return 0, false
	}
	return t.via[p], true
}

// Dist returns the measured cost of the chosen path, hop costs included.
// With unsynchronised clocks it contains θto - θfrom (see the package doc):
// compare it only with other paths between the same two nodes.
func (t *Table) Dist(from, to uint16) (cost int64, ok bool) {
	p, ok := t.pair(from, to)
	if !ok || t.hops[p] < 0 {
		return 0, false
	}
	return t.dist[p], true
}

// Hops returns the number of edges on the chosen path: 0 from a node to
// itself, -1 if unreachable or unknown.
func (t *Table) Hops(from, to uint16) int {
	p, ok := t.pair(from, to)
	if !ok {
		return -1
	}
	return int(t.hops[p])
}

// Path returns the chosen path from..to inclusive (following Next), or nil
// if unreachable or unknown.
func (t *Table) Path(from, to uint16) []uint16 {
	p, ok := t.pair(from, to)
	if !ok || t.hops[p] < 0 {
		return nil
	}
	path := make([]uint16, 1, t.hops[p]+1)
	path[0] = from
	for cur := from; cur != to; {
		cur, _ = t.Next(cur, to)
		path = append(path, cur)
	}
	return path
}

// Row returns an Entry for every other node, sorted by id, or nil if from
// is unknown.
func (t *Table) Row(from uint16) []Entry {
	s, ok := t.index(from)
	if !ok {
		return nil
	}
	n := len(t.ids)
	row := make([]Entry, 0, n-1)
	for d, to := range t.ids {
		if d == s {
			continue
		}
		e := Entry{To: to, Hops: -1}
		if p := s*n + d; t.hops[p] >= 0 {
			e = Entry{To: to, Via: t.via[p], Cost: t.dist[p], Hops: int(t.hops[p]), Reachable: true}
		}
		row = append(row, e)
	}
	return row
}

// SameNextHops reports whether u has the same nodes and the same next hop
// and hop count for every pair as t (costs may differ): whether a new
// solution changes forwarding at all.
func (t *Table) SameNextHops(u *Table) bool {
	return slices.Equal(t.ids, u.ids) && slices.Equal(t.via, u.via) && slices.Equal(t.hops, u.hops)
}
