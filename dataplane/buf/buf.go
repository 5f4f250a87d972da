// SPDX-License-Identifier: Apache-2.0

package buf

import (
	"net/netip"
	"sync"
)

const (
	// Headroom is reserved in front of every frame: Ethernet 14 + two VLAN
	// tags 8 + IPv6 40 + UDP 8 + skiff header 28 = 98, rounded up to a cache
	// line multiple.
	Headroom = 128
	// Tailroom is reserved behind every frame for the AEAD tag (16 bytes)
	// and slack for in-place stages.
	Tailroom = 64
	// MaxFrame is the largest Ethernet frame (without FCS) the default pool
	// holds: a 9000-byte MTU jumbo frame with two VLAN tags, with margin.
	MaxFrame = 9216
	// DefaultSize is the backing size of packets from the default pool.
	DefaultSize = Headroom + MaxFrame + Tailroom
	// MaxSuperFrame is the largest frame the large pool holds: a TSO/GRO
	// super-frame of up to 64 KiB with its virtio-net header, the most a
	// skiff datagram's 16-bit fragment total can describe.
	MaxSuperFrame = 65535
	// LargeSize is the backing size of packets from the large pool.
	LargeSize = Headroom + MaxSuperFrame + Tailroom
)

// GSO describes a segmentation-offload super-frame or a frame whose
// checksum is still to be completed: the fields of a virtio_net_hdr, as
// TAP devices and packet sockets exchange them. The zero value is a plain
// frame with complete checksums.
type GSO struct {
	Flags      uint8  // VirtioNeedsCsum, VirtioDataValid
	Type       uint8  // VirtioGSONone, TCPv4, UDP, TCPv6, UDPL4, | VirtioGSOECN
	HdrLen     uint16 // bytes of L2+L3+L4 headers
	Size       uint16 // payload bytes per segment (MSS)
	CsumStart  uint16 // where checksumming starts, from the start of the frame
	CsumOffset uint16 // where the checksum goes, from CsumStart
}

// virtio_net_hdr values.
const (
	VirtioNeedsCsum = 1 // flags: the L4 checksum is partial (pseudo-header only)
	VirtioDataValid = 2 // flags: the checksum was verified

	VirtioGSONone  = 0
	VirtioGSOTCPv4 = 1
	VirtioGSOUDP   = 3
	VirtioGSOTCPv6 = 4
	VirtioGSOUDPL4 = 5
	VirtioGSOECN   = 0x80

	// VirtioHdrLen is the length of a virtio_net_hdr on the wire.
	VirtioHdrLen = 10
)

// IsZero reports whether g describes a plain frame.
func (g GSO) IsZero() bool { return g == GSO{} }

// Super reports whether g describes a segmentation-offload super-frame.
func (g GSO) Super() bool { return g.Type&^VirtioGSOECN != VirtioGSONone }

// Put writes g as a virtio_net_hdr (little-endian) into b[:VirtioHdrLen].
func (g GSO) Put(b []byte) {
	b = b[:VirtioHdrLen:VirtioHdrLen]
	b[0], b[1] = g.Flags, g.Type
	b[2], b[3] = byte(g.HdrLen), byte(g.HdrLen>>8)
	b[4], b[5] = byte(g.Size), byte(g.Size>>8)
	b[6], b[7] = byte(g.CsumStart), byte(g.CsumStart>>8)
	b[8], b[9] = byte(g.CsumOffset), byte(g.CsumOffset>>8)
}

// ReadGSO reads a virtio_net_hdr from b[:VirtioHdrLen].
func ReadGSO(b []byte) GSO {
	b = b[:VirtioHdrLen:VirtioHdrLen]
	return GSO{
		Flags: b[0], Type: b[1],
		HdrLen:     uint16(b[2]) | uint16(b[3])<<8,
		Size:       uint16(b[4]) | uint16(b[5])<<8,
		CsumStart:  uint16(b[6]) | uint16(b[7])<<8,
		CsumOffset: uint16(b[8]) | uint16(b[9])<<8,
	}
}

// Meta is per-packet metadata carried between stages. Stages document which
// fields they read and write; Reset and Put clear it.
type Meta struct {
	Counter    uint64 // receive: the authenticated wire counter
	Session    uint32 // receive: the local session id the packet arrived on
	SrcNode    uint16 // source node id
	DstNode    uint16 // destination node id
	FragOffset uint16 // fragment: byte offset of this piece in the frame
	FragTotal  uint16 // fragment: length of the whole frame; 0 = not a fragment
	FragIndex  uint8  // fragment: piece number, 0-based
	Flags      uint8  // wire header flags (LZ4, ...)
	TTL        uint8  // hops left
	Port       uint8  // send: index of the underlay port to send on
	GSO        GSO    // offload state of the frame (local ports with offloads)
}

// Packet is one frame or datagram in a pooled buffer. See the package doc
// for layout and ownership.
type Packet struct {
	b    []byte
	off  int
	end  int
	Addr netip.AddrPort // underlay address: source on receive, destination on send
	Meta Meta
	pool *Pool
	free bool // in the pool
}

// New returns a packet with a backing array of size bytes that belongs to no
// pool. size must leave room for Headroom and Tailroom.
func New(size int) *Packet {
	if size < Headroom+Tailroom {
		panic("buf: packet size smaller than headroom + tailroom")
	}
	return &Packet{b: make([]byte, size), off: Headroom, end: Headroom}
}

// Data returns the packet's bytes. The slice aliases the buffer.
func (p *Packet) Data() []byte { return p.b[p.off:p.end] }

// Len is the length of Data.
func (p *Packet) Len() int { return p.end - p.off }

// Headroom is the space in front of Data.
func (p *Packet) Headroom() int { return p.off }

// Tailroom is the space behind Data.
func (p *Packet) Tailroom() int { return len(p.b) - p.end }

// Cap is the size of the backing array.
func (p *Packet) Cap() int { return len(p.b) }

// Reset empties the packet, leaving Headroom in front, and clears Meta and
// Addr.
func (p *Packet) Reset() {
	p.off, p.end = Headroom, Headroom
	p.Meta = Meta{}
	p.Addr = netip.AddrPort{}
}

// Room returns the writable space from the start of Data up to the
// tailroom reserve: a port reads a frame into Room() and calls SetLen.
func (p *Packet) Room() []byte { return p.b[p.off : len(p.b)-Tailroom] }

// SetLen sets the length of Data; n must not exceed len(Room()) + Tailroom.
func (p *Packet) SetLen(n int) {
	if n < 0 || p.off+n > len(p.b) {
		panic("buf: SetLen out of range")
	}
	p.end = p.off + n
}

// Push grows Data by n bytes at the front and returns them.
// It panics if the headroom is too small: headroom is fixed, so that is a
// programming error, never a property of the input.
func (p *Packet) Push(n int) []byte {
	if n > p.off {
		panic("buf: Push beyond headroom")
	}
	p.off -= n
	return p.b[p.off : p.off+n : p.off+n]
}

// Pull removes n bytes from the front of Data and returns them. The caller
// checks Len first; Pull panics if n > Len.
func (p *Packet) Pull(n int) []byte {
	if n > p.end-p.off {
		panic("buf: Pull beyond data")
	}
	s := p.b[p.off : p.off+n : p.off+n]
	p.off += n
	return s
}

// Extend grows Data by n bytes at the back and returns them.
func (p *Packet) Extend(n int) []byte {
	if n > len(p.b)-p.end {
		panic("buf: Extend beyond tailroom")
	}
	s := p.b[p.end : p.end+n : p.end+n]
	p.end += n
	return s
}

// Trim removes n bytes from the back of Data.
func (p *Packet) Trim(n int) {
	if n > p.end-p.off {
		panic("buf: Trim beyond data")
	}
	p.end -= n
}

// SetData replaces Data with a copy of b, placed at Headroom. It reports
// false, leaving the packet empty, if b does not fit.
func (p *Packet) SetData(b []byte) bool {
	p.off, p.end = Headroom, Headroom
	if len(b) > len(p.b)-Headroom-Tailroom {
		return false
	}
	p.end = Headroom + copy(p.b[Headroom:], b)
	return true
}

// Swap exchanges the backing arrays and data bounds of p and q, leaving Meta
// and Addr in place. Both must have the same capacity and pool.
func (p *Packet) Swap(q *Packet) {
	if len(p.b) != len(q.b) || p.pool != q.pool {
		panic("buf: Swap between different buffer classes")
	}
	p.b, q.b = q.b, p.b
	p.off, q.off = q.off, p.off
	p.end, q.end = q.end, p.end
}

// Batch is a fixed-capacity vector of packet slots owned by one goroutine.
// Pkts[:N] are in use; every slot of Pkts holds a packet.
type Batch struct {
	Pkts []*Packet
	N    int
}

// NewBatch returns a batch of n packets taken from pool.
func NewBatch(pool *Pool, n int) *Batch {
	b := &Batch{Pkts: make([]*Packet, n)}
	pool.GetN(b.Pkts)
	return b
}

// Full reports whether every slot is in use.
func (b *Batch) Full() bool { return b.N == len(b.Pkts) }

// Next returns the first unused slot, Reset, and marks it used.
// It panics if the batch is full.
func (b *Batch) Next() *Packet {
	p := b.Pkts[b.N]
	p.Reset()
	b.N++
	return p
}

// Release returns every packet of the batch to the pool it came from (slots
// exchange packets, so a batch may hold packets of several pools); the
// batch is unusable afterwards.
func (b *Batch) Release() {
	ReleaseN(b.Pkts)
	b.Pkts, b.N = nil, 0
}

// Release returns p to the pool it came from; packets made by New belong
// to no pool and are left to the garbage collector.
func Release(p *Packet) {
	if p.pool != nil {
		p.pool.Put(p)
	}
}

// ReleaseN releases every non-nil packet of ps and clears the slots.
func ReleaseN(ps []*Packet) {
	for i, p := range ps {
		if p != nil {
			Release(p)
			ps[i] = nil
		}
	}
}

// Pool is the pool p came from, nil for a packet made by New.
func (p *Packet) Pool() *Pool { return p.pool }

// Pool hands out packets of one size. Unlike sync.Pool it keeps its free
// packets across garbage collections (the dataplane must not allocate per
// packet in steady state), and it retains at most a bounded number of them.
// It is safe for concurrent use.
type Pool struct {
	size   int
	retain int
	mu     sync.Mutex
	free   []*Packet
	allocs uint64
}

// NewPool returns a pool of packets with size-byte backing arrays that keeps
// up to retain free packets.
func NewPool(size, retain int) *Pool {
	if size < Headroom+Tailroom {
		panic("buf: pool size smaller than headroom + tailroom")
	}
	return &Pool{size: size, retain: retain, free: make([]*Packet, 0, min(retain, 1024))}
}

// Default is the process-wide pool of DefaultSize packets.
var Default = NewPool(DefaultSize, 8192)

// Large is the process-wide pool of LargeSize packets, for super-frames.
var Large = NewPool(LargeSize, 1024)

// Size is the backing size of the pool's packets.
func (pl *Pool) Size() int { return pl.size }

// Allocs is the number of packets the pool has allocated.
func (pl *Pool) Allocs() uint64 {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return pl.allocs
}

// Free is the number of packets waiting in the pool. With a retain limit
// above Allocs, Free == Allocs means every packet has been returned.
func (pl *Pool) Free() int {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return len(pl.free)
}

// Get returns a Reset packet.
func (pl *Pool) Get() *Packet {
	pl.mu.Lock()
	p := pl.pop()
	pl.mu.Unlock()
	return p
}

// GetN fills every slot of dst with a Reset packet.
func (pl *Pool) GetN(dst []*Packet) {
	pl.mu.Lock()
	for i := range dst {
		dst[i] = pl.pop()
	}
	pl.mu.Unlock()
}

func (pl *Pool) pop() *Packet {
	var p *Packet
	if n := len(pl.free); n > 0 {
		p = pl.free[n-1]
		pl.free[n-1] = nil
		pl.free = pl.free[:n-1]
	} else {
		p = &Packet{b: make([]byte, pl.size), pool: pl}
		pl.allocs++
	}
	p.free = false
	p.Reset()
	return p
}

// Put returns p to its pool. p must have come from pl; a second Put of the
// same packet panics.
func (pl *Pool) Put(p *Packet) {
	pl.mu.Lock()
	pl.push(p)
	pl.mu.Unlock()
}

// PutN returns every non-nil packet of ps and clears the slots.
func (pl *Pool) PutN(ps []*Packet) {
	pl.mu.Lock()
	for i, p := range ps {
		if p != nil {
			pl.push(p)
			ps[i] = nil
		}
	}
	pl.mu.Unlock()
}

func (pl *Pool) push(p *Packet) {
	if p.pool != pl {
		pl.mu.Unlock()
		panic("buf: Put of a packet from another pool")
	}
	if p.free {
		pl.mu.Unlock()
		panic("buf: double Put")
	}
	p.free = true
	p.Meta = Meta{}
	p.Addr = netip.AddrPort{}
	poison(p.b)
	if len(pl.free) < pl.retain {
		pl.free = append(pl.free, p)
	}
}
