// SPDX-License-Identifier: Apache-2.0

package stage

import (
	"encoding/binary"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/wire"
)

// benchSizes are the frame sizes every stage benchmark reports.
var benchSizes = []int{64, 512, 1400, 9000}

func sizeName(n int) string { return strconv.Itoa(n) }

// benchTCPFrame is an 802.1Q-tagged (VLAN 10) IPv4 TCP ACK frame of n
// bytes with a random payload: the VLAN map rewrites it, the MSS clamp
// parses it down to the TCP flags and leaves it alone.
func benchTCPFrame(n int) []byte {
	f := make([]byte, n)
	r := rand.New(rand.NewPCG(uint64(n), 2))
	for i := range f {
		f[i] = byte(r.Uint32())
	}
	hdr := []byte{
		2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x81, 0x00, 0x00, 0x0a, 0x08, 0x00,
		0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
		0x30, 0x39, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 1, 0x50, 0x10, 0xff, 0xff, 0, 0, 0, 0,
	}
	copy(f, hdr[:min(len(hdr), n)])
	if n >= 38 {
		binary.BigEndian.PutUint16(f[20:], uint16(n-18))
	}
	return f
}

// BenchmarkStage measures each stage on its own, per frame, at every size.
func BenchmarkStage(b *testing.B) {
	vm, err := ParseVLANMap(strings.NewReader("10 30\n"))
	if err != nil {
		b.Fatal(err)
	}
	mss := MSS{V4: 1360, V6: 1340}
	for _, size := range benchSizes {
		f := benchTCPFrame(size)
		run := func(name string, fn func(b *testing.B)) {
			b.Run(name+"/"+sizeName(size), func(b *testing.B) {
				b.SetBytes(int64(size))
				b.ReportAllocs()
				fn(b)
			})
		}
		run("vlanmap", func(b *testing.B) {
			g := append([]byte(nil), f...)
			for b.Loop() {
				vm.Egress(g)
				vm.Ingress(g)
			}
		})
		run("mss", func(b *testing.B) {
			for b.Loop() {
				mss.Clamp(f)
			}
		})
		run("lz4-random", func(b *testing.B) {
			z := NewLZ4(buf.MaxFrame)
			p := buf.New(buf.DefaultSize)
			for b.Loop() {
				p.SetData(f)
				z.Compress(p)
			}
		})
		run("frag1428", func(b *testing.B) {
			pool := buf.NewPool(buf.DefaultSize, 256)
			r := NewReassembler(pool, 16*buf.DefaultSize, sec)
			p := pool.Get()
			out := make([]*buf.Packet, MaxPieces)
			pool.GetN(out)
			ctr := uint64(0)
			for b.Loop() {
				p.SetData(f)
				k, _ := Split(p, 1428, out)
				for i := 0; i < k; i++ {
					out[i].Meta.Counter = ctr + uint64(i)
					if g, _ := r.Insert(out[i], 0); g != nil {
						pool.Put(g)
					}
				}
				ctr += uint64(k)
			}
		})
		for _, suite := range []wire.Suite{wire.SuiteAES256GCM, wire.SuiteChaCha20Poly1305} {
			run("seal-"+suite.String(), func(b *testing.B) {
				a, _ := sessionPair(b, suite)
				var sl Sealer
				p := buf.New(buf.DefaultSize)
				p.SetData(f)
				for b.Loop() {
					p.Reset()
					p.SetLen(size)
					ctr, _ := a.NextCounters(1)
					sl.Seal(p, a, wire.TypeData, ctr)
				}
			})
			run("seal+open-"+suite.String(), func(b *testing.B) {
				a, s := sessionPair(b, suite)
				var sl Sealer
				var op Opener
				var h wire.Header
				p := buf.New(buf.DefaultSize)
				for b.Loop() {
					p.SetData(f)
					p.Meta = buf.Meta{SrcNode: 1, DstNode: 2}
					ctr, _ := a.NextCounters(1)
					sl.Seal(p, a, wire.TypeData, ctr)
					DecodeHeader(p, &h)
					if op.Open(p, &h, s) != Pass {
						b.Fatal("open")
					}
				}
			})
		}
	}
}
