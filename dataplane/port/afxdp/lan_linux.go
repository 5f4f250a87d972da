// SPDX-License-Identifier: Apache-2.0

package afxdp

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"

	"github.com/skiffnet/skiff/bpf"
	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/port"
	"github.com/skiffnet/skiff/dataplane/port/afpacket"
	"github.com/vishvananda/netlink"
)

// LANConfig describes a LAN-side AF_XDP port.
type LANConfig struct {
	Name    string   // the NIC
	Promisc bool     // put the NIC in promiscuous mode (restored on Close)
	VLANs   []uint16 // redirect only frames of these VLANs (outer tag); nil: every frame
	// Queues is how many of the NIC's queues get a socket, from queue 0;
	// 0: all of its receive queues.
	Queues   int
	CopyOnly bool // bind in copy mode even where zero-copy is possible
}

// LAN is an AF_XDP port on the local L2 side: every frame the NIC receives
// (or those of the configured VLANs) is read by skiff, and frames are
// written to the NIC's wire.
type LAN struct {
	name    string
	prog    *bpf.Program
	attach  io.Closer
	queues  []*lanQueue
	link    netlink.Link
	promisc bool
	closed  atomic.Bool
	mu      sync.Mutex
}

// lanQueue is one queue's socket: a Port of its own.
type lanQueue struct {
	s      *socket
	plain  []*buf.Packet // WriteBatch: the run of plain frames being sent
	seg    afpacket.Segmenter
	super  segSource
	badSeg atomic.Uint64
}

var (
	_ port.Port   = (*LAN)(nil)
	_ port.Queuer = (*LAN)(nil)
)

// OpenLAN loads the LAN program, opens one socket per queue and attaches
// the program in native (driver) mode. It fails, changing nothing, if the
// NIC or kernel cannot do that: the caller may fall back to AF_PACKET.
func OpenLAN(c LANConfig) (_ *LAN, err error) {
	link, err := netlink.LinkByName(c.Name)
	if err != nil {
		return nil, fmt.Errorf("afxdp: %s: %w", c.Name, err)
	}
	l := &LAN{name: c.Name, link: link}
	defer func() {
		if err != nil {
			l.Close()
		}
	}()
	if l.prog, err = bpf.LoadLAN(c.VLANs); err != nil {
		return nil, fmt.Errorf("afxdp: %s: %w", c.Name, err)
	}
	err = openQueues(link, c.Queues, c.CopyOnly, l.prog, func(s *socket) {
		lq := &lanQueue{s: s}
		lq.super.q = lq
		l.queues = append(l.queues, lq)
	})
	if err != nil {
		return nil, fmt.Errorf("afxdp: %s: %w", c.Name, err)
	}
	if l.attach, err = l.prog.Attach(link.Attrs().Index); err != nil {
		return nil, fmt.Errorf("afxdp: %s: %w", c.Name, err)
	}
	if c.Promisc && link.Attrs().Promisc == 0 {
		if err := netlink.SetPromiscOn(link); err != nil {
			return nil, fmt.Errorf("afxdp: %s: promiscuous mode: %w", c.Name, err)
		}
		l.promisc = true
	}
	return l, nil
}

// Name is the NIC's name.
func (l *LAN) Name() string { return l.name }

// Queues returns one port per queue; each may be read by its own worker
// and written by another.
func (l *LAN) Queues() ([]port.Port, int) {
	qs := make([]port.Port, len(l.queues))
	for i, q := range l.queues {
		qs[i] = q
	}
	return qs, len(qs)
}

// ReadBatch reads from queue 0 (Queues gives every queue).
func (l *LAN) ReadBatch(pkts []*buf.Packet) (int, error) { return l.queues[0].ReadBatch(pkts) }

// WriteBatch writes to queue 0.
func (l *LAN) WriteBatch(pkts []*buf.Packet) (int, error) { return l.queues[0].WriteBatch(pkts) }

// BatchSize is the number of frames per batch.
func (l *LAN) BatchSize() int { return port.DefaultBatchSize }

// MaxFrame is the longest frame the port reads.
func (l *LAN) MaxFrame() int {
	if len(l.queues) == 0 {
		return 0
	}
	return l.queues[0].s.maxFrame
}

// Close detaches the program, closes the sockets and restores promiscuous
// mode; it unblocks readers with net.ErrClosed.
func (l *LAN) Close() error {
	if l.closed.Swap(true) {
		return nil
	}
	var errs []error
	if l.attach != nil {
		errs = append(errs, l.attach.Close())
	}
	for _, q := range l.queues {
		errs = append(errs, q.s.close())
	}
	if l.prog != nil {
		errs = append(errs, l.prog.Close())
	}
	if l.promisc {
		errs = append(errs, netlink.SetPromiscOff(l.link))
	}
	return errors.Join(errs...)
}

// Stats returns the port's counters.
func (l *LAN) Stats() Stats {
	var st Stats
	for _, q := range l.queues {
		st.add(q.s)
		st.TxBadOffload += q.badSeg.Load()
	}
	st.XDP = programCounters(l.prog)
	return st
}

func (q *lanQueue) BatchSize() int { return port.DefaultBatchSize }
func (q *lanQueue) Close() error   { return q.s.close() }
func (q *lanQueue) MaxFrame() int  { return q.s.maxFrame }

func (q *lanQueue) ReadBatch(pkts []*buf.Packet) (int, error) { return q.s.recv(pkts, nil) }

// WriteBatch sends frames; offload super-frames (from a peer whose TAP
// hands them over) are cut into wire frames first, and partial checksums
// completed.
func (q *lanQueue) WriteBatch(pkts []*buf.Packet) (int, error) {
	q.plain = q.plain[:0]
	for _, p := range pkts {
		if p.Meta.GSO.IsZero() {
			q.plain = append(q.plain, p)
			continue
		}
		if err := q.flush(); err != nil {
			return 0, err
		}
		if !q.seg.Init(p.Meta.GSO, p.Data()) {
			q.badSeg.Add(1)
			continue
		}
		_, err := q.s.send(q.seg.N(), &q.super)
		q.seg.Release()
		if err != nil {
			return 0, err
		}
	}
	if err := q.flush(); err != nil {
		return 0, err
	}
	return len(pkts), nil
}

func (q *lanQueue) flush() error {
	if len(q.plain) == 0 {
		return nil
	}
	_, err := q.s.send(len(q.plain), (*plainSource)(q))
	clear(q.plain) // do not retain the caller's packets
	q.plain = q.plain[:0]
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("afxdp: %w", err)
	}
	return err
}

// plainSource sends q.plain as they are.
type plainSource lanQueue

func (s *plainSource) txLen(i int) int { return s.plain[i].Len() }
func (s *plainSource) txFill(i int, dst []byte) int {
	return copy(dst, s.plain[i].Data())
}

// segSource sends the segments of q.seg.
type segSource struct{ q *lanQueue }

func (s *segSource) txLen(i int) int {
	return s.q.seg.MaxSegLen() // an upper bound: the last segment may be shorter
}
func (s *segSource) txFill(i int, dst []byte) int { return s.q.seg.Cut(i, dst) }
