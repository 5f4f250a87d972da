// SPDX-License-Identifier: Apache-2.0

package memif

import (
	"fmt"
	"sync/atomic"
	"unsafe"
)

// Ring layout in shared memory (amd64 cache lines of 64 bytes):
//
//	  0: u32 cookie (Cookie)
//	  4: u16 flags (bit 0 FlagMaskInt: the ring's consumer polls, no eventfd kick)
//	  6: u16 head (written only by the client)
//	 64: u16 tail (written only by the server); 66..127 padding
//	128: 2^log2 descriptors of 16 bytes
//
// Descriptor: 0: u16 flags (bit 0 DescNext: the frame goes on in the next
// slot), 2: u16 region, 4: u32 length, 8: u32 offset of the data in the
// region, 12: u32 metadata (unused, 0).
//
// Positions are free-running u16 counters; slot = position & (size-1).
const (
	ringHeaderLen = 128
	descLen       = 16
	ringAlign     = 64

	offCookie = 0
	offFlags  = 4 // flags and head share the 32-bit word at 4
	offTail   = 64

	// FlagMaskInt, set in a ring's flags by its consumer, tells the
	// producer not to kick the eventfd.
	FlagMaskInt = 1
	// DescNext marks a descriptor whose frame continues in the next slot.
	DescNext = 1
)

// RingLen is the size in bytes of a ring of 2^log2 slots.
func RingLen(log2 uint8) int { return ringHeaderLen + descLen<<log2 }

// Desc is one ring slot, laid out as on the wire.
type Desc struct {
	Flags    uint16
	Region   uint16
	Length   uint32
	Offset   uint32
	Metadata uint32
}

// Ring is a view of one ring in a mapped region. Go has no 16-bit atomics:
// head is read and written as the upper half of the 32-bit word it shares
// with flags (a compare-and-swap keeps a concurrent flags write by the
// peer), tail as the lower half of the word at offset 64, whose upper
// half is padding. The atomics give the acquire/release order of the
// protocol: slots are written before head or tail is published, and read
// after it is loaded.
type Ring struct {
	word *uint32 // flags | head<<16
	tail *uint32
	desc []Desc
	mask uint16
	cook *uint32
}

// NewRing returns the ring of 2^log2 slots at mem[off:]. It fails if the
// ring does not fit or is misaligned.
func NewRing(mem []byte, off int, log2 uint8) (*Ring, error) {
	if log2 < MinLog2Ring || log2 > MaxLog2Ring {
		return nil, fmt.Errorf("memif: ring log2 size %d out of range %d..%d", log2, MinLog2Ring, MaxLog2Ring)
	}
	if off < 0 || off%ringAlign != 0 || off > len(mem) || len(mem)-off < RingLen(log2) {
		return nil, fmt.Errorf("memif: ring of %d bytes at offset %d does not fit a region of %d bytes", RingLen(log2), off, len(mem))
	}
	base := unsafe.Pointer(&mem[off])
	if uintptr(base)%8 != 0 {
		return nil, fmt.Errorf("memif: ring at offset %d is not 8-byte aligned in memory", off)
	}
	return &Ring{
		cook: (*uint32)(unsafe.Add(base, offCookie)),
		word: (*uint32)(unsafe.Add(base, offFlags)),
		tail: (*uint32)(unsafe.Add(base, offTail)),
		desc: unsafe.Slice((*Desc)(unsafe.Add(base, ringHeaderLen)), 1<<log2),
		mask: uint16(1<<log2 - 1),
	}, nil
}

// Init writes a fresh header: the cookie, flags, head and tail 0.
func (r *Ring) Init() {
	atomic.StoreUint32(r.word, 0)
	atomic.StoreUint32(r.tail, 0)
	atomic.StoreUint32(r.cook, Cookie)
}

// Cookie is the header's cookie word.
func (r *Ring) Cookie() uint32 { return atomic.LoadUint32(r.cook) }

// Size is the number of slots.
func (r *Ring) Size() int { return int(r.mask) + 1 }

// Head loads head (acquire).
func (r *Ring) Head() uint16 { return uint16(atomic.LoadUint32(r.word) >> 16) }

// Flags loads the ring's flags.
func (r *Ring) Flags() uint16 { return uint16(atomic.LoadUint32(r.word)) }

// SetHead publishes head (release), keeping the flags.
func (r *Ring) SetHead(h uint16) {
	for {
		old := atomic.LoadUint32(r.word)
		if atomic.CompareAndSwapUint32(r.word, old, old&0xffff|uint32(h)<<16) {
			return
		}
	}
}

// SetFlags writes the flags, keeping head.
func (r *Ring) SetFlags(f uint16) {
	for {
		old := atomic.LoadUint32(r.word)
		if atomic.CompareAndSwapUint32(r.word, old, old&^0xffff|uint32(f)) {
			return
		}
	}
}

// Tail loads tail (acquire).
func (r *Ring) Tail() uint16 { return uint16(atomic.LoadUint32(r.tail)) }

// SetTail publishes tail (release).
func (r *Ring) SetTail(t uint16) { atomic.StoreUint32(r.tail, uint32(t)) }

// Slot returns the descriptor at position pos.
func (r *Ring) Slot(pos uint16) *Desc { return &r.desc[pos&r.mask] }
