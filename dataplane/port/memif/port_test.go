// SPDX-License-Identifier: Apache-2.0

package memif

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"testing"
	"time"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/port"
	"github.com/skiffnet/skiff/dataplane/port/porttest"
	"github.com/skiffnet/skiff/vpp/memif"
)

func TestPortQueues(t *testing.T) {
	sock := fmt.Sprintf("@skiff-memif-port-%x", rand.Uint64())
	srv, err := Open(memif.Config{Socket: sock, Role: memif.RoleServer, Queues: 2, TxWait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cli, err := Open(memif.Config{Socket: sock, Queues: 2, TxWait: time.Second, Reconnect: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !srv.Interface().WaitConnected(ctx) || !cli.Interface().WaitConnected(ctx) {
		t.Fatal("not connected")
	}
	sq, stx := port.Queues(srv)
	cq, ctx2 := port.Queues(cli)
	if len(sq) != 2 || stx != 2 || len(cq) != 2 || ctx2 != 2 {
		t.Fatalf("queues: server %d/%d client %d/%d", len(sq), stx, len(cq), ctx2)
	}
	for q := range 2 {
		for _, d := range [][2]port.Port{{cq[q], sq[q]}, {sq[q], cq[q]}} {
			out := make([]*buf.Packet, 8)
			for i := range out {
				out[i] = buf.New(buf.DefaultSize)
				out[i].SetData(bytes.Repeat([]byte{byte(q*16 + i)}, 60+i*1000))
			}
			if n, err := d[0].WriteBatch(out); n != len(out) || err != nil {
				t.Fatalf("write: %d, %v", n, err)
			}
			in := make([]*buf.Packet, d[1].BatchSize())
			for i := range in {
				in[i] = buf.New(buf.DefaultSize)
			}
			for got := 0; got < len(out); {
				n, err := d[1].ReadBatch(in)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range in[:n] {
					if !bytes.Equal(p.Data(), out[got].Data()) {
						t.Fatalf("queue %d frame %d differs", q, got)
					}
					got++
				}
			}
		}
	}
	if st := srv.Stats(); !st.Connected || st.RxFrames != 16 || st.TxFrames != 16 || srv.Name() != sock+" id 0" {
		t.Fatalf("server %s: %+v", srv.Name(), st)
	}
	cli.Close()
	if _, err := cq[1].ReadBatch(make([]*buf.Packet, 1)); err != net.ErrClosed {
		t.Fatalf("read after close: %v", err)
	}
}

func TestPortClose(t *testing.T) {
	p, err := Open(memif.Config{Socket: fmt.Sprintf("@skiff-memif-port-%x", rand.Uint64()), Role: memif.RoleServer})
	if err != nil {
		t.Fatal(err)
	}
	porttest.CheckClose(t, p, nil)
}
