// SPDX-License-Identifier: Apache-2.0

// Package route computes skiff's all-pairs next-hop table from measured
// one-way delays. Solve takes the node ids, one Edge per measured directed
// link u->v (the delay v measured for probes from u, see package probe) and
// a per-hop cost, and returns an immutable Table: for every pair (s, t) the
// next hop, the hop count and the path cost. The code is pure: no clocks,
// no goroutines, no logging.
//
// # Why clock offsets do not change best paths
//
// Node x's clock reads t + θx at true time t; the offsets θ are unknown and
// may be seconds. A probe that u sends at true time t0 and that reaches v
// after the true one-way delay d(u,v) >= 0 carries u's send stamp t0 + θu
// and is received at v's clock time t0 + d(u,v) + θv, so v measures
//
//	m(u,v) = (t0 + d(u,v) + θv) - (t0 + θu) = d(u,v) + θv - θu.
//
// Paths. Let P = x0 x1 ... xk be any path from s = x0 to t = xk, with
// measured cost M(P) and true cost D(P). The offset terms telescope:
//
//	M(P) = Σ m(xi,xi+1) = Σ d(xi,xi+1) + Σ (θxi+1 - θxi)
//	     = D(P) + θt - θs.
//
// The error θt - θs depends only on the endpoints, so it is the same for
// every s->t path: for two s->t paths P and Q, M(P) - M(Q) = D(P) - D(Q),
// hence M(P) <= M(Q) exactly when D(P) <= D(Q). The measured and the true
// problem have the same shortest paths with the same ties (costs are
// integers, so the cancellation is exact, not approximate). A constant
// per-hop cost c keeps this: a k-hop path gains k·c in both worlds,
// M(P) + k·c = (D(P) + k·c) + θt - θs, which is the same identity.
//
// Cycles. A cycle is a path with s = t, so M(C) = D(C) + θs - θs = D(C) >= 0
// (plus k·c >= 0). Single measured edges are negative whenever
// θu - θv > d(u,v), which is routine with unsynchronised clocks, but no
// cycle is. Dijkstra needs non-negative edges; Floyd–Warshall needs only
// the absence of negative cycles, and detects them (a negative diagonal
// entry), so it is the algorithm used here. A negative cycle in the input
// cannot come from one consistent set of clocks; it means malformed or
// mixed-up reports (for example values taken before and after a clock
// step), and Solve returns ErrNegativeCycle instead of guessing: the caller
// keeps its previous table. A cycle of k hops carries k·hopCost, so a
// hopCost above the expected measurement error (clock drift between the
// samples of different edges, filter lag) also absorbs the small negative
// cycles such errors could otherwise cause on near-zero-latency LANs.
//
// Next hops. Ties are broken by comparing s->t path costs, hop counts and
// node ids, none of which depend on θ, so Next and Hops are identical with
// and without clock offsets; only Dist changes, by exactly θt - θs. For the
// same reason an absolute Dist is not a latency: it contains θt - θs and
// may be negative. It is meaningful only to compare paths with the same
// endpoints (for display, say, how much a detour costs over the direct
// edge); the one-way latency itself is not observable without synchronised
// clocks.
//
// # Tie-breaking and loop freedom
//
// Floyd–Warshall computes the distances only. Then, for every pair (s, t),
// the next hop is chosen among the neighbours h of s on a shortest path
// (w(s,h) + dist(h,t) = dist(s,t)): fewest hops first, then the lowest id.
// The hop count of (s, t) is one more than that of (via, t), so following
// Next strictly decreases the hop count and always reaches t along a
// shortest path, even when zero-cost cycles make several equal paths loop
// into each other. The result depends only on the set of nodes and the
// lowest cost per directed edge, never on input order.
//
// # Where hysteresis lives
//
// Not here. Solve is exact: any change of an input may change the table. The
// damping is at the source: the node that measures an edge (probe.Link)
// changes the value it reports only when its median-filtered delay moves by
// more than a tolerance from the value last reported. Every node then
// solves the same reported inputs with the same deterministic tie-breaking,
// so all nodes derive the same table, hop-by-hop forwarding follows exactly
// the path the source computed (consistent and loop-free), and jitter
// within the tolerance never reaches Solve, so routes do not flap.
package route
