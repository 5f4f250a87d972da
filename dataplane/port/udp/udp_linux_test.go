// SPDX-License-Identifier: Apache-2.0

package udp

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/port"
	"github.com/skiffnet/skiff/dataplane/port/porttest"
)

// A batch of mixed sizes arrives byte-exact with the sender's address as
// source, and both ports count it.
func TestRoundTrip(t *testing.T) {
	for _, lo := range loopbacks {
		t.Run(lo.name, func(t *testing.T) {
			a, b := listen(t, lo.addr), listen(t, lo.addr)
			sizes := []int{1, 2, 63, 64, 65, 127, 128, 512, 1280, 1400, 1472, 1500, 2048, 4096, 8192, 8972, 8999, 9000}
			rng := rand.New(rand.NewPCG(1, 2))
			for len(sizes) < port.DefaultBatchSize {
				s := 1 + rng.IntN(9000)
				if !slices.Contains(sizes, s) {
					sizes = append(sizes, s)
				}
			}
			send(t, a, b.LocalAddr(), sizes...)
			got := collect(t, b, packets(t, port.DefaultBatchSize), len(sizes))

			// Sizes are distinct, so a datagram is known by its size
			// even if loopback reordered them.
			var total uint64
			for _, d := range got {
				if !bytes.Equal(d.data, payload(len(d.data))) || !slices.Contains(sizes, len(d.data)) {
					t.Fatalf("datagram of %d bytes is not one that was sent", len(d.data))
				}
				if d.from != a.LocalAddr() {
					t.Fatalf("source = %v, want %v", d.from, a.LocalAddr())
				}
				if lo.name == "v4" && !d.from.Addr().Is4() {
					t.Fatalf("IPv4 source %v is not a 4-byte address", d.from)
				}
				if d.room != buf.Headroom {
					t.Fatalf("datagram read at offset %d, want buf.Headroom", d.room)
				}
				total += uint64(len(d.data))
			}
			n := uint64(len(sizes))
			if s := counts(a.Stats()); s != (Stats{TxPackets: n, TxBytes: total}) {
				t.Errorf("sender stats %+v", s)
			}
			if s := counts(b.Stats()); s != (Stats{RxPackets: n, RxBytes: total}) {
				t.Errorf("receiver stats %+v", s)
			}
		})
	}
}

// ReadBatch never returns more than len(pkts) or BatchSize; WriteBatch
// takes more than BatchSize packets and sends them all.
func TestPartialBatch(t *testing.T) {
	for _, lo := range loopbacks {
		t.Run(lo.name, func(t *testing.T) {
			a := listen(t, lo.addr)
			b := listenConfig(t, Config{Addr: lo.addr, Batch: 4})
			if b.BatchSize() != 4 {
				t.Fatalf("BatchSize = %d", b.BatchSize())
			}
			sizes := []int{10, 11, 12, 13, 14, 15, 16, 17, 18, 19}
			send(t, a, b.LocalAddr(), sizes...)
			// Three at most per call, though ten are queued.
			got := collect(t, b, packets(t, 3), 3)
			// Four at most per call, though eight packets are offered.
			got = append(got, collect(t, b, packets(t, 8)[:4], 4)...)
			pkts := packets(t, 8)
			n, err := b.ReadBatch(pkts)
			if err != nil || n != 3 {
				t.Fatalf("ReadBatch of the last 3 = %d, %v", n, err)
			}
			for _, d := range got {
				if !bytes.Equal(d.data, payload(len(d.data))) {
					t.Fatalf("datagram of %d bytes corrupted", len(d.data))
				}
			}

			// WriteBatch with more packets than BatchSize splits them.
			send(t, b, a.LocalAddr(), sizes...)
			if got := collect(t, a, packets(t, 64), len(sizes)); len(got) != len(sizes) {
				t.Fatal(len(got))
			}
			if n, err := b.ReadBatch(nil); n != 0 || err != nil {
				t.Fatalf("ReadBatch(nil) = %d, %v", n, err)
			}
			if n, err := b.WriteBatch(nil); n != 0 || err != nil {
				t.Fatalf("WriteBatch(nil) = %d, %v", n, err)
			}
		})
	}
}

// A datagram bigger than the packet's room is counted and skipped, and the
// datagrams after it still arrive, in order, whether they come in the same
// recvmmsg call or a later one.
func TestTruncated(t *testing.T) {
	for _, lo := range loopbacks {
		t.Run(lo.name, func(t *testing.T) {
			a, b := listen(t, lo.addr), listen(t, lo.addr)
			small := make([]*buf.Packet, 4)
			for i := range small {
				small[i] = buf.New(buf.Headroom + 100 + buf.Tailroom)
			}
			if len(small[0].Room()) != 100 {
				t.Fatalf("room = %d", len(small[0].Room()))
			}

			// Same call: the good ones move up over the truncated slots.
			send(t, a, b.LocalAddr(), 200, 50, 101, 100, 80)
			got := collect(t, b, small, 3)
			if sz := []int{len(got[0].data), len(got[1].data), len(got[2].data)}; !slices.Equal(sz, []int{50, 100, 80}) {
				t.Fatalf("sizes = %v, want [50 100 80]", sz)
			}
			for _, d := range got {
				if !bytes.Equal(d.data, payload(len(d.data))) || d.from != a.LocalAddr() {
					t.Fatalf("datagram of %d bytes from %v corrupted", len(d.data), d.from)
				}
			}
			if s := b.Stats(); s.RxTruncated != 2 || s.RxPackets != 3 || s.RxBytes != 230 {
				t.Fatalf("stats %+v", s)
			}

			// One at a time: ReadBatch does not return the truncated
			// one and waits for the next.
			send(t, a, b.LocalAddr(), 9000, 60)
			got = collect(t, b, small[:1], 1)
			if len(got[0].data) != 60 || !bytes.Equal(got[0].data, payload(60)) {
				t.Fatalf("got %d bytes, want the 60-byte datagram", len(got[0].data))
			}
			if s := b.Stats(); s.RxTruncated != 3 || s.RxPackets != 4 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

// A datagram above what UDP can carry is refused with EMSGSIZE, counted in
// TxTooBig and skipped; the rest of the batch goes out.
func TestTooBig(t *testing.T) {
	// A pool packet cannot even hold one.
	func() {
		defer func() {
			if recover() == nil {
				t.Fatal("SetLen(70000) on a default packet did not panic")
			}
		}()
		pk := buf.Default.Get()
		defer buf.Default.Put(pk)
		pk.SetLen(70000)
	}()

	for _, lo := range loopbacks {
		t.Run(lo.name, func(t *testing.T) {
			a, b := listen(t, lo.addr), listen(t, lo.addr)
			huge := buf.New(buf.Headroom + 70000 + buf.Tailroom)
			huge.SetLen(70000)
			huge.Addr = b.LocalAddr()
			small := buf.New(buf.DefaultSize)
			small.SetData(payload(99))
			small.Addr = b.LocalAddr()
			n, err := a.WriteBatch([]*buf.Packet{small, huge, small})
			if err != nil || n != 2 {
				t.Fatalf("WriteBatch = %d, %v; want 2, nil", n, err)
			}
			if s := counts(a.Stats()); s != (Stats{TxPackets: 2, TxBytes: 198, TxTooBig: 1}) {
				t.Fatalf("stats %+v", s)
			}
			got := collect(t, b, packets(t, 4), 2)
			if len(got[0].data) != 99 || len(got[1].data) != 99 {
				t.Fatalf("got %d and %d bytes", len(got[0].data), len(got[1].data))
			}
		})
	}
}

func sockopt(t *testing.T, p *Port, level, opt int) int {
	t.Helper()
	var v int
	var err error
	if cerr := p.rc.Control(func(fd uintptr) { v, err = unix.GetsockoptInt(int(fd), level, opt) }); cerr != nil {
		t.Fatal(cerr)
	}
	if err != nil {
		t.Fatalf("getsockopt %d/%d: %v", level, opt, err)
	}
	return v
}

// The socket has DF set, is v6-only for IPv6, shares its port with
// nobody, has the buffers asked for, and is non-blocking and close-on-exec.
func TestSocketOptions(t *testing.T) {
	for _, lo := range loopbacks {
		t.Run(lo.name, func(t *testing.T) {
			p := listen(t, lo.addr)
			if lo.name == "v4" {
				if v := sockopt(t, p, unix.IPPROTO_IP, unix.IP_MTU_DISCOVER); v != unix.IP_PMTUDISC_DO {
					t.Errorf("IP_MTU_DISCOVER = %d, want IP_PMTUDISC_DO", v)
				}
			} else {
				for _, o := range []struct {
					name      string
					opt, want int
				}{
					{"IPV6_V6ONLY", unix.IPV6_V6ONLY, 1},
					{"IPV6_MTU_DISCOVER", unix.IPV6_MTU_DISCOVER, unix.IPV6_PMTUDISC_DO},
					{"IPV6_DONTFRAG", unix.IPV6_DONTFRAG, 1},
				} {
					if v := sockopt(t, p, unix.IPPROTO_IPV6, o.opt); v != o.want {
						t.Errorf("%s = %d, want %d", o.name, v, o.want)
					}
				}
			}
			if v := sockopt(t, p, unix.SOL_SOCKET, unix.SO_REUSEPORT); v != 0 {
				t.Errorf("SO_REUSEPORT = %d", v)
			}
			if v := sockopt(t, p, unix.SOL_SOCKET, unix.SO_REUSEADDR); v != 0 {
				t.Errorf("SO_REUSEADDR = %d", v)
			}
			// The kernel reports twice the size set. Without CAP_NET_ADMIN
			// the FORCE options fail and the size is capped by the
			// net.core.rmem_max and wmem_max sysctls.
			for _, o := range []struct {
				opt    int
				sysctl string
			}{{unix.SO_RCVBUF, "rmem_max"}, {unix.SO_SNDBUF, "wmem_max"}} {
				want := 2 * DefaultSocketBuffer
				if b, err := os.ReadFile("/proc/sys/net/core/" + o.sysctl); err == nil {
					if limit, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
						want = 2 * min(DefaultSocketBuffer, limit)
					}
				}
				if v := sockopt(t, p, unix.SOL_SOCKET, o.opt); v < want {
					t.Errorf("%s-limited buffer = %d, want at least %d", o.sysctl, v, want)
				}
			}
			var fl, fdfl int
			p.rc.Control(func(fd uintptr) {
				fl, _ = unix.FcntlInt(fd, unix.F_GETFL, 0)
				fdfl, _ = unix.FcntlInt(fd, unix.F_GETFD, 0)
			})
			if fl&unix.O_NONBLOCK == 0 || fdfl&unix.FD_CLOEXEC == 0 {
				t.Errorf("flags %#x, fd flags %#x: want O_NONBLOCK and FD_CLOEXEC", fl, fdfl)
			}
		})
	}
}

// A second Listen on a port in use fails with EADDRINUSE and says where.
func TestAddrInUse(t *testing.T) {
	for _, lo := range loopbacks {
		t.Run(lo.name, func(t *testing.T) {
			p := listen(t, lo.addr)
			q, err := Listen(Config{Addr: p.LocalAddr()})
			if err == nil {
				q.Close()
				t.Fatal("second Listen on the same port succeeded")
			}
			if !errors.Is(err, syscall.EADDRINUSE) {
				t.Errorf("error %v is not EADDRINUSE", err)
			}
			if want := fmt.Sprintf("udp: listen %v: bind: address already in use", p.LocalAddr()); err.Error() != want {
				t.Errorf("error = %q, want %q", err, want)
			}
		})
	}
}

func TestListenConfig(t *testing.T) {
	// An IPv4-mapped address is IPv4.
	p, err := Listen(Config{Addr: netip.MustParseAddrPort("[::ffff:127.0.0.1]:0")})
	if err != nil {
		t.Fatal(err)
	}
	if la := p.LocalAddr(); !la.Addr().Is4() || la.Addr() != netip.MustParseAddr("127.0.0.1") || la.Port() == 0 {
		t.Errorf("LocalAddr = %v", la)
	}
	if p.family != unix.AF_INET || p.BatchSize() != port.DefaultBatchSize {
		t.Errorf("family %d, batch %d", p.family, p.BatchSize())
	}
	p.Close()

	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "udp: listen: invalid address"},
		{Config{Addr: netip.MustParseAddrPort("127.0.0.1:0"), Batch: -1}, "batch size -1 out of range"},
		{Config{Addr: netip.MustParseAddrPort("127.0.0.1:0"), Batch: MaxBatch + 1}, "out of range"},
		{Config{Addr: netip.MustParseAddrPort("127.0.0.1:0"), SocketBuffer: -1}, "negative socket buffer"},
		{Config{Addr: netip.MustParseAddrPort("[fe80::1%skiff-no-such-if]:0")}, "zone: no interface"},
	} {
		p, err := Listen(c.cfg)
		if err == nil {
			p.Close()
			t.Errorf("Listen(%+v) succeeded", c.cfg)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("Listen(%+v) = %q, want %q", c.cfg, err, c.want)
		}
	}

	p, err = Listen(Config{Addr: netip.MustParseAddrPort("127.0.0.1:0"), Batch: MaxBatch, SocketBuffer: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
}

// Close wakes a ReadBatch blocked in the poller with net.ErrClosed; later
// calls fail the same way.
func TestCloseUnblocksRead(t *testing.T) {
	for _, lo := range loopbacks {
		t.Run(lo.name, func(t *testing.T) {
			p := listen(t, lo.addr)
			pkts := packets(t, 1)
			pkts[0].Addr = p.LocalAddr()
			porttest.CheckClose(t, p, pkts)
		})
	}
}

// One goroutine reads while another writes on the same port, both ways,
// with Stats polled meanwhile. Run under -race.
func TestConcurrentReadWrite(t *testing.T) {
	for _, lo := range loopbacks {
		t.Run(lo.name, func(t *testing.T) {
			a, b := listen(t, lo.addr), listen(t, lo.addr)
			const total = 4096
			var wg, io sync.WaitGroup
			stop := make(chan struct{})
			wg.Go(func() {
				for {
					select {
					case <-stop:
						return
					default:
						_, _ = a.Stats(), b.Stats()
						time.Sleep(time.Millisecond)
					}
				}
			})
			errs := make(chan error, 4)
			for _, pair := range [][2]*Port{{a, b}, {b, a}} {
				from, to := pair[0], pair[1]
				wpkts, rpkts := packets(t, 32), packets(t, 64)
				io.Go(func() {
					for sent := 0; sent < total; sent += len(wpkts) {
						for i, pk := range wpkts {
							pk.SetData(payload(100 + (sent+i)%500))
							pk.Addr = to.LocalAddr()
						}
						if n, err := from.WriteBatch(wpkts); err != nil || n != len(wpkts) {
							errs <- fmt.Errorf("WriteBatch = %d, %v", n, err)
							return
						}
					}
				})
				io.Go(func() {
					watchdog := time.AfterFunc(20*time.Second, func() { to.Close() })
					defer watchdog.Stop()
					for got := 0; got < total; {
						n, err := to.ReadBatch(rpkts)
						if err != nil {
							errs <- fmt.Errorf("ReadBatch after %d: %v", got, err)
							return
						}
						for _, pk := range rpkts[:n] {
							if !bytes.Equal(pk.Data(), payload(pk.Len())) || pk.Addr != from.LocalAddr() {
								errs <- fmt.Errorf("bad datagram of %d bytes from %v", pk.Len(), pk.Addr)
								return
							}
						}
						got += n
					}
				})
			}
			io.Wait()
			close(stop)
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			for _, p := range []*Port{a, b} {
				if s := p.Stats(); s.RxPackets != total || s.TxPackets != total {
					t.Errorf("%v: stats %+v", p.LocalAddr(), s)
				}
			}
		})
	}
}

// Sending to a port nobody listens on is not an error, now or later: the
// ICMP port unreachable that comes back is reported by Linux only on
// connected sockets (or with IP_RECVERR), and the port keeps working.
func TestSendToClosedPort(t *testing.T) {
	for _, lo := range loopbacks {
		t.Run(lo.name, func(t *testing.T) {
			a, b := listen(t, lo.addr), listen(t, lo.addr)
			gone := listen(t, lo.addr)
			dead := gone.LocalAddr()
			gone.Close()
			for range 3 {
				send(t, a, dead, 100, 200, 300)
				time.Sleep(10 * time.Millisecond)
			}
			if s := a.Stats(); s.TxPackets != 9 || s.TxUnreachable+s.TxOther+s.TxTooBig != 0 {
				t.Errorf("stats %+v", s)
			}
			// Reading and writing still work.
			send(t, b, a.LocalAddr(), 42)
			got := collect(t, a, packets(t, 8), 1)
			if len(got[0].data) != 42 || got[0].from != b.LocalAddr() {
				t.Fatalf("got %d bytes from %v", len(got[0].data), got[0].from)
			}
			send(t, a, b.LocalAddr(), 43)
			collect(t, b, packets(t, 8), 1)
		})
	}
}

// Destinations a socket cannot send to are counted in TxUnreachable and
// skipped; the valid packets around them go out.
func TestBadDestinations(t *testing.T) {
	for _, lo := range loopbacks {
		t.Run(lo.name, func(t *testing.T) {
			a, b := listen(t, lo.addr), listen(t, lo.addr)
			bp := b.LocalAddr().Port()
			bad := []netip.AddrPort{
				{}, // zero
				netip.AddrPortFrom(b.LocalAddr().Addr(), 0),                     // port 0
				netip.AddrPortFrom(netip.MustParseAddr("::1"), bp),              // v6 on v4
				netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), bp),        // v4 on v6
				netip.AddrPortFrom(netip.MustParseAddr("::ffff:127.0.0.1"), bp), // mapped on v6
				netip.AddrPortFrom(netip.MustParseAddr("fe80::1%skiff-no-such-if"), bp),
			}
			// Each family refuses all but the ones of its own family.
			var dsts []netip.AddrPort
			for _, d := range bad {
				fam4 := d.Addr().Unmap().Is4()
				if d.IsValid() && d.Port() != 0 && fam4 == (lo.name == "v4") && d.Addr().Zone() == "" {
					continue
				}
				dsts = append(dsts, d)
			}
			if lo.name == "v4" {
				// A mapped destination on an IPv4 socket is IPv4.
				dsts = append(dsts, netip.AddrPortFrom(netip.MustParseAddr("::ffff:127.0.0.1"), bp))
			}
			pkts := packets(t, 2*len(dsts)+1)
			var good int
			for i, pk := range pkts {
				pk.SetData(payload(10 + i))
				pk.Addr = b.LocalAddr()
				if i%2 == 1 {
					pk.Addr = dsts[i/2]
				}
			}
			n, err := a.WriteBatch(pkts)
			wantBad := len(dsts)
			if lo.name == "v4" {
				wantBad-- // the mapped one went out
			}
			good = len(pkts) - wantBad
			if err != nil || n != good {
				t.Fatalf("WriteBatch = %d, %v; want %d, nil", n, err, good)
			}
			if s := a.Stats(); s.TxUnreachable != uint64(wantBad) || s.TxPackets != uint64(good) {
				t.Fatalf("stats %+v, want %d unreachable", s, wantBad)
			}
			collect(t, b, packets(t, 64), good)
		})
	}
}

// Steady-state ReadBatch and WriteBatch allocate nothing.
func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, lo := range loopbacks {
		t.Run(lo.name, func(t *testing.T) {
			a, b := listen(t, lo.addr), listen(t, lo.addr)
			out, in := packets(t, 64), packets(t, 64)
			for i, pk := range out {
				pk.SetData(payload(1 + i*100))
				pk.Addr = b.LocalAddr()
			}
			step := func() {
				if n, err := a.WriteBatch(out); err != nil || n != len(out) {
					t.Fatalf("WriteBatch = %d, %v", n, err)
				}
				for got := 0; got < len(out); {
					n, err := b.ReadBatch(in)
					if err != nil {
						t.Fatal(err)
					}
					got += n
				}
			}
			step()
			if n := testing.AllocsPerRun(200, step); n != 0 {
				t.Fatalf("allocs per batch = %v", n)
			}
		})
	}
}
