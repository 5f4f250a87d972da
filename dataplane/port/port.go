// SPDX-License-Identifier: Apache-2.0

// Package port defines the batch interface between the dataplane and the
// devices it moves packets through: the local L2 side (TAP, raw NIC, AF_XDP,
// memif) and the UDP underlay. One subpackage per backend implements it;
// porttest has an in-memory pair for tests.
package port

import "github.com/skiffnet/skiff/dataplane/buf"

// Port moves batches of packets in and out of a device.
//
// ReadBatch blocks until at least one packet is available, then fills
// pkts[:n] (each packet Reset, then its data set; for underlay ports Addr is
// the datagram's source) and returns n >= 1, or returns an error. After
// Close it returns net.ErrClosed. len(pkts) is at most BatchSize().
//
// WriteBatch sends the packets of pkts (for underlay ports each to its
// Addr) and returns how many it sent; it must not retain the packets or
// their bytes after it returns. A packet the device refuses is counted by
// the port and skipped, not an error; an error means the port is unusable.
//
// One goroutine may call ReadBatch while another calls WriteBatch; neither
// may be called by two goroutines at once. Close may be called at any time,
// from any goroutine, and unblocks a pending ReadBatch.
type Port interface {
	ReadBatch(pkts []*buf.Packet) (n int, err error)
	WriteBatch(pkts []*buf.Packet) (n int, err error)
	BatchSize() int
	Close() error
}

// DefaultBatchSize is the batch size of the dataplane's ports.
const DefaultBatchSize = 64

// MaxFramer is implemented by ports whose ReadBatch may return frames longer
// than buf.MaxFrame (offload super-frames): the reader must give them
// packets of buf.Large.
type MaxFramer interface {
	MaxFrame() int
}

// ReadPool is the pool whose packets p's ReadBatch needs: buf.Large for a
// port that returns super-frames, else def.
func ReadPool(p Port, def *buf.Pool) *buf.Pool {
	if m, ok := p.(MaxFramer); ok && m.MaxFrame() > def.Size()-buf.Headroom-buf.Tailroom {
		return buf.Large
	}
	return def
}

// Queuer is implemented by ports with several device queues (AF_XDP: one
// socket per NIC queue). Queues returns a Port per queue, each to be read
// by its own worker; writers spread over the first tx of them (the rest
// only receive). The queues share the parent's lifetime: closing the
// parent closes them.
type Queuer interface {
	Queues() (queues []Port, tx int)
}

// Queues returns p's queues, or p alone.
func Queues(p Port) ([]Port, int) {
	if q, ok := p.(Queuer); ok {
		if qs, tx := q.Queues(); len(qs) > 0 && tx > 0 {
			return qs, tx
		}
	}
	return []Port{p}, 1
}
