// SPDX-License-Identifier: Apache-2.0

package udp

import (
	"fmt"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkUDPLoopback pushes batches of 64 datagrams from one port to
// another over loopback, a writer and a reader goroutine running at once.
// The writer keeps at most window datagrams in flight, so the receive
// buffer never overflows; one op is one datagram delivered.
func BenchmarkUDPLoopback(b *testing.B) {
	for _, lo := range loopbacks {
		for _, size := range []int{64, 1400} {
			b.Run(fmt.Sprintf("%s/%d", lo.name, size), func(b *testing.B) {
				benchLoopback(b, lo.addr, size)
			})
		}
	}
}

func benchLoopback(b *testing.B, addr netip.AddrPort, size int) {
	const (
		batch  = 64
		window = 8 * batch
		stall  = 200 * time.Millisecond // no progress for this long: in-flight datagrams are lost
	)
	tx, rx := listen(b, addr), listen(b, addr)
	out, in := packets(b, batch), packets(b, batch)
	for _, pk := range out {
		pk.SetData(payload(size))
		pk.Addr = rx.LocalAddr()
	}

	var received, reads atomic.Int64
	progress := make(chan struct{}, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			n, err := rx.ReadBatch(in)
			if err != nil {
				return
			}
			received.Add(int64(n))
			reads.Add(1)
			select {
			case progress <- struct{}{}:
			default:
			}
		}
	}()
	timer := time.NewTimer(stall)
	var lost int64
	// wait blocks until at most limit datagrams are in flight, or declares
	// the rest lost after a stall.
	wait := func(sent, limit int64) {
		for sent-received.Load()-lost > limit {
			timer.Reset(stall)
			select {
			case <-progress:
			case <-timer.C:
				lost = sent - received.Load()
			}
		}
	}

	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var sent int64
	for sent < int64(b.N) {
		wait(sent, window-batch)
		k := min(batch, int64(b.N)-sent)
		n, err := tx.WriteBatch(out[:k])
		if err != nil {
			b.Fatal(err)
		}
		sent += int64(n)
	}
	wait(sent, 0)
	elapsed := time.Since(start)
	b.StopTimer()

	rx.Close()
	<-done
	b.ReportMetric(float64(received.Load())/elapsed.Seconds(), "pkts/s")
	b.ReportMetric(float64(received.Load())/float64(max(reads.Load(), 1)), "pkts/read")
	if lost > 0 {
		b.ReportMetric(float64(lost)/float64(sent), "lost/op")
	}
	if s := tx.Stats(); s.TxPackets != uint64(sent) || s.TxTooBig+s.TxUnreachable+s.TxOther != 0 {
		b.Fatalf("sender stats %+v", s)
	}
}
