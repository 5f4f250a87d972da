// SPDX-License-Identifier: Apache-2.0

// Package impair is skiff's underlay impairment relay: a UDP relay that sits
// on a path between a client and a target and drops, delays, jitters,
// reorders and duplicates the datagrams it forwards, each at its own rate,
// in both directions. The kernel skiff is tested on has no netem, so the
// end-to-end tests and benchmarks impair an underlay with this relay (and
// skiff impair runs it from the command line).
//
// The way of a datagram:
//
//	client ──> Listen socket ──> decide(to-target) ──> heap by due time ──> client's upstream socket ──> Target
//	                                 │ drop                 │ queue full
//	                                 ▼                      ▼
//	                              counted                counted
//
//	client <── Listen socket <── heap by due time <── decide(from-target) <── client's upstream socket <── Target
//
// Each client (source address) gets its own upstream socket on an ephemeral
// port, connected to Target, like a NAT mapping: answers that Target sends
// to that port go back to that client from the Listen socket. At most
// MaxClients mappings exist; one unused for IdleTimeout expires.
//
// decide draws exactly four numbers per datagram from the direction's own
// PCG stream (seeded with Config.Seed): drop, duplicate, reorder and jitter.
// So the same seed and the same sequence of datagrams make the same
// decisions, whatever the timing, and a rate change does not shift the
// decisions of later datagrams. A kept datagram is copied into a pooled
// buffer and pushed onto the direction's min-heap with its due time (now +
// Delay + a uniform 0..Jitter, + ReorderBy if it is reordered). One sender
// goroutine per direction writes datagrams out when they are due, in due
// order and, for equal due times, in arrival order: so order is kept but
// for deliberate reordering and jitter. The sender sleeps until the head of
// the heap is due on a runtime timer and a timerfd at once (the runtime's
// timers alone sleep in whole milliseconds when the process is idle): on an
// idle machine a datagram leaves within tens of microseconds of its due
// time. At most MaxQueue datagrams wait per direction; more are dropped and
// counted.
//
// Every goroutine is started by Run (the listen reader, a reader per
// client, a sender and a timerfd reader per direction, the expiry ticker)
// and ended before Run returns.
package impair
