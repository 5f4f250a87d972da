// SPDX-License-Identifier: Apache-2.0

package porttest

import (
	"bytes"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/port"
)

// Collect reads p until it is closed and sends a copy of every frame it
// reads to the returned channel (depth frames deep; a full channel stalls
// the reader), closed after the last. The test's cleanup closes p and waits
// for the reader; a read error other than net.ErrClosed fails the test.
func Collect(t testing.TB, p port.Port, depth int) <-chan []byte {
	ch := make(chan []byte, depth)
	b := buf.NewBatch(buf.NewPool(buf.DefaultSize, 256), p.BatchSize())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(ch)
		for {
			n, err := p.ReadBatch(b.Pkts)
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					t.Errorf("ReadBatch: %v", err)
				}
				return
			}
			for _, pkt := range b.Pkts[:n] {
				ch <- bytes.Clone(pkt.Data())
			}
		}
	}()
	t.Cleanup(func() { p.Close(); wg.Wait() })
	return ch
}

// CheckClose checks the Close contract of port.Port on p: Close unblocks a
// pending ReadBatch (frames read before it are skipped) with net.ErrClosed,
// later ReadBatch and WriteBatch(write) calls fail the same way, and a
// second Close returns nil.
func CheckClose(t testing.TB, p port.Port, write []*buf.Packet) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		pkts := []*buf.Packet{buf.New(buf.DefaultSize)}
		for {
			if _, err := p.ReadBatch(pkts); err != nil {
				errc <- err
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	select {
	case err := <-errc:
		t.Fatalf("ReadBatch returned %v before Close", err)
	default:
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Errorf("ReadBatch after Close = %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not unblock ReadBatch")
	}
	if _, err := p.ReadBatch([]*buf.Packet{buf.New(buf.DefaultSize)}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("ReadBatch on a closed port = %v", err)
	}
	if _, err := p.WriteBatch(write); !errors.Is(err, net.ErrClosed) {
		t.Errorf("WriteBatch on a closed port = %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}
