// SPDX-License-Identifier: Apache-2.0

// Package tap is a port on a TAP device that skiff creates: EthUDP's -i
// ("tap with an address") and -b ("tap enslaved to a Linux bridge") modes,
// set up through netlink instead of shelling out to ip and brctl.
//
// The packet's way:
//
//	host stack or bridge ──► skiff0 (TAP) tx ──► /dev/net/tun fd (non-blocking, Go poller)
//	                                                │ readv: [packet Room at buf.Headroom][1 spill byte]
//	                                                │ one frame per read, until EAGAIN or the batch is full
//	                                                ▼
//	                                            ReadBatch
//
//	WriteBatch ──► write: one frame per call ──► skiff0 rx ──► host stack or bridge
//
// The device belongs to the open file: Close removes it, with its address
// and bridge membership, and Open refuses a name that is already taken
// rather than take over someone else's device.
//
// This version reads and writes plain frames (IFF_TAP|IFF_NO_PI): the
// kernel segments and checksums everything before it reaches the TAP. The
// offload version adds IFF_VNET_HDR and TUNSETOFFLOAD in Open (tapFlags),
// one more iovec in front of the frame in the read, and a header in front of
// each write: a change local to this package.
package tap
