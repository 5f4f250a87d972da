// SPDX-License-Identifier: Apache-2.0

//go:build linux

package tap

import (
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/internal/nstest"
)

// Two offloading TAP devices in two namespaces, joined by an in-process
// forwarder that moves batches between them unchanged (virtio-net headers
// included): a TCP transfer between the namespaces goes through as TSO
// super-frames read from one device and written whole to the other, and
// arrives intact.
func TestOffloadForward(t *testing.T) {
	nstest.NeedRoot(t)
	nsA, nsB := nstest.New(t), nstest.New(t)
	a := openIn(t, nsA, Config{Name: "skfa", Address: netip.MustParsePrefix("10.202.0.1/24"), Offload: true})
	b := openIn(t, nsB, Config{Name: "skfb", Address: netip.MustParsePrefix("10.202.0.2/24"), Offload: true})
	if a.Stats().Offloads == "" || a.MaxFrame() != buf.MaxSuperFrame {
		t.Fatalf("offloads not on: %+v", a.Stats())
	}
	var wg sync.WaitGroup
	forward := func(from, to *Port) {
		defer wg.Done()
		in := buf.NewBatch(buf.Large, from.BatchSize())
		defer in.Release()
		for {
			n, err := from.ReadBatch(in.Pkts)
			if err != nil {
				return
			}
			if _, err := to.WriteBatch(in.Pkts[:n]); err != nil {
				return
			}
		}
	}
	wg.Add(2)
	go forward(a, b)
	go forward(b, a)
	defer func() { a.Close(); b.Close(); wg.Wait() }()

	var ln net.Listener
	if err := nsB.Do(func() (err error) { ln, err = net.Listen("tcp", "10.202.0.2:5000"); return }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const size = 64 << 20
	got := make(chan [32]byte, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- [32]byte{}
			return
		}
		defer c.Close()
		h := sha256.New()
		io.Copy(h, c)
		var s [32]byte
		copy(s[:], h.Sum(nil))
		got <- s
	}()
	var c net.Conn
	if err := nsA.Do(func() (err error) { c, err = net.DialTimeout("tcp", "10.202.0.2:5000", 5*time.Second); return }); err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	start := time.Now()
	if _, err := io.Copy(c, io.TeeReader(io.LimitReader(rand.NewChaCha8([32]byte{1}), size), h)); err != nil {
		t.Fatal(err)
	}
	c.Close()
	var want [32]byte
	copy(want[:], h.Sum(nil))
	select {
	case s := <-got:
		if s != want {
			t.Fatal("transfer corrupted")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("transfer did not finish")
	}
	d := time.Since(start)
	sa, sb := a.Stats(), b.Stats()
	t.Logf("64 MiB in %v = %.2f Gbit/s; a read %d frames (%d super), b wrote %d (%d super); offloads %s",
		d.Round(time.Millisecond), float64(size)*8/d.Seconds()/1e9, sa.RxFrames, sa.RxSuper, sb.TxFrames, sb.TxSuper, sa.Offloads)
	if sa.RxSuper == 0 || sb.TxSuper == 0 {
		t.Fatal("no super-frames crossed")
	}
	if sa.TxErrors+sb.TxErrors != 0 {
		t.Fatalf("devices refused frames: %d, %d", sa.TxErrors, sb.TxErrors)
	}
}
