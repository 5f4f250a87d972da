// SPDX-License-Identifier: Apache-2.0

package wire

// Replay is a sliding anti-replay window in the style of RFC 6479: a ring of
// 64-bit blocks, so moving the window forward clears whole blocks instead of
// shifting bits. It accepts each counter at most once and refuses counters
// more than ReplayWindow behind the highest one seen. The zero value is
// ready and accepts counter 0. Not safe for concurrent use.
type Replay struct {
	last uint64 // highest counter accepted
	ring [replayBlocks]uint64
}

const (
	replayBlockBits = 64
	replayBlocks    = 32 // ring size; must be a power of two
	replayBlockMask = replayBlocks - 1
	// ReplayWindow is how far behind the highest counter seen a counter may
	// be and still be accepted (reordering tolerance, in packets).
	ReplayWindow = (replayBlocks - 1) * replayBlockBits
)

// Check reports whether ctr would be accepted, without recording it. It is
// the cheap test before spending an AEAD open on a datagram.
func (r *Replay) Check(ctr uint64) bool {
	if ctr > r.last {
		return true
	}
	if r.last-ctr > ReplayWindow {
		return false
	}
	return r.ring[(ctr/replayBlockBits)&replayBlockMask]&(1<<(ctr%replayBlockBits)) == 0
}

// Accept records ctr and reports whether it was new and inside the window.
// Call it only after the datagram authenticated.
func (r *Replay) Accept(ctr uint64) bool {
	block := ctr / replayBlockBits
	if ctr > r.last {
		cur := r.last / replayBlockBits
		diff := block - cur
		if diff > replayBlocks {
			diff = replayBlocks
		}
		for i := cur + 1; i <= cur+diff; i++ {
			r.ring[i&replayBlockMask] = 0
		}
		r.last = ctr
	} else if r.last-ctr > ReplayWindow {
		return false
	}
	bit := uint64(1) << (ctr % replayBlockBits)
	old := r.ring[block&replayBlockMask]
	r.ring[block&replayBlockMask] = old | bit
	return old&bit == 0
}
