// SPDX-License-Identifier: Apache-2.0

package memif

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skiffnet/skiff/dataplane/buf"
	"golang.org/x/sys/unix"
)

// Role is which end of the control socket an interface is.
type Role int

// Roles. VPP calls the server master and the client slave.
const (
	RoleClient Role = iota // connects, owns the shared memory
	RoleServer             // listens, maps the client's memory
)

func (r Role) String() string {
	if r == RoleServer {
		return "server"
	}
	return "client"
}

// ParseRole reads "server" or "client" (VPP's "master" and "slave" too).
func ParseRole(s string) (Role, error) {
	switch strings.ToLower(s) {
	case "server", "master":
		return RoleServer, nil
	case "client", "slave", "":
		return RoleClient, nil
	}
	return 0, fmt.Errorf("memif: role %q: want server or client", s)
}

// Defaults of Config.
const (
	DefaultLog2Ring   = 10
	DefaultBufferSize = 2048
	DefaultReconnect  = time.Second
	// MaxQueues bounds the queue pairs of one interface.
	MaxQueues = 256

	handshakeTimeout = 5 * time.Second
	// DefaultTxWait is how long Send waits for a full ring to drain
	// before it drops what is left of a batch: long enough for a receiver
	// that sleeps in epoll to be woken and scheduled on a busy machine.
	DefaultTxWait = 10 * time.Millisecond
)

// Config describes one memif interface.
type Config struct {
	// Socket is the control socket: a filesystem path, or an abstract
	// name written "@name" (or VPP's "abstract:name").
	Socket string
	// ID is the interface id; a server takes only clients naming it.
	ID uint32
	// Role: RoleClient connects (and reconnects) to a server, RoleServer
	// listens for one client at a time.
	Role Role
	// Secret, if set, is sent by a client and required by a server (at
	// most 23 bytes). It is no cryptographic authentication: socket
	// permissions and network namespaces are the access control.
	Secret string
	// Name is skiff's name in hello/init/connect (default "skiff").
	Name string
	// Queues is the number of queue pairs a client asks for and a server
	// accepts at most (default 1). A client gets fewer if the server
	// allows fewer.
	Queues int
	// Log2Ring is a client's ring size, 2^Log2Ring slots (default 10).
	Log2Ring uint8
	// BufferSize is a client's buffer size (default 2048); longer frames
	// are chained over several buffers.
	BufferSize int
	// Poll makes the receive rings polled: the peer does not kick their
	// eventfds and Recv spins, yielding the processor between polls.
	// Otherwise Recv sleeps in epoll until the peer kicks.
	Poll bool
	// SeparateBuffers puts a client's buffers in a region of their own
	// (region 1; the rings stay in region 0), the layout of a zero-copy
	// client.
	SeparateBuffers bool
	// TxWait is how long Send waits for room in a full ring before it
	// drops the rest of the batch (default DefaultTxWait).
	TxWait time.Duration
	// Reconnect is how long a client waits between connection attempts
	// (default 1s).
	Reconnect time.Duration
	// Log receives connection events; nil discards them.
	Log *slog.Logger
}

func (c *Config) setDefaults() error {
	if c.Socket == "" {
		return errors.New("memif: socket: empty")
	}
	if rest, ok := strings.CutPrefix(c.Socket, "abstract:"); ok {
		c.Socket = "@" + rest
	}
	if len(c.Socket) > 107 {
		return fmt.Errorf("memif: socket %q: longer than 107 bytes", c.Socket)
	}
	if c.Name == "" {
		c.Name = "skiff"
	}
	if len(c.Name) > nameLen {
		return fmt.Errorf("memif: name %q: longer than %d bytes", c.Name, nameLen)
	}
	if len(c.Secret) > secretLen-1 {
		return fmt.Errorf("memif: secret: longer than %d bytes", secretLen-1)
	}
	if c.Queues == 0 {
		c.Queues = 1
	}
	if c.Queues < 0 || c.Queues > MaxQueues {
		return fmt.Errorf("memif: queues %d: want 1..%d", c.Queues, MaxQueues)
	}
	if c.Log2Ring == 0 {
		c.Log2Ring = DefaultLog2Ring
	}
	if c.Log2Ring < MinLog2Ring || c.Log2Ring > MaxLog2Ring {
		return fmt.Errorf("memif: ring size 2^%d: want 2^%d..2^%d", c.Log2Ring, MinLog2Ring, MaxLog2Ring)
	}
	if c.BufferSize == 0 {
		c.BufferSize = DefaultBufferSize
	}
	if c.BufferSize < 128 || c.BufferSize > 65535 {
		return fmt.Errorf("memif: buffer size %d: want 128..65535", c.BufferSize)
	}
	if c.TxWait <= 0 {
		c.TxWait = DefaultTxWait
	}
	if c.Reconnect <= 0 {
		c.Reconnect = DefaultReconnect
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Stats counts an interface's traffic and faults; all fields are atomic.
type Stats struct {
	RxFrames, RxBytes, TxFrames, TxBytes atomic.Uint64
	// RxBadDesc: frames dropped because a descriptor pointed outside the
	// regions (or a chain could never end); RxTooLong: frames longer than a
	// packet holds.
	RxBadDesc, RxTooLong atomic.Uint64
	// TxBadDesc: posted buffers pointing outside the regions (sent
	// empty); TxTooLong: frames the ring could never hold; TxFull: frames
	// dropped because the ring stayed full; TxDown: frames dropped while
	// not connected.
	TxBadDesc, TxTooLong, TxFull, TxDown atomic.Uint64
	// BadRing: a peer's head or tail further than a ring's size away.
	BadRing atomic.Uint64
	// Kicks: eventfd writes to the peer.
	Kicks atomic.Uint64
	// Connects, Disconnects, HandshakeErrors count connections.
	Connects, Disconnects, HandshakeErrors atomic.Uint64
	// MemFaults: accesses to shared memory that faulted because the peer
	// shrank or unmapped a region; each takes the connection down.
	MemFaults atomic.Uint64
}

// Info is a snapshot of an interface's state and counters.
type Info struct {
	Socket      string `json:"socket"`
	ID          uint32 `json:"id"`
	Role        string `json:"role"`
	Connected   bool   `json:"connected"`
	Peer        string `json:"peer,omitempty"`
	RxQueues    int    `json:"rx_queues"`
	TxQueues    int    `json:"tx_queues"`
	RingSize    int    `json:"ring_size,omitempty"`
	Regions     int    `json:"regions,omitempty"`
	Mode        string `json:"mode"` // interrupt or poll
	LastError   string `json:"last_error,omitempty"`
	RxFrames    uint64 `json:"rx_frames"`
	RxBytes     uint64 `json:"rx_bytes"`
	TxFrames    uint64 `json:"tx_frames"`
	TxBytes     uint64 `json:"tx_bytes"`
	RxBadDesc   uint64 `json:"rx_bad_desc"`
	RxTooLong   uint64 `json:"rx_too_long"`
	TxBadDesc   uint64 `json:"tx_bad_desc"`
	TxTooLong   uint64 `json:"tx_too_long"`
	TxFull      uint64 `json:"tx_full"`
	TxDown      uint64 `json:"tx_down"`
	BadRing     uint64 `json:"bad_ring"`
	Kicks       uint64 `json:"kicks"`
	Connects    uint64 `json:"connects"`
	Disconnects uint64 `json:"disconnects"`
	HandshakeEr uint64 `json:"handshake_errors"`
	MemFaults   uint64 `json:"mem_faults"`
}

// Interface is one memif interface: its control socket, the connection
// when there is one, and the per-queue receive waits. A client keeps
// reconnecting and a server keeps accepting until Close.
type Interface struct {
	cfg    Config
	st     Stats
	sess   atomic.Pointer[session]
	queues []*rxq
	closed atomic.Bool
	done   chan struct{}
	ln     *net.UnixListener
	busy   atomic.Bool // server: a client holds the id (from init to disconnect)
	wg     sync.WaitGroup

	mu      sync.Mutex
	changed chan struct{} // closed and replaced on every connect and disconnect
	lastErr string
	conns   map[*net.UnixConn]struct{} // server: connections in handshake
}

// rxq is a receive queue's wait: an epoll set holding its wake eventfd
// (kicked on connect, disconnect and close) and, in interrupt mode, the
// eventfd of the session's ring for this queue.
type rxq struct {
	ep, wake int
	users    atomic.Int32 // Recv calls in progress; Close waits for 0 before closing the fds
	drain    bool         // the ring's eventfd fired: reset it before the next read
}

const (
	tagWake = 0
	tagRing = 1
)

// New opens an interface: a server starts listening at once (a stale
// socket file is replaced, one in use is an error), a client starts
// connecting in the background.
func New(cfg Config) (*Interface, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	f := &Interface{cfg: cfg, done: make(chan struct{}), changed: make(chan struct{}), conns: map[*net.UnixConn]struct{}{}}
	for range cfg.Queues {
		q, err := newRxq()
		if err != nil {
			f.closeQueues()
			return nil, err
		}
		f.queues = append(f.queues, q)
	}
	if cfg.Role == RoleServer {
		ln, err := listen(cfg.Socket)
		if err != nil {
			f.closeQueues()
			return nil, err
		}
		f.ln = ln
		f.wg.Add(1)
		go f.runServer()
	} else {
		f.wg.Add(1)
		go f.runClient()
	}
	return f, nil
}

func newRxq() (*rxq, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memif: epoll_create: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		unix.Close(ep)
		return nil, fmt.Errorf("memif: eventfd: %w", err)
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: tagWake}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, wake, &ev); err != nil {
		unix.Close(ep)
		unix.Close(wake)
		return nil, fmt.Errorf("memif: epoll_ctl: %w", err)
	}
	return &rxq{ep: ep, wake: wake}, nil
}

// listen binds a server's socket, replacing a stale socket file (one no
// process listens on).
func listen(path string) (*net.UnixListener, error) {
	addr := &net.UnixAddr{Name: path, Net: "unixpacket"}
	if !strings.HasPrefix(path, "@") {
		if fi, err := os.Lstat(path); err == nil {
			if fi.Mode()&os.ModeSocket == 0 {
				return nil, fmt.Errorf("memif: socket %s: exists and is not a socket", path)
			}
			if c, err := net.DialUnix("unixpacket", nil, addr); err == nil {
				c.Close()
				return nil, fmt.Errorf("memif: socket %s: another process is listening on it", path)
			}
			os.Remove(path)
		}
	}
	ln, err := net.ListenUnix("unixpacket", addr)
	if err != nil {
		return nil, fmt.Errorf("memif: listen on %s: %w", path, err)
	}
	return ln, nil
}

// Config returns the interface's configuration with defaults filled in.
func (f *Interface) Config() Config { return f.cfg }

// Stats returns the live counters.
func (f *Interface) Stats() *Stats { return &f.st }

// Info returns a snapshot of the state and counters.
func (f *Interface) Info() Info {
	in := Info{Socket: f.cfg.Socket, ID: f.cfg.ID, Role: f.cfg.Role.String(), Mode: "interrupt"}
	if f.cfg.Poll {
		in.Mode = "poll"
	}
	f.mu.Lock()
	in.LastError = f.lastErr
	if s := f.sess.Load(); s != nil {
		in.Connected, in.Peer = true, s.peer
		in.RxQueues, in.TxQueues, in.RingSize, in.Regions = len(s.rx), len(s.tx), 1<<s.log2, len(s.regions)
	}
	f.mu.Unlock()
	st := &f.st
	in.RxFrames, in.RxBytes, in.TxFrames, in.TxBytes = st.RxFrames.Load(), st.RxBytes.Load(), st.TxFrames.Load(), st.TxBytes.Load()
	in.RxBadDesc, in.RxTooLong, in.TxBadDesc, in.TxTooLong = st.RxBadDesc.Load(), st.RxTooLong.Load(), st.TxBadDesc.Load(), st.TxTooLong.Load()
	in.TxFull, in.TxDown, in.BadRing, in.Kicks = st.TxFull.Load(), st.TxDown.Load(), st.BadRing.Load(), st.Kicks.Load()
	in.Connects, in.Disconnects, in.HandshakeEr = st.Connects.Load(), st.Disconnects.Load(), st.HandshakeErrors.Load()
	in.MemFaults = st.MemFaults.Load()
	return in
}

// Connected reports whether a peer is connected.
func (f *Interface) Connected() bool { return f.sess.Load() != nil }

// WaitConnected waits until a peer is connected (true) or ctx ends.
func (f *Interface) WaitConnected(ctx context.Context) bool {
	for {
		f.mu.Lock()
		ch := f.changed
		f.mu.Unlock()
		if f.Connected() {
			return true
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return false
		case <-f.done:
			return false
		}
	}
}

// Queues is the number of receive queues (Config.Queues).
func (f *Interface) Queues() int { return len(f.queues) }

// Recv blocks until queue q has frames, fills pkts[:n] with them (each
// packet Reset) and returns n >= 1; after Close it returns net.ErrClosed.
// One goroutine per queue may call it.
func (f *Interface) Recv(q int, pkts []*buf.Packet) (int, error) {
	w := f.queues[q]
	w.users.Add(1)
	defer w.users.Add(-1)
	for {
		if f.closed.Load() {
			return 0, net.ErrClosed
		}
		waitRing := false
		if s := f.sess.Load(); s != nil && q < len(s.rx) {
			r := s.rx[q]
			r.mu.Lock()
			if !s.dead.Load() {
				if w.drain {
					var b [8]byte
					unix.Read(r.efd, b[:])
					w.drain = false
				}
				n, faulted := s.recvShielded(r, pkts)
				if faulted {
					f.fault(s)
				}
				r.mu.Unlock()
				if n > 0 {
					return n, nil
				}
				if f.cfg.Poll {
					runtime.Gosched()
					continue
				}
				waitRing = true
			} else {
				r.mu.Unlock()
			}
		}
		if err := w.wait(waitRing); err != nil {
			return 0, err
		}
	}
}

// wait sleeps in epoll until the ring's eventfd or the wake eventfd
// fires, and resets the wake eventfd.
func (w *rxq) wait(ring bool) error {
	var evs [2]unix.EpollEvent
	for {
		n, err := unix.EpollWait(w.ep, evs[:], -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("memif: epoll_wait: %w", err)
		}
		for _, ev := range evs[:n] {
			if ev.Fd == tagWake {
				var b [8]byte
				unix.Read(w.wake, b[:])
			} else {
				w.drain = true
			}
		}
		return nil
	}
}

func (w *rxq) kick() { unix.Write(w.wake, kick[:]) }

// Send writes pkts to transmit queue q (queues beyond the connection's
// share its rings) and returns len(pkts): frames the ring has no room for
// after a short wait, and all frames while not connected, are dropped and
// counted. It does not retain pkts. After Close it returns net.ErrClosed.
func (f *Interface) Send(q int, pkts []*buf.Packet) (int, error) {
	if f.closed.Load() {
		return 0, net.ErrClosed
	}
	s := f.sess.Load()
	if s == nil || len(s.tx) == 0 {
		f.st.TxDown.Add(uint64(len(pkts)))
		return len(pkts), nil
	}
	r := s.tx[q%len(s.tx)]
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.dead.Load() {
		f.st.TxDown.Add(uint64(len(pkts)))
		return len(pkts), nil
	}
	done, spins := 0, 0
	var stalled time.Time
	for done < len(pkts) {
		n, faulted := s.sendShielded(r, pkts[done:])
		if faulted {
			f.fault(s)
			f.st.TxDown.Add(uint64(len(pkts) - done))
			break
		}
		done += n
		if done == len(pkts) {
			break
		}
		if n > 0 {
			stalled, spins = time.Time{}, 0
		}
		now := time.Now()
		if stalled.IsZero() {
			stalled = now
		} else if now.Sub(stalled) > f.cfg.TxWait || f.closed.Load() {
			f.st.TxFull.Add(uint64(len(pkts) - done))
			break
		}
		// Yield first; then sleep, giving the processor to a receiver
		// that is waiting for one (on two cores a yielding sender can
		// keep it off for milliseconds).
		if spins++; spins < 16 {
			runtime.Gosched()
		} else {
			time.Sleep(20 * time.Microsecond)
		}
	}
	return len(pkts), nil
}

// Close disconnects the peer, stops listening or reconnecting, and frees
// everything; pending Recv calls return net.ErrClosed.
func (f *Interface) Close() error {
	if f.closed.Swap(true) {
		return nil
	}
	close(f.done)
	if f.ln != nil {
		f.ln.Close()
	}
	f.mu.Lock()
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	if s := f.sess.Load(); s != nil {
		sendMsg(s.ctl, &Msg{Type: MsgDisconnect, Reason: "interface closed"}, -1)
		s.ctl.Close() // the connection's watcher tears the session down
	}
	f.wg.Wait()
	f.closeQueues()
	return nil
}

func (f *Interface) closeQueues() {
	for _, w := range f.queues {
		w.kick()
	}
	for _, w := range f.queues {
		for i := 0; w.users.Load() > 0 && i < 1000; i++ {
			w.kick()
			time.Sleep(time.Millisecond)
		}
		if w.users.Load() > 0 {
			continue // a Recv that never returns: leak its fds rather than close them under it
		}
		unix.Close(w.ep)
		unix.Close(w.wake)
	}
}

// run serves a connected session until it ends, then frees it.
func (f *Interface) run(s *session) {
	if err := shielded(func() error { f.arm(s); return nil }); err != nil {
		f.st.MemFaults.Add(1)
		sendMsg(s.ctl, &Msg{Type: MsgDisconnect, Reason: err.Error()}, -1)
		f.setErr(err)
		s.teardown()
		f.busy.Store(false)
		return
	}
	f.up(s)
	f.down(s, f.watch(s))
}

// arm sets a new session's rings up for the data path: interrupt flags,
// our counters, a client's posted receive buffers.
func (f *Interface) arm(s *session) {
	for _, r := range s.rx {
		if f.cfg.Poll {
			r.SetFlags(FlagMaskInt)
		} else {
			r.SetFlags(0)
		}
	}
	if s.client {
		// Post every receive buffer before the first frame can arrive: a
		// fast echo peer would otherwise find no room for its replies.
		for _, r := range s.rx {
			r.pos = r.Tail()
			for i := range r.Size() {
				r.post(r.pos + uint16(i))
			}
			r.SetHead(r.pos + uint16(r.Size()))
		}
		for _, r := range s.tx {
			r.pos = r.Head()
		}
	} else {
		for _, r := range s.rx {
			r.pos = r.Tail()
		}
		for _, r := range s.tx {
			r.pos = r.Tail()
		}
	}
}

// up publishes an armed session to the data path.
func (f *Interface) up(s *session) {
	if !f.cfg.Poll {
		for q, r := range s.rx {
			if q < len(f.queues) {
				ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: tagRing}
				unix.EpollCtl(f.queues[q].ep, unix.EPOLL_CTL_ADD, r.efd, &ev)
			}
		}
	}
	f.mu.Lock()
	f.sess.Store(s)
	f.lastErr = ""
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
	f.st.Connects.Add(1)
	for _, w := range f.queues {
		w.kick()
	}
	f.cfg.Log.Info("memif connected", "socket", f.cfg.Socket, "id", f.cfg.ID, "role", f.cfg.Role, "peer", s.peer,
		"rx_queues", len(s.rx), "tx_queues", len(s.tx), "ring", 1<<s.log2, "regions", len(s.regions))
}

// down takes a session off the data path and frees it.
func (f *Interface) down(s *session, reason string) {
	f.mu.Lock()
	f.sess.Store(nil)
	f.lastErr = reason
	f.mu.Unlock()
	if !f.cfg.Poll {
		for q, r := range s.rx {
			if q < len(f.queues) {
				unix.EpollCtl(f.queues[q].ep, unix.EPOLL_CTL_DEL, r.efd, nil)
			}
		}
	}
	s.teardown()
	f.busy.Store(false)
	f.mu.Lock()
	close(f.changed)
	f.changed = make(chan struct{})
	f.mu.Unlock()
	f.st.Disconnects.Add(1)
	for _, w := range f.queues {
		w.kick()
	}
	if !f.closed.Load() {
		f.cfg.Log.Warn("memif disconnected", "socket", f.cfg.Socket, "id", f.cfg.ID, "reason", reason)
	}
}

// watch reads the control socket of a connected session until the peer
// disconnects, dies or the interface closes, and returns why.
func (f *Interface) watch(s *session) string {
	for {
		m, fds, err := recvMsg(s.ctl)
		closeFds(fds)
		switch {
		case f.closed.Load():
			return "interface closed"
		case s.faulted.Load():
			return errMemFault.Error()
		case errors.Is(err, io.EOF):
			return errPeerClosed.Error()
		case err != nil:
			return err.Error()
		case m.Type == MsgDisconnect:
			return fmt.Sprintf("peer disconnected: %s (code %d)", m.Reason, m.Code)
		default:
			reason := fmt.Sprintf("unexpected %v message after connect", m.Type)
			sendMsg(s.ctl, &Msg{Type: MsgDisconnect, Reason: reason}, -1)
			return reason
		}
	}
}

func (f *Interface) setErr(err error) {
	f.mu.Lock()
	f.lastErr = err.Error()
	f.mu.Unlock()
}
