// SPDX-License-Identifier: Apache-2.0

package traffic

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"time"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/port/udp"
)

// Modes of the UDP load results.
const (
	ModeUDPGen  = "udp-gen"
	ModeUDPSink = "udp-sink"
)

const (
	// EndRepeats is how many times the generator sends its end marker,
	// EndSpacing apart, after its last datagram.
	EndRepeats = 10
	EndSpacing = 10 * time.Millisecond
	// EndGrace is how long the sink goes on counting stragglers after the
	// first end marker.
	EndGrace = 200 * time.Millisecond
)

// GenOptions says what UDPGenerate sends.
type GenOptions struct {
	// Size is the UDP payload of every datagram, HeaderLen to MaxDatagram
	// bytes: the header, then pseudo-random filler (incompressible, so a
	// compressing tunnel gets no free ride).
	Size int
	// Rate is the offered rate in datagrams per second; 0 sends as fast
	// as the socket takes them.
	Rate int
	// Duration is how long to send.
	Duration time.Duration
}

// GenResult is what the generator sent.
type GenResult struct {
	Mode string `json:"mode"` // ModeUDPGen
	// Sent is the number of datagrams the kernel took (not counting the
	// end markers).
	Sent int64 `json:"sent"`
	// Seconds runs from the start to the return of the last send.
	Seconds float64 `json:"seconds"`
	// PPS is Sent / Seconds, the achieved rate.
	PPS        float64 `json:"pps"`
	OfferedPPS int     `json:"offered_pps"` // GenOptions.Rate; 0: unpaced
	Size       int     `json:"size"`
}

func (r GenResult) String() string {
	offered := "unpaced"
	if r.OfferedPPS > 0 {
		offered = fmt.Sprintf("offered %d/s", r.OfferedPPS)
	}
	return fmt.Sprintf("udp-gen: sent %d datagrams of %d bytes in %.2fs = %.0f datagrams/s (%s)", r.Sent, r.Size, r.Seconds, r.PPS, offered)
}

// UDPGenerate sends datagrams of opts.Size bytes to addr (host:port) at
// opts.Rate per second (0: as fast as possible) for opts.Duration, from
// one socket in sendmmsg batches, then the end marker EndRepeats times
// EndSpacing apart. A paced run that falls behind catches up (see pacer),
// for at most 50ms past opts.Duration. When ctx is done it stops early,
// still sending the end marker. It allocates nothing per datagram.
func UDPGenerate(ctx context.Context, addr string, opts GenOptions) (GenResult, error) {
	res := GenResult{Mode: ModeUDPGen, OfferedPPS: opts.Rate, Size: opts.Size}
	if opts.Size < HeaderLen || opts.Size > MaxDatagram {
		return res, fmt.Errorf("datagram size %d out of range %d..%d", opts.Size, HeaderLen, MaxDatagram)
	}
	if opts.Rate < 0 || opts.Duration <= 0 {
		return res, fmt.Errorf("need a rate >= 0 and a duration > 0, not %d/s for %v", opts.Rate, opts.Duration)
	}
	p, dst, err := dialUDP(addr)
	if err != nil {
		return res, err
	}
	defer p.Close()

	run := newRunID()
	pkts := newPackets(batchSize, opts.Size)
	filler := make([]byte, opts.Size*batchSize)
	Stream(uint64(run)).Read(filler)
	for i, pk := range pkts {
		b := filler[i*opts.Size : (i+1)*opts.Size]
		putHeader(b, header{magic: MagicData, run: run})
		pk.SetData(b)
		pk.Addr = dst
	}

	var stopped atomic.Bool
	stop := context.AfterFunc(ctx, func() { stopped.Store(true) })
	defer stop()

	g := &generator{p: p, pkts: pkts}
	start := time.Now()
	if opts.Rate == 0 {
		end := start.Add(opts.Duration)
		for !stopped.Load() && time.Now().Before(end) {
			if err := g.send(batchSize); err != nil {
				return res, err
			}
		}
	} else {
		undo := preciseThread()
		pc := newPacer(uint64(opts.Rate), opts.Duration, start)
		sl := newSleeper(ctx)
		for !stopped.Load() {
			n, wake, done := pc.next(time.Now(), g.issued)
			if done {
				break
			}
			if n == 0 {
				sl.until(wake)
				continue
			}
			if err := g.send(n); err != nil {
				undo()
				return res, err
			}
		}
		undo()
	}
	if !g.last.IsZero() {
		res.Seconds = g.last.Sub(start).Seconds()
	}
	res.Sent = int64(g.sent)
	if res.Seconds > 0 {
		res.PPS = float64(res.Sent) / res.Seconds
	}

	// The end marker, carrying the count the kernel took.
	end := pkts[:1]
	putHeader(end[0].Data(), header{magic: MagicEnd, run: run, seq: g.sent})
	end[0].SetLen(HeaderLen)
	for i := range EndRepeats {
		if i > 0 {
			time.Sleep(EndSpacing)
		}
		if _, err := p.WriteBatch(end); err != nil {
			return res, err
		}
	}

	st := p.Stats()
	switch {
	case st.TxTooBig > 0:
		return res, fmt.Errorf("%d datagrams of %d bytes refused: above the path MTU", st.TxTooBig, opts.Size)
	case g.issued > 0 && g.sent == 0:
		return res, fmt.Errorf("no datagram sent to %v: %d unreachable, %d refused", dst, st.TxUnreachable, st.TxOther)
	}
	return res, nil
}

// generator is UDPGenerate's sending state.
type generator struct {
	p            *udp.Port
	pkts         []*buf.Packet
	issued, sent uint64 // sequence numbers used; datagrams the kernel took
	last         time.Time
}

// send numbers and sends n datagrams, n <= batchSize.
func (g *generator) send(n int) error {
	b := g.pkts[:n]
	for i, pk := range b {
		binary.BigEndian.PutUint64(pk.Data()[8:16], g.issued+uint64(i))
	}
	k, err := g.p.WriteBatch(b)
	g.issued += uint64(n)
	g.sent += uint64(k)
	g.last = time.Now()
	return err
}

// SinkResult is what the sink counted of one generator run.
type SinkResult struct {
	Mode string `json:"mode"` // ModeUDPSink
	// Sent is the generator's count from its end marker; 0 if no marker
	// arrived.
	Sent int64 `json:"sent"`
	// Received counts distinct sequence numbers, Duplicates the further
	// copies, Reordered the datagrams that came after one with a higher
	// sequence number.
	Received   int64   `json:"received"`
	Lost       int64   `json:"lost"`
	Loss       float64 `json:"loss"`
	Duplicates int64   `json:"duplicates"`
	Reordered  int64   `json:"reordered"`
	// Bytes is the payload of the received datagrams (without duplicates).
	Bytes int64 `json:"bytes"`
	// Seconds runs from the first to the last data datagram received.
	Seconds float64 `json:"seconds"`
	PPS     float64 `json:"pps"` // Received / Seconds
}

func (r SinkResult) String() string {
	return fmt.Sprintf("udp-sink: received %d of %d datagrams (%d lost = %.4f%%, %d duplicates, %d reordered), %d bytes in %.2fs = %.0f datagrams/s",
		r.Received, r.Sent, r.Lost, 100*r.Loss, r.Duplicates, r.Reordered, r.Bytes, r.Seconds, r.PPS)
}

// UDPSink counts the datagrams of one generator run arriving on p: the
// run of the first datagram (or end marker) with the UDP header; others
// are ignored. It returns EndGrace after the run's first end marker, or
// when ctx is done (a timeout is a normal end, not an error). It closes p.
// It allocates nothing per datagram.
//
// Lost is Sent - Received. Without an end marker, Sent is 0, and Lost and
// Loss count only the gaps below the highest sequence number received.
func UDPSink(ctx context.Context, p *udp.Port) (SinkResult, error) {
	defer p.Close()
	stop := context.AfterFunc(ctx, func() { p.Close() })
	defer stop()

	pkts := newPackets(batchSize, maxRecv)
	s := new(sink)
	var first, last time.Time
	var graceTimer *time.Timer
	defer func() {
		if graceTimer != nil {
			graceTimer.Stop()
		}
	}()
	for {
		n, err := p.ReadBatch(pkts)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				break
			}
			return s.result(first, last), err
		}
		if s.count(pkts[:n]) {
			last = time.Now()
			if first.IsZero() {
				first = last
			}
		}
		if s.ended && graceTimer == nil {
			graceTimer = time.AfterFunc(EndGrace, func() { p.Close() })
		}
		if n < coalesceBelow {
			// Let datagrams gather in the socket buffer: fewer, fuller
			// reads and fewer wake-ups of a reader parked in the poller.
			fineSleep(coalesceWait)
		}
	}
	return s.result(first, last), nil
}

// When a read returns fewer than coalesceBelow datagrams, the sink
// sleeps coalesceWait before the next one. At 4 MiB, the socket buffer
// holds several milliseconds of datagrams at a million per second.
const (
	coalesceBelow = batchSize / 4
	coalesceWait  = 50 * time.Microsecond
)

// window is how far back, in sequence numbers, the sink tells a
// duplicate from a late datagram. An older datagram counts as received
// and reordered.
const window = 1 << 20

// sink is UDPSink's count of one run.
type sink struct {
	locked, ended bool
	run           uint32
	sent          uint64

	any                              bool
	highest                          uint64 // the highest sequence seen
	received, dups, reordered, bytes uint64
	// seen has a bit per sequence number in (highest-window, highest]:
	// received or not.
	seen [window / 64]uint64
}

func (s *sink) bit(seq uint64) (*uint64, uint64) {
	i := seq % window
	return &s.seen[i/64], 1 << (i % 64)
}

// count counts a batch of datagrams and reports whether it held data of
// the run.
func (s *sink) count(pkts []*buf.Packet) (data bool) {
	for _, pk := range pkts {
		h, ok := parseHeader(pk.Data())
		if !ok || h.magic == MagicProbe {
			continue
		}
		if !s.locked {
			s.run, s.locked = h.run, true
		} else if h.run != s.run {
			continue
		}
		if h.magic == MagicEnd {
			if !s.ended {
				s.ended, s.sent = true, h.seq
			}
			continue
		}
		s.add(h.seq, pk.Len())
		data = true
	}
	return data
}

// add counts one data datagram.
func (s *sink) add(seq uint64, size int) {
	switch {
	case !s.any:
		s.any, s.highest = true, seq
	case seq > s.highest:
		if seq-s.highest >= window {
			clear(s.seen[:])
		} else {
			for q := s.highest + 1; q < seq; q++ {
				w, m := s.bit(q)
				*w &^= m
			}
		}
		s.highest = seq
	case s.highest-seq >= window:
		// Too old to tell: a late datagram, not a copy. Its bit is a
		// newer one's.
		s.reordered++
		s.received++
		s.bytes += uint64(size)
		return
	default:
		if w, m := s.bit(seq); *w&m != 0 {
			s.dups++
			return
		}
		s.reordered++
	}
	w, m := s.bit(seq)
	*w |= m
	s.received++
	s.bytes += uint64(size)
}

func (s *sink) result(first, last time.Time) SinkResult {
	r := SinkResult{
		Mode:       ModeUDPSink,
		Sent:       int64(s.sent),
		Received:   int64(s.received),
		Duplicates: int64(s.dups),
		Reordered:  int64(s.reordered),
		Bytes:      int64(s.bytes),
		Seconds:    last.Sub(first).Seconds(),
	}
	expected := s.sent
	if !s.ended && s.any {
		expected = s.highest + 1
	}
	if expected > s.received {
		r.Lost = int64(expected - s.received)
	}
	if expected > 0 {
		r.Loss = float64(r.Lost) / float64(expected)
	}
	if r.Seconds > 0 {
		r.PPS = float64(r.Received) / r.Seconds
	}
	return r
}
