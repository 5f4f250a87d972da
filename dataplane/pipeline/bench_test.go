// SPDX-License-Identifier: Apache-2.0

package pipeline

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/stage"
	"github.com/skiffnet/skiff/dataplane/wire"
)

// Benchmarks report one op per frame (frames are processed in batches of
// 64, as the engine does), so ns/op is ns/frame and MB/s counts frame bytes.
// BenchmarkAnchorSeal is the yardstick: crypto/cipher AES-256-GCM sealing a
// frame in place, nothing else.

var benchSizes = []int{64, 512, 1400, 9000}

const benchBatch = 64

// benchFrame is an untagged IPv4/UDP-looking frame of n bytes with random
// (incompressible) payload.
func benchFrame(n int) []byte {
	f := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(n), 1))
	for i := range f {
		f[i] = byte(r.Uint32())
	}
	copy(f, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00, 0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2})
	return f
}

func BenchmarkAnchorSeal(b *testing.B) {
	key := make([]byte, 32)
	blk, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(blk)
	for _, size := range benchSizes {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			p := make([]byte, size+wire.TagSize)
			var nonce [12]byte
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				binary.BigEndian.PutUint64(nonce[4:], uint64(i))
				aead.Seal(p[:0], nonce[:], p[:size], nil)
			}
		})
	}
}

type benchCase struct {
	name  string
	suite wire.Suite
	lz4   bool
	frag  bool
}

var benchCases = []benchCase{
	{"aes-256-gcm", wire.SuiteAES256GCM, false, false},
	{"aes-128-gcm", wire.SuiteAES128GCM, false, false},
	{"chacha20-poly1305", wire.SuiteChaCha20Poly1305, false, false},
	{"none", wire.SuiteNone, false, false},
	{"aes-256-gcm+lz4", wire.SuiteAES256GCM, true, false},
	{"aes-256-gcm+frag", wire.SuiteAES256GCM, false, true},
}

func benchSnapshots(b *testing.B, c benchCase) (sa, sb *Snapshot) {
	a, s := handshake(b, c.suite)
	sa, sb = snapshots(a, s)
	vm, err := stage.ParseVLANMap(stringsReader("10 30\n"))
	if err != nil {
		b.Fatal(err)
	}
	for _, x := range []*Snapshot{sa, sb} {
		x.VLAN, x.MSS, x.LZ4 = vm, stage.MSS{V4: 1360, V6: 1340}, c.lz4
		if c.frag {
			x.Fragment, x.PieceSize = true, 1500-20-8-wire.HeaderLen-wire.TagSize
		}
	}
	return sa, sb
}

// BenchmarkTx: the whole transmit pipeline (VLAN map, MSS clamp, LZ4 when
// on, fragmentation when on, seal) per frame.
func BenchmarkTx(b *testing.B) {
	for _, c := range benchCases {
		for _, size := range benchSizes {
			b.Run(c.name+"/"+strconv.Itoa(size), func(b *testing.B) {
				sa, _ := benchSnapshots(b, c)
				pool := buf.NewPool(buf.DefaultSize, 1024)
				var st Stats
				tx := NewTx(&st)
				in := buf.NewBatch(pool, benchBatch)
				out := buf.NewBatch(pool, benchBatch+stage.MaxPieces)
				f := benchFrame(size)
				for _, p := range in.Pkts {
					p.SetData(f)
				}
				for _, p := range out.Pkts {
					p.SetData(f)
				}
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i += benchBatch {
					n := min(benchBatch, b.N-i)
					// Refill as a port would, without the copy a port's
					// read makes: reset the bounds and restore the
					// Ethernet/IP header (the payload is whatever the
					// buffer holds, random-looking).
					for _, p := range in.Pkts[:n] {
						p.Reset()
						p.SetLen(size)
						copy(p.Data(), f[:34])
					}
					for done := 0; done < n; {
						done += tx.Process(sa, in.Pkts[done:n], out)
						out.N = 0
					}
				}
				if d := st.Load().Dropped(); d != 0 {
					b.Fatalf("%d drops", d)
				}
			})
		}
	}
}

// BenchmarkRx: the whole receive pipeline (header decode, session lookup,
// replay check, open, reassembly when on, LZ4 when on, MSS clamp, VLAN map)
// per frame. Datagrams are sealed ahead, outside the timer, in rounds of
// 64 batches with a fresh session each round (the replay window would
// refuse them the second time).
func BenchmarkRx(b *testing.B) {
	const rounds = 64
	for _, c := range benchCases {
		for _, size := range benchSizes {
			b.Run(c.name+"/"+strconv.Itoa(size), func(b *testing.B) {
				pool := buf.NewPool(buf.DefaultSize, 1<<16)
				var txs, rxs Stats
				tx := NewTx(&txs)
				rx := NewRx(RxConfig{Stats: &rxs, Pool: pool, Now: func() int64 { return 0 }})
				f := benchFrame(size)
				src := buf.NewBatch(pool, benchBatch)
				dgrams := make([]*buf.Batch, rounds)
				for i := range dgrams {
					dgrams[i] = buf.NewBatch(pool, benchBatch*8)
				}
				out := buf.NewBatch(pool, benchBatch*8)
				var sb *Snapshot
				prepare := func() {
					var sa *Snapshot
					sa, sb = benchSnapshots(b, c)
					for _, d := range dgrams {
						for _, p := range src.Pkts {
							p.SetData(f)
						}
						d.N = 0
						for done := 0; done < benchBatch; {
							done += tx.Process(sa, src.Pkts[done:], d)
						}
					}
				}
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				r := rounds
				for i := 0; i < b.N; i += benchBatch {
					if r == rounds {
						b.StopTimer()
						prepare()
						r = 0
						b.StartTimer()
					}
					d := dgrams[r]
					r++
					for done := 0; done < d.N; {
						done += rx.Process(sb, d.Pkts[done:d.N], out)
						out.N = 0
					}
				}
				b.StopTimer()
				if c := rxs.Load(); c.Dropped() != 0 {
					b.Fatalf("drops %v", c.Drops)
				}
			})
		}
	}
}
