// SPDX-License-Identifier: Apache-2.0

package stage

import (
	"encoding/binary"

	"github.com/pierrec/lz4/v4"

	"github.com/skiffnet/skiff/dataplane/buf"
)

// LZ4 compresses frames into LZ4 blocks (the block format, no frame header)
// and back. A frame is replaced by its block only when the block is smaller.
//
// Giving up fast on incompressible data: the compressor itself skips ahead
// faster the longer it finds no match, and bails out as soon as its output
// would not be smaller than the input; on top of that, each flow (hashed
// from the MAC pair and the IP addresses) that produced an incompressible
// frame is not tried again for 1, 3, 7, ... 63 frames, backing off
// exponentially, and is retried at full rate once a frame compresses again.
// On random payloads only one frame in 64 of each flow pays for a trial.
//
// One LZ4 per worker goroutine: it is not safe for concurrent use.
type LZ4 struct {
	c       lz4.Compressor
	scratch []byte
	flows   [lz4Flows]lz4Backoff

	// Counters, read by the owner.
	Tried, Kept, Skipped uint64
}

type lz4Backoff struct{ skip, level uint8 }

const (
	lz4Flows = 256
	// LZ4MinLen: frames shorter than this are never compressed.
	LZ4MinLen = 96
	// lz4MaxLevel bounds the backoff: 2^6-1 = 63 frames skipped.
	lz4MaxLevel = 6
)

// NewLZ4 returns a compressor for frames up to maxFrame bytes.
func NewLZ4(maxFrame int) *LZ4 {
	return &LZ4{scratch: make([]byte, lz4.CompressBlockBound(maxFrame)+8)}
}

// Compress replaces p's data with its LZ4 block when that is smaller and
// reports whether it did. It never fails: a frame that does not compress is
// left as it is.
func (z *LZ4) Compress(p *buf.Packet) bool {
	src := p.Data()
	if len(src) < LZ4MinLen || len(src) > len(z.scratch) {
		return false
	}
	f := &z.flows[flowHash(src)%lz4Flows]
	if f.skip > 0 {
		f.skip--
		z.Skipped++
		return false
	}
	z.Tried++
	// A destination one byte shorter than the input makes the compressor
	// stop (returning 0 or an error) as soon as it cannot win.
	n, err := z.c.CompressBlock(src, z.scratch[:len(src)-1])
	if err != nil || n == 0 || n >= len(src) {
		if f.level < lz4MaxLevel {
			f.level++
		}
		f.skip = 1<<f.level - 1
		return false
	}
	f.level, f.skip = 0, 0
	copy(src, z.scratch[:n])
	p.Trim(len(src) - n)
	z.Kept++
	return true
}

// Decompress replaces p's data, an LZ4 block, with the frame it encodes,
// which may be at most max bytes. A block that is invalid or would exceed
// max (or the packet's room) is LZ4Corrupt; the decoder never writes past
// its destination.
func (z *LZ4) Decompress(p *buf.Packet, max int) Reason {
	f, r := z.Uncompress(p.Data(), min(max, p.Cap()-buf.Headroom-buf.Tailroom))
	if r != Pass {
		return r
	}
	p.SetData(f)
	return Pass
}

// Uncompress decodes the LZ4 block src into the LZ4's scratch buffer and
// returns the frame, at most max bytes; the slice is valid until the next
// call. It lets a caller pick a packet big enough for the result.
func (z *LZ4) Uncompress(src []byte, max int) ([]byte, Reason) {
	max = min(max, len(z.scratch))
	if len(src) == 0 || max <= 0 {
		return nil, LZ4Corrupt
	}
	n, err := lz4.UncompressBlock(src, z.scratch[:max])
	if err != nil || n == 0 {
		return nil, LZ4Corrupt
	}
	return z.scratch[:n], Pass
}

// flowHash hashes what identifies a flow in an Ethernet frame: the MAC pair
// and, for untagged IPv4 and IPv6, the addresses. It reads only bytes that
// exist.
func flowHash(f []byte) uint32 {
	const prime = 16777619
	h := uint32(2166136261)
	mix := func(v uint32) { h = (h ^ v) * prime }
	if len(f) >= 14 {
		mix(binary.BigEndian.Uint32(f[0:]))
		mix(binary.BigEndian.Uint32(f[4:]))
		mix(binary.BigEndian.Uint32(f[8:]))
		switch binary.BigEndian.Uint16(f[12:]) {
		case 0x0800:
			if len(f) >= 34 {
				mix(binary.BigEndian.Uint32(f[26:]))
				mix(binary.BigEndian.Uint32(f[30:]))
			}
		case 0x86DD:
			if len(f) >= 54 {
				for i := 22; i < 54; i += 4 {
					mix(binary.BigEndian.Uint32(f[i:]))
				}
			}
		}
	}
	return h ^ h>>16
}
