// SPDX-License-Identifier: Apache-2.0

package engine

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/pipeline"
	"github.com/skiffnet/skiff/dataplane/port"
	"github.com/skiffnet/skiff/dataplane/port/porttest"
	"github.com/skiffnet/skiff/dataplane/stage"
	"github.com/skiffnet/skiff/dataplane/wire"
	"github.com/skiffnet/skiff/dataplane/wire/wiretest"
)

// VLAN ids of the test: site A's VLAN 10 and site B's VLAN 20 are the same
// segment, carried as VLAN 30 on the wire.
const (
	vlanA    = 10
	vlanB    = 20
	vlanWire = 30
)

func vlanMap(t testing.TB, local int) *stage.VLANMap {
	t.Helper()
	m, err := stage.ParseVLANMap(strings.NewReader(fmt.Sprintf("# test\n%d %d\n", local, vlanWire)))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// handshake returns the sessions of node 1 (a) and node 2 (b).
func handshake(t testing.TB, suite wire.Suite) (a, b *wire.Session) {
	t.Helper()
	return wiretest.Pair(t, suite)
}

// frameSize spreads sizes over 60..9000: a third small, a third around a
// full 1500-byte MTU frame, a third anywhere.
func frameSize(seq uint64) int {
	r := rand.New(rand.NewPCG(seq, 0x5eed))
	switch seq % 3 {
	case 0:
		return 60 + r.IntN(200)
	case 1:
		return 1400 + r.IntN(119)
	default:
		return 60 + r.IntN(9000-60+1)
	}
}

// makeFrame builds test frame seq as it looks on a LAN with the given VLAN
// (0: untagged): MACs, tag, ethertype 0x88B5, the sequence number, and a
// payload that is compressible for some frames and random for others.
func makeFrame(dst []byte, seq uint64, vlan int) []byte {
	n := frameSize(seq)
	f := dst[:n]
	copy(f, []byte{0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, 0x0a})
	off := 12
	if vlan != 0 {
		binary.BigEndian.PutUint16(f[12:], 0x8100)
		binary.BigEndian.PutUint16(f[14:], uint16(vlan)|5<<13)
		off = 16
	}
	binary.BigEndian.PutUint16(f[off:], 0x88B5)
	off += 2
	var s [8]byte
	binary.BigEndian.PutUint64(s[:], seq)
	off += copy(f[off:], s[:])
	if seq%2 == 0 {
		for i := off; i < n; i++ {
			f[i] = "0123456789abcdef"[(i/7+int(seq))%16]
		}
	} else {
		r := rand.New(rand.NewPCG(seq, 0xf00d))
		for i := off; i < n; i += 8 {
			var w [8]byte
			binary.LittleEndian.PutUint64(w[:], r.Uint64())
			copy(f[i:], w[:])
		}
	}
	return f
}

// tagged says whether frame seq carries the VLAN tag.
func tagged(seq uint64) bool { return seq%5 < 2 }

type combo struct {
	suite     wire.Suite
	lz4, frag bool
}

func (c combo) String() string {
	return fmt.Sprintf("%v/lz4=%v/frag=%v", c.suite, c.lz4, c.frag)
}

func TestTwoEnginesEveryCombination(t *testing.T) {
	// 20 combinations x 50,000 frames (25,000 each way) = 1,000,000 frames.
	perCombo := 50000
	if testing.Short() || raceEnabled {
		perCombo = 2000
	}
	var combos []combo
	for _, s := range wire.Suites {
		for _, z := range []bool{false, true} {
			for _, f := range []bool{false, true} {
				combos = append(combos, combo{s, z, f})
			}
		}
	}
	total := 0
	for _, c := range combos {
		t.Run(c.String(), func(t *testing.T) {
			total += runPair(t, c, perCombo/2)
		})
	}
	if !testing.Short() && !raceEnabled && total < 1000000 {
		t.Fatalf("delivered %d frames in all, want 1,000,000", total)
	}
}

// site is one engine with its LAN-side test port.
type site struct {
	eng  *Engine
	lan  *porttest.Port // the test reads and writes frames here
	vlan int
}

func newSites(t testing.TB, c combo) (a, b *site) {
	t.Helper()
	lanA, locA := porttest.NewPair(64, 256)
	lanB, locB := porttest.NewPair(64, 256)
	ulA, ulB := porttest.NewPair(64, 256)
	sa, sb := handshake(t, c.suite)
	snap := func(node uint16, s *wire.Session, peer uint16, ep *porttest.Port, vlan int) *pipeline.Snapshot {
		sn := &pipeline.Snapshot{
			Node:     node,
			VLAN:     vlanMap(t, vlan),
			MSS:      stage.MSS{V4: 1360, V6: 1340},
			LZ4:      c.lz4,
			Route:    pipeline.Route{Codec: pipeline.CodecSkiff, Node: peer, Session: s, Endpoint: ep.Addr},
			Sessions: map[uint32]*wire.Session{s.LocalID: s},
		}
		if c.frag {
			sn.PieceSize = 1500 - 20 - 8 - wire.HeaderLen - wire.TagSize // IPv4 underlay, MTU 1500
			sn.Fragment = true
		}
		return sn
	}
	a = &site{lan: lanA, vlan: vlanA, eng: New(Config{Local: locA, Underlays: []port.Port{ulA}}, snap(1, sa, 2, ulB, vlanA))}
	b = &site{lan: lanB, vlan: vlanB, eng: New(Config{Local: locB, Underlays: []port.Port{ulB}}, snap(2, sb, 1, ulA, vlanB))}
	a.eng.Start()
	b.eng.Start()
	return a, b
}

func (s *site) close() {
	s.lan.Close()
	s.eng.Close()
}

// runPair sends n frames each way at once and checks every frame arrives
// once, in order, byte-exact (with the VLAN id remapped). It returns the
// number of frames delivered.
func runPair(t *testing.T, c combo, n int) int {
	before := runtime.NumGoroutine()
	a, b := newSites(t, c)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	got := [2]int{}
	for dir, ends := range [2][2]*site{{a, b}, {b, a}} {
		from, to := ends[0], ends[1]
		wg.Add(2)
		go func() { // sender
			defer wg.Done()
			pkts := make([]*buf.Packet, 64)
			buf.Default.GetN(pkts)
			defer buf.Default.PutN(pkts)
			scratch := make([]byte, 9000)
			for seq := uint64(0); seq < uint64(n); {
				k := 0
				for ; k < len(pkts) && seq < uint64(n); k, seq = k+1, seq+1 {
					v := 0
					if tagged(seq) {
						v = from.vlan
					}
					pkts[k].SetData(makeFrame(scratch, seq, v))
				}
				if _, err := from.lan.WriteBatch(pkts[:k]); err != nil {
					errs <- fmt.Errorf("send: %w", err)
					return
				}
			}
		}()
		go func() { // receiver
			defer wg.Done()
			pkts := make([]*buf.Packet, 64)
			buf.Default.GetN(pkts)
			defer buf.Default.PutN(pkts)
			scratch := make([]byte, 9000)
			next := uint64(0)
			for next < uint64(n) {
				k, err := to.lan.ReadBatch(pkts)
				if err != nil {
					errs <- fmt.Errorf("receive after %d frames: %w", next, err)
					return
				}
				for _, p := range pkts[:k] {
					d := p.Data()
					off := 14
					if len(d) >= 16 && binary.BigEndian.Uint16(d[12:]) == 0x8100 {
						off = 18
					}
					if len(d) < off+8 {
						errs <- fmt.Errorf("runt frame of %d bytes", len(d))
						return
					}
					seq := binary.BigEndian.Uint64(d[off:])
					if seq != next {
						errs <- fmt.Errorf("got frame %d, want %d (lost, duplicated or reordered)", seq, next)
						return
					}
					v := 0
					if tagged(seq) {
						v = to.vlan
					}
					if want := makeFrame(scratch, seq, v); !bytes.Equal(d, want) {
						errs <- fmt.Errorf("frame %d (%d bytes) differs from what was sent", seq, len(want))
						return
					}
					next++
				}
			}
			got[dir] = int(next)
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case err := <-errs:
		a.close()
		b.close()
		t.Fatal(err)
	case <-time.After(5 * time.Minute):
		a.close()
		b.close()
		t.Fatal("timed out")
	}
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	for _, s := range []*site{a, b} {
		tx, rx := s.eng.Stats()
		if tx.Dropped() != 0 || rx.Dropped() != 0 {
			t.Errorf("drops: tx %v rx %v", tx.Drops, rx.Drops)
		}
		if tx.In != uint64(n) || rx.Out != uint64(n) {
			t.Errorf("counters: tx in %d, rx out %d, want %d", tx.In, rx.Out, n)
		}
		if c.frag && tx.Frags == 0 {
			t.Error("fragmentation on, but no frame was fragmented")
		}
		if c.lz4 && tx.LZ4 == 0 {
			t.Error("lz4 on, but no frame was compressed")
		}
		if !c.lz4 && tx.LZ4 != 0 {
			t.Error("lz4 off, but frames were compressed")
		}
	}
	a.close()
	b.close()
	checkGoroutines(t, before)
	return got[0] + got[1]
}

// checkGoroutines fails if goroutines started by the test are still running.
func checkGoroutines(t testing.TB, before int) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if runtime.NumGoroutine() <= before {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	b := make([]byte, 1<<16)
	t.Fatalf("goroutines leaked: %d before, %d after\n%s", before, runtime.NumGoroutine(), b[:runtime.Stack(b, true)])
}
