// SPDX-License-Identifier: Apache-2.0

package afxdp

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/skiffnet/skiff/bpf"
	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/port"
	"github.com/skiffnet/skiff/dataplane/port/udp"
	"github.com/vishvananda/netlink"
)

// UnderlayConfig describes an underlay AF_XDP port.
type UnderlayConfig struct {
	Interface string // the NIC the underlay traffic uses
	// Addr is the local address; its port is skiff's UDP port. With an
	// unspecified address (0.0.0.0 or ::) datagrams to any of the host's
	// addresses are taken, and each destination's route gives the source.
	Addr         netip.AddrPort
	SocketBuffer int  // of the port's kernel UDP socket; 0: udp.DefaultSocketBuffer
	Queues       int  // sockets on queues 0..Queues-1; 0: every receive queue
	CopyOnly     bool // bind in copy mode even where zero-copy is possible
}

// UnderlayStats are the underlay's own counters (Stats.Underlay).
type UnderlayStats struct {
	// RxFaults counts redirected frames that were not datagrams for
	// skiff, by fault (truncated, bad-ip, bad-udp-checksum, ...).
	RxFaults map[string]uint64 `json:",omitempty"`
	// ViaKernel counts datagrams sent through the kernel socket: the next
	// hop was not resolved yet, or the route leaves through another NIC.
	ViaKernel uint64
	// RxCsumPartial counts datagrams taken with a partial UDP checksum
	// (a virtual link's sender left it to an offload that never ran).
	RxCsumPartial uint64
	Kernel        udp.Stats // the kernel socket's counters
}

// Underlay is an AF_XDP port on the underlay NIC. It is a port.Queuer: one
// queue per NIC queue, and one more for the kernel socket's receive side.
type Underlay struct {
	name    string
	local   netip.AddrPort
	match   netip.Addr // destination address datagrams must have; invalid: any
	kernel  *udp.Port
	kmu     sync.Mutex // serialises writes to kernel from the queues
	prog    *bpf.Program
	attach  io.Closer
	queues  []*uQueue
	kq      *kernelQueue
	neigh   *neighbours
	faults  [numOuterFaults]atomic.Uint64
	via     atomic.Uint64
	partial atomic.Uint64
	closed  atomic.Bool
}

var (
	_ port.Port   = (*Underlay)(nil)
	_ port.Queuer = (*Underlay)(nil)
)

// OpenUnderlay binds the kernel socket, loads the underlay program, opens
// one socket per queue and attaches the program in native mode. It fails,
// changing nothing, if the NIC or kernel cannot: the caller may fall back
// to a plain UDP port. It must run in the NIC's network namespace.
func OpenUnderlay(c UnderlayConfig) (_ *Underlay, err error) {
	link, err := netlink.LinkByName(c.Interface)
	if err != nil {
		return nil, fmt.Errorf("afxdp: %s: %w", c.Interface, err)
	}
	u := &Underlay{name: c.Interface}
	defer func() {
		if err != nil {
			u.Close()
		}
	}()
	if u.kernel, err = udp.Listen(udp.Config{Addr: c.Addr, SocketBuffer: c.SocketBuffer}); err != nil {
		return nil, fmt.Errorf("afxdp: %w", err)
	}
	u.local = u.kernel.LocalAddr()
	if a := u.local.Addr().Unmap(); !a.IsUnspecified() {
		u.match = a
	}
	u.kq = &kernelQueue{u: u}
	if u.neigh, err = newNeighbours(link.Attrs().Index, link.Attrs().HardwareAddr, u.match); err != nil {
		return nil, fmt.Errorf("afxdp: %s: netlink: %w", c.Interface, err)
	}
	if u.prog, err = bpf.LoadUnderlay(u.local.Port()); err != nil {
		return nil, fmt.Errorf("afxdp: %s: %w", c.Interface, err)
	}
	err = openQueues(link, c.Queues, c.CopyOnly, u.prog, func(s *socket) {
		u.queues = append(u.queues, &uQueue{u: u, s: s})
	})
	if err != nil {
		return nil, fmt.Errorf("afxdp: %s: %w", c.Interface, err)
	}
	if u.attach, err = u.prog.Attach(link.Attrs().Index); err != nil {
		return nil, fmt.Errorf("afxdp: %s: %w", c.Interface, err)
	}
	u.neigh.start()
	return u, nil
}

// Name is the NIC's name.
func (u *Underlay) Name() string { return u.name }

// LocalAddr is the port's address (as the kernel socket is bound).
func (u *Underlay) LocalAddr() netip.AddrPort { return u.local }

// Queues returns the NIC queues' ports, which send and receive, and last
// the kernel socket's, which receives what the program passes to the
// kernel (IP fragments). Writers use the first len-1.
func (u *Underlay) Queues() ([]port.Port, int) {
	qs := make([]port.Port, 0, len(u.queues)+1)
	for _, q := range u.queues {
		qs = append(qs, q)
	}
	return append(qs, u.kq), len(u.queues)
}

// ReadBatch reads from queue 0 only (Queues gives every queue).
func (u *Underlay) ReadBatch(pkts []*buf.Packet) (int, error) { return u.queues[0].ReadBatch(pkts) }

// WriteBatch writes through queue 0.
func (u *Underlay) WriteBatch(pkts []*buf.Packet) (int, error) { return u.queues[0].WriteBatch(pkts) }

// BatchSize is the number of datagrams per batch.
func (u *Underlay) BatchSize() int { return port.DefaultBatchSize }

// Close detaches the program and closes the sockets; readers get
// net.ErrClosed.
func (u *Underlay) Close() error {
	if u.closed.Swap(true) {
		return nil
	}
	var errs []error
	if u.attach != nil {
		errs = append(errs, u.attach.Close())
	}
	for _, q := range u.queues {
		errs = append(errs, q.s.close())
	}
	if u.prog != nil {
		errs = append(errs, u.prog.Close())
	}
	if u.neigh != nil {
		u.neigh.stop()
	}
	if u.kernel != nil {
		errs = append(errs, u.kernel.Close())
	}
	return errors.Join(errs...)
}

// Stats returns the port's counters.
func (u *Underlay) Stats() Stats {
	var st Stats
	for _, q := range u.queues {
		st.add(q.s)
	}
	st.XDP = programCounters(u.prog)
	us := &UnderlayStats{ViaKernel: u.via.Load(), RxCsumPartial: u.partial.Load(), Kernel: u.kernel.Stats()}
	for f := outerTruncated; f < numOuterFaults; f++ {
		if n := u.faults[f].Load(); n != 0 {
			if us.RxFaults == nil {
				us.RxFaults = map[string]uint64{}
			}
			us.RxFaults[f.String()] = n
		}
	}
	st.Underlay = us
	return st
}

// uQueue is one NIC queue's socket.
type uQueue struct {
	u *Underlay
	s *socket

	// WriteBatch's state.
	pkts []*buf.Packet
	hops []nextHop
	kb   []*buf.Packet // datagrams for the kernel socket
	// A one-entry cache of the neighbour table: most batches go to one peer.
	lastTable *map[netip.Addr]nextHop
	lastDst   netip.Addr
	lastHop   nextHop
}

func (q *uQueue) BatchSize() int { return port.DefaultBatchSize }
func (q *uQueue) Close() error   { return q.u.Close() }

func (q *uQueue) ReadBatch(pkts []*buf.Packet) (int, error) { return q.s.recv(pkts, q) }

// rxFrame checks one redirected frame and copies its payload into p.
func (q *uQueue) rxFrame(frame []byte, p *buf.Packet) bool {
	payload, src, f, partial := parseOuter(frame, q.u.match, q.u.local.Port())
	if f != outerOK {
		q.u.faults[f].Add(1)
		return false
	}
	if partial {
		q.u.partial.Add(1)
	}
	if len(payload) > len(p.Room()) {
		q.s.stats.rxOversize.Add(1)
		return false
	}
	p.SetLen(copy(p.Room(), payload))
	p.Addr = src
	return true
}

// WriteBatch sends each datagram to its Addr: straight onto the NIC when
// the next hop is known, else through the kernel socket.
func (q *uQueue) WriteBatch(pkts []*buf.Packet) (int, error) {
	if cap(q.hops) < len(pkts) {
		q.hops = make([]nextHop, len(pkts))
	}
	q.pkts, q.hops, q.kb = pkts, q.hops[:len(pkts)], q.kb[:0]
	direct := 0
	for i, p := range pkts {
		dst := p.Addr.Addr().Unmap()
		h := q.hop(dst)
		if !h.ok || h.hdr.src.Is4() != dst.Is4() || p.Len()+outerLen(!dst.Is4()) > q.s.maxFrame {
			q.hops[i].ok = false
			q.kb = append(q.kb, p)
			continue
		}
		q.hops[i] = h
		direct++
	}
	var err error
	if direct > 0 {
		_, err = q.s.send(len(pkts), q)
	}
	if len(q.kb) > 0 {
		q.u.via.Add(uint64(len(q.kb)))
		q.u.kmu.Lock()
		_, kerr := q.u.kernel.WriteBatch(q.kb)
		q.u.kmu.Unlock()
		err = errors.Join(err, kerr)
	}
	clear(q.kb)
	q.pkts = nil
	if err != nil {
		if q.u.closed.Load() {
			return 0, net.ErrClosed
		}
		return 0, fmt.Errorf("afxdp: %s: %w", q.u.name, err)
	}
	return len(pkts), nil
}

func (q *uQueue) hop(dst netip.Addr) nextHop {
	t := q.u.neigh.table.Load()
	if t == q.lastTable && dst == q.lastDst {
		return q.lastHop
	}
	h := q.u.neigh.lookup(dst)
	q.lastTable, q.lastDst, q.lastHop = t, dst, h
	return h
}

func (q *uQueue) txLen(i int) int {
	if !q.hops[i].ok {
		return 0
	}
	return outerLen(!q.hops[i].hdr.src.Is4()) + q.pkts[i].Len()
}

func (q *uQueue) txFill(i int, dst []byte) int {
	p := q.pkts[i]
	h := &q.hops[i]
	v6 := !h.hdr.src.Is4()
	plen := copy(dst[outerLen(v6):], p.Data())
	to := netip.AddrPortFrom(p.Addr.Addr().Unmap(), p.Addr.Port())
	return buildOuter(dst, &h.hdr, q.u.local.Port(), to, plen)
}

// kernelQueue is the kernel socket's receive side as a queue.
type kernelQueue struct{ u *Underlay }

func (k *kernelQueue) BatchSize() int { return k.u.kernel.BatchSize() }
func (k *kernelQueue) Close() error   { return k.u.Close() }
func (k *kernelQueue) ReadBatch(pkts []*buf.Packet) (int, error) {
	return k.u.kernel.ReadBatch(pkts)
}
func (k *kernelQueue) WriteBatch(pkts []*buf.Packet) (int, error) {
	k.u.kmu.Lock()
	defer k.u.kmu.Unlock()
	return k.u.kernel.WriteBatch(pkts)
}
