// SPDX-License-Identifier: Apache-2.0

package memif

import (
	"net"
	"sync"
	"sync/atomic"

	"github.com/skiffnet/skiff/dataplane/buf"
	"golang.org/x/sys/unix"
)

// ring is one ring of a connected session with the state of our side.
type ring struct {
	*Ring
	efd int // the ring's eventfd: the producer kicks it, the consumer waits on it
	mu  sync.Mutex
	// pos is our own counter: the next slot to read on a ring we consume,
	// the next slot to fill on a ring we produce.
	pos uint16

	// A client's own buffers: slot i of the ring uses bufSize bytes at
	// bufOff + i*bufSize in region bufRegion.
	bufRegion uint16
	bufOff    uint32
	bufSize   uint32
}

// session is one connection's shared state: the mapped regions, the
// rings, the control socket. The data path holds a ring's mu while it uses
// the ring and checks dead after taking it; teardown sets dead, then takes
// and releases every ring's mu before it unmaps, so no batch ever touches
// unmapped memory.
type session struct {
	client  bool
	regions []*region
	rx, tx  []*ring // rx: the rings we consume (client M2S, server S2M); tx: the ones we produce
	ctl     *net.UnixConn
	peer    string // the peer's name (hello or init)
	log2    uint8
	dead    atomic.Bool
	faulted atomic.Bool // the data path faulted on the memory (fault)
	st      *Stats
}

// teardown stops the data path on s and frees everything it holds.
func (s *session) teardown() {
	s.dead.Store(true)
	for _, rs := range [][]*ring{s.rx, s.tx} {
		for _, r := range rs {
			r.mu.Lock()
			//lint:ignore SA2001 an empty critical section is the barrier
			r.mu.Unlock()
		}
	}
	for _, rs := range [][]*ring{s.rx, s.tx} {
		for _, r := range rs {
			if r.efd >= 0 {
				unix.Close(r.efd)
				r.efd = -1
			}
		}
	}
	for _, r := range s.regions {
		r.close()
	}
	s.regions = nil
	if s.ctl != nil {
		s.ctl.Close()
	}
}

// segment returns the bytes d describes, or false if they lie outside the
// regions: a peer's descriptor is never trusted.
func (s *session) segment(d *Desc) ([]byte, bool) {
	if int(d.Region) >= len(s.regions) {
		return nil, false
	}
	m := s.regions[d.Region].mem
	off, n := uint64(d.Offset), uint64(d.Length)
	if off+n > uint64(len(m)) {
		return nil, false
	}
	return m[off : off+n : off+n], true
}

// post makes slot pos of a client's ring point at its own buffer, with
// the buffer's whole capacity.
func (r *ring) post(pos uint16) *Desc {
	d := r.Slot(pos)
	d.Flags = 0
	d.Region = r.bufRegion
	d.Offset = r.bufOff + uint32(pos&r.mask)*r.bufSize
	d.Length = r.bufSize
	return d
}

var kick = [8]byte{1} // an eventfd increment of 1, little-endian

// notify kicks the ring's eventfd unless its consumer polls.
func (s *session) notify(r *ring) {
	if r.Flags()&FlagMaskInt == 0 {
		unix.Write(r.efd, kick[:])
		s.st.Kicks.Add(1)
	}
}

// recv reads up to len(pkts) frames from r, gathering chains, and returns
// how many it filled. A frame whose descriptors point outside the regions,
// or that is longer than a packet holds, is dropped and counted; a chain
// not yet complete is left for the next call.
func (s *session) recv(r *ring, pkts []*buf.Packet) int {
	var avail uint16
	if s.client {
		avail = r.Tail() - r.pos
	} else {
		avail = r.Head() - r.pos
	}
	size := uint16(r.Size())
	if avail > size {
		// The peer's counter is nonsense: read what a full ring holds
		// (descriptors are bounds-checked, so this is safe).
		s.st.BadRing.Add(1)
		avail = size
	}
	pos, end := r.pos, r.pos+avail
	n, bytes := 0, 0
	for n < len(pkts) && pos != end {
		p := pkts[n]
		p.Reset()
		room := p.Room()
		start, got := pos, 0
		bad, long, complete := false, false, false
		for pos != end {
			d := *r.Slot(pos)
			pos++
			seg, ok := s.segment(&d)
			switch {
			case !ok:
				bad = true
			case got+len(seg) > len(room):
				long = true
			case !bad && !long:
				got += copy(room[got:], seg)
			}
			if d.Flags&DescNext == 0 {
				complete = true
				break
			}
		}
		if !complete {
			if pos-start < size {
				pos = start // the rest of the chain is not published yet
				break
			}
			bad = true // a chain as long as the ring can never complete
		}
		// Faults are counted once the frame's slots are consumed, never
		// for a chain that is still waiting for its end.
		if bad {
			s.st.RxBadDesc.Add(1)
			continue
		}
		if long {
			s.st.RxTooLong.Add(1)
			continue
		}
		p.SetLen(got)
		bytes += got
		n++
	}
	if pos != r.pos {
		if s.client {
			for q := r.pos; q != pos; q++ {
				r.post(q)
			}
			r.pos = pos
			r.SetHead(pos + size)
		} else {
			r.pos = pos
			r.SetTail(pos)
		}
	}
	if n > 0 {
		s.st.RxFrames.Add(uint64(n))
		s.st.RxBytes.Add(uint64(bytes))
	}
	return n
}

// send writes frames of pkts into r, chaining buffers for frames longer
// than one, and returns how many it consumed: sent, or dropped and
// counted (a frame the ring could never hold). It stops at the first frame
// there is no room for.
func (s *session) send(r *ring, pkts []*buf.Packet) int {
	size := uint16(r.Size())
	var free uint16
	if s.client {
		used := r.pos - r.Tail()
		if used > size {
			s.st.BadRing.Add(1)
			used = size
		}
		free = size - used
	} else {
		free = r.Head() - r.pos
		if free > size {
			s.st.BadRing.Add(1)
			free = 0
		}
	}
	pos := r.pos
	n, sent, bytes := 0, 0, 0
	for ; n < len(pkts); n++ {
		data := pkts[n].Data()
		var used uint16
		var ok bool
		if s.client {
			used, ok = s.fillOwn(r, pos, free, data)
		} else {
			used, ok = s.fillPosted(r, pos, free, data)
		}
		if !ok {
			if used == 0 {
				break // no room: the caller may retry
			}
			continue // dropped and counted
		}
		pos += used
		free -= used
		sent++
		bytes += len(data)
	}
	if pos != r.pos {
		r.pos = pos
		if s.client {
			r.SetHead(pos)
		} else {
			r.SetTail(pos)
		}
		s.notify(r)
	}
	if sent > 0 {
		s.st.TxFrames.Add(uint64(sent))
		s.st.TxBytes.Add(uint64(bytes))
	}
	return n
}

// fillOwn writes data into a client's own buffers from slot pos on. It
// returns the slots used and true; 0, false when free slots are too few;
// 1, false (dropping the frame) when the ring could never hold it.
func (s *session) fillOwn(r *ring, pos, free uint16, data []byte) (uint16, bool) {
	bs := int(r.bufSize)
	nseg := (len(data) + bs - 1) / bs
	if nseg == 0 {
		nseg = 1
	}
	if nseg > r.Size() {
		s.st.TxTooLong.Add(1)
		return 1, false
	}
	if nseg > int(free) {
		return 0, false
	}
	for i := 0; i < nseg; i++ {
		d := r.post(pos + uint16(i))
		seg := data[min(i*bs, len(data)):min((i+1)*bs, len(data))]
		mem, _ := s.segment(d) // our own descriptor: always inside
		d.Length = uint32(copy(mem, seg))
		if i < nseg-1 {
			d.Flags = DescNext
		}
	}
	return uint16(nseg), true
}

// fillPosted writes data into the buffers a client posted on a server's
// transmit ring, each descriptor's length being its capacity. A
// descriptor pointing outside the regions is counted and its slot sent
// empty.
func (s *session) fillPosted(r *ring, pos, free uint16, data []byte) (uint16, bool) {
	var i uint16
	off := 0
	for ; ; i++ {
		if i == free {
			if free == uint16(r.Size()) {
				s.st.TxTooLong.Add(1) // even a whole ring of these buffers is too small
				return 1, false
			}
			return 0, false
		}
		d := r.Slot(pos + i)
		mem, ok := s.segment(d)
		if !ok {
			s.st.TxBadDesc.Add(1)
			mem = nil
		}
		c := copy(mem, data[off:])
		off += c
		d.Length = uint32(c)
		if off == len(data) {
			d.Flags = 0
			return i + 1, true
		}
		d.Flags = DescNext
	}
}
