// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"encoding/binary"
	"errors"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/port/afpacket"
)

// Frames of the sequence test: EtherType seqEtherType, then flow (1 byte),
// sequence number (8 bytes), and a payload every byte of which follows
// from flow and sequence number, so a receiver can tell a corrupted frame
// from a good one without trusting any checksum.
const (
	seqEtherType = 0x88B6
	seqFlows     = 4 // per direction
	seqHdr       = 14 + 1 + 8
)

func seqSize(seq uint64) int { return 60 + int(seq*7919%1455) } // 60..1514

func seqByte(flow byte, seq uint64, i int) byte {
	return byte(uint64(i)*131 + seq*17 + uint64(flow)*59)
}

func seqFrame(b []byte, src, dst [6]byte, flow byte, seq uint64) int {
	n := seqSize(seq)
	f := b[:n]
	copy(f[0:6], dst[:])
	copy(f[6:12], src[:])
	binary.BigEndian.PutUint16(f[12:], seqEtherType)
	f[14] = flow
	binary.BigEndian.PutUint64(f[15:], seq)
	for i := seqHdr; i < n; i++ {
		f[i] = seqByte(flow, seq, i)
	}
	return n
}

// seqCheck counts what arrives for one direction: per flow a bitmap of the
// sequence numbers seen and the highest so far. One goroutine calls frame;
// the counters may be read from others.
type seqCheck struct {
	seen                               [seqFlows][]uint64
	max                                [seqFlows]int64
	got, dups, reordered, corrupt, bad atomic.Int64
}

func newSeqCheck(n uint64) *seqCheck {
	c := &seqCheck{}
	for f := range c.seen {
		c.seen[f] = make([]uint64, n/seqFlows/64+2)
		c.max[f] = -1
	}
	return c
}

func (c *seqCheck) frame(d []byte) {
	if len(d) < seqHdr || binary.BigEndian.Uint16(d[12:]) != seqEtherType {
		return // not ours (ARP, IPv6 ND from the hosts)
	}
	flow, seq := d[14], binary.BigEndian.Uint64(d[15:])
	if int(flow) >= seqFlows || seq/64 >= uint64(len(c.seen[0])) || len(d) != seqSize(seq) {
		c.corrupt.Add(1)
		return
	}
	for i := seqHdr; i < len(d); i++ {
		if d[i] != seqByte(flow, seq, i) {
			c.corrupt.Add(1)
			return
		}
	}
	w, bit := &c.seen[flow][seq/64], uint64(1)<<(seq%64)
	if *w&bit != 0 {
		c.dups.Add(1)
		return
	}
	*w |= bit
	if int64(seq) < c.max[flow] {
		c.reordered.Add(1)
	} else {
		c.max[flow] = int64(seq)
	}
	c.got.Add(1)
}

// TestSequence sends sequence-numbered frames of mixed sizes through an
// AF_XDP tunnel (AF_XDP on the LAN and underlay of both sites) in both
// directions at once, four flows each, and checks every frame that
// arrives: none duplicated, none corrupted, none out of order within its
// flow. SKIFF_SEQ_FRAMES sets the frames per direction (default
// 10,000,000). The senders keep at most a window of frames in flight, so
// they go as fast as the tunnel carries; frames that never arrive are
// counted as lost and reported, not failed.
func TestSequence(t *testing.T) {
	total := uint64(10_000_000)
	if s := os.Getenv("SKIFF_SEQ_FRAMES"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("SKIFF_SEQ_FRAMES: %v", err)
		}
		total = v
	}
	if testing.Short() {
		total = 200_000
	}
	tp := newTopo(t, "afxdp", 1)
	tp.xdpUnderlay = true
	a := tp.start(nodeOpts{site: 0, suite: "none", mtuPolicy: "fragment"})
	b := tp.start(nodeOpts{site: 1, suite: "none", mtuPolicy: "fragment"})
	tp.waitPing(tp.ha, innerB, 10*time.Second)

	var pa, pb *afpacket.Port
	inNS(t, tp.ha, func() { pa = mustOpen(t, "lan0") })
	inNS(t, tp.hb, func() { pb = mustOpen(t, "lan0") })
	defer pa.Close()
	defer pb.Close()
	macA, macB := [6]byte{0x02, 0x5e, 0, 0, 0, 0xa}, [6]byte{0x02, 0x5e, 0, 0, 0, 0xb}

	type dir struct {
		name     string
		from, to *afpacket.Port
		src, dst [6]byte
		check    *seqCheck
		sent     atomic.Int64
	}
	dirs := []*dir{
		{name: "A->B", from: pa, to: pb, src: macA, dst: macB, check: newSeqCheck(total)},
		{name: "B->A", from: pb, to: pa, src: macB, dst: macA, check: newSeqCheck(total)},
	}
	var readers, senders sync.WaitGroup
	for _, d := range dirs {
		readers.Add(1)
		go func() {
			defer readers.Done()
			pool := buf.NewPool(buf.DefaultSize, 128)
			bt := buf.NewBatch(pool, d.to.BatchSize())
			for {
				n, err := d.to.ReadBatch(bt.Pkts)
				if err != nil {
					if !errors.Is(err, net.ErrClosed) {
						t.Errorf("%s: read: %v", d.name, err)
					}
					return
				}
				for _, p := range bt.Pkts[:n] {
					d.check.frame(p.Data())
				}
			}
		}()
	}
	const window = 2048 // frames in flight per direction
	start := time.Now()
	for _, d := range dirs {
		senders.Add(1)
		go func() {
			defer senders.Done()
			pool := buf.NewPool(buf.DefaultSize, 128)
			bt := buf.NewBatch(pool, 64)
			seq := uint64(0)
			per := total / seqFlows
			lastGot, stall := int64(-1), time.Now()
			for seq < per {
				// Self-clocking: wait while the window is full; a window
				// that does not move for 100 ms is counted as lost.
				for d.sent.Load()-d.check.got.Load()-d.check.corrupt.Load() > window {
					if g := d.check.got.Load(); g != lastGot {
						lastGot, stall = g, time.Now()
					} else if time.Since(stall) > 100*time.Millisecond {
						break
					}
					time.Sleep(50 * time.Microsecond)
				}
				k := 0
				for ; k+seqFlows <= len(bt.Pkts) && seq < per; seq++ {
					for f := range seqFlows {
						p := bt.Pkts[k]
						p.Reset()
						p.SetLen(seqFrame(p.Room(), d.src, d.dst, byte(f), seq))
						k++
					}
				}
				n, err := d.from.WriteBatch(bt.Pkts[:k])
				if err != nil {
					t.Errorf("%s: write: %v", d.name, err)
					return
				}
				d.sent.Add(int64(n))
			}
		}()
	}
	senders.Wait()
	// Wait for the last frames, up to a second after the last arrival.
	for _, d := range dirs {
		last, lastT := d.check.got.Load(), time.Now()
		for d.check.got.Load() < d.sent.Load() && time.Since(lastT) < time.Second {
			time.Sleep(10 * time.Millisecond)
			if g := d.check.got.Load(); g != last {
				last, lastT = g, time.Now()
			}
		}
	}
	elapsed := time.Since(start)
	pa.Close()
	pb.Close()
	readers.Wait()
	for _, d := range dirs {
		c := d.check
		sent, got := d.sent.Load(), c.got.Load()
		t.Logf("%s: sent %d, received %d (%.3f%% lost), %d duplicated, %d corrupted, %d reordered; %.0f frames/s",
			d.name, sent, got, 100*float64(sent-got)/float64(max(sent, 1)), c.dups.Load(), c.corrupt.Load(), c.reordered.Load(), float64(got)/elapsed.Seconds())
		if c.dups.Load() != 0 || c.corrupt.Load() != 0 || c.reordered.Load() != 0 {
			t.Errorf("%s: %d duplicated, %d corrupted, %d reordered frames", d.name, c.dups.Load(), c.corrupt.Load(), c.reordered.Load())
		}
		if uint64(sent) != total/seqFlows*seqFlows {
			t.Errorf("%s: sent %d frames, want %d", d.name, sent, total)
		}
		if got < sent*99/100 {
			t.Errorf("%s: %d of %d frames arrived (more than 1%% lost)", d.name, got, sent)
		}
	}
	for _, n := range []*node{a, b} {
		checkXDP(t, n.status(), true, true)
	}
}
