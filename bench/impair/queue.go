// SPDX-License-Identifier: Apache-2.0

package impair

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
)

// item is one datagram waiting for its due time.
type item struct {
	due int64   // relay clock (ns since start) when it is to be sent
	seq uint64  // arrival order in its direction: ties keep it
	buf *[]byte // pooled; the datagram is (*buf)[:n]
	n   int
	cl  *client // to-target: whose upstream socket; from-target: to whom
}

func (a *item) before(b *item) bool {
	return a.due < b.due || a.due == b.due && a.seq < b.seq
}

// queue is a binary min-heap of items by (due, seq), typed so that pushes
// and pops do not box.
type queue []item

func (q *queue) push(it item) {
	*q = append(*q, it)
	h := *q
	i := len(h) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !h[i].before(&h[parent]) {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
}

func (q *queue) pop() item {
	h := *q
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = item{}
	h = h[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		m := l
		if r := l + 1; r < len(h) && h[r].before(&h[l]) {
			m = r
		}
		if !h[m].before(&h[i]) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	*q = h
	return top
}

// Buffer pools by size class, so that a queued small datagram holds a
// small buffer: MaxQueue bounds the memory at MaxQueue times the class of
// the datagrams (2 KiB for an Ethernet-sized one).
var bufClasses = [...]int{2 << 10, 16 << 10, 64 << 10}

var bufPools [len(bufClasses)]sync.Pool

func getBuf(n int) *[]byte {
	for i, size := range bufClasses {
		if n <= size {
			if b, ok := bufPools[i].Get().(*[]byte); ok {
				return b
			}
			b := make([]byte, size)
			return &b
		}
	}
	b := make([]byte, n) // larger than any UDP datagram: never happens
	return &b
}

func putBuf(b *[]byte) {
	for i, size := range bufClasses {
		if cap(*b) == size {
			*b = (*b)[:size]
			bufPools[i].Put(b)
			return
		}
	}
}

// Direction indexes.
const (
	toTarget   = 0
	fromTarget = 1
)

// dirCounters are one direction's counters.
type dirCounters struct {
	received, forwarded                                  atomic.Uint64
	dropRandom, dropQueueFull, dropNoClient, dropSendErr atomic.Uint64
	duplicated, reordered, delayed                       atomic.Uint64
}

// direction is one way through the relay: its decisions, its queue and the
// goroutine that sends what is due.
type direction struct {
	r     *Relay
	dir   int
	wake  chan struct{} // capacity 1: something may be due
	alarm *alarm        // wakes the sender when the head of q is due
	c     dirCounters

	mu    sync.Mutex
	rng   rand.PCG
	q     queue
	seq   uint64
	armed int64 // due time the alarm is set for (pending if after now), or -1
}

func newDirection(r *Relay, dir int, seed uint64) (*direction, error) {
	d := &direction{r: r, dir: dir, wake: make(chan struct{}, 1), armed: -1}
	stream := uint64(streamToTarget)
	if dir == fromTarget {
		stream = streamFromTarget
	}
	d.rng.Seed(seed, stream)
	a, err := newAlarm(r, d.wake)
	if err != nil {
		return nil, err
	}
	d.alarm = a
	return d, nil
}

// handle decides the fate of datagram b of client cl and queues what is
// kept. b is copied; the caller may reuse it.
func (d *direction) handle(b []byte, cl *client) {
	d.c.received.Add(1)
	p := &d.r.params.Load()[d.dir]
	d.mu.Lock()
	dec := decide(&d.rng, p)
	if dec.drop {
		d.mu.Unlock()
		d.c.dropRandom.Add(1)
		return
	}
	now := d.r.now() // under mu: due times grow with seq when the delay is fixed
	due := now + int64(dec.delay)
	wasHead := int64(-1)
	if len(d.q) > 0 {
		wasHead = d.q[0].due
	}
	copies, queued := 1, 0
	if dec.dup {
		copies = 2
	}
	for range copies {
		if len(d.q) >= d.r.cfg.MaxQueue {
			d.c.dropQueueFull.Add(1)
			continue
		}
		buf := getBuf(len(b))
		n := copy(*buf, b)
		d.q.push(item{due: due, seq: d.seq, buf: buf, n: n, cl: cl})
		d.seq++
		queued++
	}
	newHead := queued > 0 && (wasHead < 0 || due < wasHead)
	if newHead && due > now {
		d.arm(due, now)
	}
	d.mu.Unlock()
	if queued == 0 {
		return
	}
	if queued == 2 {
		d.c.duplicated.Add(1)
	}
	if dec.reorder {
		d.c.reordered.Add(1)
	}
	if dec.delay > 0 {
		d.c.delayed.Add(1)
	}
	if newHead && due <= now {
		d.poke()
	}
}

// arm sets the alarm for due, unless it is pending for due already. Call
// with mu held, so that the alarm always follows the head of the queue.
func (d *direction) arm(due, now int64) {
	if d.armed == due && d.armed > now {
		return
	}
	d.armed = due
	d.alarm.set(due)
}

// poke wakes the sender.
func (d *direction) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// maxBatch is the most datagrams the sender takes off the queue at once.
const maxBatch = 128

// run sends datagrams when they are due until done is closed.
func (d *direction) run(done <-chan struct{}) {
	batch := make([]item, 0, maxBatch)
	for {
		d.mu.Lock()
		now := d.r.now()
		for len(d.q) > 0 && d.q[0].due <= now && len(batch) < maxBatch {
			batch = append(batch, d.q.pop())
		}
		more := len(d.q) > 0 && d.q[0].due <= now
		if len(d.q) > 0 && !more {
			d.arm(d.q[0].due, now)
		}
		d.mu.Unlock()

		for i := range batch {
			d.send(&batch[i])
			putBuf(batch[i].buf)
			batch[i] = item{}
		}
		batch = batch[:0]
		if more {
			select {
			case <-done:
				return
			default:
			}
			continue
		}
		select {
		case <-done:
			return
		case <-d.wake:
		case <-d.alarm.C():
		}
	}
}

func (d *direction) send(it *item) {
	b := (*it.buf)[:it.n]
	var err error
	if d.dir == toTarget {
		_, err = it.cl.up.Write(b)
	} else {
		_, err = d.r.ln.WriteToUDPAddrPort(b, it.cl.addr)
	}
	if err != nil {
		d.c.dropSendErr.Add(1)
		return
	}
	d.c.forwarded.Add(1)
}

// drain releases what is still queued (after the sender stopped).
func (d *direction) drain() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for len(d.q) > 0 {
		it := d.q.pop()
		putBuf(it.buf)
	}
}

func (d *direction) stats() DirStats {
	d.mu.Lock()
	queued := len(d.q)
	d.mu.Unlock()
	s := DirStats{
		Received:      d.c.received.Load(),
		Forwarded:     d.c.forwarded.Load(),
		DropRandom:    d.c.dropRandom.Load(),
		DropQueueFull: d.c.dropQueueFull.Load(),
		DropNoClient:  d.c.dropNoClient.Load(),
		DropSendError: d.c.dropSendErr.Load(),
		Duplicated:    d.c.duplicated.Load(),
		Reordered:     d.c.reordered.Load(),
		Delayed:       d.c.delayed.Load(),
		Queued:        queued,
	}
	s.Dropped = s.DropRandom + s.DropQueueFull + s.DropNoClient + s.DropSendError
	return s
}
