// SPDX-License-Identifier: Apache-2.0

package afxdp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/port/afpacket"
	"github.com/skiffnet/skiff/dataplane/port/porttest"
	"github.com/skiffnet/skiff/dataplane/port/udp"
	"github.com/skiffnet/skiff/internal/nstest"
	"golang.org/x/sys/unix"
)

const etherTypeTest = 0x88B5 // IEEE 802 local experimental EtherType

// testFrame builds a frame of EtherType etherTypeTest (after tags), its
// payload starting with a sequence number.
func testFrame(tags []uint32, seq uint32, size int) []byte {
	f := []byte{0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, 0x0a}
	for _, tag := range tags {
		f = binary.BigEndian.AppendUint32(f, tag)
	}
	f = binary.BigEndian.AppendUint16(f, etherTypeTest)
	f = binary.BigEndian.AppendUint32(f, seq)
	for len(f) < size {
		f = append(f, byte(len(f)*7+int(seq)))
	}
	return f
}

func openLANIn(t *testing.T, ns *nstest.NS, c LANConfig) *LAN {
	t.Helper()
	var l *LAN
	if err := ns.Do(func() error {
		var err error
		l, err = OpenLAN(c)
		return err
	}); err != nil {
		t.Fatalf("OpenLAN %s: %v", c.Name, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// lanPair: ns a holds x0 (the AF_XDP port's NIC), ns b holds x1 with a raw
// socket; both ends get MTU mtu.
func lanPair(t *testing.T, mtu int) (*LAN, int, *nstest.NS, *nstest.NS) {
	nstest.NeedRoot(t)
	a, b := nstest.New(t), nstest.New(t)
	nstest.Veth(t, a, "x0", b, "x1")
	a.Quiet(t, "x0")
	b.Quiet(t, "x1")
	for _, e := range []struct {
		ns   *nstest.NS
		name string
	}{{a, "x0"}, {b, "x1"}} {
		if err := e.ns.NL.LinkSetMTU(e.ns.Link(t, e.name), mtu); err != nil {
			t.Fatal(err)
		}
	}
	l := openLANIn(t, a, LANConfig{Name: "x0", Promisc: true})
	return l, b.RawSocket(t, "x1", false), a, b
}

func TestLANBothWays(t *testing.T) {
	for _, mtu := range []int{1500, 9000} {
		t.Run(fmt.Sprint("mtu", mtu), func(t *testing.T) {
			l, fd, _, nsB := lanPair(t, mtu)
			st := l.Stats()
			t.Logf("mode %s, %d queue(s)", st.Mode, st.Queues)
			sizes := []int{60, 64, 100, 1000, 1514, 1518}
			if mtu > 1500 {
				sizes = append(sizes, 3000, 4000, 8000, 9014, 9018)
			}
			var tags [][]uint32
			tags = append(tags, nil, []uint32{0x8100<<16 | 10}, []uint32{0x88a8<<16 | 100, 0x8100<<16 | 30})

			// Raw socket -> AF_XDP.
			var want [][]byte
			seq := uint32(0)
			for _, tg := range tags {
				for _, sz := range sizes {
					if sz > mtu+14+4*boolInt(len(tg) == 1) || sz < 18+4*len(tg) {
						continue // the raw socket sends at most the MTU, plus a tag
					}
					f := testFrame(tg, seq, sz)
					seq++
					want = append(want, f)
					if _, err := unix.Write(fd, f); err != nil {
						t.Fatalf("raw write %d bytes: %v", len(f), err)
					}
				}
			}
			pool := buf.NewPool(buf.DefaultSize, 128)
			b := buf.NewBatch(pool, 64)
			var got [][]byte
			deadline := time.Now().Add(5 * time.Second)
			for len(got) < len(want) && time.Now().Before(deadline) {
				n, err := l.ReadBatch(b.Pkts)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range b.Pkts[:n] {
					if et := etherTypeOf(p.Data()); et == etherTypeTest {
						got = append(got, bytes.Clone(p.Data()))
					}
				}
			}
			if len(got) != len(want) {
				t.Fatalf("AF_XDP read %d test frames, want %d", len(got), len(want))
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("frame %d (%d bytes): got %d bytes, differs", i, len(want[i]), len(got[i]))
				}
			}

			// AF_XDP -> the other end.
			// Read with an AF_PACKET port: the receiving kernel moves VLAN
			// tags into metadata, and the port puts them back.
			var ap *afpacket.Port
			if err := nsB.Do(func() error {
				var err error
				ap, err = afpacket.Open(afpacket.Config{Name: "x1"})
				return err
			}); err != nil {
				t.Fatal(err)
			}
			defer ap.Close()
			out := make([]*buf.Packet, len(want))
			for i, f := range want {
				out[i] = pool.Get()
				out[i].SetData(f)
			}
			if n, err := l.WriteBatch(out); err != nil || n != len(out) {
				t.Fatalf("WriteBatch: %d, %v", n, err)
			}
			pool.PutN(out)
			rd := buf.NewBatch(buf.Large, ap.BatchSize())
			defer rd.Release()
			deadline = time.Now().Add(5 * time.Second)
			for i := 0; i < len(want); {
				if time.Now().After(deadline) {
					t.Fatalf("AF_PACKET got %d of %d frames", i, len(want))
				}
				n, err := ap.ReadBatch(rd.Pkts)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range rd.Pkts[:n] {
					if etherTypeOf(p.Data()) != etherTypeTest {
						continue
					}
					if !bytes.Equal(p.Data(), want[i]) {
						t.Fatalf("frame %d: AF_PACKET got %d bytes, want %d", i, p.Len(), len(want[i]))
					}
					i++
				}
			}
			st = l.Stats()
			if st.BadDescs != 0 || st.TxFull != 0 || st.TxErrors != 0 {
				t.Errorf("stats %+v", st)
			}
			if st.XDP["redirect/redirected"] < uint64(len(want)) {
				t.Errorf("XDP counters %v: want at least %d redirected", st.XDP, len(want))
			}
		})
	}
}

// etherTypeOf returns the EtherType after the tags.
func etherTypeOf(f []byte) uint16 {
	off := 12
	for len(f) >= off+2 {
		et := binary.BigEndian.Uint16(f[off:])
		if et != 0x8100 && et != 0x88a8 {
			return et
		}
		off += 4
	}
	return 0
}

// TestLANVLANFilter: only the listed VLANs reach skiff; the rest stay with
// the kernel and are counted.
func TestLANVLANFilter(t *testing.T) {
	nstest.NeedRoot(t)
	a, b := nstest.New(t), nstest.New(t)
	nstest.Veth(t, a, "x0", b, "x1")
	a.Quiet(t, "x0")
	b.Quiet(t, "x1")
	l := openLANIn(t, a, LANConfig{Name: "x0", VLANs: []uint16{10}})
	fd := b.RawSocket(t, "x1", false)
	for i, tg := range [][]uint32{{0x8100<<16 | 20}, nil, {0x8100<<16 | 10}} {
		if _, err := unix.Write(fd, testFrame(tg, uint32(i), 100)); err != nil {
			t.Fatal(err)
		}
	}
	pool := buf.NewPool(buf.DefaultSize, 64)
	bt := buf.NewBatch(pool, 64)
	n, err := l.ReadBatch(bt.Pkts)
	if err != nil || n != 1 {
		t.Fatalf("ReadBatch: %d, %v", n, err)
	}
	if f := bt.Pkts[0].Data(); binary.BigEndian.Uint16(f[14:])&0xfff != 10 {
		t.Fatalf("got a frame of VLAN %d", binary.BigEndian.Uint16(f[14:])&0xfff)
	}
	if c := l.Stats().XDP; c["pass/vlan_filtered"] != 2 {
		t.Errorf("counters %v: want 2 vlan_filtered", c)
	}
}

// TestLANSuperFrame: a TCP super-frame from the pipeline (a peer's TAP
// offload) leaves as MSS-sized frames with correct checksums.
func TestLANSuperFrame(t *testing.T) {
	l, fd, _, _ := lanPair(t, 1500)
	payload := make([]byte, 5000)
	for i := range payload {
		payload[i] = byte(i)
	}
	f := tcp4Frame(payload)
	p := buf.New(buf.LargeSize)
	p.SetData(f)
	p.Meta.GSO = buf.GSO{Flags: buf.VirtioNeedsCsum, Type: buf.VirtioGSOTCPv4, HdrLen: 54, Size: 1448, CsumStart: 34, CsumOffset: 16}
	if _, err := l.WriteBatch([]*buf.Packet{p}); err != nil {
		t.Fatal(err)
	}
	rb := make([]byte, 2000)
	var got []byte
	for segs := 0; len(got) < len(payload); {
		n, err := unix.Read(fd, rb)
		if err != nil {
			t.Fatalf("after %d segments: %v", segs, err)
		}
		fr := rb[:n]
		if etherTypeOf(fr) != 0x0800 || fr[23] != 6 {
			continue
		}
		if n > 1514 {
			t.Fatalf("segment of %d bytes", n)
		}
		ip := fr[14:34]
		if c := ^checksum(ip, 0); c != 0 {
			t.Fatalf("segment %d: bad IPv4 header checksum", segs)
		}
		l4 := fr[34:]
		ps := pseudo4(ip, len(l4))
		if ^checksum(l4, ps) != 0 {
			t.Fatalf("segment %d: bad TCP checksum", segs)
		}
		got = append(got, l4[20:]...)
		segs++
	}
	if !bytes.Equal(got, payload) {
		t.Fatal("segmented payload differs")
	}
}

func checksum(b []byte, s uint32) uint16 {
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return uint16(s)
}

func pseudo4(ip []byte, l4len int) uint32 {
	var s uint32
	for i := 12; i < 20; i += 2 {
		s += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	return s + uint32(ip[9]) + uint32(l4len)
}

// tcp4Frame is an Ethernet/IPv4/TCP frame with payload and a partial
// (pseudo-header) checksum, as a TSO super-frame carries.
func tcp4Frame(payload []byte) []byte {
	f := []byte{0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, 0x0a, 0x08, 0x00}
	ip := []byte{0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 6, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2}
	binary.BigEndian.PutUint16(ip[2:], uint16(20+20+len(payload)))
	binary.BigEndian.PutUint16(ip[10:], ^checksum(ip, 0))
	tcp := make([]byte, 20)
	binary.BigEndian.PutUint16(tcp[0:], 1000)
	binary.BigEndian.PutUint16(tcp[2:], 2000)
	binary.BigEndian.PutUint32(tcp[4:], 12345)
	tcp[12] = 5 << 4
	tcp[13] = 0x18 // PSH ACK
	binary.BigEndian.PutUint16(tcp[14:], 65535)
	binary.BigEndian.PutUint16(tcp[16:], checksum(nil, pseudo4(ip, 20+len(payload))))
	f = append(append(append(f, ip...), tcp...), payload...)
	return f
}

// underlayPair: ns a holds u0 with the AF_XDP underlay at addrA, ns b holds
// u1 with a plain UDP port at addrB.
func underlayPair(t *testing.T, prefixA, prefixB string) (*Underlay, *udp.Port, netip.AddrPort, netip.AddrPort) {
	nstest.NeedRoot(t)
	a, b := nstest.New(t), nstest.New(t)
	nstest.Veth(t, a, "u0", b, "u1")
	a.AddAddr(t, "u0", prefixA)
	b.AddAddr(t, "u1", prefixB)
	addrA := netip.AddrPortFrom(netip.MustParsePrefix(prefixA).Addr(), 4800)
	addrB := netip.AddrPortFrom(netip.MustParsePrefix(prefixB).Addr(), 4801)
	var u *Underlay
	if err := a.Do(func() error {
		var err error
		u, err = OpenUnderlay(UnderlayConfig{Interface: "u0", Addr: addrA})
		return err
	}); err != nil {
		t.Fatalf("OpenUnderlay: %v", err)
	}
	t.Cleanup(func() { u.Close() })
	var p *udp.Port
	if err := b.Do(func() error {
		var err error
		p, err = udp.Listen(udp.Config{Addr: addrB, NoGRO: true, NoGSO: true})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return u, p, addrA, addrB
}

func TestUnderlayBothWays(t *testing.T) {
	for _, fam := range []struct{ a, b string }{{"10.77.0.1/24", "10.77.0.2/24"}, {"fd77::1/64", "fd77::2/64"}} {
		t.Run(fam.a, func(t *testing.T) {
			u, p, addrA, addrB := underlayPair(t, fam.a, fam.b)
			pool := buf.NewPool(buf.DefaultSize, 256)
			sizes := []int{1, 100, 1000, 1400, 1472 - 20*boolInt(addrA.Addr().Is6())}
			const rounds = 20

			// Plain UDP -> AF_XDP.
			collected := make(chan []byte, 1000)
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				b := buf.NewBatch(pool, 64)
				for {
					n, err := u.ReadBatch(b.Pkts)
					if err != nil {
						if !errors.Is(err, net.ErrClosed) {
							t.Errorf("afxdp ReadBatch: %v", err)
						}
						return
					}
					for _, pk := range b.Pkts[:n] {
						if pk.Addr != addrB {
							t.Errorf("datagram from %v, want %v", pk.Addr, addrB)
						}
						collected <- bytes.Clone(pk.Data())
					}
				}
			}()
			var want [][]byte
			for r := range rounds {
				out := make([]*buf.Packet, len(sizes))
				for i, sz := range sizes {
					d := make([]byte, sz)
					for k := range d {
						d[k] = byte(k + r*31 + i)
					}
					want = append(want, d)
					out[i] = pool.Get()
					out[i].SetData(d)
					out[i].Addr = addrA
				}
				if n, err := p.WriteBatch(out); err != nil || n != len(out) {
					t.Fatalf("udp WriteBatch: %d %v", n, err)
				}
				pool.PutN(out)
			}
			for i := range want {
				select {
				case g := <-collected:
					if !bytes.Equal(g, want[i]) {
						t.Fatalf("datagram %d: got %d bytes, want %d", i, len(g), len(want[i]))
					}
				case <-time.After(5 * time.Second):
					t.Fatalf("AF_XDP underlay got %d of %d datagrams; stats %+v", i, len(want), u.Stats())
				}
			}

			// AF_XDP -> plain UDP: the first datagrams may go through the
			// kernel while the neighbour is resolved; later ones go direct.
			got := make(chan []byte, 1000)
			wg.Add(1)
			go func() {
				defer wg.Done()
				b := buf.NewBatch(pool, 64)
				for {
					n, err := p.ReadBatch(b.Pkts)
					if err != nil {
						if !errors.Is(err, net.ErrClosed) {
							t.Errorf("udp ReadBatch: %v", err)
						}
						return
					}
					for _, pk := range b.Pkts[:n] {
						if pk.Addr.Addr().Unmap() != addrA.Addr() || pk.Addr.Port() != addrA.Port() {
							t.Errorf("datagram from %v, want %v", pk.Addr, addrA)
						}
						got <- bytes.Clone(pk.Data())
					}
				}
			}()
			for r := range rounds {
				out := make([]*buf.Packet, len(sizes))
				for i := range sizes {
					out[i] = pool.Get()
					out[i].SetData(want[r*len(sizes)+i])
					out[i].Addr = addrB
				}
				if n, err := u.WriteBatch(out); err != nil || n != len(out) {
					t.Fatalf("afxdp WriteBatch: %d %v", n, err)
				}
				pool.PutN(out)
				time.Sleep(20 * time.Millisecond)
			}
			// The kernel's and the direct path reach the peer through
			// different CPUs' backlogs, so a datagram sent through the
			// kernel may arrive after a later direct one: every datagram
			// must arrive once and intact, in any order.
			pending := make(map[string]int, len(want))
			for _, d := range want {
				pending[string(d)]++
			}
			for i := range want {
				select {
				case g := <-got:
					if pending[string(g)] == 0 {
						t.Fatalf("datagram %d: unexpected or duplicate %d bytes", i, len(g))
					}
					pending[string(g)]--
				case <-time.After(5 * time.Second):
					t.Fatalf("plain UDP got %d of %d datagrams; stats %+v", i, len(want), u.Stats())
				}
			}
			st := u.Stats()
			t.Logf("mode %s; tx direct %d, via kernel %d; XDP %v; faults %v; partial checksums %d", st.Mode, st.TxFrames, st.Underlay.ViaKernel, st.XDP, st.Underlay.RxFaults, st.Underlay.RxCsumPartial)
			if st.TxFrames == 0 {
				t.Errorf("nothing sent directly: the neighbour was never resolved")
			}
			if len(st.Underlay.RxFaults) != 0 || st.BadDescs != 0 {
				t.Errorf("faults %v, bad descriptors %d", st.Underlay.RxFaults, st.BadDescs)
			}
			u.Close()
			p.Close()
			wg.Wait()
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestOpenErrors(t *testing.T) {
	nstest.NeedRoot(t)
	ns := nstest.New(t)
	err := ns.Do(func() error {
		_, err := OpenLAN(LANConfig{Name: "nosuch0"})
		return err
	})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("nosuch0")) {
		t.Fatalf("OpenLAN on a missing NIC: %v", err)
	}
	err = ns.Do(func() error {
		_, err := OpenUnderlay(UnderlayConfig{Interface: "nosuch0", Addr: netip.MustParseAddrPort("127.0.0.1:4800")})
		return err
	})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("nosuch0")) {
		t.Fatalf("OpenUnderlay on a missing NIC: %v", err)
	}
}

func TestCloseUnblocks(t *testing.T) {
	l, _, _, _ := lanPair(t, 1500)
	p := buf.New(buf.DefaultSize)
	p.SetData(testFrame(nil, 1, 100))
	porttest.CheckClose(t, l, []*buf.Packet{p})
}

// TestAllocs: a batch read and a batch written allocate nothing, on both
// kinds of port, once warmed up.
func TestAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	t.Run("lan", func(t *testing.T) {
		l, fd, _, _ := lanPair(t, 1500)
		pool := buf.NewPool(buf.DefaultSize, 128)
		b := buf.NewBatch(pool, 64)
		f := testFrame(nil, 1, 1000)
		out := []*buf.Packet{pool.Get()}
		out[0].SetData(f)
		run := func() {
			if _, err := unix.Write(fd, f); err != nil {
				t.Fatal(err)
			}
			if _, err := l.ReadBatch(b.Pkts); err != nil {
				t.Fatal(err)
			}
			if _, err := l.WriteBatch(out); err != nil {
				t.Fatal(err)
			}
		}
		run()
		if n := testing.AllocsPerRun(200, run); n != 0 {
			t.Fatalf("%v allocations per read and write", n)
		}
	})
	t.Run("underlay", func(t *testing.T) {
		u, p, addrA, addrB := underlayPair(t, "10.78.0.1/24", "10.78.0.2/24")
		pool := buf.NewPool(buf.DefaultSize, 128)
		b := buf.NewBatch(pool, 64)
		in := []*buf.Packet{pool.Get()}
		in[0].SetData(make([]byte, 1000))
		in[0].Addr = addrA
		out := []*buf.Packet{pool.Get()}
		out[0].SetData(make([]byte, 1000))
		out[0].Addr = addrB
		sink := buf.NewBatch(pool, 64)
		run := func() {
			if _, err := p.WriteBatch(in); err != nil {
				t.Fatal(err)
			}
			if _, err := u.ReadBatch(b.Pkts); err != nil {
				t.Fatal(err)
			}
			if _, err := u.WriteBatch(out); err != nil {
				t.Fatal(err)
			}
			if _, err := p.ReadBatch(sink.Pkts); err != nil {
				t.Fatal(err)
			}
		}
		// Warm up until the neighbour is resolved and datagrams go direct.
		for i := 0; u.Stats().TxFrames == 0; i++ {
			if i == 200 {
				t.Fatal("the neighbour was never resolved")
			}
			run()
			time.Sleep(5 * time.Millisecond)
		}
		if n := testing.AllocsPerRun(200, run); n != 0 {
			t.Fatalf("%v allocations per read and write", n)
		}
	})
}

// TestUMEMAccounting plays a kernel that returns chunks it does not hold:
// a completion for a chunk on the free stack, an rx descriptor for a tx
// chunk, one beyond the UMEM. Each is counted and ignored; no chunk lands
// on the free stack or the fill ring twice.
func TestUMEMAccounting(t *testing.T) {
	l, _, _, _ := lanPair(t, 1500)
	s := l.queues[0].s
	free := len(s.free)
	txChunk := uint64(s.rxFrames) * frameSize

	cprod := atomic.LoadUint32(s.comp.prod)
	s.comp.addrs[cprod&s.comp.mask] = txChunk // free, not in the kernel's hands
	atomic.StoreUint32(s.comp.prod, cprod+1)
	s.reclaim()
	if len(s.free) != free || s.stats.badDescs.Load() != 1 {
		t.Fatalf("after a bogus completion: %d free (want %d), %d bad", len(s.free), free, s.stats.badDescs.Load())
	}

	fprod := atomic.LoadUint32(s.fill.prod)
	rprod := atomic.LoadUint32(s.rx.prod)
	s.rx.descs[rprod&s.rx.mask] = unix.XDPDesc{Addr: txChunk, Len: 100}
	s.rx.descs[(rprod+1)&s.rx.mask] = unix.XDPDesc{Addr: uint64(len(s.state)) * frameSize, Len: 100}
	atomic.StoreUint32(s.rx.prod, rprod+2)
	pool := buf.NewPool(buf.DefaultSize, 64)
	b := buf.NewBatch(pool, 64)
	if n := s.drain(b.Pkts, nil); n != 0 {
		t.Fatalf("drain handed out %d frames from bogus descriptors", n)
	}
	if got := atomic.LoadUint32(s.fill.prod); got != fprod {
		t.Fatalf("bogus descriptors refilled %d chunks", got-fprod)
	}
	if s.stats.badDescs.Load() != 3 || s.state[s.rxFrames] != stFree {
		t.Fatalf("%d bad descriptors, tx chunk state %d", s.stats.badDescs.Load(), s.state[s.rxFrames])
	}
}
