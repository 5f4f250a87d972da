// SPDX-License-Identifier: Apache-2.0

package udp

import (
	"net/netip"

	"github.com/skiffnet/skiff/dataplane/port"
)

// Config describes a UDP port.
type Config struct {
	// Addr is the local address to bind: IPv4 (0.0.0.0:4800) or IPv6
	// ([::]:4800); port 0 picks a free port. An IPv4-mapped IPv6 address
	// is treated as IPv4. An IPv6 zone selects the interface of a
	// link-local address.
	Addr netip.AddrPort
	// NoGSO turns off UDP_SEGMENT sends (runs of datagrams to one address
	// in one system call); NoGRO turns off UDP_GRO receives. Both are on
	// by default where the kernel has them, and GSO turns itself off if
	// the kernel refuses it.
	NoGSO, NoGRO bool
	// Batch is the number of datagrams per ReadBatch and WriteBatch
	// system call, at most MaxBatch; 0 means port.DefaultBatchSize.
	Batch int
	// SocketBuffer is the size of the socket's receive and send buffers
	// in bytes; 0 means DefaultSocketBuffer. SO_RCVBUFFORCE and
	// SO_SNDBUFFORCE are tried first (they need CAP_NET_ADMIN); without
	// privileges the kernel caps the size at net.core.rmem_max and
	// net.core.wmem_max.
	SocketBuffer int
}

const (
	// DefaultSocketBuffer is the socket buffer size when Config leaves it
	// 0: the kernel's 208 KiB default drops bursts.
	DefaultSocketBuffer = 4 << 20
	// MaxBatch is the largest Config.Batch: the kernel's UIO_MAXIOV, the
	// most messages sendmmsg takes in one call.
	MaxBatch = 1024
)

// Stats are a port's counters since Listen.
type Stats struct {
	RxPackets     uint64 // datagrams returned by ReadBatch
	RxBytes       uint64 // their payload bytes
	RxTruncated   uint64 // datagrams longer than the packet's Room, dropped
	TxPackets     uint64 // datagrams sent
	TxBytes       uint64 // their payload bytes
	TxTooBig      uint64 // refused with EMSGSIZE: above the path MTU or the UDP limit
	TxUnreachable uint64 // invalid or wrong-family destination, or no route / refused
	TxOther       uint64 // refused for any other reason
	RxGRO         uint64 // coalesced receives (several datagrams in one)
	TxGSO         uint64 // sends of several datagrams in one (UDP_SEGMENT)
	GSO, GRO      bool   // whether the port uses them
}

var _ port.Port = (*Port)(nil)
