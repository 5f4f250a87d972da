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
	gso    atomic.Bool // send runs of datagrams with UDP_SEGMENT (off after the kernel refused it)
	gro    bool        // the socket has UDP_GRO: receive through rx.gro

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
	gro   groState
}

// groState receives coalesced datagrams (UDP_GRO) into its own slots and
// hands them out one datagram per packet, across ReadBatch calls.
type groState struct {
	slots [][]byte // groSlots buffers of groSlotSize
	cmsgs []byte   // a control buffer per slot
	msg   int      // next message to hand out
	off   int      // offset of its next datagram
	seg   []int    // per message: datagram size (the GRO segment size, or its length)
	addr  []netip.AddrPort
}

// GRO receive geometry: up to groSlots coalesced messages of up to 64 KiB
// per recvmmsg call.
const (
	groSlots    = 16
	groSlotSize = 1 << 16
)

var cmsgIntSpace = unix.CmsgSpace(4)

// txState is WriteBatch's scratch space, preallocated by Listen. A message
// is one datagram, or with GSO a run of datagrams to the same address, all
// of one size but the last, sent with UDP_SEGMENT: the kernel cuts them
// apart (or a veth carries them whole to a GRO receiver).
type txState struct {
	hdrs  []unix.Mmsghdr          // per message
	iovs  []unix.Iovec            // per datagram; a message's are consecutive
	names []unix.RawSockaddrInet6 // per message
	cmsgs []byte                  // per message: room for a UDP_SEGMENT control message
	segs  []int                   // per message: datagrams in it
	first []int                   // per message: index of its first packet
	send  func(fd uintptr) bool   // t.sendmmsg, bound once
	start int                     // in/out: next message to send
	end   int                     // in: messages to send
	// out: results of the messages from the first start
	sent                           int
	bytes, tooBig, unreach, others uint64
	gsoMsgs                        uint64
	gsoFailed                      int // message the kernel refused GSO for, or -1
	zones                          zones
}

// GSO limits: at most gsoMaxSegs datagrams and gsoMaxBytes of payload per
// message (the kernel's UDP_MAX_SEGMENTS is 64 on older kernels, and one
// send carries at most 64 KiB less the headers).
const (
	gsoMaxSegs  = 64
	gsoMaxBytes = 65000
)

var cmsgSegSpace = unix.CmsgSpace(2)

type counters struct {
	rxPackets, rxBytes, rxTruncated, rxGRO atomic.Uint64
	_                                      [64]byte
	txPackets, txBytes, txGSO              atomic.Uint64
	txTooBig, txUnreach, txOther           atomic.Uint64
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
	p.gso.Store(!c.NoGSO)
	if !c.NoGRO && unix.SetsockoptInt(fd, unix.IPPROTO_UDP, unix.UDP_GRO, 1) == nil {
		p.gro = true
	}
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
	p.rx.init(batch, p.gro)
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

func (r *rxState) init(n int, gro bool) {
	if gro {
		n = groSlots
	}
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
	if gro {
		g := &r.gro
		g.slots = make([][]byte, n)
		g.cmsgs = make([]byte, n*cmsgIntSpace)
		g.seg = make([]int, n)
		g.addr = make([]netip.AddrPort, n)
		for i := range g.slots {
			g.slots[i] = make([]byte, groSlotSize)
			r.iovs[i].Base = &g.slots[i][0]
			r.iovs[i].SetLen(groSlotSize)
		}
	}
}

func (t *txState) init(n int) {
	t.hdrs = make([]unix.Mmsghdr, n)
	t.iovs = make([]unix.Iovec, n)
	t.names = make([]unix.RawSockaddrInet6, n)
	t.cmsgs = make([]byte, n*cmsgSegSpace)
	t.segs = make([]int, n)
	t.first = make([]int, n)
	for i := range t.hdrs {
		h := &t.hdrs[i].Hdr
		h.Name = (*byte)(unsafe.Pointer(&t.names[i]))
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
		RxGRO:         s.rxGRO.Load(),
		TxGSO:         s.txGSO.Load(),
		GSO:           p.gso.Load(),
		GRO:           p.gro,
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
	if p.gro {
		return p.readGRO(pkts)
	}
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

// readGRO hands out the datagrams of coalesced messages, one per packet,
// receiving more (blocking only when it has nothing yet) when the last
// batch of messages is used up.
func (p *Port) readGRO(pkts []*buf.Packet) (int, error) {
	r, g := &p.rx, &p.rx.gro
	out := 0
	var bytes, trunc uint64
	for out < len(pkts) {
		if g.msg >= r.got {
			if out > 0 {
				break // don't wait for more while holding some
			}
			if err := p.recvGRO(); err != nil {
				return 0, err
			}
			continue
		}
		h := &r.hdrs[g.msg]
		ln, seg := int(h.Len), g.seg[g.msg]
		if h.Hdr.Flags&unix.MSG_TRUNC != 0 || seg <= 0 || g.off >= ln {
			if h.Hdr.Flags&unix.MSG_TRUNC != 0 {
				trunc++
			}
			g.msg, g.off = g.msg+1, 0
			continue
		}
		d := g.slots[g.msg][g.off:min(g.off+seg, ln)]
		g.off += len(d)
		dst := pkts[out]
		dst.Reset()
		if !dst.SetData(d) {
			trunc++
			continue
		}
		dst.Addr = g.addr[g.msg]
		bytes += uint64(len(d))
		out++
	}
	if trunc != 0 {
		p.st.rxTruncated.Add(trunc)
	}
	p.st.rxPackets.Add(uint64(out))
	p.st.rxBytes.Add(bytes)
	return out, nil
}

// recvGRO receives a batch of (possibly coalesced) messages into the GRO
// slots and records each one's datagram size and source.
func (p *Port) recvGRO() error {
	r, g := &p.rx, &p.rx.gro
	for {
		for i := range r.hdrs {
			h := &r.hdrs[i]
			h.Hdr.Namelen = unix.SizeofSockaddrInet6
			h.Hdr.Flags = 0
			h.Hdr.Control = &g.cmsgs[i*cmsgIntSpace]
			h.Hdr.SetControllen(cmsgIntSpace)
			h.Len = 0
		}
		r.vlen, r.got, r.errno = len(r.hdrs), 0, 0
		if err := p.rc.Read(r.recv); err != nil {
			return p.ioError("read", err)
		}
		if r.errno != 0 {
			return p.ioError("recvmmsg", r.errno)
		}
		var coalesced uint64
		for i := range r.got {
			h := &r.hdrs[i]
			g.seg[i] = int(h.Len)
			if seg := groSegment(g.cmsgs[i*cmsgIntSpace:][:h.Hdr.Controllen]); seg > 0 && seg < int(h.Len) {
				g.seg[i] = seg
				coalesced++
			}
			g.addr[i] = r.zones.addrPort(&r.names[i])
		}
		if coalesced != 0 {
			p.st.rxGRO.Add(coalesced)
		}
		g.msg, g.off = 0, 0
		if r.got > 0 {
			return nil
		}
	}
}

// groSegment finds the UDP_GRO segment size in a control buffer, or 0.
func groSegment(c []byte) int {
	for len(c) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&c[0]))
		if h.Len < unix.SizeofCmsghdr || int(h.Len) > len(c) {
			return 0
		}
		if h.Level == unix.IPPROTO_UDP && h.Type == unix.UDP_GRO && int(h.Len) >= unix.CmsgLen(4) {
			return int(*(*int32)(unsafe.Pointer(&c[unix.CmsgLen(0)])))
		}
		c = c[min(len(c), unix.CmsgSpace(int(h.Len)-unix.CmsgLen(0))):]
	}
	return 0
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
	gso := p.gso.Load()
	k, m := 0, 0 // datagrams and messages built
	var unreach uint64
	var to netip.AddrPort
	seg, total, short := 0, 0, false // the open message's segment size, bytes, last segment shorter
	for i, pk := range pkts {
		d := pk.Data()
		if gso && m > 0 && pk.Addr == to && !short && len(d) <= seg && t.segs[m-1] < gsoMaxSegs && total+len(d) <= gsoMaxBytes {
			// Join the open message as one more segment.
			t.iovs[k].Base = unsafe.SliceData(d)
			t.iovs[k].SetLen(len(d))
			k++
			t.segs[m-1]++
			t.hdrs[m-1].Hdr.SetIovlen(t.segs[m-1])
			total += len(d)
			short = len(d) < seg
			continue
		}
		nl := t.zones.putSockaddr(&t.names[m], pk.Addr, p.family)
		if nl == 0 {
			unreach++
			continue
		}
		t.iovs[k].Base = unsafe.SliceData(d)
		t.iovs[k].SetLen(len(d))
		h := &t.hdrs[m].Hdr
		h.Namelen = nl
		h.Iov = &t.iovs[k]
		h.SetIovlen(1)
		h.Control = nil
		h.SetControllen(0)
		t.segs[m], t.first[m] = 1, i
		to, seg, total, short = pk.Addr, len(d), len(d), false
		k++
		m++
	}
	// Messages of several datagrams carry their segment size.
	for i := range m {
		if t.segs[i] < 2 {
			continue
		}
		c := t.cmsgs[i*cmsgSegSpace : (i+1)*cmsgSegSpace]
		ch := (*unix.Cmsghdr)(unsafe.Pointer(&c[0]))
		ch.Level, ch.Type = unix.IPPROTO_UDP, unix.UDP_SEGMENT
		ch.SetLen(unix.CmsgLen(2))
		*(*uint16)(unsafe.Pointer(&c[unix.CmsgLen(0)])) = uint16((*unix.Iovec)(unsafe.Pointer(t.hdrs[i].Hdr.Iov)).Len)
		t.hdrs[i].Hdr.Control = &c[0]
		t.hdrs[i].Hdr.SetControllen(cmsgSegSpace)
	}
	t.start, t.end = 0, m
	t.sent, t.bytes, t.tooBig, t.unreach, t.others, t.gsoMsgs, t.gsoFailed = 0, 0, 0, unreach, 0, 0, -1
	var err error
	if m > 0 {
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
	if t.gsoMsgs != 0 {
		s.txGSO.Add(t.gsoMsgs)
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
	if t.gsoFailed >= 0 {
		// The kernel (or the route's device) cannot do GSO: turn it off
		// for good and send the rest one datagram per message.
		p.gso.Store(false)
		sent := t.sent
		n, err := p.write(pkts[t.first[t.gsoFailed]:])
		return sent + n, err
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
			for i, h := range t.hdrs[t.start : t.start+int(n)] {
				t.bytes += uint64(h.Len)
				t.sent += t.segs[t.start+i]
				if t.segs[t.start+i] > 1 {
					t.gsoMsgs++
				}
			}
			t.start += int(n)
			continue
		case unix.EAGAIN:
			return false
		case unix.EINTR:
			continue
		case unix.EIO, unix.EINVAL:
			if t.segs[t.start] > 1 {
				t.gsoFailed = t.start // GSO refused: write resends without it
				return true
			}
			t.others++
		case unix.EMSGSIZE:
			t.tooBig += uint64(t.segs[t.start])
		case unix.ECONNREFUSED, unix.EHOSTUNREACH, unix.ENETUNREACH, unix.EADDRNOTAVAIL, unix.EAFNOSUPPORT:
			t.unreach += uint64(t.segs[t.start])
		default:
			t.others += uint64(t.segs[t.start])
		}
		t.start++ // skip the message the kernel refused
	}
	return true
}
