// SPDX-License-Identifier: Apache-2.0

package afpacket

import "errors"

// Config says which NIC to attach to and how.
type Config struct {
	// Name is the existing network interface to attach to, e.g. "eth1".
	Name string
	// Promisc puts the NIC in promiscuous mode with a packet membership
	// (PACKET_ADD_MEMBERSHIP, PACKET_MR_PROMISC). The kernel counts such
	// memberships and drops this one when the socket closes, so the NIC
	// leaves promiscuous mode on its own, even if skiff crashes; EthUDP's
	// SIOCSIFFLAGS left it on.
	Promisc bool
	// Batch is the port's batch size; 0 means port.DefaultBatchSize.
	Batch int
}

// Stats are the port's counters since Open. Received frames are counted
// after segmentation: RxFrames is what ReadBatch handed out.
type Stats struct {
	RxFrames uint64 // frames returned by ReadBatch
	RxBytes  uint64 // their bytes
	RxSuper  uint64 // GSO super-frames received (TCPv4, TCPv6, UDP_L4)
	RxSegs   uint64 // frames cut from them (included in RxFrames)
	RxVLAN   uint64 // frames whose VLAN tag was restored from auxdata
	// RxCsumPartial counts frames (not super-frames) that came with
	// NEEDS_CSUM and whose checksum the port completed; RxCsumValid counts
	// frames the kernel marked DATA_VALID (checksum already verified).
	RxCsumPartial uint64
	RxCsumValid   uint64
	RxTruncated   uint64 // frames longer than the 64 KiB receive buffer, dropped
	RxOversize    uint64 // frames or segments longer than the caller's packet, dropped
	RxBadGSOType  uint64 // super-frames of a gso_type the port cannot cut, dropped
	RxBadOffload  uint64 // frames whose vnet header does not match their headers, or truncated, dropped
	RxErrors      uint64 // receive errors the port recovered from (frames the kernel could not describe, link down)
	TxFrames      uint64 // frames sent by WriteBatch
	TxBytes       uint64 // their bytes
	TxErrors      uint64 // frames the NIC refused (too long, link down, no buffer), skipped
}

// ErrNoDevice is returned (wrapped) by Open when the NIC does not exist.
var ErrNoDevice = errors.New("no such network device")
