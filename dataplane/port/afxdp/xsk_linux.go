// SPDX-License-Identifier: Apache-2.0

package afxdp

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/skiffnet/skiff/dataplane/buf"
	"golang.org/x/sys/unix"
)

// The UMEM of one socket is cut into frameSize chunks. Chunks
// [0, rxFrames) belong to the receive side: each is either in the kernel's
// hands (on the fill ring, or filled and on the rx ring) or, for the
// moment recv copies it out, in ours. Chunks [rxFrames, rxFrames+txFrames)
// belong to the transmit side: free on our stack, or in the kernel's hands
// (on the tx ring, or sent and on the completion ring). The two sides
// never exchange chunks, and every hand-over checks and flips the chunk's
// state, so no chunk can be handed out twice: a descriptor the kernel
// returns for a chunk it does not hold is counted (BadDescs) and ignored.
const (
	frameSize = 4096
	// xdpHeadroom is what the kernel reserves in front of received data
	// in each chunk (XDP_PACKET_HEADROOM); the rest is the largest piece
	// of a frame one descriptor carries.
	xdpHeadroom = 256

	defaultRxFrames = 2048
	defaultTxFrames = 2048
)

// Chunk states.
const (
	stKernelRx uint8 = iota + 1 // on the fill ring or the rx ring
	stUserRx                    // being copied out by recv
	stFree                      // on the tx free stack
	stKernelTx                  // on the tx ring or the completion ring
)

// ring is one of the four single-producer single-consumer rings shared
// with the kernel. We are the producer of fill and tx and the consumer of
// rx and completion. Indices are free-running uint32s; the other side's
// index is read with an atomic load and ours published with an atomic
// store, which gives the acquire/release order the kernel's ring protocol
// needs (descriptors are written before the producer index, read after).
type ring struct {
	prod, cons, flags *uint32
	mask              uint32
	descs             []unix.XDPDesc // rx and tx
	addrs             []uint64       // fill and completion
	mem               []byte         // the mapping, for munmap
}

type sockStats struct {
	rxFrames, rxBytes, rxOversize, badDescs atomic.Uint64
	txFrames, txBytes, txFull, txErrors     atomic.Uint64
	kicks, wakeups                          atomic.Uint64
}

// socket is one AF_XDP socket bound to one queue of a device, with its own
// UMEM. It is not safe for concurrent use, except that recv and send (the
// receive and transmit halves) may run on two goroutines at once.
type socket struct {
	fd       int
	file     *os.File // for the runtime poller
	rc       syscall.RawConn
	umem     []byte
	fill     ring
	comp     ring
	rx       ring
	tx       ring
	rxFrames uint32
	txFrames uint32
	state    []uint8  // per chunk
	free     []uint32 // tx chunks on our stack
	wakeup   bool     // bound with XDP_USE_NEED_WAKEUP
	zc       bool     // zero-copy bind
	sg       bool     // multi-buffer (XDP_USE_SG): frames span chunks
	maxFrame int      // the longest frame recv and send carry
	closed   atomic.Bool

	// recv's and send's state and prebuilt callbacks, so that neither
	// allocates.
	rxPkts    []*buf.Packet
	rxSink    rxSink
	rxN       int
	readFn    func(uintptr) bool
	wakeFn    func(uintptr) bool
	kickFn    func(uintptr) bool
	kickErr   syscall.Errno
	rxScratch []byte // gathers multi-chunk frames (multi-buffer only)
	txScratch []byte

	stats sockStats
}

// socketConfig says where to bind.
type socketConfig struct {
	ifindex  int
	queue    int
	rxFrames int  // power of two; 0: default
	txFrames int  // power of two; 0: default
	copyOnly bool // never try zero-copy
}

func (c *socketConfig) defaults() {
	if c.rxFrames == 0 {
		c.rxFrames = defaultRxFrames
	}
	if c.txFrames == 0 {
		c.txFrames = defaultTxFrames
	}
}

// openSocket creates the socket and its UMEM, maps the rings, fills the
// fill ring and binds to the queue: zero-copy where the driver can,
// otherwise copy mode; multi-buffer where the kernel can.
func openSocket(c socketConfig) (_ *socket, err error) {
	c.defaults()
	if c.rxFrames&(c.rxFrames-1) != 0 || c.txFrames&(c.txFrames-1) != 0 {
		return nil, fmt.Errorf("frame counts %d and %d must be powers of two", c.rxFrames, c.txFrames)
	}
	fd, err := unix.Socket(unix.AF_XDP, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("AF_XDP socket: %w", err)
	}
	s := &socket{fd: fd, rxFrames: uint32(c.rxFrames), txFrames: uint32(c.txFrames)}
	defer func() {
		if err != nil {
			s.release()
		}
	}()
	n := c.rxFrames + c.txFrames
	s.umem, err = unix.Mmap(-1, 0, n*frameSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_POPULATE)
	if err != nil {
		return nil, fmt.Errorf("UMEM of %d bytes: %w", n*frameSize, err)
	}
	reg := unix.XDPUmemReg{Addr: uint64(uintptr(unsafe.Pointer(&s.umem[0]))), Len: uint64(len(s.umem)), Size: frameSize}
	if err := setsockopt(fd, unix.XDP_UMEM_REG, unsafe.Pointer(&reg), unsafe.Sizeof(reg)); err != nil {
		return nil, fmt.Errorf("XDP_UMEM_REG: %w", err)
	}
	for _, o := range []struct {
		opt  int
		size int
	}{{unix.XDP_UMEM_FILL_RING, c.rxFrames}, {unix.XDP_UMEM_COMPLETION_RING, c.txFrames}, {unix.XDP_RX_RING, c.rxFrames}, {unix.XDP_TX_RING, c.txFrames}} {
		if err := unix.SetsockoptInt(fd, unix.SOL_XDP, o.opt, o.size); err != nil {
			return nil, fmt.Errorf("ring size option %d: %w", o.opt, err)
		}
	}
	var off unix.XDPMmapOffsets
	offLen := uint32(unsafe.Sizeof(off))
	if _, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_XDP, unix.XDP_MMAP_OFFSETS,
		uintptr(unsafe.Pointer(&off)), uintptr(unsafe.Pointer(&offLen)), 0); e != 0 {
		return nil, fmt.Errorf("XDP_MMAP_OFFSETS: %w", e)
	}
	if err := s.fill.mmap(fd, off.Fr, unix.XDP_UMEM_PGOFF_FILL_RING, c.rxFrames, false); err != nil {
		return nil, fmt.Errorf("fill ring: %w", err)
	}
	if err := s.comp.mmap(fd, off.Cr, unix.XDP_UMEM_PGOFF_COMPLETION_RING, c.txFrames, false); err != nil {
		return nil, fmt.Errorf("completion ring: %w", err)
	}
	if err := s.rx.mmap(fd, off.Rx, unix.XDP_PGOFF_RX_RING, c.rxFrames, true); err != nil {
		return nil, fmt.Errorf("rx ring: %w", err)
	}
	if err := s.tx.mmap(fd, off.Tx, unix.XDP_PGOFF_TX_RING, c.txFrames, true); err != nil {
		return nil, fmt.Errorf("tx ring: %w", err)
	}

	// Every rx chunk goes to the kernel; every tx chunk onto our stack.
	s.state = make([]uint8, n)
	for i := range c.rxFrames {
		s.fill.addrs[i] = uint64(i) * frameSize
		s.state[i] = stKernelRx
	}
	atomic.StoreUint32(s.fill.prod, uint32(c.rxFrames))
	s.free = make([]uint32, 0, c.txFrames)
	for i := n - 1; i >= c.rxFrames; i-- {
		s.free = append(s.free, uint32(i))
		s.state[i] = stFree
	}

	// Bind: the best mode the device and kernel take. A failed bind leaves
	// the socket unbound, so the next mode can be tried on it.
	modes := []uint16{
		unix.XDP_ZEROCOPY | unix.XDP_USE_NEED_WAKEUP | unix.XDP_USE_SG,
		unix.XDP_ZEROCOPY | unix.XDP_USE_NEED_WAKEUP,
		unix.XDP_COPY | unix.XDP_USE_NEED_WAKEUP | unix.XDP_USE_SG,
		unix.XDP_COPY | unix.XDP_USE_NEED_WAKEUP,
		unix.XDP_COPY,
	}
	if c.copyOnly {
		modes = modes[2:]
	}
	var errs []error
	for _, m := range modes {
		err = unix.Bind(fd, &unix.SockaddrXDP{Flags: m, Ifindex: uint32(c.ifindex), QueueID: uint32(c.queue)})
		if err == nil {
			s.zc = m&unix.XDP_ZEROCOPY != 0
			s.wakeup = m&unix.XDP_USE_NEED_WAKEUP != 0
			s.sg = m&unix.XDP_USE_SG != 0
			break
		}
		errs = append(errs, fmt.Errorf("%s: %w", bindModeString(m), err))
		if !errors.Is(err, unix.EOPNOTSUPP) && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.EPROTONOSUPPORT) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("bind to queue %d of ifindex %d: %w", c.queue, c.ifindex, errors.Join(errs...))
	}
	s.maxFrame = frameSize - xdpHeadroom
	if s.sg {
		s.maxFrame = buf.MaxFrame
		s.rxScratch = make([]byte, buf.MaxFrame)
		s.txScratch = make([]byte, buf.MaxFrame)
	}
	s.readFn, s.wakeFn, s.kickFn = s.doRead, s.doWake, s.doKick
	// Copy mode transmits at most a budget of frames per sendto (32 by
	// default); raise it where the kernel lets us, to spend fewer kicks.
	_ = unix.SetsockoptInt(fd, unix.SOL_XDP, unix.XDP_MAX_TX_SKB_BUDGET, c.txFrames/2)

	if err := unix.SetNonblock(fd, true); err != nil {
		return nil, err
	}
	s.file = os.NewFile(uintptr(fd), "xsk")
	if s.rc, err = s.file.SyscallConn(); err != nil {
		return nil, err
	}
	return s, nil
}

func bindModeString(m uint16) string {
	s := "copy"
	if m&unix.XDP_ZEROCOPY != 0 {
		s = "zero-copy"
	}
	if m&unix.XDP_USE_NEED_WAKEUP != 0 {
		s += "+need-wakeup"
	}
	if m&unix.XDP_USE_SG != 0 {
		s += "+multi-buffer"
	}
	return s
}

// Mode describes how the socket is bound, for logs and status.
func (s *socket) mode() string {
	var m uint16 = unix.XDP_COPY
	if s.zc {
		m = unix.XDP_ZEROCOPY
	}
	if s.wakeup {
		m |= unix.XDP_USE_NEED_WAKEUP
	}
	if s.sg {
		m |= unix.XDP_USE_SG
	}
	return bindModeString(m)
}

func setsockopt(fd, opt int, p unsafe.Pointer, n uintptr) error {
	if _, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.SOL_XDP, uintptr(opt), uintptr(p), n, 0); e != 0 {
		return e
	}
	return nil
}

func (r *ring) mmap(fd int, off unix.XDPRingOffset, pgoff int64, n int, desc bool) error {
	elem := uint64(8)
	if desc {
		elem = uint64(unsafe.Sizeof(unix.XDPDesc{}))
	}
	mem, err := unix.Mmap(fd, pgoff, int(off.Desc+uint64(n)*elem), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return err
	}
	r.mem = mem
	base := unsafe.Pointer(&mem[0])
	r.prod = (*uint32)(unsafe.Add(base, off.Producer))
	r.cons = (*uint32)(unsafe.Add(base, off.Consumer))
	r.flags = (*uint32)(unsafe.Add(base, off.Flags))
	r.mask = uint32(n - 1)
	if desc {
		r.descs = unsafe.Slice((*unix.XDPDesc)(unsafe.Add(base, off.Desc)), n)
	} else {
		r.addrs = unsafe.Slice((*uint64)(unsafe.Add(base, off.Desc)), n)
	}
	return nil
}

// release unmaps everything and closes the descriptor.
func (s *socket) release() {
	for _, r := range []*ring{&s.fill, &s.comp, &s.rx, &s.tx} {
		if r.mem != nil {
			unix.Munmap(r.mem)
			r.mem = nil
		}
	}
	if s.file != nil {
		s.file.Close()
	} else {
		unix.Close(s.fd)
	}
	if s.umem != nil {
		unix.Munmap(s.umem)
		s.umem = nil
	}
}

// close unblocks recv (net.ErrClosed) and closes the socket. The rings and
// UMEM stay mapped: a concurrent recv or send may still touch them, and
// the kernel frees them with the last reference.
func (s *socket) close() error {
	if s.closed.Swap(true) {
		return nil
	}
	return s.file.Close()
}

// chunk returns the index of the chunk that holds UMEM address addr.
func chunk(addr uint64) uint32 { return uint32(addr / frameSize) }

// rxSink takes received frames: it copies what it keeps of frame into p
// and reports whether p is to be handed out. nil copies the whole frame.
type rxSink interface {
	rxFrame(frame []byte, p *buf.Packet) bool
}

// recv fills pkts with received frames, blocking until there is at least
// one. Each packet is Reset and the frame handed to sink.
func (s *socket) recv(pkts []*buf.Packet, sink rxSink) (int, error) {
	s.rxPkts, s.rxSink, s.rxN = pkts, sink, 0
	defer func() { s.rxPkts, s.rxSink = nil, nil }()
	for s.rxN == 0 {
		err := s.rc.Read(s.readFn)
		if s.closed.Load() {
			return 0, net.ErrClosed
		}
		if err != nil {
			return 0, err
		}
	}
	return s.rxN, nil
}

func (s *socket) doRead(uintptr) bool {
	s.rxN = s.drain(s.rxPkts, s.rxSink)
	return s.rxN > 0 || s.closed.Load()
}

// drain takes what the rx ring holds, whole frames up to len(pkts), and
// gives every chunk back to the fill ring.
func (s *socket) drain(pkts []*buf.Packet, sink rxSink) int {
	cons := atomic.LoadUint32(s.rx.cons)
	prod := atomic.LoadUint32(s.rx.prod)
	fprod := atomic.LoadUint32(s.fill.prod)
	n, refilled := 0, 0
	var (
		p       *buf.Packet
		flen    int  // bytes of a multi-chunk frame gathered so far
		bad     bool // the frame is being dropped
		partial bool // some pieces of the frame p were consumed
	)
	end := cons // consumed up to here: whole frames only
	for i := cons; i != prod; i++ {
		if p == nil {
			if n == len(pkts) {
				break
			}
			p = pkts[n]
			p.Reset()
			flen, bad, partial = 0, false, false
		}
		d := s.rx.descs[i&s.rx.mask]
		more := d.Options&unix.XDP_PKT_CONTD != 0
		c := chunk(d.Addr)
		if c >= s.rxFrames || s.state[c] != stKernelRx || d.Addr%frameSize+uint64(d.Len) > frameSize {
			// Not a chunk the kernel holds for us: never touch or
			// recycle it, and drop the frame it belongs to.
			s.stats.badDescs.Add(1)
			bad = true
		} else {
			s.state[c] = stUserRx
			data := s.umem[d.Addr : d.Addr+uint64(d.Len)]
			switch {
			case bad:
			case !more && flen == 0: // the whole frame in one chunk
				bad = !s.take(data, p, sink)
			default: // a frame over several chunks: gather it
				if flen+len(data) > len(s.rxScratch) {
					bad = true
					s.stats.rxOversize.Add(1)
				} else {
					flen += copy(s.rxScratch[flen:], data)
					if !more {
						bad = !s.take(s.rxScratch[:flen], p, sink)
					}
				}
			}
			s.fill.addrs[fprod&s.fill.mask] = uint64(c) * frameSize
			s.state[c] = stKernelRx
			fprod++
			refilled++
		}
		if more {
			partial = true
			continue
		}
		if !bad {
			s.stats.rxFrames.Add(1)
			s.stats.rxBytes.Add(uint64(p.Len()))
			n++
		}
		p = nil
		end = i + 1
	}
	if p != nil && end != prod && partial {
		// The ring ended inside a frame. The kernel publishes whole
		// frames, so this does not happen; if it did, the pieces seen
		// are consumed (their chunks already went back to the fill
		// ring) and the frame is dropped, never read twice.
		s.stats.badDescs.Add(1)
		end = prod
	}
	if end != cons {
		atomic.StoreUint32(s.rx.cons, end)
	}
	if refilled > 0 {
		atomic.StoreUint32(s.fill.prod, fprod)
		if s.wakeup && atomic.LoadUint32(s.fill.flags)&unix.XDP_RING_NEED_WAKEUP != 0 {
			s.stats.wakeups.Add(1)
			s.rc.Read(s.wakeFn)
		}
	}
	return n
}

// take hands one whole frame to sink, or copies it into p.
func (s *socket) take(frame []byte, p *buf.Packet, sink rxSink) bool {
	if sink != nil {
		return sink.rxFrame(frame, p)
	}
	if len(frame) > len(p.Room()) {
		s.stats.rxOversize.Add(1)
		return false
	}
	copy(p.Room(), frame)
	p.SetLen(len(frame))
	return true
}

func (s *socket) doWake(fd uintptr) bool {
	unix.Syscall6(unix.SYS_RECVFROM, fd, 0, 0, unix.MSG_DONTWAIT, 0, 0)
	return true
}

// reclaim takes sent chunks from the completion ring back onto the free
// stack.
func (s *socket) reclaim() {
	cons := atomic.LoadUint32(s.comp.cons)
	prod := atomic.LoadUint32(s.comp.prod)
	for i := cons; i != prod; i++ {
		c := chunk(s.comp.addrs[i&s.comp.mask])
		if c < s.rxFrames || c >= s.rxFrames+s.txFrames || s.state[c] != stKernelTx {
			s.stats.badDescs.Add(1)
			continue
		}
		s.pushFree(c)
	}
	if prod != cons {
		atomic.StoreUint32(s.comp.cons, prod)
	}
}

// txSource supplies the frames send transmits: txLen(i) is frame i's
// length (0 skips it), txFill(i, dst) writes it into dst (len(dst) is at
// least txLen(i)) and returns the length written.
type txSource interface {
	txLen(i int) int
	txFill(i int, dst []byte) int
}

// txSpin bounds how long send waits for the kernel to give chunks back
// before it drops the rest of a batch: the device is not draining.
const txSpin = 200

// send queues n frames from src on the tx ring and kicks the kernel. It
// returns how many frames were queued; frames longer than s.maxFrame or
// that find no free chunk are counted and skipped.
func (s *socket) send(n int, src txSource) (int, error) {
	if s.closed.Load() {
		return 0, net.ErrClosed
	}
	s.reclaim()
	prod := atomic.LoadUint32(s.tx.prod)
	sent := 0
	for i := range n {
		l := src.txLen(i)
		if l == 0 {
			continue
		}
		if l > s.maxFrame {
			s.stats.txErrors.Add(1)
			continue
		}
		need := (l + frameSize - 1) / frameSize
		for spins := 0; len(s.free) < need || prod-atomic.LoadUint32(s.tx.cons)+uint32(need) > s.tx.mask+1; spins++ {
			if spins == txSpin {
				s.stats.txFull.Add(uint64(n - i))
				atomic.StoreUint32(s.tx.prod, prod)
				return sent, s.kick()
			}
			atomic.StoreUint32(s.tx.prod, prod)
			if err := s.kick(); err != nil {
				return sent, err
			}
			s.reclaim()
			if spins > 8 {
				time.Sleep(20 * time.Microsecond)
			}
		}
		if need == 1 {
			c := s.popFree()
			base := uint64(c) * frameSize
			w := src.txFill(i, s.umem[base:base+frameSize])
			if w == 0 {
				s.pushFree(c)
				s.stats.txErrors.Add(1)
				continue
			}
			l = w
			s.tx.descs[prod&s.tx.mask] = unix.XDPDesc{Addr: base, Len: uint32(w)}
			prod++
		} else {
			// Over several chunks: written whole into scratch, then spread.
			data := s.txScratch[:src.txFill(i, s.txScratch[:l])]
			if len(data) == 0 {
				s.stats.txErrors.Add(1)
				continue
			}
			l = len(data)
			for len(data) > 0 {
				c := s.popFree()
				base := uint64(c) * frameSize
				m := copy(s.umem[base:base+frameSize], data)
				data = data[m:]
				var opt uint32
				if len(data) > 0 {
					opt = unix.XDP_PKT_CONTD
				}
				s.tx.descs[prod&s.tx.mask] = unix.XDPDesc{Addr: base, Len: uint32(m), Options: opt}
				prod++
			}
		}
		s.stats.txFrames.Add(1)
		s.stats.txBytes.Add(uint64(l))
		sent++
	}
	atomic.StoreUint32(s.tx.prod, prod)
	return sent, s.kick()
}

func (s *socket) pushFree(c uint32) {
	s.state[c] = stFree
	s.free = append(s.free, c)
}

func (s *socket) popFree() uint32 {
	c := s.free[len(s.free)-1]
	s.free = s.free[:len(s.free)-1]
	if s.state[c] != stFree {
		panic("afxdp: a tx chunk on the free stack is not free") // unreachable: reclaim checks every chunk
	}
	s.state[c] = stKernelTx
	return c
}

// kick asks the kernel to transmit what the tx ring holds. In copy mode
// each sendto sends a budget of frames and says EAGAIN while more wait, so
// it repeats until the ring is empty; EBUSY means the device dropped one
// (the chunk still comes back on the completion ring).
func (s *socket) kick() error {
	if s.zc && s.wakeup && atomic.LoadUint32(s.tx.flags)&unix.XDP_RING_NEED_WAKEUP == 0 {
		return nil
	}
	for range 1024 {
		if atomic.LoadUint32(s.tx.cons) == atomic.LoadUint32(s.tx.prod) {
			return nil
		}
		s.stats.kicks.Add(1)
		s.kickErr = 0
		if err := s.rc.Write(s.kickFn); err != nil {
			if s.closed.Load() {
				return net.ErrClosed
			}
			return err
		}
		switch s.kickErr {
		case 0, unix.EAGAIN, unix.EBUSY, unix.ENOBUFS, unix.EINTR:
			if s.zc {
				return nil
			}
		case unix.ENETDOWN, unix.ENXIO:
			return fmt.Errorf("transmit: %w", s.kickErr)
		default:
			s.stats.txErrors.Add(1)
			return nil
		}
	}
	return nil
}

func (s *socket) doKick(fd uintptr) bool {
	_, _, s.kickErr = unix.Syscall6(unix.SYS_SENDTO, fd, 0, 0, unix.MSG_DONTWAIT, 0, 0)
	return true
}

// kernelStats reads the socket's XDP_STATISTICS.
func (s *socket) kernelStats() (unix.XDPStatistics, error) {
	var st unix.XDPStatistics
	l := uint32(unsafe.Sizeof(st))
	var e syscall.Errno
	err := s.rc.Control(func(fd uintptr) {
		_, _, e = unix.Syscall6(unix.SYS_GETSOCKOPT, fd, unix.SOL_XDP, unix.XDP_STATISTICS, uintptr(unsafe.Pointer(&st)), uintptr(unsafe.Pointer(&l)), 0)
	})
	if err != nil {
		return st, err
	}
	if e != 0 {
		return st, e
	}
	return st, nil
}
