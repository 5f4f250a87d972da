// SPDX-License-Identifier: Apache-2.0

package pipeline

import (
	"net/netip"
	"strconv"
	"testing"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/fib"
	"github.com/skiffnet/skiff/dataplane/wire"
)

// BenchmarkRelay: what a mesh relay does per datagram (header decode, TTL
// check and decrement, next-hop lookup, hand-over to the underlay batch),
// one op per datagram, for aes-256-gcm datagrams of node 1 for node 3
// crossing node 2. Compare BenchmarkRx/aes-256-gcm at the same size: the
// work a relay that decrypted and re-encrypted (Etherguard's way) would do
// at least once, on top of BenchmarkTx's.
func BenchmarkRelay(b *testing.B) {
	for _, size := range []int{64, 1400, 9000} {
		b.Run(strconv.Itoa(size), func(b *testing.B) {
			a, _ := handshake(b, wire.SuiteAES256GCM)
			pool := buf.NewPool(buf.DefaultSize, 1<<12)
			src := &Snapshot{Node: 1, Route: Route{Node: 3, Session: a, Endpoint: epB}}
			epC := netip.MustParseAddrPort("192.0.2.3:4800")
			relay := &Snapshot{Node: 2, Mesh: &Mesh{FIB: fib.New(64, 0), Routes: map[uint16]*Route{3: {Node: 3, Endpoint: epC, Port: 0}}}}
			var txs, rxs Stats
			tx := NewTx(&txs)
			rx := NewRx(RxConfig{Stats: &rxs, Pool: pool})
			in := buf.NewBatch(pool, benchBatch)
			fwd := buf.NewBatch(pool, benchBatch)
			out := buf.NewBatch(pool, benchBatch)
			frames := buf.NewBatch(pool, benchBatch)
			f := benchFrame(size)
			for _, p := range frames.Pkts {
				p.SetData(f)
			}
			for done := 0; done < benchBatch; {
				done += tx.Process(src, frames.Pkts[done:], in)
			}
			if in.N != benchBatch {
				b.Fatalf("%d datagrams sealed, want %d", in.N, benchBatch)
			}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i += benchBatch {
				for _, p := range in.Pkts {
					// Each round relays the same datagrams again, as if
					// they came from node 1 afresh.
					wire.SetTTL(p.Data(), wire.DefaultTTL)
					p.Addr = epA
				}
				fwd.N = 0
				rx.ProcessRelay(relay, in.Pkts, out, fwd)
				if fwd.N != benchBatch {
					b.Fatalf("relayed %d of %d: %+v", fwd.N, benchBatch, rxs.Load())
				}
				in.Pkts, fwd.Pkts = fwd.Pkts, in.Pkts
			}
			b.StopTimer()
			if c := rxs.Load(); c.Dropped() != 0 || c.Relayed == 0 {
				b.Fatalf("relayed %d, drops %v", c.Relayed, c.Drops)
			}
		})
	}
}
