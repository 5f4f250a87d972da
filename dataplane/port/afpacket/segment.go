// SPDX-License-Identifier: Apache-2.0

package afpacket

import "github.com/skiffnet/skiff/dataplane/buf"

// Segmenter cuts a frame that carries offload state (buf.GSO, as the
// pipeline delivers super-frames from a peer whose TAP hands them over)
// into frames that can go on a wire, for ports whose device takes no
// offload header (AF_XDP). It is the segmentation this port does on
// receive, with the same checks; the zero value is ready for Init.
type Segmenter struct{ s segmenter }

// Init prepares to cut frame according to g. For a frame that is not a
// super-frame it completes a partial checksum in place (NEEDS_CSUM) and
// leaves one segment, the frame itself. It reports false if g does not
// describe the frame.
func (g *Segmenter) Init(h buf.GSO, frame []byte) bool {
	v := vnetHdr{flags: h.Flags, gsoType: h.Type, hdrLen: h.HdrLen, gsoSize: h.Size, csumStart: h.CsumStart, csumOffset: h.CsumOffset}
	if !h.Super() {
		g.s = segmenter{}
		if h.Flags&vnetNeedsCsum != 0 && completeCsum(v, frame) != offloadOK {
			return false
		}
		g.s.frame, g.s.n, g.s.hdrLen, g.s.mss, g.s.end = frame, 1, 0, len(frame), len(frame)
		return true
	}
	return g.s.init(v, frame) == offloadOK
}

// N is the number of segments.
func (g *Segmenter) N() int { return g.s.n }

// MaxSegLen is the length of the longest segment.
func (g *Segmenter) MaxSegLen() int {
	if g.s.hdrLen == 0 {
		return len(g.s.frame)
	}
	return g.s.maxSegLen()
}

// Cut writes segment i into dst and returns its length, or 0 if i is out of
// range or dst too short.
func (g *Segmenter) Cut(i int, dst []byte) int {
	if g.s.hdrLen == 0 { // a plain frame
		if i != 0 || len(dst) < len(g.s.frame) {
			return 0
		}
		return copy(dst, g.s.frame)
	}
	return g.s.cut(i, dst)
}

// Release drops the reference to the frame.
func (g *Segmenter) Release() { g.s = segmenter{} }
