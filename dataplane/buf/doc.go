// SPDX-License-Identifier: Apache-2.0

// Package buf owns the dataplane's packet buffers: a Packet with headroom for
// the worst-case outer headers and tailroom for the AEAD tag, a Batch of
// packets, and a Pool that hands them out.
//
// Layout of one Packet's backing array:
//
//	0           off                 end                     len(b)
//	| headroom  |  data (Data())    |  tailroom              |
//	            <-- Push grows      Extend grows -->
//	            Pull shrinks -->    <-- Trim shrinks
//
// A fresh or Reset packet has off = end = Headroom, so a port reads a frame at
// Headroom and the encapsulation pushes its headers (skiff or VXLAN header,
// UDP, IP, Ethernet) into the space in front without copying the payload; the
// AEAD tag and any LZ4 slack go into the tailroom.
//
// # Ownership
//
//   - Exactly one owner at a time. Whoever holds a *Packet may read and write
//     it; handing it to someone else (a queue, a port, a stage that emits it)
//     transfers ownership, and the giver must not touch it afterwards.
//   - Every packet taken from a Pool is Put back exactly once, on every path,
//     drops included. A second Put of the same packet panics.
//   - Interfaces that take packets (Port.WriteBatch, stage functions) must not
//     retain them, nor any slice of their bytes, after they return, unless
//     their documentation says they take ownership.
//   - Put clears the metadata and the underlay address so a stale reader sees
//     zero values, not another flow's data. Under the build tag dpdebug it
//     also poisons the bytes with 0xAA.
//   - Swap exchanges the backing arrays of two packets of the same pool; it
//     is how LZ4 replaces a frame with its compressed form without a copy.
package buf
