// SPDX-License-Identifier: Apache-2.0

//go:build linux

package tap

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/port"
)

// tapFlags are the TUNSETIFF flags: a TAP device (Ethernet frames) without
// the 4-byte packet information header. IFF_TUN_EXCL makes the kernel
// refuse an existing name (EBUSY) instead of attaching to it. With
// offloads IFF_VNET_HDR is added.
const tapFlags = unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_TUN_EXCL

// offloadSets are tried in order with TUNSETOFFLOAD: TSO needs CSUM, and
// USO4 and USO6 only come together (and only on kernels with USO).
var offloadSets = []struct {
	flags int
	name  string
}{
	{unix.TUN_F_CSUM | unix.TUN_F_TSO4 | unix.TUN_F_TSO6 | unix.TUN_F_TSO_ECN | unix.TUN_F_USO4 | unix.TUN_F_USO6, "csum,tso4,tso6,ecn,uso"},
	{unix.TUN_F_CSUM | unix.TUN_F_TSO4 | unix.TUN_F_TSO6 | unix.TUN_F_TSO_ECN, "csum,tso4,tso6,ecn"},
	{unix.TUN_F_CSUM | unix.TUN_F_TSO4 | unix.TUN_F_TSO6, "csum,tso4,tso6"},
	{unix.TUN_F_CSUM, "csum"},
}

// Port is a TAP port. See the package doc.
type Port struct {
	name     string
	batch    int
	offload  bool
	offloads string
	file     *os.File
	rc       syscall.RawConn
	closed   atomic.Bool

	rxFrames, rxBytes, rxOversize, rxSuper atomic.Uint64
	txFrames, txBytes, txErrors, txSuper   atomic.Uint64

	// Read state, owned by the ReadBatch goroutine. With offloads the
	// first iovec takes the virtio-net header. The last iovec is one spill
	// byte: a read that reaches it was longer than the packet.
	rxPkts   []*buf.Packet
	rxN      int
	rxIov    [3]unix.Iovec
	rxIovs   []unix.Iovec // rxIov[:2] or rxIov[:3]
	rxRoom   int          // index of the packet's iovec
	rxHdr    [buf.VirtioHdrLen]byte
	rxSpill  [1]byte
	rxBytesN uint64
	rxOver   uint64
	rxSuperN uint64
	rxErrno  unix.Errno
	readFn   func(fd uintptr) bool

	// Write state, owned by the WriteBatch goroutine.
	txPkts    []*buf.Packet
	txNext    int
	txIov     [2]unix.Iovec
	txHdr     [buf.VirtioHdrLen]byte
	txFramesN uint64
	txBytesN  uint64
	txSuperN  uint64
	txErrs    uint64
	txErrno   unix.Errno
	writeFn   func(fd uintptr) bool
}

var _ port.Port = (*Port)(nil)

// Open creates the TAP device c.Name, sets its MTU, adds c.Address or
// enslaves it to c.Bridge, and brings it up. The device lives in the
// network namespace of the calling thread and disappears on Close.
func Open(c Config) (*Port, error) {
	c, err := c.normalize()
	if err != nil {
		return nil, err
	}
	h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("tap: %s: open netlink: %w", c.Name, err)
	}
	defer h.Close()

	if _, err := h.LinkByName(c.Name); err == nil {
		return nil, fmt.Errorf("tap: %s: create: %w", c.Name, ErrExists)
	} else if !notFound(err) {
		return nil, fmt.Errorf("tap: %s: look up existing link: %w", c.Name, err)
	}
	var bridge netlink.Link
	if c.Bridge != "" {
		if bridge, err = h.LinkByName(c.Bridge); err != nil {
			if notFound(err) {
				err = ErrNotFound
			}
			return nil, fmt.Errorf("tap: %s: enslave to bridge %s: %w", c.Name, c.Bridge, err)
		}
		if t := bridge.Type(); t != "bridge" {
			return nil, fmt.Errorf("tap: %s: enslave to bridge %s: %w (it is a %s)", c.Name, c.Bridge, ErrNotBridge, t)
		}
	}

	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("tap: %s: open /dev/net/tun: %w", c.Name, err)
	}
	ok := false
	defer func() {
		if !ok {
			unix.Close(fd) // removes the device and whatever was set on it
		}
	}()
	ifr, err := unix.NewIfreq(c.Name)
	if err != nil {
		return nil, fmt.Errorf("tap: %s: create: %w", c.Name, err)
	}
	flags := uint16(tapFlags)
	if c.Offload {
		flags |= unix.IFF_VNET_HDR
	}
	ifr.SetUint16(flags)
	if err := unix.IoctlIfreq(fd, unix.TUNSETIFF, ifr); err != nil {
		if errors.Is(err, unix.EBUSY) {
			err = ErrExists
		}
		return nil, fmt.Errorf("tap: %s: create: %w", c.Name, err)
	}
	offloads := ""
	if c.Offload {
		// The header size is 10 (struct virtio_net_hdr) unless changed;
		// say so, in case a kernel default ever differs.
		if err := unix.IoctlSetPointerInt(fd, unix.TUNSETVNETHDRSZ, buf.VirtioHdrLen); err != nil {
			return nil, fmt.Errorf("tap: %s: set virtio-net header size: %w", c.Name, err)
		}
		// A kernel that takes none of the sets still gives us the
		// header: reads are plain frames, writes may be super-frames.
		offloads = "none"
		for _, set := range offloadSets {
			if unix.IoctlSetInt(fd, unix.TUNSETOFFLOAD, set.flags) == nil {
				offloads = set.name
				break
			}
		}
	}
	link, err := h.LinkByName(c.Name)
	if err != nil {
		return nil, fmt.Errorf("tap: %s: look up new link: %w", c.Name, err)
	}
	if err := h.LinkSetMTU(link, c.MTU); err != nil {
		return nil, fmt.Errorf("tap: %s: set mtu %d: %w", c.Name, c.MTU, err)
	}
	if a := c.Address; a.IsValid() {
		ipnet := &net.IPNet{IP: a.Addr().AsSlice(), Mask: net.CIDRMask(a.Bits(), a.Addr().BitLen())}
		if err := h.AddrAdd(link, &netlink.Addr{IPNet: ipnet}); err != nil {
			return nil, fmt.Errorf("tap: %s: add address %s: %w", c.Name, a, err)
		}
	}
	if bridge != nil {
		if err := h.LinkSetMaster(link, bridge); err != nil {
			if notFound(err) {
				err = ErrNotFound // the bridge went away since we looked
			}
			return nil, fmt.Errorf("tap: %s: enslave to bridge %s: %w", c.Name, c.Bridge, err)
		}
	}
	if err := h.LinkSetUp(link); err != nil {
		return nil, fmt.Errorf("tap: %s: bring up: %w", c.Name, err)
	}

	p := &Port{name: c.Name, batch: c.Batch, offload: c.Offload, offloads: offloads}
	// os.NewFile sees a non-blocking descriptor and registers it with the
	// runtime poller: ReadBatch parks its goroutine instead of a thread,
	// and Close wakes it.
	p.file = os.NewFile(uintptr(fd), "/dev/net/tun:"+c.Name)
	ok = true
	if p.rc, err = p.file.SyscallConn(); err != nil {
		p.file.Close()
		return nil, fmt.Errorf("tap: %s: register with poller: %w", c.Name, err)
	}
	if c.Offload {
		p.rxIov[0].Base = &p.rxHdr[0]
		p.rxIov[0].SetLen(len(p.rxHdr))
		p.rxRoom, p.rxIovs = 1, p.rxIov[:3]
		p.txIov[0].Base = &p.txHdr[0]
		p.txIov[0].SetLen(len(p.txHdr))
	} else {
		p.rxRoom, p.rxIovs = 0, p.rxIov[:2]
	}
	spill := &p.rxIovs[len(p.rxIovs)-1]
	spill.Base = &p.rxSpill[0]
	spill.SetLen(len(p.rxSpill))
	p.readFn, p.writeFn = p.doRead, p.doWrite
	return p, nil
}

func notFound(err error) bool {
	var nf netlink.LinkNotFoundError
	return errors.As(err, &nf) || errors.Is(err, unix.ENODEV)
}

// Name returns the device's name.
func (p *Port) Name() string { return p.name }

// BatchSize implements port.Port.
func (p *Port) BatchSize() int { return p.batch }

// MaxFrame is the longest frame ReadBatch returns: a 64 KiB super-frame
// with offloads, an MTU-sized frame without (tagged frames included).
func (p *Port) MaxFrame() int {
	if p.offload {
		return buf.MaxSuperFrame
	}
	return buf.MaxFrame
}

// Stats returns the port's counters. It is safe to call at any time.
func (p *Port) Stats() Stats {
	return Stats{
		RxFrames: p.rxFrames.Load(), RxBytes: p.rxBytes.Load(), RxOversize: p.rxOversize.Load(),
		TxFrames: p.txFrames.Load(), TxBytes: p.txBytes.Load(), TxErrors: p.txErrors.Load(),
		RxSuper: p.rxSuper.Load(), TxSuper: p.txSuper.Load(), Offloads: p.offloads,
	}
}

// Close implements port.Port. It removes the device.
func (p *Port) Close() error {
	if !p.closed.CompareAndSwap(false, true) {
		return nil
	}
	if err := p.file.Close(); err != nil {
		return fmt.Errorf("tap: %s: close: %w", p.name, err)
	}
	return nil
}

// ReadBatch implements port.Port: it waits for the first frame, then reads
// without waiting until EAGAIN or pkts is full.
func (p *Port) ReadBatch(pkts []*buf.Packet) (int, error) {
	if p.closed.Load() {
		return 0, net.ErrClosed
	}
	if len(pkts) == 0 {
		return 0, nil
	}
	p.rxPkts, p.rxN, p.rxBytesN, p.rxOver, p.rxSuperN, p.rxErrno = pkts, 0, 0, 0, 0, 0
	err := p.rc.Read(p.readFn)
	n := p.rxN
	p.rxPkts, p.rxIov[p.rxRoom].Base = nil, nil // keep nothing of the caller's
	if p.rxOver > 0 {
		p.rxOversize.Add(p.rxOver)
	}
	if p.rxSuperN > 0 {
		p.rxSuper.Add(p.rxSuperN)
	}
	if n > 0 {
		p.rxFrames.Add(uint64(n))
		p.rxBytes.Add(p.rxBytesN)
		return n, nil // an error shows again on the next call
	}
	if p.closed.Load() {
		return 0, net.ErrClosed
	}
	if err != nil {
		return 0, fmt.Errorf("tap: %s: read: %w", p.name, err)
	}
	if p.rxErrno != 0 {
		return 0, fmt.Errorf("tap: %s: read: %w", p.name, p.rxErrno)
	}
	// Not reached: the callback waits until it has a frame or an error.
	return 0, fmt.Errorf("tap: %s: read: %w", p.name, unix.EAGAIN)
}

// doRead is the RawConn.Read callback. It returns false, to wait for
// readability, only when it has read nothing.
func (p *Port) doRead(fd uintptr) bool {
	for p.rxN < len(p.rxPkts) {
		pkt := p.rxPkts[p.rxN]
		pkt.Reset()
		room := pkt.Room()
		if len(room) == 0 {
			p.rxErrno = unix.ENOBUFS // a packet without room: the caller's bug
			return true
		}
		iov := &p.rxIov[p.rxRoom]
		iov.Base = &room[0]
		iov.SetLen(len(room))
		r, _, e := unix.Syscall(unix.SYS_READV, fd, uintptr(unsafe.Pointer(&p.rxIovs[0])), uintptr(len(p.rxIovs)))
		switch {
		case e == 0 && r == 0:
			return p.rxN > 0 // not expected from a TAP: treat as nothing to read
		case e == 0:
			n := int(r)
			if p.offload {
				if n < buf.VirtioHdrLen {
					p.rxOver++ // cannot happen: the kernel writes the header first
					continue
				}
				n -= buf.VirtioHdrLen
				pkt.Meta.GSO = buf.ReadGSO(p.rxHdr[:])
				if pkt.Meta.GSO.Super() {
					p.rxSuperN++
				}
			}
			if n > len(room) {
				p.rxOver++
				continue
			}
			pkt.SetLen(n)
			p.rxBytesN += uint64(n)
			p.rxN++
		case e == unix.EINTR:
		case e == unix.EAGAIN:
			return p.rxN > 0
		default:
			p.rxErrno = e // EBADFD: the device was deleted under us
			return true
		}
	}
	return true
}

// WriteBatch implements port.Port: one write per frame. Frames the device
// refuses are counted in TxErrors and skipped.
func (p *Port) WriteBatch(pkts []*buf.Packet) (int, error) {
	if p.closed.Load() {
		return 0, net.ErrClosed
	}
	p.txPkts, p.txNext, p.txFramesN, p.txBytesN, p.txSuperN, p.txErrs, p.txErrno = pkts, 0, 0, 0, 0, 0, 0
	err := p.rc.Write(p.writeFn)
	sent := p.txNext
	p.txPkts, p.txIov[1].Base = nil, nil
	p.txFrames.Add(p.txFramesN)
	p.txBytes.Add(p.txBytesN)
	if p.txSuperN > 0 {
		p.txSuper.Add(p.txSuperN)
	}
	if p.txErrs > 0 {
		p.txErrors.Add(p.txErrs)
	}
	if p.closed.Load() {
		return sent, net.ErrClosed
	}
	if err != nil {
		return sent, fmt.Errorf("tap: %s: write: %w", p.name, err)
	}
	if p.txErrno != 0 {
		return sent, fmt.Errorf("tap: %s: write: %w", p.name, p.txErrno)
	}
	return len(pkts), nil
}

// doWrite is the RawConn.Write callback. It returns false to wait for
// writability.
func (p *Port) doWrite(fd uintptr) bool {
	for p.txNext < len(p.txPkts) {
		pkt := p.txPkts[p.txNext]
		d := pkt.Data()
		if len(d) == 0 {
			p.txErrs++
			p.txNext++
			continue
		}
		var e unix.Errno
		if p.offload {
			// The header the frame came with (zero for a plain frame):
			// the kernel segments super-frames and completes partial
			// checksums.
			pkt.Meta.GSO.Put(p.txHdr[:])
			p.txIov[1].Base = &d[0]
			p.txIov[1].SetLen(len(d))
			_, _, e = unix.Syscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&p.txIov[0])), 2)
		} else {
			_, _, e = unix.Syscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&d[0])), uintptr(len(d)))
		}
		switch e {
		case 0:
			p.txFramesN++
			p.txBytesN += uint64(len(d))
			if pkt.Meta.GSO.Super() {
				p.txSuperN++
			}
			p.txNext++
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		case unix.EBADFD, unix.EBADF:
			p.txErrno = e // the device was deleted under us
			return true
		default:
			// EINVAL (shorter than an Ethernet header), EMSGSIZE, EIO
			// (device down), ...: this frame is refused.
			p.txErrs++
			p.txNext++
		}
	}
	return true
}
