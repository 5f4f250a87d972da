// SPDX-License-Identifier: Apache-2.0

// Package stage holds the dataplane's pure per-packet stages: VLAN id
// remapping (VLANMap), TCP MSS clamping (MSS), LZ4 compression (LZ4),
// fragmentation and reassembly (Split, Reassembler), and sealing and
// opening skiff datagrams and VXLAN encapsulation (Sealer, Opener,
// EncapVXLAN, DecapVXLAN).
//
// A frame on its way out and a datagram on its way in:
//
//	local frame -> VLANMap.Egress -> MSS.Clamp -> LZ4.Compress -> Split -> Sealer.Seal -> datagram(s)
//	datagram -> DecodeHeader -> Opener.Open -> Reassembler.Insert -> LZ4.Decompress -> MSS.Clamp -> VLANMap.Ingress -> local frame
//
// Stages are pure: no goroutines, no syscalls, no logging, no clock (time
// is passed in), no global mutable state, and no allocation per packet. A
// stage never returns an error for a packet, only a Reason: Pass or why the
// packet was dropped; the pipeline counts reasons. Stages that keep state
// (LZ4, Reassembler, Sealer, Opener) belong to one worker goroutine; the
// read-only ones (VLANMap, MSS) may be shared.
package stage
