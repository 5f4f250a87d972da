// SPDX-License-Identifier: Apache-2.0

package stage

import (
	"github.com/skiffnet/skiff/dataplane/buf"
)

// MaxPieces is the most pieces one frame may be split into.
const MaxPieces = 64

// MaxFragFrame is the largest frame that can be fragmented: the wire's
// 16-bit total length.
const MaxFragFrame = 0xFFFF

// Split cuts p's data into pieces of at most pieceSize bytes, as even as
// possible, copying them into the packets of out (which are Reset) and
// setting their fragment metadata (FragIndex, FragOffset, FragTotal; Flags
// copied from p). It returns the number of pieces. p is left untouched; the
// caller keeps ownership of it and of out's packets.
//
// A frame that fits one piece is not split: Split returns 0 and Pass, and
// the caller sends p as it is. A frame that needs more pieces than len(out)
// or MaxPieces, or is longer than MaxFragFrame, is FrameTooBig.
func Split(p *buf.Packet, pieceSize int, out []*buf.Packet) (int, Reason) {
	total := p.Len()
	if total <= pieceSize {
		return 0, Pass
	}
	if pieceSize <= 0 || total > MaxFragFrame {
		return 0, FrameTooBig
	}
	n := (total + pieceSize - 1) / pieceSize
	if n > MaxPieces || n > len(out) {
		return 0, FrameTooBig
	}
	size := (total + n - 1) / n // even pieces: the last is at most n-1 bytes shorter
	data := p.Data()
	for i := 0; i < n; i++ {
		off := i * size
		end := min(off+size, total)
		q := out[i]
		q.Reset()
		if !q.SetData(data[off:end]) {
			return 0, FrameTooBig
		}
		q.Meta = p.Meta
		q.Meta.FragIndex = uint8(i)
		q.Meta.FragOffset = uint16(off)
		q.Meta.FragTotal = uint16(total)
		q.Addr = p.Addr
	}
	return n, Pass
}

// Reassembler puts fragmented frames back together. The frames it holds
// take at most its memory cap in buffers (a frame takes a buffer of the
// pool, or of Large when the frame is longer than a pool buffer holds);
// when a new frame does not fit, the oldest ones are evicted. A frame not
// completed within the timeout is dropped. It copes with pieces that are
// lost (the frame times out), duplicated or overlapping (the piece is
// dropped; the frame can still complete), reordered (any order completes),
// or inconsistent (a different total length or flags than the frame's first
// piece: the frame is dropped).
//
// Frames are identified by the receiver session and the frame id, the
// counter of its first piece (counter - index); both are authenticated, so
// pieces of different peers or sessions never mix.
//
// Time is injected: every call takes now in nanoseconds from any monotonic
// origin. One Reassembler per worker goroutine; not safe for concurrent use.
type Reassembler struct {
	pool *buf.Pool
	// Large, if set, supplies buffers for frames too long for pool's
	// (super-frames of up to 64 KiB).
	Large    *buf.Pool
	timeout  int64
	maxBytes int
	bytes    int // buffer bytes held
	entries  []fragEntry
	used     int

	// Counters, read by the owner.
	Completed, Timeouts, Evictions, Overlaps, Mismatches uint64
}

type fragKey struct {
	session uint32
	frame   uint64
}

type span struct{ off, end uint16 }

type fragEntry struct {
	key    fragKey
	pkt    *buf.Packet // nil: slot free
	born   int64
	total  uint16
	got    int
	flags  uint8
	pieces int
	spans  [MaxPieces]span
}

// NewReassembler returns a table that holds at most maxBytes of partly
// assembled frames (at least one frame) from pool packets, and drops frames
// not completed within timeout nanoseconds.
func NewReassembler(pool *buf.Pool, maxBytes int, timeout int64) *Reassembler {
	n := max(1, maxBytes/pool.Size())
	return &Reassembler{pool: pool, timeout: timeout, maxBytes: max(maxBytes, pool.Size()), entries: make([]fragEntry, n)}
}

// Len is the number of frames being assembled.
func (r *Reassembler) Len() int { return r.used }

// Insert adds the piece p (decrypted; Meta has Session, Counter, FragIndex,
// FragOffset, FragTotal and Flags). The caller keeps ownership of p; its
// bytes are copied. When the piece completes its frame, Insert returns the
// frame in a pool packet that the caller now owns (Meta from the frame's
// piece 0 fields: Flags, Session, SrcNode, DstNode; fragment fields zero).
// The reason is Pass, or why the piece (or the frame it belonged to) was
// dropped.
func (r *Reassembler) Insert(p *buf.Packet, now int64) (*buf.Packet, Reason) {
	m := &p.Meta
	total := int(m.FragTotal)
	off := int(m.FragOffset)
	end := off + p.Len()
	if total == 0 || p.Len() == 0 || end > total {
		return nil, HeaderFrag
	}
	pool := r.pool
	if total > pool.Size()-buf.Headroom-buf.Tailroom {
		pool = r.Large
		if pool == nil || total > pool.Size()-buf.Headroom-buf.Tailroom || pool.Size() > r.maxBytes {
			return nil, FragTooBig
		}
	}
	key := fragKey{session: m.Session, frame: m.Counter - uint64(m.FragIndex)}
	e := r.find(key)
	if e == nil {
		e = r.alloc(now, pool.Size())
		e.key = key
		e.pkt = pool.Get()
		r.bytes += pool.Size()
		e.pkt.SetLen(total)
		e.born = now
		e.total = m.FragTotal
		e.flags = m.Flags
		e.got, e.pieces = 0, 0
		e.pkt.Meta = buf.Meta{Session: m.Session, SrcNode: m.SrcNode, DstNode: m.DstNode, Flags: m.Flags, TTL: m.TTL}
		e.pkt.Addr = p.Addr
		r.used++
	}
	if e.total != m.FragTotal || e.flags != m.Flags {
		r.Mismatches++
		r.free(e)
		return nil, FragMismatch
	}
	for _, s := range e.spans[:e.pieces] {
		if off < int(s.end) && int(s.off) < end {
			r.Overlaps++
			return nil, FragOverlap
		}
	}
	if e.pieces == MaxPieces {
		r.Mismatches++
		r.free(e)
		return nil, FragMismatch
	}
	e.spans[e.pieces] = span{uint16(off), uint16(end)}
	e.pieces++
	copy(e.pkt.Data()[off:end], p.Data())
	e.got += end - off
	if m.FragIndex == 0 {
		e.pkt.Meta.SrcNode, e.pkt.Meta.DstNode, e.pkt.Meta.TTL = m.SrcNode, m.DstNode, m.TTL
		e.pkt.Addr = p.Addr
	}
	if e.got < total {
		return nil, Pass
	}
	// No overlaps and every byte counted once: the frame is whole.
	f := e.pkt
	e.pkt = nil
	r.used--
	r.bytes -= f.Pool().Size()
	r.Completed++
	return f, Pass
}

// Expire drops frames older than the timeout and returns how many.
func (r *Reassembler) Expire(now int64) int {
	if r.used == 0 {
		return 0
	}
	n := 0
	for i := range r.entries {
		e := &r.entries[i]
		if e.pkt != nil && now-e.born >= r.timeout {
			r.free(e)
			n++
		}
	}
	r.Timeouts += uint64(n)
	return n
}

// Close returns every held packet to the pool.
func (r *Reassembler) Close() {
	for i := range r.entries {
		if r.entries[i].pkt != nil {
			r.free(&r.entries[i])
		}
	}
}

func (r *Reassembler) find(k fragKey) *fragEntry {
	for i := range r.entries {
		if e := &r.entries[i]; e.pkt != nil && e.key == k {
			return e
		}
	}
	return nil
}

// alloc returns a free slot with room in the memory cap for a buffer of
// size bytes, evicting the oldest frames (counted as timeouts if they had
// expired anyway) until there is one.
func (r *Reassembler) alloc(now int64, size int) *fragEntry {
	for {
		var free, oldest *fragEntry
		for i := range r.entries {
			e := &r.entries[i]
			if e.pkt == nil {
				if free == nil {
					free = e
				}
				continue
			}
			if oldest == nil || e.born < oldest.born {
				oldest = e
			}
		}
		if free != nil && (r.bytes+size <= r.maxBytes || oldest == nil) {
			return free
		}
		if now-oldest.born >= r.timeout {
			r.Timeouts++
		} else {
			r.Evictions++
		}
		r.free(oldest)
	}
}

func (r *Reassembler) free(e *fragEntry) {
	r.bytes -= e.pkt.Pool().Size()
	buf.Release(e.pkt)
	e.pkt = nil
	r.used--
}
