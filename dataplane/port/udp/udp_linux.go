// SPDX-License-Identifier: Apache-2.0

package udp

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/port"
)

// Port is a UDP underlay port. One goroutine may call ReadBatch while
// another calls WriteBatch; Stats, LocalAddr, BatchSize and Close may be
// called from anywhere at any time.
type Port struct {
	f      *os.File        // owns the descriptor; registered with the netpoller
	rc     syscall.RawConn // f's, kept to avoid an allocation per call
	family int             // unix.AF_INET or unix.AF_INET6
	laddr  netip.AddrPort
	batch  int
	closed atomic.Bool

	_  [64]byte // keep the reader's and the writer's state on their own cache lines
	rx rxState
	_  [64]byte
	tx txState
	_  [64]byte
	st counters
}

// rxState is ReadBatch's scratch space, preallocated by Listen.
type rxState struct {
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
	recv  func(fd uintptr) bool // r.recvmmsg, bound once
	vlen  int                   // in: messages to receive
	got   int                   // out: messages received
	errno syscall.Errno         // out: a fatal recvmmsg error
	zones zones
}

// txState is WriteBatch's scratch space, preallocated by Listen.
type txState struct {
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	names []unix.RawSockaddrInet6
	send  func(fd uintptr) bool // t.sendmmsg, bound once
	start int                   // in/out: next message to send
	end   int                   // in: messages to send
	// out: results of the messages from the first start
	sent                           int
	bytes, tooBig, unreach, others uint64
	zones                          zones
}

type counters struct {
	rxPackets, rxBytes, rxTruncated atomic.Uint64
	_                               [64]byte
	txPackets, txBytes              atomic.Uint64
	txTooBig, txUnreach, txOther    atomic.Uint64
}

// Listen opens a UDP socket bound to c.Addr.
func Listen(c Config) (*Port, error) {
	ap := netip.AddrPortFrom(c.Addr.Addr().Unmap(), c.Addr.Port())
	fail := func(what string, err error) (*Port, error) {
		return nil, fmt.Errorf("udp: listen %v: %s: %w", ap, what, err)
	}
	if !ap.Addr().IsValid() {
		return nil, fmt.Errorf("udp: listen: invalid address %v", c.Addr)
	}
	batch := c.Batch
	if batch == 0 {
		batch = port.DefaultBatchSize
	}
	if batch < 0 || batch > MaxBatch {
		return nil, fmt.Errorf("udp: listen %v: batch size %d out of range 1..%d", ap, c.Batch, MaxBatch)
	}
	size := c.SocketBuffer
	if size == 0 {
		size = DefaultSocketBuffer
	}
	if size < 0 {
		return nil, fmt.Errorf("udp: listen %v: negative socket buffer size %d", ap, size)
	}

	var sa unix.Sockaddr
	family := unix.AF_INET
	if ap.Addr().Is4() {
		sa = &unix.SockaddrInet4{Port: int(ap.Port()), Addr: ap.Addr().As4()}
	} else {
		family = unix.AF_INET6
		var z zones
		scope, found := z.scope(ap.Addr().Zone())
		if !found {
			return fail("zone", fmt.Errorf("no interface %q", ap.Addr().Zone()))
		}
		sa = &unix.SockaddrInet6{Port: int(ap.Port()), Addr: ap.Addr().As16(), ZoneId: scope}
	}

	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return fail("socket", err)
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(fd)
		}
	}()
	type opt struct {
		name              string
		level, opt, value int
	}
	opts := []opt{
		{"IP_MTU_DISCOVER", unix.IPPROTO_IP, unix.IP_MTU_DISCOVER, unix.IP_PMTUDISC_DO},
	}
	if family == unix.AF_INET6 {
		opts = []opt{
			{"IPV6_V6ONLY", unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1},
			{"IPV6_MTU_DISCOVER", unix.IPPROTO_IPV6, unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_DO},
			{"IPV6_DONTFRAG", unix.IPPROTO_IPV6, unix.IPV6_DONTFRAG, 1},
		}
	}
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, o.value); err != nil {
			return fail("setsockopt "+o.name, err)
		}
	}
	if err := setBuffer(fd, unix.SO_RCVBUFFORCE, unix.SO_RCVBUF, size); err != nil {
		return fail("setsockopt SO_RCVBUF", err)
	}
	if err := setBuffer(fd, unix.SO_SNDBUFFORCE, unix.SO_SNDBUF, size); err != nil {
		return fail("setsockopt SO_SNDBUF", err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		return fail("bind", err)
	}
	bound, err := unix.Getsockname(fd)
	if err != nil {
		return fail("getsockname", err)
	}
	p := &Port{family: family, batch: batch}
	switch s := bound.(type) {
	case *unix.SockaddrInet4:
		p.laddr = netip.AddrPortFrom(netip.AddrFrom4(s.Addr), uint16(s.Port))
	case *unix.SockaddrInet6:
		p.laddr = netip.AddrPortFrom(netip.AddrFrom16(s.Addr).WithZone(ap.Addr().Zone()), uint16(s.Port))
	}

	// A non-blocking descriptor makes os.NewFile register it with the
	// netpoller; RawConn.Read and Write then park the goroutine on EAGAIN.
	p.f = os.NewFile(uintptr(fd), "udp:"+p.laddr.String())
	ok = true
	if p.rc, err = p.f.SyscallConn(); err != nil {
		p.f.Close()
		return fail("netpoller", err)
	}
	p.rx.init(batch)
	p.tx.init(batch)
	return p, nil
}

// setBuffer sets a socket buffer size, first with the privileged option
// that ignores the sysctl cap, then with the plain one.
func setBuffer(fd, force, plain, size int) error {
	if unix.SetsockoptInt(fd, unix.SOL_SOCKET, force, size) == nil {
		return nil
	}
	return unix.SetsockoptInt(fd, unix.SOL_SOCKET, plain, size)
}

func (r *rxState) init(n int) {
	r.hdrs = make([]unix.Mmsghdr, n)
	r.iovs = make([]unix.Iovec, n)
	r.names = make([]unix.RawSockaddrInet6, n)
	for i := range r.hdrs {
		h := &r.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&r.names[i]))
		h.Iov = &r.iovs[i]
		h.SetIovlen(1)
	}
	r.recv = r.recvmmsg
}

func (t *txState) init(n int) {
	t.hdrs = make([]unix.Mmsghdr, n)
	t.iovs = make([]unix.Iovec, n)
	t.names = make([]unix.RawSockaddrInet6, n)
	for i := range t.hdrs {
		h := &t.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&t.names[i]))
		h.Iov = &t.iovs[i]
		h.SetIovlen(1)
	}
	t.send = t.sendmmsg
}

// BatchSize implements port.Port.
func (p *Port) BatchSize() int { return p.batch }

// LocalAddr is the bound address, with the port the kernel chose when
// Config.Addr asked for port 0.
func (p *Port) LocalAddr() netip.AddrPort { return p.laddr }

// Stats returns the port's counters. It is safe to call concurrently with
// I/O; each counter is read atomically, the set is not a snapshot.
func (p *Port) Stats() Stats {
	s := &p.st
	return Stats{
		RxPackets:     s.rxPackets.Load(),
		RxBytes:       s.rxBytes.Load(),
		RxTruncated:   s.rxTruncated.Load(),
		TxPackets:     s.txPackets.Load(),
		TxBytes:       s.txBytes.Load(),
		TxTooBig:      s.txTooBig.Load(),
		TxUnreachable: s.txUnreach.Load(),
		TxOther:       s.txOther.Load(),
	}
}

// Close closes the socket and wakes a ReadBatch or WriteBatch waiting in
// the poller with net.ErrClosed. Later calls return net.ErrClosed too; a
// second Close returns nil.
func (p *Port) Close() error {
	if !p.closed.CompareAndSwap(false, true) {
		return nil
	}
	if err := p.f.Close(); err != nil {
		return fmt.Errorf("udp: close %v: %w", p.laddr, err)
	}
	return nil
}

// ioError turns an error of the RawConn into the port's: net.ErrClosed
// once Close has begun.
func (p *Port) ioError(op string, err error) error {
	if p.closed.Load() {
		return net.ErrClosed
	}
	return fmt.Errorf("udp: %s %v: %w", op, p.laddr, err)
}

// ReadBatch implements port.Port. It blocks until at least one datagram
// is there and returns what one recvmmsg call gave, up to len(pkts) and
// BatchSize. Each returned packet holds one datagram at buf.Headroom, with
// Addr set to its source. Datagrams longer than a packet's Room are counted
// in Stats.RxTruncated and skipped; a packet after one is moved up by a
// copy, so pkts[:n] are the datagrams in order of arrival.
func (p *Port) ReadBatch(pkts []*buf.Packet) (int, error) {
	if p.closed.Load() {
		return 0, net.ErrClosed
	}
	n := min(len(pkts), p.batch)
	if n == 0 {
		return 0, nil
	}
	r := &p.rx
	pkts = pkts[:n]
	for i, pk := range pkts {
		pk.Reset()
		room := pk.Room()
		r.iovs[i].Base = unsafe.SliceData(room)
		r.iovs[i].SetLen(len(room))
	}
	defer r.clear(n)
	for {
		for i := range pkts {
			r.hdrs[i].Hdr.Namelen = unix.SizeofSockaddrInet6
			r.hdrs[i].Hdr.Flags = 0
			r.hdrs[i].Len = 0
		}
		r.vlen, r.got, r.errno = n, 0, 0
		if err := p.rc.Read(r.recv); err != nil {
			return 0, p.ioError("read", err)
		}
		if r.errno != 0 {
			return 0, p.ioError("recvmmsg", r.errno)
		}
		out := 0
		var bytes, trunc uint64
		for i := range r.got {
			h := &r.hdrs[i]
			ln := int(h.Len)
			if h.Hdr.Flags&unix.MSG_TRUNC != 0 {
				trunc++
				continue
			}
			dst := pkts[out]
			if out != i {
				// Move the datagram up over a truncated one's slot.
				if ln > len(dst.Room()) {
					trunc++ // a packet of a smaller pool: cannot hold it
					continue
				}
				copy(dst.Room(), pkts[i].Room()[:ln])
			}
			dst.SetLen(ln)
			dst.Addr = r.zones.addrPort(&r.names[i])
			bytes += uint64(ln)
			out++
		}
		if trunc != 0 {
			p.st.rxTruncated.Add(trunc)
		}
		if out > 0 {
			p.st.rxPackets.Add(uint64(out))
			p.st.rxBytes.Add(bytes)
			return out, nil
		}
	}
}

// clear drops the scratch space's references to the caller's buffers.
func (r *rxState) clear(n int) {
	for i := range r.iovs[:n] {
		r.iovs[i].Base = nil
	}
}

// recvmmsg runs under the RawConn: false means "wait until readable".
func (r *rxState) recvmmsg(fd uintptr) bool {
	for {
		n, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(r.vlen), 0, 0, 0)
		switch e {
		case 0:
			r.got = int(n)
			return true
		case unix.EAGAIN:
			return false
		case unix.EINTR, unix.ENOMEM, unix.ENOBUFS,
			// A pending ICMP error of an earlier send, reported once
			// (Linux does so on connected sockets or with IP_RECVERR).
			unix.ECONNREFUSED, unix.EHOSTUNREACH, unix.ENETUNREACH, unix.EHOSTDOWN, unix.EMSGSIZE:
			continue
		default:
			r.errno = e
			return true
		}
	}
}

// WriteBatch implements port.Port. It sends each packet's Data to its Addr
// and returns how many datagrams the kernel took. A datagram it refuses is
// counted in Stats and skipped; only a closed port is an error. It waits in
// the poller while the send buffer is full.
func (p *Port) WriteBatch(pkts []*buf.Packet) (int, error) {
	if p.closed.Load() {
		return 0, net.ErrClosed
	}
	sent := 0
	for len(pkts) > 0 {
		chunk := pkts[:min(len(pkts), p.batch)]
		pkts = pkts[len(chunk):]
		n, err := p.write(chunk)
		sent += n
		if err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// write sends at most BatchSize packets.
func (p *Port) write(pkts []*buf.Packet) (int, error) {
	t := &p.tx
	k := 0
	var unreach uint64
	for _, pk := range pkts {
		nl := t.zones.putSockaddr(&t.names[k], pk.Addr, p.family)
		if nl == 0 {
			unreach++
			continue
		}
		d := pk.Data()
		t.iovs[k].Base = unsafe.SliceData(d)
		t.iovs[k].SetLen(len(d))
		t.hdrs[k].Hdr.Namelen = nl
		k++
	}
	t.start, t.end = 0, k
	t.sent, t.bytes, t.tooBig, t.unreach, t.others = 0, 0, 0, unreach, 0
	var err error
	if k > 0 {
		err = p.rc.Write(t.send)
		for i := range t.iovs[:k] {
			t.iovs[i].Base = nil
		}
	}
	s := &p.st
	if t.sent != 0 {
		s.txPackets.Add(uint64(t.sent))
		s.txBytes.Add(t.bytes)
	}
	if t.tooBig != 0 {
		s.txTooBig.Add(t.tooBig)
	}
	if t.unreach != 0 {
		s.txUnreach.Add(t.unreach)
	}
	if t.others != 0 {
		s.txOther.Add(t.others)
	}
	if err != nil {
		return t.sent, p.ioError("write", err)
	}
	return t.sent, nil
}

// sendmmsg runs under the RawConn: false means "wait until writable".
// When the kernel fails message i after sending some, it returns the count
// and drops the error; the next call then starts at i and reports it.
func (t *txState) sendmmsg(fd uintptr) bool {
	for t.start < t.end {
		n, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&t.hdrs[t.start])), uintptr(t.end-t.start), 0, 0, 0)
		switch e {
		case 0:
			for _, h := range t.hdrs[t.start : t.start+int(n)] {
				t.bytes += uint64(h.Len)
			}
			t.sent += int(n)
			t.start += int(n)
			continue
		case unix.EAGAIN:
			return false
		case unix.EINTR:
			continue
		case unix.EMSGSIZE:
			t.tooBig++
		case unix.ECONNREFUSED, unix.EHOSTUNREACH, unix.ENETUNREACH, unix.EADDRNOTAVAIL, unix.EAFNOSUPPORT:
			t.unreach++
		default:
			t.others++
		}
		t.start++ // skip the message the kernel refused
	}
	return true
}
