// SPDX-License-Identifier: Apache-2.0

package udp

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/skiffnet/skiff/dataplane/buf"
)

// counts is s without the offload counters and flags, which depend on how
// the kernel happened to coalesce.
func counts(s Stats) Stats {
	s.RxGRO, s.TxGSO, s.GSO, s.GRO = 0, 0, false, false
	return s
}

// Runs of equal-size datagrams to one address (the pieces of a fragmented
// frame) go out in one UDP_SEGMENT send and come back through GRO as one
// receive: every datagram arrives byte-exact, in order, with its source.
func TestGSOGRORuns(t *testing.T) {
	for _, lo := range loopbacks {
		t.Run(lo.name, func(t *testing.T) {
			a, b := listen(t, lo.addr), listen(t, lo.addr)
			if !a.Stats().GSO || !b.Stats().GRO {
				t.Skipf("kernel without UDP GSO/GRO: %+v", a.Stats())
			}
			// Three frames' worth of pieces: 45 x 1472 + 1000, 3 x 1472,
			// and 70 equal pieces (more than one GSO send holds).
			var sizes []int
			for range 45 {
				sizes = append(sizes, 1472)
			}
			sizes = append(sizes, 1000, 1472, 1472, 1472)
			for range 70 {
				sizes = append(sizes, 900)
			}
			var want [][]byte
			for i, n := range sizes {
				d := make([]byte, n)
				for j := range d {
					d[j] = byte(i*31 + j)
				}
				want = append(want, d)
			}
			sent := 0
			for sent < len(want) {
				k := min(64, len(want)-sent)
				pk := make([]*buf.Packet, k)
				for i := range pk {
					pk[i] = buf.New(buf.DefaultSize)
					pk[i].SetData(want[sent+i])
					pk[i].Addr = b.LocalAddr()
				}
				n, err := a.WriteBatch(pk)
				if err != nil || n != k {
					t.Fatalf("WriteBatch = %d, %v", n, err)
				}
				sent += k
			}
			got := collect(t, b, packets(t, 64), len(want))
			for i, g := range got {
				if !bytes.Equal(g.data, want[i]) {
					t.Fatalf("datagram %d: %d bytes, want %d", i, len(g.data), len(want[i]))
				}
				if g.from != a.LocalAddr() {
					t.Fatalf("datagram %d from %v", i, g.from)
				}
			}
			sa, sb := a.Stats(), b.Stats()
			if sa.TxGSO == 0 || sb.RxGRO == 0 {
				t.Fatalf("no GSO sends (%d) or GRO receives (%d)", sa.TxGSO, sb.RxGRO)
			}
			if sa.TxPackets != uint64(len(want)) || sb.RxPackets != uint64(len(want)) {
				t.Fatalf("counted %d sent, %d received, want %d", sa.TxPackets, sb.RxPackets, len(want))
			}
		})
	}
}

// With GSO and GRO off, the same runs go one datagram per message.
func TestNoOffload(t *testing.T) {
	a, err := Listen(Config{Addr: netip.MustParseAddrPort("127.0.0.1:0"), NoGSO: true, NoGRO: true})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Listen(Config{Addr: netip.MustParseAddrPort("127.0.0.1:0"), NoGRO: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	pk := make([]*buf.Packet, 10)
	for i := range pk {
		pk[i] = buf.New(buf.DefaultSize)
		pk[i].SetData(make([]byte, 1000))
		pk[i].Addr = b.LocalAddr()
	}
	if n, err := a.WriteBatch(pk); n != 10 || err != nil {
		t.Fatal(n, err)
	}
	collect(t, b, packets(t, 16), 10)
	if s := a.Stats(); s.TxGSO != 0 || s.GSO {
		t.Fatalf("GSO used: %+v", s)
	}
	if s := b.Stats(); s.RxGRO != 0 || s.GRO {
		t.Fatalf("GRO used: %+v", s)
	}
}
