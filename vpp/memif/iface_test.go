// SPDX-License-Identifier: Apache-2.0

package memif

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/skiffnet/skiff/dataplane/buf"
	"golang.org/x/sys/unix"
)

func abstractName(t testing.TB) string {
	return fmt.Sprintf("@skiff-memif-test-%d-%x", os.Getpid(), rand.Uint64())
}

func open(t testing.TB, cfg Config) *Interface {
	t.Helper()
	f, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func waitUp(t testing.TB, fs ...*Interface) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, f := range fs {
		if !f.WaitConnected(ctx) {
			t.Fatalf("%s %s not connected: %+v", f.cfg.Role, f.cfg.Socket, f.Info())
		}
	}
}

// pair opens a server and a client on one socket and waits for both.
func pair(t testing.TB, srv, cli Config) (*Interface, *Interface) {
	t.Helper()
	if srv.Socket == "" {
		srv.Socket = abstractName(t)
	}
	cli.Socket = srv.Socket
	srv.Role, cli.Role = RoleServer, RoleClient
	cli.Reconnect = 20 * time.Millisecond
	// transfer checks that nothing is lost: give a receiver starved by the
	// race detector on two cores time to catch up.
	srv.TxWait, cli.TxWait = time.Second, time.Second
	s := open(t, srv)
	c := open(t, cli)
	waitUp(t, s, c)
	return s, c
}

// frame builds a frame of n bytes carrying seq and a pattern.
func frame(seq uint64, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(seq*7 + uint64(i)*13)
	}
	binary.LittleEndian.PutUint64(b[14:], seq)
	return b
}

// transfer sends count frames of sizes from sizes over tx queue q of a and
// checks that b receives them all, in order and byte-exact, while keeping
// at most window frames in flight.
func transfer(t *testing.T, a, b *Interface, q, count int, sizes func(i int) int) {
	t.Helper()
	errc := make(chan error, 1)
	var recvd sync.WaitGroup
	recvd.Add(1)
	got := make(chan int, 1)
	go func() {
		defer recvd.Done()
		pkts := make([]*buf.Packet, 32)
		for i := range pkts {
			pkts[i] = buf.New(buf.DefaultSize)
		}
		next := 0
		for next < count {
			n, err := b.Recv(q, pkts)
			if err != nil {
				errc <- fmt.Errorf("recv after %d frames: %w", next, err)
				return
			}
			for _, p := range pkts[:n] {
				want := frame(uint64(next), sizes(next))
				if !bytes.Equal(p.Data(), want) {
					errc <- fmt.Errorf("frame %d: got %d bytes, want %d (differ)", next, p.Len(), len(want))
					return
				}
				next++
			}
			select {
			case got <- next:
			default:
			}
		}
		errc <- nil
	}()
	pkts := make([]*buf.Packet, 16)
	for i := range pkts {
		pkts[i] = buf.New(buf.DefaultSize)
	}
	before := a.Stats().TxFull.Load()
	for i := 0; i < count; {
		n := min(len(pkts), count-i)
		for j := range n {
			pkts[j].SetData(frame(uint64(i+j), sizes(i+j)))
		}
		if _, err := a.Send(q, pkts[:n]); err != nil {
			t.Fatal(err)
		}
		i += n
		if d := a.Stats().TxFull.Load() - before; d > 0 {
			t.Fatalf("%d frames dropped on a full ring", d)
		}
	}
	select {
	case err := <-errc:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("timeout: receiver stuck; sender %+v receiver %+v", a.Info(), b.Info())
	}
	recvd.Wait()
}

func mixed(i int) int { return 60 + (i*997)%(9000-60+1) }

func TestClientServer(t *testing.T) {
	for _, tc := range []struct {
		name     string
		srv, cli Config
	}{
		{"interrupt", Config{}, Config{}},
		{"poll", Config{Poll: true}, Config{Poll: true}},
		{"poll-interrupt", Config{Poll: true}, Config{}},
		{"small-ring-buffers", Config{}, Config{Log2Ring: 7, BufferSize: 128}}, // chains of up to 71
		{"separate-buffers", Config{}, Config{SeparateBuffers: true}},
		{"secret", Config{Secret: "s3cret"}, Config{Secret: "s3cret"}},
		{"queues", Config{Queues: 4}, Config{Queues: 4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := pair(t, tc.srv, tc.cli)
			for q := range c.Info().TxQueues {
				transfer(t, c, s, q, 3000, mixed)
				transfer(t, s, c, q, 3000, mixed)
			}
			si, ci := s.Info(), c.Info()
			if si.RxBadDesc+si.RxTooLong+si.TxBadDesc+si.BadRing+ci.RxBadDesc+ci.RxTooLong+ci.TxBadDesc+ci.BadRing != 0 {
				t.Fatalf("faults: server %+v client %+v", si, ci)
			}
			if si.RxFrames != ci.TxFrames || ci.RxFrames != si.TxFrames {
				t.Fatalf("counts: server %+v client %+v", si, ci)
			}
		})
	}
}

func TestQueueNegotiation(t *testing.T) {
	s, c := pair(t, Config{Queues: 2}, Config{Queues: 4})
	if si, ci := s.Info(), c.Info(); si.RxQueues != 2 || si.TxQueues != 2 || ci.RxQueues != 2 || ci.TxQueues != 2 {
		t.Fatalf("server %+v client %+v: want 2 queue pairs", si, ci)
	}
	// Client queue 3 shares ring 1.
	transfer(t, c, s, 3%2, 100, mixed)
}

func TestTooLongForRing(t *testing.T) {
	s, c := pair(t, Config{}, Config{Log2Ring: 4, BufferSize: 128})
	p := buf.New(buf.DefaultSize)
	p.SetData(frame(0, 16*128+1))
	c.Send(0, []*buf.Packet{p})
	if n := c.Stats().TxTooLong.Load(); n != 1 {
		t.Fatalf("client TxTooLong %d", n)
	}
	s.Send(0, []*buf.Packet{p})
	if n := s.Stats().TxTooLong.Load(); n != 1 {
		t.Fatalf("server TxTooLong %d", n)
	}
	transfer(t, c, s, 0, 10, func(int) int { return 16 * 128 })
	transfer(t, s, c, 0, 10, func(int) int { return 16 * 128 })
}

func TestBothDirectionsAtOnce(t *testing.T) {
	s, c := pair(t, Config{}, Config{Log2Ring: 6})
	var wg sync.WaitGroup
	for _, d := range [][2]*Interface{{c, s}, {s, c}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			transfer(t, d[0], d[1], 0, 20000, mixed)
		}()
	}
	wg.Wait()
}

func TestRefusals(t *testing.T) {
	for _, tc := range []struct {
		name     string
		srv, cli Config
		want     string
	}{
		{"wrong-id", Config{ID: 1}, Config{ID: 2}, "ID 2 not found"},
		{"secret-required", Config{Secret: "x"}, Config{}, "secret required"},
		{"wrong-secret", Config{Secret: "x"}, Config{Secret: "y"}, "incorrect secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.srv.Socket, tc.srv.Role = abstractName(t), RoleServer
			tc.cli.Socket, tc.cli.Role, tc.cli.Reconnect = tc.srv.Socket, RoleClient, time.Hour
			s := open(t, tc.srv)
			c := open(t, tc.cli)
			deadline := time.Now().Add(5 * time.Second)
			for c.Info().LastError == "" && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if got := c.Info().LastError; !strings.Contains(got, tc.want) {
				t.Fatalf("client error %q, want %q", got, tc.want)
			}
			if s.Connected() || c.Connected() || s.Info().HandshakeEr != 1 {
				t.Fatalf("server %+v", s.Info())
			}
		})
	}
}

func TestAlreadyConnected(t *testing.T) {
	s, _ := pair(t, Config{}, Config{})
	c2 := open(t, Config{Socket: s.cfg.Socket, Reconnect: time.Hour})
	deadline := time.Now().Add(5 * time.Second)
	for c2.Info().LastError == "" && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := c2.Info().LastError; !strings.Contains(got, "already connected") {
		t.Fatalf("second client: %q", got)
	}
	if !s.Connected() {
		t.Fatal("the first client lost its connection")
	}
}

// A client reconnects when its server goes away and comes back, and a
// server notices a client that vanished.
func TestReconnect(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "memif.sock")
	s, c := pair(t, Config{Socket: sock}, Config{})
	transfer(t, c, s, 0, 100, mixed)
	s.Close()
	deadline := time.Now().Add(5 * time.Second)
	for c.Info().Disconnects == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if ci := c.Info(); ci.Disconnects != 1 {
		t.Fatalf("client: %+v", ci)
	}
	// Frames sent while down are dropped and counted.
	p := buf.New(buf.DefaultSize)
	p.SetData(frame(0, 100))
	c.Send(0, []*buf.Packet{p})
	if c.Stats().TxDown.Load() != 1 {
		t.Fatalf("TxDown %d", c.Stats().TxDown.Load())
	}
	s2 := open(t, Config{Socket: sock, Role: RoleServer})
	waitUp(t, s2, c)
	transfer(t, c, s2, 0, 100, mixed)
	transfer(t, s2, c, 0, 100, mixed)
	if c.Info().Connects != 2 {
		t.Fatalf("client connects %d", c.Info().Connects)
	}

	// The client dies without a word: the server sees the socket close.
	sess := c.sess.Load()
	sess.ctl.Close()
	deadline = time.Now().Add(5 * time.Second)
	for s2.Info().Disconnects == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if s2.Info().Disconnects != 1 {
		t.Fatalf("server did not notice: %+v", s2.Info())
	}
	waitUp(t, s2, c) // and the client came back
	transfer(t, c, s2, 0, 100, mixed)
}

func TestStaleSocketFile(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "memif.sock")
	ln, err := net.ListenUnix("unixpacket", &net.UnixAddr{Name: sock, Net: "unixpacket"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Socket: sock, Role: RoleServer}); err == nil || !strings.Contains(err.Error(), "another process is listening") {
		t.Fatalf("live socket: %v", err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	open(t, Config{Socket: sock, Role: RoleServer}) // the stale file is replaced
	if err := os.WriteFile(sock+".txt", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Config{Socket: sock + ".txt", Role: RoleServer}); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("regular file: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "socket: empty"},
		{Config{Socket: "@x", Secret: strings.Repeat("s", 24)}, "secret: longer than 23"},
		{Config{Socket: "@x", Queues: 1000}, "queues 1000"},
		{Config{Socket: "@x", Log2Ring: 15}, "ring size 2^15"},
		{Config{Socket: "@x", BufferSize: 64}, "buffer size 64"},
		{Config{Socket: "@" + strings.Repeat("n", 120)}, "longer than 107"},
		{Config{Socket: "@x", Name: strings.Repeat("n", 33)}, "name"},
	} {
		if _, err := New(tc.cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
	if _, err := ParseRole("boss"); err == nil {
		t.Error("ParseRole accepted boss")
	}
}

// A peer's descriptors pointing outside the regions, nonsense counters
// and endless chains are counted and dropped; the frames around them
// still arrive.
func TestHostileDescriptors(t *testing.T) {
	s, c := pair(t, Config{}, Config{Log2Ring: 4})
	cs := c.sess.Load()
	r := cs.tx[0]
	r.mu.Lock()
	good := frame(1, 100)
	put := func(d Desc) {
		*r.Slot(r.pos) = d
		r.pos++
	}
	put(Desc{Region: 7, Length: 10})                    // no such region
	put(Desc{Region: 0, Offset: 1 << 31, Length: 10})   // beyond the region
	put(Desc{Region: 0, Offset: 0, Length: ^uint32(0)}) // huge length
	put(Desc{Region: 0, Offset: 0, Length: 9000})       // fine alone...
	put(Desc{Flags: DescNext, Region: 0, Length: 9000}) // ...but this chain is
	put(Desc{Region: 0, Offset: 0, Length: 9000})       // longer than a packet
	mem, _ := cs.segment(r.post(r.pos))
	copy(mem, good)
	r.Slot(r.pos).Length = uint32(len(good))
	r.pos++
	r.SetHead(r.pos)
	cs.notify(r)
	r.mu.Unlock()

	pkts := []*buf.Packet{buf.New(buf.DefaultSize), buf.New(buf.DefaultSize)}
	var got [][]byte
	deadline := time.Now().Add(5 * time.Second)
	for len(got) < 2 && time.Now().Before(deadline) {
		n, err := s.Recv(0, pkts)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pkts[:n] {
			got = append(got, bytes.Clone(p.Data()))
		}
	}
	if len(got) != 2 || len(got[0]) != 9000 || !bytes.Equal(got[1], good) {
		t.Fatalf("got %d frames", len(got))
	}
	if st := s.Info(); st.RxBadDesc != 3 || st.RxTooLong != 1 {
		t.Fatalf("server counters %+v", st)
	}

	// A head far beyond the tail is clamped and counted.
	r.mu.Lock()
	r.SetHead(r.pos + 1000)
	r.mu.Unlock()
	done := make(chan struct{})
	go func() {
		s.Recv(0, pkts)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	if s.Info().BadRing == 0 {
		t.Fatalf("bad head not counted: %+v", s.Info())
	}
}

func TestCloseUnblocksRecv(t *testing.T) {
	f := open(t, Config{Socket: abstractName(t), Role: RoleServer})
	errc := make(chan error)
	go func() {
		_, err := f.Recv(0, []*buf.Packet{buf.New(buf.DefaultSize)})
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	f.Close()
	select {
	case err := <-errc:
		if err != net.ErrClosed {
			t.Fatalf("Recv after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Recv still blocked after Close")
	}
}

func TestAllocs(t *testing.T) {
	s, c := pair(t, Config{}, Config{})
	pkts := make([]*buf.Packet, 32)
	rx := make([]*buf.Packet, 64)
	for i := range pkts {
		pkts[i] = buf.New(buf.DefaultSize)
		pkts[i].SetData(frame(uint64(i), 60+i*100))
	}
	for i := range rx {
		rx[i] = buf.New(buf.DefaultSize)
	}
	for _, d := range [][2]*Interface{{c, s}, {s, c}} {
		allocs := testing.AllocsPerRun(200, func() {
			d[0].Send(0, pkts)
			for got := 0; got < len(pkts); {
				n, _ := d[1].Recv(0, rx)
				got += n
			}
		})
		if allocs != 0 {
			t.Errorf("%s->%s: %.1f allocs per batch", d[0].cfg.Role, d[1].cfg.Role, allocs)
		}
	}
}

// BenchmarkMemif moves batches of 32 frames client -> server and server
// -> client through the rings (copy mode, both ends in this process,
// polling), one batch sent and then received per iteration; the copy
// anchor is the two memmoves per frame the memif copy mode costs at
// least.
func BenchmarkMemif(b *testing.B) {
	for _, size := range []int{64, 1400, 9000} {
		b.Run(fmt.Sprintf("copy-anchor/%d", size), func(b *testing.B) {
			src, mid, dst := make([]byte, size), make([]byte, size), make([]byte, size)
			b.SetBytes(int64(32 * size))
			for range b.N {
				for range 32 {
					copy(mid, src)
					copy(dst, mid)
				}
			}
			b.ReportMetric(float64(32*b.N)/b.Elapsed().Seconds()/1e6, "Mfps")
		})
		s, c := pair(b, Config{Poll: true}, Config{Poll: true})
		for _, d := range []struct {
			name     string
			from, to *Interface
		}{{"client-to-server", c, s}, {"server-to-client", s, c}} {
			b.Run(fmt.Sprintf("%s/%d", d.name, size), func(b *testing.B) {
				pkts := make([]*buf.Packet, 32)
				rx := make([]*buf.Packet, 64)
				for i := range pkts {
					pkts[i] = buf.New(buf.DefaultSize)
					pkts[i].SetData(frame(uint64(i), size))
				}
				for i := range rx {
					rx[i] = buf.New(buf.DefaultSize)
				}
				b.SetBytes(int64(32 * size))
				b.ReportAllocs()
				for range b.N {
					d.from.Send(0, pkts)
					for got := 0; got < len(pkts); {
						n, _ := d.to.Recv(0, rx)
						got += n
					}
				}
				b.ReportMetric(float64(32*b.N)/b.Elapsed().Seconds()/1e6, "Mfps")
			})
		}
		s.Close()
		c.Close()
	}
}

// A client that shrinks its region's file under the server turns the
// server's next access into SIGBUS: the server survives it, counts it,
// drops the connection and serves the client's next one.
func TestPeerShrinksRegion(t *testing.T) {
	sealRegions = 0
	t.Cleanup(func() { sealRegions = unix.F_SEAL_SHRINK })
	s, c := pair(t, Config{}, Config{})
	transfer(t, c, s, 0, 10, mixed)

	// shrink truncates the client's region and, with wake, wakes the
	// server's receive queue: under a ring lock, the client's teardown
	// barrier, so the region and the eventfd are still open.
	shrink := func(wake bool) {
		t.Helper()
		cs := c.sess.Load()
		if cs == nil {
			t.Fatal("client not connected")
		}
		r := cs.tx[0]
		r.mu.Lock()
		defer r.mu.Unlock()
		if cs.dead.Load() {
			t.Fatal("client session already dead")
		}
		if err := unix.Ftruncate(cs.regions[0].fd, 0); err != nil {
			t.Fatal(err)
		}
		if wake {
			unix.Write(r.efd, kick[:])
		}
	}
	reconnected := func(faults, disconnects uint64) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for (s.Info().Connects <= disconnects || c.Info().Connects <= disconnects || !s.Connected() || !c.Connected()) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		in := s.Info()
		if in.MemFaults != faults || in.Disconnects != disconnects || in.Connects != disconnects+1 || c.Info().Connects != disconnects+1 {
			t.Fatalf("server after the shrink: %+v; client %+v", in, c.Info())
		}
	}
	one := func(seq uint64) []*buf.Packet {
		p := buf.New(buf.DefaultSize)
		p.SetData(frame(seq, 100))
		return []*buf.Packet{p}
	}

	// The server's transmit path faults on the ring header.
	shrink(false)
	if n, err := s.Send(0, one(0)); n != 1 || err != nil {
		t.Fatalf("Send after the shrink: %d, %v", n, err)
	}
	reconnected(1, 1)
	transfer(t, s, c, 0, 50, mixed)

	// So does its receive path, woken by the client's kick.
	got := make(chan []byte, 1)
	go func() {
		pkts := []*buf.Packet{buf.New(buf.DefaultSize)}
		if n, err := s.Recv(0, pkts); err == nil && n == 1 {
			got <- bytes.Clone(pkts[0].Data())
		}
		close(got)
	}()
	shrink(true)
	reconnected(2, 2)
	c.Send(0, one(7))
	select {
	case g := <-got:
		if !bytes.Equal(g, frame(7, 100)) {
			t.Fatalf("after reconnecting the server read %d bytes, not the frame sent", len(g))
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no frame after reconnecting: %+v", s.Info())
	}
}
