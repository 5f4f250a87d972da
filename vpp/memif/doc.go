// SPDX-License-Identifier: Apache-2.0

// Package memif is skiff's pure-Go implementation of memif 2.0, VPP's
// shared-memory packet interface: the control messages exchanged over a
// unix SEQPACKET socket (msg.go) and the rings in shared memory (ring.go).
// The client (slave) owns all shared memory and writes only ring heads;
// the server (master) maps the client's regions and writes only tails:
//
//	client --S2M ring: descriptors at head, publish head--> server reads [last, head), publishes tail
//	client <--M2S ring: server fills posted buffers, publishes tail-- client reads [last, tail), re-posts
//
// An Interface (iface.go) is one memif interface in either role: a client
// creates its regions (sealed memfds) and rings, connects and reconnects;
// a server listens, maps whatever regions the client offers (several,
// as a zero-copy client does) and follows each descriptor's region and
// offset, never the client's layout. The handshake (handshake.go) is
// lock-step as a client and tolerates pipelining as a server. The data
// path (session.go) moves batches: head and tail are published once per
// batch, the eventfd is kicked once per batch and only when the consumer
// has not masked interrupts, frames longer than a buffer are chained with
// DescNext, and every descriptor a peer wrote is bounds-checked before it
// is used. Disconnects tear the session down only after every ring's
// lock has been taken, so no batch ever touches unmapped memory. Every
// access to shared memory is shielded (shield.go): a peer that shrinks a
// region under us costs the connection, never the process.
package memif
