// SPDX-License-Identifier: Apache-2.0

//go:build linux

package afpacket

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/packet"
	"github.com/skiffnet/skiff/dataplane/port"
)

const (
	// A receive slot: spare bytes, the vnet header, then the frame. When a
	// VLAN tag is restored the MAC addresses move 4 bytes to the front, over
	// the (already decoded) vnet header, so the tag costs no copy.
	//
	//	0      6          16                              slotSize
	//	| spare | vnet hdr | frame (up to maxRxFrame bytes) |
	slotFrameOff = 16
	slotIovOff   = slotFrameOff - vnetHdrLen
	maxRxFrame   = 1<<16 + 64 // a 64 KiB GSO super-frame, its Ethernet header and tags
	slotSize     = slotFrameOff + maxRxFrame
	ctrlWords    = 8 // control buffer per slot: one tpacket_auxdata cmsg (40 bytes) with room to spare

	rcvBufSize = 32 << 20 // bursts of 64 KiB super-frames; the 208 KiB default drops them
	sndBufSize = 4 << 20

	// maxRxErrors bounds the recoverable receive errors a blocked
	// ReadBatch retries in a row before it gives up on the port.
	maxRxErrors = 10000
)

// mmsghdr is struct mmsghdr. Go pads the struct to the alignment of
// Msghdr, as C does.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
}

// counters are the port's Stats, updated once per batch.
type counters struct {
	rxFrames, rxBytes, rxSuper, rxSegs, rxVLAN, rxCsumPartial, rxCsumValid atomic.Uint64
	rxTruncated, rxOversize, rxBadGSOType, rxBadOffload, rxErrors          atomic.Uint64
	txFrames, txBytes, txErrors                                            atomic.Uint64
}

// rxCount accumulates one ReadBatch's counts before they are published.
type rxCount struct {
	frames, bytes, super, segs, vlan, csumPartial, csumValid uint64
	truncated, oversize, badGSOType, badOffload, errors      uint64
}

// Port is an AF_PACKET port on one NIC. See the package doc.
type Port struct {
	name    string
	ifindex int
	batch   int
	file    *os.File
	rc      syscall.RawConn
	closed  atomic.Bool
	stats   counters

	// Receive state, owned by the ReadBatch goroutine. Slots [rxNext,
	// rxGot) hold received messages not handed out yet; segOn says the
	// segmenter is part-way through message rxNext-1.
	rxBuf   []byte
	rxIov   []unix.Iovec
	rxCtrl  [][ctrlWords]uint64
	rxMsgs  []mmsghdr
	rxWant  int
	rxGot   int
	rxNext  int
	rxBlock bool
	rxErrno unix.Errno
	seg     segmenter
	segNext int
	segOn   bool
	readFn  func(fd uintptr) bool

	// Transmit state, owned by the WriteBatch goroutine.
	txHdrs   [][vnetHdrLen]byte // per message: the frame's offload header (zero for a plain frame)
	txIov    []unix.Iovec
	txMsgs   []mmsghdr
	txNext   int
	txEnd    int
	txFrames uint64
	txBytes  uint64
	txErrs   uint64
	txErrno  unix.Errno
	writeFn  func(fd uintptr) bool
}

var _ port.Port = (*Port)(nil)

// Open attaches a port to the NIC c.Name: an AF_PACKET SOCK_RAW socket for
// every protocol, bound to the NIC, with auxdata, vnet headers and
// PACKET_IGNORE_OUTGOING. The NIC must exist (errors.Is(err, ErrNoDevice)
// otherwise).
func Open(c Config) (*Port, error) {
	if c.Name == "" || len(c.Name) >= unix.IFNAMSIZ {
		return nil, fmt.Errorf("afpacket: %q: invalid interface name", c.Name)
	}
	batch := c.Batch
	if batch == 0 {
		batch = port.DefaultBatchSize
	}
	if batch < 0 || batch > 1024 {
		return nil, fmt.Errorf("afpacket: %s: batch size %d out of range 1..1024", c.Name, batch)
	}
	// Protocol 0: the socket receives nothing until bind names the
	// protocol, so no frame of another NIC can be queued before it.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("afpacket: %s: open packet socket: %w", c.Name, err)
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(fd)
		}
	}()
	ifr, err := unix.NewIfreq(c.Name)
	if err != nil {
		return nil, fmt.Errorf("afpacket: %q: invalid interface name: %w", c.Name, err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		if errors.Is(err, unix.ENODEV) {
			return nil, fmt.Errorf("afpacket: %s: %w", c.Name, ErrNoDevice)
		}
		return nil, fmt.Errorf("afpacket: %s: find interface: %w", c.Name, err)
	}
	ifindex := int(ifr.Uint32())

	opts := []struct {
		level, opt, val int
		what            string
	}{
		{unix.SOL_PACKET, unix.PACKET_AUXDATA, 1, "enable PACKET_AUXDATA"},
		{unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1, "enable PACKET_VNET_HDR"},
		{unix.SOL_PACKET, unix.PACKET_IGNORE_OUTGOING, 1, "enable PACKET_IGNORE_OUTGOING"},
	}
	for _, o := range opts {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, o.val); err != nil {
			return nil, fmt.Errorf("afpacket: %s: %s: %w", c.Name, o.what, err)
		}
	}
	// SO_RCVBUFFORCE ignores rmem_max but needs CAP_NET_ADMIN; without it
	// the kernel clamps SO_RCVBUF to rmem_max.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, rcvBufSize); err != nil {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, rcvBufSize); err != nil {
			return nil, fmt.Errorf("afpacket: %s: set receive buffer: %w", c.Name, err)
		}
	}
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, sndBufSize); err != nil {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, sndBufSize); err != nil {
			return nil, fmt.Errorf("afpacket: %s: set send buffer: %w", c.Name, err)
		}
	}
	if c.Promisc {
		mreq := unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
			return nil, fmt.Errorf("afpacket: %s: enable promiscuous mode: %w", c.Name, err)
		}
	}
	// Flush whatever is queued before bind. With protocol 0 nothing can
	// be, but a socket inherited from elsewhere or a future change to the
	// socket call must not leak frames of another NIC into the port.
	var junk [1]byte
	for range 1 << 16 {
		if _, _, err := unix.Recvfrom(fd, junk[:], unix.MSG_DONTWAIT|unix.MSG_TRUNC); err != nil {
			break
		}
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}
	if err := unix.Bind(fd, sa); err != nil {
		return nil, fmt.Errorf("afpacket: %s: bind: %w", c.Name, err)
	}

	p := &Port{name: c.Name, ifindex: ifindex, batch: batch}
	p.initBuffers()
	// os.NewFile sees a non-blocking descriptor and registers it with the
	// runtime poller: ReadBatch parks its goroutine instead of a thread,
	// and Close wakes it.
	p.file = os.NewFile(uintptr(fd), "afpacket:"+c.Name)
	ok = true
	if p.rc, err = p.file.SyscallConn(); err != nil {
		p.file.Close()
		return nil, fmt.Errorf("afpacket: %s: register with poller: %w", c.Name, err)
	}
	p.readFn, p.writeFn = p.doRead, p.doWrite
	return p, nil
}

func htons(v uint16) uint16 {
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], v)
	return binary.NativeEndian.Uint16(b[:])
}

func (p *Port) initBuffers() {
	n := p.batch
	p.rxBuf = make([]byte, n*slotSize)
	p.rxIov = make([]unix.Iovec, n)
	p.rxCtrl = make([][ctrlWords]uint64, n)
	p.rxMsgs = make([]mmsghdr, n)
	for i := range n {
		p.rxIov[i].Base = &p.rxBuf[i*slotSize+slotIovOff]
		p.rxIov[i].SetLen(slotSize - slotIovOff)
		h := &p.rxMsgs[i].hdr
		h.Iov = &p.rxIov[i]
		h.SetIovlen(1)
		h.Control = (*byte)(unsafe.Pointer(&p.rxCtrl[i][0]))
	}
	p.txIov = make([]unix.Iovec, 2*n)
	p.txHdrs = make([][vnetHdrLen]byte, n)
	p.txMsgs = make([]mmsghdr, n)
	for i := range n {
		p.txIov[2*i].Base = &p.txHdrs[i][0]
		p.txIov[2*i].SetLen(vnetHdrLen)
		p.txMsgs[i].hdr.Iov = &p.txIov[2*i]
		p.txMsgs[i].hdr.SetIovlen(2)
	}
}

// Name returns the NIC's name.
func (p *Port) Name() string { return p.name }

// BatchSize implements port.Port.
func (p *Port) BatchSize() int { return p.batch }

// Stats returns the port's counters. It is safe to call at any time.
func (p *Port) Stats() Stats {
	s := &p.stats
	return Stats{
		RxFrames: s.rxFrames.Load(), RxBytes: s.rxBytes.Load(),
		RxSuper: s.rxSuper.Load(), RxSegs: s.rxSegs.Load(), RxVLAN: s.rxVLAN.Load(),
		RxCsumPartial: s.rxCsumPartial.Load(), RxCsumValid: s.rxCsumValid.Load(),
		RxTruncated: s.rxTruncated.Load(), RxOversize: s.rxOversize.Load(),
		RxBadGSOType: s.rxBadGSOType.Load(), RxBadOffload: s.rxBadOffload.Load(), RxErrors: s.rxErrors.Load(),
		TxFrames: s.txFrames.Load(), TxBytes: s.txBytes.Load(), TxErrors: s.txErrors.Load(),
	}
}

// Close implements port.Port. Closing the socket also drops its
// promiscuous membership.
func (p *Port) Close() error {
	if !p.closed.CompareAndSwap(false, true) {
		return nil
	}
	if err := p.file.Close(); err != nil {
		return fmt.Errorf("afpacket: %s: close: %w", p.name, err)
	}
	return nil
}

// ReadBatch implements port.Port. It waits for the first frame, then takes
// what else is queued without waiting, until pkts is full. Super-frames are
// cut into segments here; segments that do not fit pkts stay in the port
// and open the next ReadBatch, in order.
func (p *Port) ReadBatch(pkts []*buf.Packet) (int, error) {
	if p.closed.Load() {
		return 0, net.ErrClosed
	}
	if len(pkts) == 0 {
		return 0, nil
	}
	var c rxCount
	defer p.publishRx(&c)
	n := p.emit(pkts, &c)
	for n == 0 {
		if err := p.recv(len(pkts), true, &c); err != nil {
			return 0, err
		}
		n = p.emit(pkts, &c)
	}
	for n < len(pkts) && !p.pending() {
		if err := p.recv(len(pkts)-n, false, &c); err != nil || p.rxGot == 0 {
			break // an error shows again on the next call
		}
		n += p.emit(pkts[n:], &c)
	}
	return n, nil
}

func (p *Port) pending() bool { return p.segOn || p.rxNext < p.rxGot }

// recv fills the receive slots with up to want messages. It blocks until
// at least one arrives if block is set.
func (p *Port) recv(want int, block bool, c *rxCount) error {
	p.rxWant, p.rxBlock = min(want, p.batch), block
	p.rxGot, p.rxNext = 0, 0
	for tries := 1; ; tries++ {
		err := p.rc.Read(p.readFn)
		if p.closed.Load() {
			return net.ErrClosed
		}
		if err != nil {
			return fmt.Errorf("afpacket: %s: receive: %w", p.name, err)
		}
		switch p.rxErrno {
		case 0:
			return nil
		case unix.EINVAL, unix.ENETDOWN, unix.ENOBUFS, unix.ENOMEM:
			// EINVAL: the kernel could not describe a frame in a vnet
			// header (a GSO type virtio has no name for) and dropped it.
			// ENETDOWN: the link went down. Both are reported once.
			c.errors++
			if !block {
				return nil
			}
			if tries >= maxRxErrors {
				return fmt.Errorf("afpacket: %s: receive: %d errors in a row: %w", p.name, tries, p.rxErrno)
			}
		default:
			return fmt.Errorf("afpacket: %s: receive: %w", p.name, p.rxErrno)
		}
	}
}

// doRead is the RawConn.Read callback: one recvmmsg. It returns false to
// wait for readability, which it does only in blocking mode.
func (p *Port) doRead(fd uintptr) bool {
	for i := range p.rxWant {
		h := &p.rxMsgs[i].hdr
		h.SetControllen(ctrlWords * 8)
		h.Flags = 0
	}
	for {
		r, _, e := unix.Syscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&p.rxMsgs[0])),
			uintptr(p.rxWant), unix.MSG_DONTWAIT|unix.MSG_TRUNC, 0, 0)
		switch e {
		case 0:
			p.rxGot, p.rxErrno = int(r), 0
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			p.rxGot, p.rxErrno = 0, 0
			return !p.rxBlock
		default:
			p.rxGot, p.rxErrno = 0, e
			return true
		}
	}
}

// emit hands out frames and segments from the receive slots into pkts and
// returns how many it filled.
func (p *Port) emit(pkts []*buf.Packet, c *rxCount) int {
	n := 0
	for n < len(pkts) {
		if p.segOn {
			pkt := pkts[n]
			pkt.Reset()
			l := p.seg.cut(p.segNext, pkt.Room())
			p.segNext++
			if p.segNext == p.seg.n {
				p.segOn = false
				p.seg.frame = nil
			}
			if l == 0 {
				c.oversize++
				continue
			}
			pkt.SetLen(l)
			c.frames++
			c.segs++
			c.bytes += uint64(l)
			n++
			continue
		}
		if p.rxNext >= p.rxGot {
			break
		}
		i := p.rxNext
		p.rxNext++
		frame, h, ok := p.slotFrame(i, c)
		if !ok {
			continue
		}
		if h.gsoType != gsoNone {
			switch p.seg.init(h, frame) {
			case offloadOK:
				c.super++
				p.segOn, p.segNext = true, 0
			case offloadGSOType:
				c.badGSOType++
			default:
				c.badOffload++
			}
			continue
		}
		if h.flags&vnetNeedsCsum != 0 {
			if completeCsum(h, frame) != offloadOK {
				c.badOffload++
				continue
			}
			c.csumPartial++
		} else if h.flags&vnetDataValid != 0 {
			c.csumValid++
		}
		pkt := pkts[n]
		pkt.Reset()
		room := pkt.Room()
		if len(frame) > len(room) {
			c.oversize++
			continue
		}
		pkt.SetLen(copy(room, frame))
		c.frames++
		c.bytes += uint64(len(frame))
		n++
	}
	return n
}

// slotFrame returns the frame in receive slot i, with its VLAN tag restored
// from auxdata, and its vnet header, offsets adjusted for the tag.
func (p *Port) slotFrame(i int, c *rxCount) ([]byte, vnetHdr, bool) {
	m := &p.rxMsgs[i]
	slot := p.rxBuf[i*slotSize : (i+1)*slotSize : (i+1)*slotSize]
	l := int(m.len) - vnetHdrLen
	if m.hdr.Flags&unix.MSG_TRUNC != 0 || l > maxRxFrame {
		c.truncated++
		return nil, vnetHdr{}, false
	}
	if l < 14 {
		c.badOffload++
		return nil, vnetHdr{}, false
	}
	h := decodeVnetHdr(slot[slotIovOff:])
	frame := slot[slotFrameOff : slotFrameOff+l]
	ctrl := unsafe.Slice((*byte)(unsafe.Pointer(&p.rxCtrl[i][0])), ctrlWords*8)
	if tci, tpid, ok := auxVLAN(ctrl[:min(int(m.hdr.Controllen), len(ctrl))]); ok {
		// The kernel took the tag out of the frame (skb_vlan_untag) and
		// counted csum_start without it: put it back after the MAC
		// addresses and shift csum_start past it.
		const start = slotFrameOff - packet.VLANTagLen
		copy(slot[start:start+12], frame[:12])
		binary.BigEndian.PutUint16(slot[start+12:], tpid)
		binary.BigEndian.PutUint16(slot[start+14:], tci)
		frame = slot[start : slotFrameOff+l]
		if h.flags&vnetNeedsCsum != 0 {
			h.csumStart += packet.VLANTagLen
		}
		c.vlan++
	}
	return frame, h, true
}

// auxVLAN finds the tpacket_auxdata control message in ctrl and returns the
// VLAN tag it reports, if any. Without TP_STATUS_VLAN_TPID_VALID the TPID is
// 0x8100.
func auxVLAN(ctrl []byte) (tci, tpid uint16, ok bool) {
	const align = int(unsafe.Sizeof(uintptr(0)))
	for len(ctrl) >= unix.SizeofCmsghdr {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&ctrl[0]))
		l := int(h.Len)
		if l < unix.SizeofCmsghdr || l > len(ctrl) {
			return 0, 0, false
		}
		if h.Level == unix.SOL_PACKET && h.Type == unix.PACKET_AUXDATA && l >= unix.CmsgLen(int(unsafe.Sizeof(unix.TpacketAuxdata{}))) {
			d := ctrl[unix.CmsgLen(0):l]
			status := binary.NativeEndian.Uint32(d[0:])
			if status&unix.TP_STATUS_VLAN_VALID == 0 {
				return 0, 0, false
			}
			tpid = 0x8100
			if status&unix.TP_STATUS_VLAN_TPID_VALID != 0 {
				tpid = binary.NativeEndian.Uint16(d[18:])
			}
			return binary.NativeEndian.Uint16(d[16:]), tpid, true
		}
		next := (l + align - 1) &^ (align - 1)
		if next >= len(ctrl) {
			break
		}
		ctrl = ctrl[next:]
	}
	return 0, 0, false
}

func (p *Port) publishRx(c *rxCount) {
	s := &p.stats
	add := func(a *atomic.Uint64, v uint64) {
		if v != 0 {
			a.Add(v)
		}
	}
	add(&s.rxFrames, c.frames)
	add(&s.rxBytes, c.bytes)
	add(&s.rxSuper, c.super)
	add(&s.rxSegs, c.segs)
	add(&s.rxVLAN, c.vlan)
	add(&s.rxCsumPartial, c.csumPartial)
	add(&s.rxCsumValid, c.csumValid)
	add(&s.rxTruncated, c.truncated)
	add(&s.rxOversize, c.oversize)
	add(&s.rxBadGSOType, c.badGSOType)
	add(&s.rxBadOffload, c.badOffload)
	add(&s.rxErrors, c.errors)
}

// WriteBatch implements port.Port: sendmmsg, each frame behind a vnet
// header made from its Meta.GSO (zero for a plain frame): super-frames
// from an offloading peer are segmented by the kernel on the way out, and
// partial checksums completed. Frames the NIC refuses are counted in
// TxErrors and skipped.
func (p *Port) WriteBatch(pkts []*buf.Packet) (int, error) {
	if p.closed.Load() {
		return 0, net.ErrClosed
	}
	p.txFrames, p.txBytes, p.txErrs = 0, 0, 0
	defer func() {
		s := &p.stats
		s.txFrames.Add(p.txFrames)
		s.txBytes.Add(p.txBytes)
		if p.txErrs != 0 {
			s.txErrors.Add(p.txErrs)
		}
	}()
	for off := 0; off < len(pkts); off += p.batch {
		if err := p.send(pkts[off:min(off+p.batch, len(pkts))]); err != nil {
			return off, err
		}
	}
	return len(pkts), nil
}

func (p *Port) send(pkts []*buf.Packet) error {
	k := 0
	for _, pkt := range pkts {
		d := pkt.Data()
		if len(d) == 0 {
			p.txErrs++
			continue
		}
		pkt.Meta.GSO.Put(p.txHdrs[k][:])
		iov := &p.txIov[2*k+1]
		iov.Base = &d[0]
		iov.SetLen(len(d))
		k++
	}
	p.txNext, p.txEnd, p.txErrno = 0, k, 0
	var err error
	if k > 0 {
		err = p.rc.Write(p.writeFn)
	}
	for i := range k {
		p.txIov[2*i+1].Base = nil // do not retain the caller's packets
	}
	if p.closed.Load() {
		return net.ErrClosed
	}
	if err != nil {
		return fmt.Errorf("afpacket: %s: send: %w", p.name, err)
	}
	if p.txErrno != 0 {
		return fmt.Errorf("afpacket: %s: send: %w", p.name, p.txErrno)
	}
	return nil
}

// doWrite is the RawConn.Write callback: sendmmsg until every message is
// sent or skipped. It returns false to wait for room in the socket buffer.
func (p *Port) doWrite(fd uintptr) bool {
	for p.txNext < p.txEnd {
		r, _, e := unix.Syscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&p.txMsgs[p.txNext])),
			uintptr(p.txEnd-p.txNext), unix.MSG_DONTWAIT, 0, 0)
		switch {
		case e == 0 && r == 0:
			p.txErrs++ // not expected from Linux; skip rather than spin
			p.txNext++
		case e == 0:
			for i := p.txNext; i < p.txNext+int(r); i++ {
				p.txBytes += uint64(p.txIov[2*i+1].Len)
			}
			p.txFrames += uint64(r)
			p.txNext += int(r)
		case e == unix.EINTR:
		case e == unix.EAGAIN:
			return false
		case e == unix.EBADF || e == unix.ENXIO || e == unix.ENODEV:
			p.txErrno = e // the socket or the NIC is gone
			return true
		default:
			// EMSGSIZE (longer than the MTU), ENETDOWN, ENOBUFS, EINVAL:
			// this frame is refused; the next may pass.
			p.txErrs++
			p.txNext++
		}
	}
	return true
}
