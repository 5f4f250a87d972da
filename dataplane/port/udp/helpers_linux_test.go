// SPDX-License-Identifier: Apache-2.0

package udp

import (
	"bytes"
	"errors"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"github.com/skiffnet/skiff/dataplane/buf"
)

// Tests talk over loopback only.
var loopbacks = []struct {
	name string
	addr netip.AddrPort
}{
	{"v4", netip.MustParseAddrPort("127.0.0.1:0")},
	{"v6", netip.MustParseAddrPort("[::1]:0")},
}

func listen(t testing.TB, addr netip.AddrPort) *Port {
	t.Helper()
	return listenConfig(t, Config{Addr: addr})
}

// listenConfig opens a port closed at cleanup. It skips the test when the
// host has no IPv6 loopback.
func listenConfig(t testing.TB, c Config) *Port {
	t.Helper()
	p, err := Listen(c)
	if err != nil {
		if c.Addr.Addr().Is6() && (errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT)) {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// packets returns n packets of the test pool, returned to it at cleanup.
func packets(t testing.TB, n int) []*buf.Packet {
	t.Helper()
	pkts := make([]*buf.Packet, n)
	buf.Default.GetN(pkts)
	t.Cleanup(func() { buf.Default.PutN(pkts) })
	return pkts
}

// payload is the test content of a datagram of size bytes: a pattern that
// differs by size and position.
func payload(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i*7 + size)
	}
	return b
}

type datagram struct {
	data []byte
	from netip.AddrPort
	room int // the packet's headroom when received
}

// collect reads from p into pkts until want datagrams have arrived and
// returns copies of them. It fails the test after 10 s without them.
func collect(t testing.TB, p *Port, pkts []*buf.Packet, want int) []datagram {
	t.Helper()
	watchdog := time.AfterFunc(10*time.Second, func() { p.Close() })
	defer watchdog.Stop()
	var got []datagram
	for len(got) < want {
		n, err := p.ReadBatch(pkts)
		if err != nil {
			t.Fatalf("ReadBatch after %d of %d datagrams: %v", len(got), want, err)
		}
		if n < 1 || n > len(pkts) {
			t.Fatalf("ReadBatch returned n = %d with %d packets", n, len(pkts))
		}
		for _, pk := range pkts[:n] {
			got = append(got, datagram{bytes.Clone(pk.Data()), pk.Addr, pk.Headroom()})
		}
	}
	if len(got) != want {
		t.Fatalf("got %d datagrams, want %d", len(got), want)
	}
	return got
}

// send writes one datagram of each size from p to dst and checks that all
// were sent.
func send(t testing.TB, p *Port, dst netip.AddrPort, sizes ...int) {
	t.Helper()
	pkts := packets(t, len(sizes))
	for i, size := range sizes {
		pkts[i].SetData(payload(size))
		pkts[i].Addr = dst
	}
	n, err := p.WriteBatch(pkts)
	if err != nil || n != len(sizes) {
		t.Fatalf("WriteBatch = %d, %v; want %d, nil", n, err, len(sizes))
	}
}
