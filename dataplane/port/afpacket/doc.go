// SPDX-License-Identifier: Apache-2.0

// Package afpacket is a port on an existing NIC through an AF_PACKET socket:
// EthUDP's -e mode, done right. Every frame the NIC receives is read whole,
// with its VLAN tag, and frames written to the port leave through the NIC.
//
// The packet's way:
//
//	NIC rx ──► kernel (skb_vlan_untag: tag moves to skb metadata) ──► packet socket
//	            ETH_P_ALL, bound to the NIC, PACKET_AUXDATA, PACKET_VNET_HDR
//	                 │ recvmmsg: per slot [vnet hdr 10 | frame ≤ 64 KiB] + auxdata cmsg
//	                 ▼
//	       auxdata VLAN valid? ──► put the tag back after the MACs (TPID from
//	                 │             auxdata, 0x8100 if not given); csum_start += 4
//	                 ▼
//	       gso_type TCPV4/TCPV6/UDP_L4 ──► cut into gso_size segments (gso.go): lengths,
//	                 │                     IPv4 id, TCP seq and flags, full checksums
//	       NEEDS_CSUM, no GSO ──► complete the checksum at csum_start+csum_offset
//	       anything else ──► as is
//	                 ▼
//	       copy into the caller's packets at buf.Headroom ──► ReadBatch
//
//	WriteBatch ──► sendmmsg [zero vnet hdr | frame] ──► NIC tx
//	              (not read back: PACKET_IGNORE_OUTGOING)
//
// # Why vnet headers
//
// Without PACKET_VNET_HDR a GRO'd or TSO'd super-frame arrives as one 64 KiB
// "frame" with a pseudo-header checksum, which cannot be carried (EthUDP told
// users to turn GRO off; veth hands such frames over whole even with GRO
// off). With it, the kernel says what the frame is, and the port does in
// software what the NIC would have done: segmentation and checksums. A
// segment that does not fit the caller's batch stays in the port and comes
// first in the next ReadBatch.
//
// # Why recvmmsg and not a TPACKET_V3 ring
//
// A receive ring copies each frame once into shared memory, recvmmsg copies
// it once into the port's slots: the same count, since frames are copied
// again into pool packets either way (segmentation writes new headers
// anyway). TPACKET_V3 wakes the reader only when a block is full or its
// retire timer fires (milliseconds), which adds that much latency at light
// load; TPACKET_V2 wakes per frame but its slots are fixed-size, so taking
// 64 KiB super-frames means 64 KiB per slot. recvmmsg wakes per frame, takes
// a batch per syscall and integrates with the Go poller. The slots cost
// batch × 64 KiB per port (4 MiB at the default batch of 64).
//
// # What is not carried
//
//   - Frames this host transmits on the NIC: PACKET_IGNORE_OUTGOING hides
//     them, so that what the port writes is not read back (a loop). Host
//     traffic on the NIC is therefore not tunnelled; use a NIC the host does
//     not use, or a TAP in a bridge.
//   - Frames longer than 64 KiB (BIG TCP super-frames; set gso_max_size and
//     gro_max_size to at most 65536 on the NIC), and frames or segments
//     longer than the caller's packet (a 9216-byte default): counted in
//     Stats and dropped.
//   - Super-frames of a GSO type the kernel cannot describe in a vnet header
//     (tunnel GSO) or the port cannot cut: counted and dropped.
//
// Promiscuous mode is a packet membership, which the kernel drops when the
// socket closes: the NIC never stays promiscuous after skiff exits.
package afpacket
