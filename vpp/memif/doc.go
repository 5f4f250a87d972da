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
// This is the foundation of the memif port (issue 6); the sockets, the
// regions and the port arrive next.
package memif
