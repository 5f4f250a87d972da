// SPDX-License-Identifier: Apache-2.0

// Package porttest provides an in-memory port.Port pair for tests: what one
// end writes, the other reads, in order, with back-pressure instead of loss
// (a writer blocks while the peer's queue is full).
package porttest

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/port"
)

// Port is one end of a Pair.
type Port struct {
	// Addr is this end's address: the reader at the other end sees it as
	// each packet's source.
	Addr  netip.AddrPort
	batch int
	in    *queue // what this end reads
	out   *queue // what the peer reads
}

var _ port.Port = (*Port)(nil)

// queue is a bounded FIFO of packet copies.
type queue struct {
	mu       sync.Mutex
	notEmpty sync.Cond
	notFull  sync.Cond
	pkts     []*buf.Packet // ring
	head, n  int
	closed   atomic.Bool // reader closed: writes are discarded, reads fail
	pool     *buf.Pool
}

func newQueue(depth int, pool *buf.Pool) *queue {
	q := &queue{pkts: make([]*buf.Packet, depth), pool: pool}
	q.notEmpty.L = &q.mu
	q.notFull.L = &q.mu
	pool.GetN(q.pkts)
	return q
}

// NewPair returns two connected ports with the given batch size, each
// queue holding up to depth packets.
func NewPair(batch, depth int) (a, b *Port) {
	pool := buf.NewPool(buf.DefaultSize, 2*depth)
	ab, ba := newQueue(depth, pool), newQueue(depth, pool)
	a = &Port{Addr: netip.MustParseAddrPort("192.0.2.1:4800"), batch: batch, in: ba, out: ab}
	b = &Port{Addr: netip.MustParseAddrPort("192.0.2.2:4800"), batch: batch, in: ab, out: ba}
	return a, b
}

// BatchSize implements port.Port.
func (p *Port) BatchSize() int { return p.batch }

// ReadBatch implements port.Port.
func (p *Port) ReadBatch(pkts []*buf.Packet) (int, error) {
	q := p.in
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.n == 0 && !q.closed.Load() {
		q.notEmpty.Wait()
	}
	if q.closed.Load() {
		return 0, net.ErrClosed
	}
	n := 0
	for ; n < len(pkts) && q.n > 0; n++ {
		src := q.pkts[q.head]
		dst := pkts[n]
		dst.Reset()
		dst.SetData(src.Data())
		dst.Addr = src.Addr
		q.head = (q.head + 1) % len(q.pkts)
		q.n--
	}
	q.notFull.Broadcast()
	return n, nil
}

// WriteBatch implements port.Port. Packets longer than the queue's buffers
// hold are counted as sent and discarded, like a device refusing them.
func (p *Port) WriteBatch(pkts []*buf.Packet) (int, error) {
	q := p.out
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, src := range pkts {
		for q.n == len(q.pkts) && !q.closed.Load() && !p.in.closed.Load() {
			q.notFull.Wait()
		}
		if p.in.closed.Load() {
			return i, net.ErrClosed
		}
		if q.closed.Load() {
			continue // the reader is gone: like a wire with nobody listening
		}
		dst := q.pkts[(q.head+q.n)%len(q.pkts)]
		dst.Reset()
		if !dst.SetData(src.Data()) {
			continue
		}
		dst.Addr = p.Addr
		q.n++
		q.notEmpty.Signal()
	}
	return len(pkts), nil
}

// Close implements port.Port: it unblocks this end's reader and any writer
// waiting for room (at either end).
func (p *Port) Close() error {
	p.in.closed.Store(true)
	for _, q := range []*queue{p.in, p.out} {
		q.mu.Lock()
		q.notEmpty.Broadcast()
		q.notFull.Broadcast()
		q.mu.Unlock()
	}
	return nil
}
