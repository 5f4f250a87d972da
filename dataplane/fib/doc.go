// SPDX-License-Identifier: Apache-2.0

// Package fib is the mesh's L2 forwarding table: it maps a unicast MAC
// address to the id of the node it was last seen behind.
//
// Receive workers Learn the source MAC of every frame that arrives from a
// remote node; transmit workers Lookup the destination MAC of every frame to
// pick the node to send it to (a miss means flood):
//
//	datagram from node N -> ... -> local frame -> Table.Learn(src MAC, N, now)
//	local frame -> Table.Lookup(dst MAC, now) -> node, or flood on a miss
//
// A Table is safe for any number of concurrent Learn, Lookup and Forget
// calls. Learn and Lookup take no locks and allocate nothing; the table never
// grows past the size given to New. It is pure: no goroutines, no logging, no
// clock (time is passed in as monotonic nanoseconds).
//
// The table is set associative: a MAC hashes (with a per-table random seed,
// so remote senders cannot aim at one set) to a bucket of 8 slots and lives
// in any of them. A slot is two atomic words, the key (MAC<<16 | node) and
// the last-seen time. Because the MAC and its node share one word, a Lookup
// racing with Learn, a move or an eviction may miss or see a stale time, but
// never returns a node that was not learned for that MAC. Keys sit in one
// cache line per bucket and times in another, and a refresh rewrites the
// time only when it is at least 1/8 of the timeout old, so Lookups on
// transmit workers mostly read lines that nobody writes.
package fib
