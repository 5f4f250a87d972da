// SPDX-License-Identifier: Apache-2.0

package node

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiffnet/skiff/conf"
	"github.com/skiffnet/skiff/control/api"
	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/port"
	"github.com/skiffnet/skiff/dataplane/port/porttest"
	"github.com/skiffnet/skiff/dataplane/wire"
)

const testConfig = `version: 1
node: {name: %[1]s, id: %[2]d}
psk: {key: "%[3]s"}
suite: %[8]s
lz4: true
local: {type: tap, name: skf0, address: 10.99.0.%[2]d/24}
underlay:
  listen: ["%[4]s"]
  mtu: 1500
peers:
  - name: %[5]s
    id: %[6]d
    paths: [{remote: "%[7]s"}]
    keepalive: 200ms
    dead_after: 1s
control: {socket: %[9]s}
`

type testSite struct {
	node   *Node
	lan    *porttest.Port
	sock   string
	cancel context.CancelFunc
	done   chan error
}

func startSite(t *testing.T, name string, id int, peerName string, peerID int, psk wire.PSK, suite string, lan, loc, ul *porttest.Port, peerAddr netip.AddrPort) *testSite {
	t.Helper()
	sock := filepath.Join(t.TempDir(), name+".sock")
	text := fmt.Sprintf(testConfig, name, id, psk, ul.Addr, peerName, peerID, peerAddr, suite, sock)
	c, err := conf.Parse(name+".yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	n, err := New(c, Options{Tick: 20 * time.Millisecond, Ports: Ports{
		Local: func(*conf.Config, *slog.Logger) (port.Port, error) { return loc, nil },
		Underlay: func(*conf.Config, netip.AddrPort, *slog.Logger) (port.Port, netip.AddrPort, error) {
			return ul, ul.Addr, nil
		},
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &testSite{node: n, lan: lan, sock: sock, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- n.Run(ctx) }()
	for i := 0; ; i++ {
		if _, err := os.Stat(sock); err == nil {
			return s
		}
		if i == 500 {
			t.Fatal("no control socket")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (s *testSite) stop(t *testing.T) {
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("Run did not return")
	}
	s.lan.Close()
}

func status(t *testing.T, sock string) *api.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	r, err := api.Ask(ctx, sock, api.Request{Op: "status"})
	if err != nil {
		t.Fatal(err)
	}
	return r.Status
}

func TestTwoNodes(t *testing.T) {
	for _, suite := range []string{"aes-256-gcm", "none"} {
		t.Run(suite, func(t *testing.T) {
			psk, _ := wire.GeneratePSK()
			lanA, locA := porttest.NewPair(64, 256)
			lanB, locB := porttest.NewPair(64, 256)
			ulA, ulB := porttest.NewPair(64, 256)
			a := startSite(t, "site-a", 1, "site-b", 2, psk, suite, lanA, locA, ulA, ulB.Addr)
			b := startSite(t, "site-b", 2, "site-a", 1, psk, suite, lanB, locB, ulB, ulA.Addr)
			defer a.stop(t)
			defer b.stop(t)

			deadline := time.Now().Add(5 * time.Second)
			for {
				sa, sb := status(t, a.sock), status(t, b.sock)
				if sa.Peers[0].State == "up" && sb.Peers[0].State == "up" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("not up: %+v / %+v", sa.Peers[0], sb.Peers[0])
				}
				time.Sleep(20 * time.Millisecond)
			}
			// Frames both ways, including one that needs fragments.
			for _, dir := range [][2]*testSite{{a, b}, {b, a}} {
				frames := [][]byte{bytes.Repeat([]byte{0xab}, 60), bytes.Repeat([]byte("skiff"), 300)}
				big := make([]byte, 4000)
				for i := range big {
					big[i] = byte(i * 7919 >> 5)
				}
				frames = append(frames, big)
				pkts := make([]*buf.Packet, len(frames))
				buf.Default.GetN(pkts)
				for i, f := range frames {
					pkts[i].SetData(f)
				}
				if _, err := dir[0].lan.WriteBatch(pkts); err != nil {
					t.Fatal(err)
				}
				got := 0
				// A lost frame must fail the test, not hang it: close the
				// reading port after a while and show both sides' counters.
				var timedOut atomic.Bool
				timer := time.AfterFunc(10*time.Second, func() { timedOut.Store(true); dir[1].lan.Close() })
				for got < len(frames) {
					n, err := dir[1].lan.ReadBatch(pkts)
					if timedOut.Load() {
						sa, sb := status(t, a.sock), status(t, b.sock)
						t.Fatalf("%d of %d frames arrived in 10s; a: peer %+v tx %+v rx %+v; b: peer %+v tx %+v rx %+v",
							got, len(frames), sa.Peers[0], sa.Tx, sa.Rx, sb.Peers[0], sb.Tx, sb.Rx)
					}
					if err != nil {
						t.Fatal(err)
					}
					for _, p := range pkts[:n] {
						if !bytes.Equal(p.Data(), frames[got]) {
							t.Fatalf("frame %d differs", got)
						}
						got++
					}
				}
				timer.Stop()
				buf.Default.PutN(pkts)
			}
			st := status(t, a.sock)
			if st.Tx.Packets != 3 || st.Rx.Out != 3 || st.Tx.DropsTotal != 0 || st.Rx.DropsTotal != 0 || st.Tx.Fragments == 0 {
				t.Fatalf("counters tx %+v rx %+v", st.Tx, st.Rx)
			}
			if st.Node.Name != "site-a" || st.Node.PieceSize != 1500-20-8-wire.HeaderLen-wire.SuiteAES256GCM.Overhead() && suite != "none" {
				t.Fatalf("node info %+v", st.Node)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	psk, _ := wire.GeneratePSK()
	text := fmt.Sprintf(testConfig, "site-a", 1, psk, "192.0.2.1:4800", "site-b", 2, "192.0.2.2:4800", "aes-256-gcm", "/nonexistent/x.sock")
	c, err := conf.Parse("a.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	_, err = New(c, Options{Ports: Ports{
		Local: func(*conf.Config, *slog.Logger) (port.Port, error) {
			return nil, fmt.Errorf("tap: skf0: operation not permitted")
		},
		Underlay: func(_ *conf.Config, a netip.AddrPort, _ *slog.Logger) (port.Port, netip.AddrPort, error) {
			p, _ := porttest.NewPair(8, 8)
			return closeSpy{p, &closed}, a, nil
		},
	}})
	if err == nil || err.Error() != "local: tap: skf0: operation not permitted" {
		t.Fatalf("err = %v", err)
	}
	if !closed {
		t.Fatal("the underlay socket opened before the failure was not closed")
	}
}

type closeSpy struct {
	*porttest.Port
	closed *bool
}

func (c closeSpy) Close() error { *c.closed = true; return c.Port.Close() }
