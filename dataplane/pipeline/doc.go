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
//	  -> codec vxlan: push VXLAN header ---------------------------+
//	  -> codec skiff: session? endpoint?        NoSession NoEndpoint
//	  -> LZ4 (when configured, kept only if smaller)               |
//	  -> fragment when longer than the piece size, or drop         |
//	     (fragmentation off)                    FrameTooBig        |
//	  -> seal each piece: header, counter, AEAD SessionExpired     |
//	  -> out batch, destination = the route's endpoint  <----------+
//
// Receive (datagrams from the underlay to frames for the local port):
//
//	datagram
//	  -> first byte 0x08 and VXLAN configured: VXLAN decap   VXLANHeader VXLANVNI
//	  -> skiff header decode                    Header*
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
//
// Stages never reorder packets. Packets move from the input batch to the
// output batch by exchanging slot pointers (no copy, no pool traffic); a
// fragmented frame is copied into the output batch's spare packets, piece
// by piece. Tx and Rx hold per-worker state (LZ4 compressor, scratch,
// reassembly table) and are not safe for concurrent use: one per worker
// goroutine. The configuration comes from an immutable Snapshot that the
// caller loads once per batch.
package pipeline
