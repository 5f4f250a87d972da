// SPDX-License-Identifier: Apache-2.0

// Package pipeline runs batches of packets through the dataplane's stages in
// a fixed order, per direction, and counts every drop by reason.
//
// Transmit (frames from the local port to datagrams for the underlay):
//
//	local frame
//	  -> length check (>= 14 bytes)             FrameMalformed
//	  -> VLAN map, local to wire ids            FrameMalformed (cut tag)
//	  -> TCP MSS clamp
//	  -> mesh: FIB lookup of the destination MAC
//	     learned behind a node: its route       NoRoute (none)
//	     group or unknown address: flood, one copy per node of
//	     Mesh.Flood, each through the stages below with that
//	     node's session and route               FloodRoom (per copy)
//	     no node to flood to                    NoRoute
//	  -> codec vxlan: push VXLAN header ---------------------------+
//	  -> codec skiff: session? endpoint?        NoSession NoEndpoint
//	  -> LZ4 (when configured, kept only if smaller)               |
//	  -> fragment when longer than the piece size, or drop         |
//	     (fragmentation off)                    FrameTooBig        |
//	  -> seal each piece: header (source and                       |
//	     destination node, TTL 16), counter,                       |
//	     AEAD                                   SessionExpired     |
//	  -> out batch, destination = the route's endpoint  <----------+
//	     (in a mesh: the next hop's)
//
// Receive (datagrams from the underlay to frames for the local port):
//
//	datagram
//	  -> first byte 0x08 and VXLAN configured: VXLAN decap   VXLANHeader VXLANVNI
//	  -> skiff header decode                    Header*
//	  -> mesh, destination another node (data, control or handshake):
//	     relay it unopened (without a relay     WrongNode
//	     batch: dropped)
//	       TTL <= 1                             TTLExpired
//	       no next hop toward the destination   NoRoute
//	       next hop = where it came from        RouteLoop
//	       TTL - 1, address and socket of the next hop, relay batch
//	  -> handshake: to the control plane; control: opened, then to it
//	  -> destination node is us?                WrongNode
//	  -> session by receiver id                 NoSession
//	  -> replay check, AEAD open                Replay Auth HeaderSuite
//	  -> fragment: reassembly table             Frag*
//	  -> LZ4 decompress (header flag)           LZ4Corrupt
//	  -> length check                           FrameMalformed
//	  -> TCP MSS clamp
//	  -> VLAN map, wire to local ids            FrameMalformed (cut tag)
//	  -> out batch
//	  -> mesh: MAC learning: the frame's source MAC is behind the
//	     datagram's source node (authenticated by its session)
//
// Stages never reorder packets. Packets move from the input batch to the
// output batch by exchanging slot pointers (no copy, no pool traffic); a
// fragmented frame is copied into the output batch's spare packets, piece
// by piece. Tx and Rx hold per-worker state (LZ4 compressor, scratch,
// reassembly table) and are not safe for concurrent use: one per worker
// goroutine. The configuration comes from an immutable Snapshot that the
// caller loads once per batch.
package pipeline
