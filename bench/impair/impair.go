// SPDX-License-Identifier: Apache-2.0

package impair

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Config is what a relay is made with.
type Config struct {
	Listen netip.AddrPort // where clients send (port 0: any free port, see Addr)
	Target netip.AddrPort // where the relay forwards
	Params Params         // both directions (see SetParams for per-direction)
	Seed   uint64         // of the decisions: the same seed and input make the same decisions

	// MaxQueue is the most datagrams held for delay at once, per direction
	// (default 65536); beyond it they are dropped and counted. A held
	// datagram takes a pooled buffer of 2 KiB, 16 KiB or 64 KiB, the
	// smallest it fits.
	MaxQueue int
	// MaxClients is the most client mappings (default 64). Each client
	// (source address) gets its own upstream socket, like a NAT; one idle
	// for IdleTimeout (default 60s) in both directions expires.
	MaxClients  int
	IdleTimeout time.Duration
}

// Defaults of Config.
const (
	DefaultMaxQueue    = 65536
	DefaultMaxClients  = 64
	DefaultIdleTimeout = 60 * time.Second
)

// ErrClosed is returned by Run on a relay closed already.
var ErrClosed = errors.New("impair: relay closed")

// Relay is a running UDP impairment relay. Its methods are safe for
// concurrent use.
type Relay struct {
	cfg    Config
	ln     *net.UDPConn
	addr   netip.AddrPort
	upNet  string // "udp4" or "udp6", the family of Target
	start  time.Time
	params atomic.Pointer[[2]Params] // to-target, from-target; clamped
	dirs   [2]*direction

	running   atomic.Bool
	done      chan struct{} // closed by shutdown
	closeOnce sync.Once
	wg        sync.WaitGroup

	mu      sync.Mutex // guards clients and closed
	clients map[netip.AddrPort]*client
	closed  bool
	opened  atomic.Uint64
	expired atomic.Uint64
}

// client is one client mapping.
type client struct {
	addr netip.AddrPort // the client, as the listen socket sees it
	up   *net.UDPConn   // connected to Target from an ephemeral port
	last atomic.Int64   // relay clock of its last datagram either way
}

// New validates c, fills in its defaults and binds the listen socket.
func New(c Config) (*Relay, error) {
	if !c.Listen.IsValid() {
		return nil, errors.New("impair: no listen address")
	}
	if !c.Target.IsValid() || c.Target.Port() == 0 || c.Target.Addr().IsUnspecified() {
		return nil, fmt.Errorf("impair: bad target address %v", c.Target)
	}
	if err := c.Params.Validate(); err != nil {
		return nil, fmt.Errorf("impair: params: %w", err)
	}
	if c.MaxQueue < 0 || c.MaxClients < 0 || c.IdleTimeout < 0 {
		return nil, fmt.Errorf("impair: negative limit (max queue %d, max clients %d, idle timeout %v)", c.MaxQueue, c.MaxClients, c.IdleTimeout)
	}
	if c.MaxQueue == 0 {
		c.MaxQueue = DefaultMaxQueue
	}
	if c.MaxClients == 0 {
		c.MaxClients = DefaultMaxClients
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	r := &Relay{cfg: c, upNet: "udp6", start: time.Now(), done: make(chan struct{}), clients: map[netip.AddrPort]*client{}}
	if c.Target.Addr().Unmap().Is4() {
		r.upNet = "udp4"
	}
	laddr := netip.AddrPortFrom(c.Listen.Addr().Unmap(), c.Listen.Port())
	ln, err := net.ListenUDP(listenNetwork(laddr.Addr()), net.UDPAddrFromAddrPort(laddr))
	if err != nil {
		return nil, fmt.Errorf("impair: listen on %v: %w", c.Listen, err)
	}
	setBuffers(ln)
	r.ln = ln
	r.addr = ln.LocalAddr().(*net.UDPAddr).AddrPort()
	p := c.Params.clamped()
	r.params.Store(&[2]Params{p, p})
	for i := range r.dirs {
		if r.dirs[i], err = newDirection(r, i, c.Seed); err != nil {
			r.Close()
			return nil, err
		}
	}
	return r, nil
}

// listenNetwork is "udp4" for an IPv4 address, "udp" (both families) for
// the IPv6 unspecified address, else "udp6".
func listenNetwork(a netip.Addr) string {
	switch {
	case a.Is4():
		return "udp4"
	case a.IsUnspecified():
		return "udp"
	}
	return "udp6"
}

// sockBuf is the socket buffer size asked for (the kernel caps it at
// net.core.rmem_max and wmem_max), so bursts are not lost before the relay
// sees them.
const sockBuf = 4 << 20

func setBuffers(c *net.UDPConn) {
	c.SetReadBuffer(sockBuf)  // best effort
	c.SetWriteBuffer(sockBuf) // best effort
}

// Addr is the address the relay listens on (with the port chosen when
// Config.Listen's was 0).
func (r *Relay) Addr() netip.AddrPort { return r.addr }

// now is the relay clock: monotonic nanoseconds since New.
func (r *Relay) now() int64 { return int64(time.Since(r.start)) }

// SetParams sets the impairments of both directions at once, while the
// relay runs: datagrams arriving afterwards get them (those already queued
// keep their due times). Values out of range are clamped into it (see
// Params.Validate to reject them instead).
func (r *Relay) SetParams(toTarget, fromTarget Params) {
	r.params.Store(&[2]Params{toTarget.clamped(), fromTarget.clamped()})
}

// Params returns the impairments in force, as SetParams clamped them.
func (r *Relay) Params() (toTarget, fromTarget Params) {
	p := r.params.Load()
	return p[0], p[1]
}

// Stats returns the relay's counters.
func (r *Relay) Stats() Stats {
	r.mu.Lock()
	n := len(r.clients)
	r.mu.Unlock()
	return Stats{
		ToTarget:       r.dirs[toTarget].stats(),
		FromTarget:     r.dirs[fromTarget].stats(),
		Clients:        n,
		ClientsOpened:  r.opened.Load(),
		ClientsExpired: r.expired.Load(),
	}
}

// Run relays until ctx is done or Close is called, then closes every
// socket, waits for its goroutines and returns nil; or returns the error
// that stopped the listen socket. A relay runs once.
func (r *Relay) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return errors.New("impair: run called twice")
	}
	select {
	case <-r.done:
		return ErrClosed
	default:
	}
	errc := make(chan error, 1)
	r.wg.Add(6)
	go func() { defer r.wg.Done(); r.dirs[toTarget].alarm.run() }()
	go func() { defer r.wg.Done(); r.dirs[fromTarget].alarm.run() }()
	go func() {
		defer r.wg.Done()
		if err := r.readListen(); err != nil {
			errc <- err
		}
	}()
	go func() { defer r.wg.Done(); r.dirs[toTarget].run(r.done) }()
	go func() { defer r.wg.Done(); r.dirs[fromTarget].run(r.done) }()
	go func() { defer r.wg.Done(); r.expire() }()

	var err error
	select {
	case <-ctx.Done():
	case <-r.done:
	case err = <-errc:
	}
	r.Close()
	r.wg.Wait()
	r.dirs[toTarget].drain()
	r.dirs[fromTarget].drain()
	return err
}

// Close stops the relay: it closes its sockets and makes Run return. It is
// for a relay that never ran, or to stop one from elsewhere than its ctx.
func (r *Relay) Close() error {
	r.closeOnce.Do(func() {
		r.mu.Lock()
		r.closed = true
		for _, c := range r.clients {
			c.up.Close()
		}
		r.mu.Unlock()
		r.ln.Close()
		for _, d := range r.dirs {
			if d != nil {
				d.alarm.close()
			}
		}
		close(r.done)
	})
	return nil
}

// maxReadErrors is how many read errors in a row end a read loop.
const maxReadErrors = 100

// readListen reads the clients' datagrams until the listen socket closes.
func (r *Relay) readListen() error {
	buf := make([]byte, 64<<10)
	d := r.dirs[toTarget]
	errs := 0
	for {
		n, from, err := r.ln.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			if errs++; errs >= maxReadErrors {
				return fmt.Errorf("impair: read on %v: %w", r.addr, err)
			}
			continue
		}
		errs = 0
		cl := r.client(from)
		if cl == nil {
			d.c.received.Add(1)
			d.c.dropNoClient.Add(1)
			continue
		}
		cl.last.Store(r.now())
		d.handle(buf[:n], cl)
	}
}

// client returns the mapping of the client at addr, making it (and
// starting its reader) if there is none; nil when the table is full, the
// relay is closing or no upstream socket could be opened.
func (r *Relay) client(addr netip.AddrPort) *client {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.clients[addr]; c != nil {
		return c
	}
	if r.closed || len(r.clients) >= r.cfg.MaxClients {
		return nil
	}
	up, err := net.DialUDP(r.upNet, nil, net.UDPAddrFromAddrPort(r.cfg.Target))
	if err != nil {
		return nil
	}
	setBuffers(up)
	c := &client{addr: addr, up: up}
	c.last.Store(r.now())
	r.clients[addr] = c
	r.opened.Add(1)
	r.wg.Add(1) // readListen holds a count, so this does not race Wait
	go func() {
		defer r.wg.Done()
		r.readUpstream(c)
	}()
	return c
}

// readUpstream reads Target's answers to client c until its socket closes.
func (r *Relay) readUpstream(c *client) {
	buf := make([]byte, 64<<10)
	d := r.dirs[fromTarget]
	errs := 0
	for {
		n, err := c.up.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// ECONNREFUSED: an ICMP port unreachable for an earlier
			// datagram; Target may come up later.
			if errors.Is(err, syscall.ECONNREFUSED) {
				continue
			}
			if errs++; errs >= maxReadErrors {
				r.remove(c)
				return
			}
			continue
		}
		errs = 0
		c.last.Store(r.now())
		d.handle(buf[:n], c)
	}
}

// remove deletes client c's mapping and closes its socket.
func (r *Relay) remove(c *client) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.clients[c.addr] == c {
		delete(r.clients, c.addr)
	}
	c.up.Close()
}

// expire removes the mappings idle for IdleTimeout, until the relay stops.
func (r *Relay) expire() {
	idle := r.cfg.IdleTimeout
	t := time.NewTicker(min(max(idle/4, 10*time.Millisecond), 5*time.Second))
	defer t.Stop()
	for {
		select {
		case <-r.done:
			return
		case <-t.C:
		}
		now := r.now()
		r.mu.Lock()
		for addr, c := range r.clients {
			if now-c.last.Load() >= int64(idle) {
				delete(r.clients, addr)
				c.up.Close()
				r.expired.Add(1)
			}
		}
		r.mu.Unlock()
	}
}
