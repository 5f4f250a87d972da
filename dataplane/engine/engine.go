// SPDX-License-Identifier: Apache-2.0

// Package engine runs the dataplane: one transmit worker goroutine per
// queue of the local port and one receive worker per queue of each
// underlay port (a socket, or an AF_XDP socket per NIC queue), each moving
// batches from a port through a pipeline into another port.
//
//	local port --ReadBatch--> [tx worker: pipeline.Tx] --WriteBatch--> underlay port[route.Port]
//	local port <--WriteBatch-- [rx worker i: pipeline.Rx] <--ReadBatch-- underlay port i
//	                                   |
//	                                   +--> control plane (handshakes, control messages)
//
// The control plane publishes an immutable pipeline.Snapshot with Apply;
// workers load it once per batch, so a change never tears a batch. Workers
// pass batches, never single packets, and allocate nothing in steady state.
package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/pipeline"
	"github.com/skiffnet/skiff/dataplane/port"
	"github.com/skiffnet/skiff/dataplane/stage"
	"github.com/skiffnet/skiff/dataplane/wire"
)

// ControlFunc receives the handshake and control datagrams that arrived on
// underlay port number port (see pipeline.ControlFunc). It runs on that
// port's receive worker, so it must be quick and must not block: copy what
// it needs and hand it to another goroutine. It must not retain p, and it
// must not call the engine's Send or Close (a Send that waits for a full
// port would stall the worker that drains it).
type ControlFunc func(port int, p *buf.Packet, h *wire.Header)

// Config wires an engine.
type Config struct {
	Local     port.Port   // the L2 side
	Underlays []port.Port // the UDP side: one or more sockets; Route.Port indexes them
	// Pool supplies every packet the engine uses; nil: buf.Default.
	Pool *buf.Pool
	// Control receives handshake and control datagrams; nil drops them.
	Control ControlFunc
	// Now is a monotonic clock in nanoseconds; nil: time since New.
	Now    func() int64
	Logger *slog.Logger // nil: discard
}

// Engine moves frames between the local port and the underlay.
type Engine struct {
	cfg  Config
	log  *slog.Logger
	snap atomic.Pointer[pipeline.Snapshot]

	tx, rx pipeline.Stats

	// Ports with several queues (port.Queuer) get a worker per queue.
	local []port.Port   // the local port's queues: one tx worker each
	ltx   int           // local queues that take writes
	lmu   []sync.Mutex  // per local queue: serialises writes of the rx workers
	under [][]port.Port // per underlay port, its queues: one rx worker each
	utx   []int         // per underlay port, the queues that take writes
	wmu   [][]sync.Mutex
	wg    sync.WaitGroup

	closed  atomic.Bool
	errOnce sync.Once
	err     error
	done    chan struct{}
}

// New returns an engine with the initial snapshot s. Start starts it.
func New(c Config, s *pipeline.Snapshot) *Engine {
	if c.Pool == nil {
		c.Pool = buf.Default
	}
	if c.Now == nil {
		t0 := time.Now()
		c.Now = func() int64 { return int64(time.Since(t0)) }
	}
	log := c.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	e := &Engine{cfg: c, log: log, done: make(chan struct{})}
	e.local, e.ltx = port.Queues(c.Local)
	e.lmu = make([]sync.Mutex, e.ltx)
	for _, u := range c.Underlays {
		qs, tx := port.Queues(u)
		e.under = append(e.under, qs)
		e.utx = append(e.utx, tx)
		e.wmu = append(e.wmu, make([]sync.Mutex, tx))
	}
	e.snap.Store(s)
	return e
}

// Apply publishes a new snapshot. s must not be modified afterwards.
func (e *Engine) Apply(s *pipeline.Snapshot) { e.snap.Store(s) }

// Snapshot returns the snapshot in use.
func (e *Engine) Snapshot() *pipeline.Snapshot { return e.snap.Load() }

// Start starts the workers.
func (e *Engine) Start() {
	for i := range e.local {
		e.wg.Add(1)
		go e.txLoop(i)
	}
	for i, qs := range e.under {
		for q := range qs {
			e.wg.Add(1)
			go e.rxLoop(i, q)
		}
	}
}

// Stats returns the transmit and receive counters.
func (e *Engine) Stats() (tx, rx pipeline.Counts) { return e.tx.Load(), e.rx.Load() }

// Done is closed when a worker stopped on a port error (see Err) or after
// Close.
func (e *Engine) Done() <-chan struct{} { return e.done }

// Err is the port error that stopped the engine, if any.
func (e *Engine) Err() error {
	select {
	case <-e.done:
		return e.err
	default:
		return nil
	}
}

// stop records the error that stops the engine. After a port failure it
// also closes the ports, so every worker ends, not just the one that saw
// the error.
func (e *Engine) stop(err error) {
	e.errOnce.Do(func() {
		e.err = err
		close(e.done)
	})
	if err != nil {
		e.closePorts()
	}
}

func (e *Engine) closePorts() {
	if !e.closed.Swap(true) {
		e.cfg.Local.Close()
		for _, u := range e.cfg.Underlays {
			u.Close()
		}
	}
}

// Close closes both ports, waits for the workers and returns the error that
// stopped them, if any besides the close.
func (e *Engine) Close() error {
	e.closePorts()
	e.wg.Wait()
	e.stop(nil)
	return e.err
}

// Send writes one datagram (a handshake or control message the control
// plane built) to underlay port number port. It copies b.
func (e *Engine) Send(port int, b []byte, to netip.AddrPort) error {
	if port < 0 || port >= len(e.cfg.Underlays) {
		return fmt.Errorf("engine: no underlay port %d", port)
	}
	p := e.cfg.Pool.Get()
	defer e.cfg.Pool.Put(p)
	if !p.SetData(b) {
		return fmt.Errorf("engine: datagram of %d bytes too long", len(b))
	}
	p.Addr = to
	pkts := [1]*buf.Packet{p}
	e.wmu[port][0].Lock()
	n, err := e.under[port][0].WriteBatch(pkts[:])
	e.wmu[port][0].Unlock()
	if err == nil && n != 1 {
		err = fmt.Errorf("engine: underlay port %d refused a datagram to %v", port, to)
	}
	return err
}

// maxTransient is how many consecutive non-close errors a worker tolerates
// from a port before it gives up.
const maxTransient = 10

// txLoop is the transmit worker of local queue lq.
func (e *Engine) txLoop(lq int) {
	defer e.wg.Done()
	pool := e.cfg.Pool
	local := e.local[lq]
	bs := local.BatchSize()
	// Input and output slots exchange packets, so both must be big enough
	// for what the local port reads (super-frames with offloads).
	rp := port.ReadPool(e.cfg.Local, pool)
	in := buf.NewBatch(rp, bs)
	out := buf.NewBatch(rp, bs+stage.MaxPieces)
	defer in.Release()
	defer out.Release()
	tx := pipeline.NewTx(&e.tx)
	tx.SetClock(e.cfg.Now)
	defer tx.Close()
	errs := 0
	for {
		n, err := local.ReadBatch(in.Pkts)
		if err != nil {
			if e.fatal("local read", err, &errs) {
				return
			}
			continue
		}
		errs = 0
		e.txBatch(tx, in.Pkts[:n], out, lq)
		if e.closed.Load() {
			return
		}
	}
}

// txBatch runs one read batch through tx and writes the datagrams; lq, the
// local queue it came from, picks the underlay queue.
func (e *Engine) txBatch(tx *pipeline.Tx, in []*buf.Packet, out *buf.Batch, lq int) {
	s := e.snap.Load()
	for done := 0; done < len(in); {
		done += tx.Process(s, in[done:], out)
		e.writeUnderlay(&e.tx, &e.tx.Out, lq, out)
	}
}

// writeUnderlay writes out's datagrams, each to the underlay port its
// Meta.Port names (queue q picks that port's queue), in runs of the same
// port; what the ports refuse is counted a PortWrite drop in st and taken
// off sent, the counter that counted it out.
func (e *Engine) writeUnderlay(st *pipeline.Stats, sent *atomic.Uint64, q int, out *buf.Batch) {
	for i := 0; i < out.N; {
		port := int(out.Pkts[i].Meta.Port)
		j := i + 1
		for j < out.N && int(out.Pkts[j].Meta.Port) == port {
			j++
		}
		run := out.Pkts[i:j]
		i = j
		if port >= len(e.cfg.Underlays) {
			st.Drops[stage.PortWrite].Add(uint64(len(run)))
			sent.Add(^uint64(len(run) - 1))
			continue
		}
		uq := q % e.utx[port]
		e.wmu[port][uq].Lock()
		n, err := e.under[port][uq].WriteBatch(run)
		e.wmu[port][uq].Unlock()
		if n < len(run) {
			st.Drops[stage.PortWrite].Add(uint64(len(run) - n))
			sent.Add(^uint64(len(run) - n - 1))
		}
		if err != nil && !errors.Is(err, net.ErrClosed) {
			e.log.Warn("underlay write", "err", err)
		}
	}
	out.N = 0
}

// rxLoop is the receive worker of queue uq of underlay port.
func (e *Engine) rxLoop(port, uq int) {
	defer e.wg.Done()
	pool := e.cfg.Pool
	u := e.under[port][uq]
	bs := u.BatchSize()
	in := buf.NewBatch(pool, bs)
	out := buf.NewBatch(pool, bs)
	fwd := buf.NewBatch(pool, bs)
	defer in.Release()
	defer out.Release()
	defer fwd.Release()
	var ctl pipeline.ControlFunc
	if c := e.cfg.Control; c != nil {
		ctl = func(p *buf.Packet, h *wire.Header) { c(port, p, h) }
	}
	rx := pipeline.NewRx(pipeline.RxConfig{Stats: &e.rx, Pool: pool, Control: ctl, Now: e.cfg.Now})
	defer rx.Close()
	errs := 0
	for {
		n, err := u.ReadBatch(in.Pkts)
		if err != nil {
			if e.fatal("underlay read", err, &errs) {
				return
			}
			continue
		}
		errs = 0
		e.rxBatch(rx, in.Pkts[:n], out, fwd, uq)
		if e.closed.Load() {
			return
		}
	}
}

// rxBatch runs one read batch of underlay queue uq through rx, writes the
// frames to a local queue and, in a mesh, the datagrams it relays back to
// the underlay.
func (e *Engine) rxBatch(rx *pipeline.Rx, in []*buf.Packet, out, fwd *buf.Batch, uq int) {
	s := e.snap.Load()
	lq := uq % e.ltx
	if s.Mesh == nil {
		fwd = nil
	}
	for done := 0; done < len(in); {
		done += rx.ProcessRelay(s, in[done:], out, fwd)
		if fwd != nil && fwd.N > 0 {
			e.writeUnderlay(&e.rx, &e.rx.Relayed, uq, fwd)
		}
		if out.N == 0 {
			continue
		}
		e.lmu[lq].Lock()
		n, err := e.local[lq].WriteBatch(out.Pkts[:out.N])
		e.lmu[lq].Unlock()
		if n < out.N {
			e.rx.Drops[stage.PortWrite].Add(uint64(out.N - n))
			e.rx.Out.Add(^uint64(out.N - n - 1))
		}
		if err != nil && !errors.Is(err, net.ErrClosed) {
			e.log.Warn("local write", "err", err)
		}
		out.N = 0
	}
}

// fatal handles a read error and reports whether the worker must stop.
func (e *Engine) fatal(what string, err error, errs *int) bool {
	if errors.Is(err, net.ErrClosed) || e.closed.Load() {
		return true
	}
	*errs++
	e.log.Warn(what, "err", err, "consecutive", *errs)
	if *errs >= maxTransient {
		e.stop(fmt.Errorf("engine: %s: %w", what, err))
		return true
	}
	time.Sleep(time.Duration(*errs) * time.Millisecond)
	return false
}
