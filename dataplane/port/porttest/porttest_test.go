// SPDX-License-Identifier: Apache-2.0

package porttest

import (
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/skiffnet/skiff/dataplane/buf"
)

func TestPairOrderAndBackPressure(t *testing.T) {
	a, b := NewPair(8, 4)
	const n = 1000
	done := make(chan error)
	go func() {
		ps := make([]*buf.Packet, 8)
		buf.Default.GetN(ps)
		defer buf.Default.PutN(ps)
		next := 0
		for next < n {
			k, err := b.ReadBatch(ps)
			if err != nil {
				done <- err
				return
			}
			for _, p := range ps[:k] {
				if string(p.Data()) != fmt.Sprint(next) || p.Addr != a.Addr {
					done <- fmt.Errorf("got %q from %v, want %d from %v", p.Data(), p.Addr, next, a.Addr)
					return
				}
				next++
			}
		}
		done <- nil
	}()
	ps := make([]*buf.Packet, 7)
	buf.Default.GetN(ps)
	defer buf.Default.PutN(ps)
	for i := 0; i < n; {
		k := 0
		for ; k < len(ps) && i < n; k, i = k+1, i+1 {
			ps[k].SetData([]byte(fmt.Sprint(i)))
		}
		if w, err := a.WriteBatch(ps[:k]); err != nil || w != k {
			t.Fatalf("write %d/%d: %v", w, k, err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestCloseUnblocks(t *testing.T) {
	a, b := NewPair(8, 2)
	errc := make(chan error)
	go func() {
		ps := make([]*buf.Packet, 1)
		buf.Default.GetN(ps)
		_, err := a.ReadBatch(ps)
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	a.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
	// Writes to a closed reader are discarded, like datagrams nobody reads.
	ps := make([]*buf.Packet, 5)
	buf.Default.GetN(ps)
	if n, err := b.WriteBatch(ps); err != nil || n != 5 {
		t.Fatalf("write to closed reader: %d %v", n, err)
	}
	// A writer blocked on a full queue is released when its own end closes.
	c, _ := NewPair(8, 2)
	go func() {
		_, err := c.WriteBatch(ps)
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	c.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("blocked write after close: %v", err)
	}
}
