// SPDX-License-Identifier: Apache-2.0

//go:build linux

package afpacket

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/packet"
	"github.com/skiffnet/skiff/dataplane/port/porttest"
	"github.com/skiffnet/skiff/internal/nstest"
)

const etherTypeTest = 0x88B5 // IEEE 802 local experimental EtherType

func openIn(t *testing.T, ns *nstest.NS, c Config) *Port {
	t.Helper()
	var p *Port
	err := ns.Do(func() error {
		var err error
		p, err = Open(c)
		return err
	})
	if err != nil {
		t.Fatalf("open %s in %s: %v", c.Name, ns.Name, err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// collect copies every frame p reads into the channel until p is closed.
func collect(t *testing.T, p *Port) <-chan []byte { return porttest.Collect(t, p, 4096) }

// next returns the next frame from ch of EtherType etherTypeTest (after any
// tags) whose payload starts with marker, or fails after a timeout.
func next(t *testing.T, ch <-chan []byte, marker []byte) []byte {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case f, ok := <-ch:
			if !ok {
				t.Fatalf("port closed while waiting for %q", marker)
			}
			if l3, et, ok := l3Offset(f); ok && et == etherTypeTest && bytes.HasPrefix(f[l3:], marker) {
				return f
			}
		case <-timeout:
			t.Fatalf("no frame with %q within 5s", marker)
		}
	}
}

// testFrame builds an Ethernet frame with the given tags (TPID<<16|TCI),
// EtherType etherTypeTest and a payload starting with marker.
func testFrame(tags []uint32, marker string, size int) []byte {
	f := []byte{0x02, 0, 0, 0, 0, 0x0b, 0x02, 0, 0, 0, 0, 0x0a}
	for _, tag := range tags {
		f = binary.BigEndian.AppendUint32(f, tag)
	}
	f = binary.BigEndian.AppendUint16(f, etherTypeTest)
	f = append(f, marker...)
	for len(f) < size {
		f = append(f, byte(len(f)))
	}
	return f
}

func TestVLANRestore(t *testing.T) {
	nstest.NeedRoot(t)
	a, m := nstest.New(t), nstest.New(t)
	nstest.Veth(t, a, "a0", m, "m0")
	a.Quiet(t, "a0")
	m.Quiet(t, "m0")
	p := openIn(t, m, Config{Name: "m0"})
	frames := collect(t, p)
	fd := a.RawSocket(t, "a0", false)

	tests := []struct {
		name string
		tags []uint32
	}{
		{"untagged", nil},
		{"802.1Q vlan 10 pcp 5", []uint32{0x8100<<16 | 5<<13 | 10}},
		{"802.1Q priority tag pcp 5", []uint32{0x8100<<16 | 5<<13}},
		{"802.1Q dei vlan 4094", []uint32{0x8100<<16 | 1<<12 | 4094}},
		{"802.1ad vlan 7", []uint32{0x88a8<<16 | 7}},
		{"802.1ad 100 + 802.1Q 10 (QinQ)", []uint32{0x88a8<<16 | 100, 0x8100<<16 | 3<<13 | 10}},
		{"802.1Q 20 + 802.1Q 30", []uint32{0x8100<<16 | 20, 0x8100<<16 | 30}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			marker := fmt.Sprintf("vlan-test-%d", i)
			want := testFrame(tt.tags, marker, 200)
			if _, err := unix.Write(fd, want); err != nil {
				t.Fatalf("send: %v", err)
			}
			got := next(t, frames, []byte(marker))
			if !bytes.Equal(got, want) {
				t.Errorf("frame differs:\ngot  %x\nwant %x", got[:40], want[:40])
			}
		})
	}
	s := p.Stats()
	t.Logf("stats: %+v", s)
	if s.RxVLAN < uint64(len(tests)-1) {
		t.Errorf("RxVLAN = %d, want >= %d: tags should come from auxdata", s.RxVLAN, len(tests)-1)
	}
}

// TestVLANOffload sends a VLAN-tagged TCP super-frame with a vnet header
// from A and checks that the port hands out tagged, MSS-sized segments
// with valid checksums, whether the kernel passed the super-frame on whole
// (GSO) or segmented it on the way (checksum-partial segments).
func TestVLANOffload(t *testing.T) {
	nstest.NeedRoot(t)
	a, m := nstest.New(t), nstest.New(t)
	nstest.Veth(t, a, "a0", m, "m0")
	a.Quiet(t, "a0")
	m.Quiet(t, "m0")
	// A batch of 3: the 10 segments of each super-frame span four
	// ReadBatch calls, and must come out in order.
	p := openIn(t, m, Config{Name: "m0", Batch: 3})
	frames := make(chan []byte, 1024)
	go func() {
		for f := range collect(t, p) {
			if l3, et, ok := l3Offset(f); ok && et == packet.EtherTypeIPv4 && packet.IPv4(f[l3:]).Protocol() == packet.ProtoTCP {
				frames <- f
			}
		}
		close(frames)
	}()
	fd := a.RawSocket(t, "a0", true)

	for _, tc := range []struct {
		name string
		tags []uint32
	}{
		{"802.1Q", []uint32{0x8100<<16 | 5<<13 | 10}},
		{"untagged", nil},
		{"QinQ", []uint32{0x88a8<<16 | 100, 0x8100<<16 | 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := p.Stats()
			const mss, segs = 1000, 10
			spec := frameSpec{tags: tc.tags, payload: segs*mss - 300, tcpOpts: tsOpts, flags: packet.TCPFlagACK | packet.TCPFlagPSH, id: 100, seq: 1 << 20}
			frame, l3, l4 := build(spec)
			tcpLen := len(frame) - l4
			// What a stack leaves in a CHECKSUM_PARTIAL TCP header: the
			// pseudo-header sum over the whole super-frame's length.
			binary.BigEndian.PutUint16(frame[l4+16:], refSum(nil, packet.PseudoHeader4(packet.ProtoTCP, ip4Src, ip4Dst, uint16(tcpLen))))
			h := gsoHdr(spec, l4, mss)
			h.hdrLen = uint16(l4 + 32)
			msg := make([]byte, vnetHdrLen+len(frame))
			h.encode(msg)
			copy(msg[vnetHdrLen:], frame)
			if _, err := unix.Write(fd, msg); err != nil {
				t.Fatalf("send super-frame: %v", err)
			}
			var payload []byte
			for i := range segs {
				var f []byte
				select {
				case f = <-frames:
				case <-time.After(5 * time.Second):
					t.Fatalf("segment %d of %d did not arrive", i, segs)
				}
				if !bytes.Equal(f[:l3], frame[:l3]) {
					t.Fatalf("segment %d: L2 header %x, want %x", i, f[:l3], frame[:l3])
				}
				ip := packet.IPv4(f[l3:])
				if !ip.Valid() || !ip.HeaderChecksumValid() || int(ip.TotalLength()) != len(f)-l3 {
					t.Errorf("segment %d: bad IPv4 header %x", i, f[l3:l4])
				}
				if !l4Verifies(f, l3, l4, false, packet.ProtoTCP) {
					t.Errorf("segment %d: TCP checksum does not verify", i)
				}
				tcp := packet.TCP(f[l4:])
				if got, want := tcp.Seq(), spec.seq+uint32(i*mss); got != want {
					t.Errorf("segment %d: seq %d, want %d", i, got, want)
				}
				if psh := tcp.Flags()&packet.TCPFlagPSH != 0; psh != (i == segs-1) {
					t.Errorf("segment %d: PSH %v", i, psh)
				}
				payload = append(payload, tcp.Payload()...)
			}
			if !bytes.Equal(payload, frame[l4+20+len(tsOpts):]) {
				t.Errorf("payload differs")
			}
			s := p.Stats()
			t.Logf("kernel delivered: %d super-frames, %d checksum-partial frames, %d data-valid, %d tags restored from auxdata",
				s.RxSuper-before.RxSuper, s.RxCsumPartial-before.RxCsumPartial, s.RxCsumValid-before.RxCsumValid, s.RxVLAN-before.RxVLAN)
			if s.RxBadOffload != 0 || s.RxBadGSOType != 0 {
				t.Errorf("stats: %+v", s)
			}
		})
	}
}

// forwarder moves batches from one port to another, as skiff's engine
// would, and counts reads.
type forwarder struct {
	reads, frames atomic.Uint64
	wg            sync.WaitGroup
}

func forward(t *testing.T, from, to *Port) *forwarder {
	fw := &forwarder{}
	pool := buf.NewPool(buf.DefaultSize, 256)
	b := buf.NewBatch(pool, from.BatchSize())
	fw.wg.Add(1)
	go func() {
		defer fw.wg.Done()
		for {
			n, err := from.ReadBatch(b.Pkts)
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					t.Errorf("%s: ReadBatch: %v", from.Name(), err)
				}
				return
			}
			fw.reads.Add(1)
			fw.frames.Add(uint64(n))
			if _, err := to.WriteBatch(b.Pkts[:n]); err != nil {
				if !errors.Is(err, net.ErrClosed) {
					t.Errorf("%s: WriteBatch: %v", to.Name(), err)
				}
				return
			}
		}
	}()
	t.Cleanup(func() { from.Close(); to.Close(); fw.wg.Wait() })
	return fw
}

// sites is A - M - B: veths A/a0 - M/ma and M/mb - B/b0, A and B in
// 10.200.0.0/24 and fd00:200::/64, and in M two ports with a forwarder in
// each direction.
type sites struct {
	a, m, b *nstest.NS
	pa, pb  *Port
	ab, ba  *forwarder
}

func newSites(t *testing.T) *sites {
	a, m, b := nstest.New(t), nstest.New(t), nstest.New(t)
	nstest.Veth(t, a, "a0", m, "ma")
	nstest.Veth(t, m, "mb", b, "b0")
	m.Quiet(t, "ma")
	m.Quiet(t, "mb")
	a.AddAddr(t, "a0", "10.200.0.1/24")
	b.AddAddr(t, "b0", "10.200.0.2/24")
	a.AddAddr(t, "a0", "fd00:200::1/64")
	b.AddAddr(t, "b0", "fd00:200::2/64")
	st := &sites{a: a, m: m, b: b}
	st.pa = openIn(t, m, Config{Name: "ma"})
	st.pb = openIn(t, m, Config{Name: "mb"})
	st.ab = forward(t, st.pa, st.pb)
	st.ba = forward(t, st.pb, st.pa)
	return st
}

// TestForward is the EthUDP -e use case: namespaces A, M, B; veths
// A/a0 - M/ma and M/mb - B/b0; in M two ports and a forwarder in between.
// TCP and UDP between A and B cross it; A's super-frames must be cut.
func TestForward(t *testing.T) {
	nstest.NeedRoot(t)
	st := newSites(t)
	a, b, pa, pb, ab, ba := st.a, st.b, st.pa, st.pb, st.ab, st.ba

	tcp := func(t *testing.T, network, addr string, size int) {
		var ln net.Listener
		if err := b.Do(func() (err error) { ln, err = net.Listen(network, addr); return }); err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		type result struct {
			n   int64
			sum [32]byte
			err error
		}
		done := make(chan result, 1)
		go func() {
			c, err := ln.Accept()
			if err != nil {
				done <- result{err: err}
				return
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(2 * time.Minute))
			h := sha256.New()
			n, err := io.Copy(h, c)
			var r result
			r.n, r.err = n, err
			copy(r.sum[:], h.Sum(nil))
			done <- r
		}()
		var c net.Conn
		if err := a.Do(func() (err error) { c, err = net.DialTimeout(network, addr, 10*time.Second); return }); err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(2 * time.Minute))
		before, reads0, frames0 := pa.Stats(), ab.reads.Load(), ab.frames.Load()
		start := time.Now()
		h := sha256.New()
		src := io.LimitReader(rand.NewChaCha8([32]byte{1}), int64(size))
		if _, err := io.Copy(io.MultiWriter(c, h), src); err != nil {
			t.Fatalf("send: %v", err)
		}
		c.Close()
		r := <-done
		elapsed := time.Since(start)
		if r.err != nil || r.n != int64(size) {
			t.Fatalf("received %d bytes of %d: %v", r.n, size, r.err)
		}
		if !bytes.Equal(r.sum[:], h.Sum(nil)) {
			t.Fatalf("SHA-256 differs")
		}
		s := pa.Stats()
		reads, frames := ab.reads.Load()-reads0, ab.frames.Load()-frames0
		t.Logf("%d MB in %v: %.2f Gbit/s; A->B: %d super-frames cut into %d segments (%.1f per super-frame), %d frames in %d reads (%.1f per ReadBatch), %d checksum-partial, %d data-valid",
			size>>20, elapsed.Round(time.Millisecond), float64(size)*8/elapsed.Seconds()/1e9,
			s.RxSuper-before.RxSuper, s.RxSegs-before.RxSegs, float64(s.RxSegs-before.RxSegs)/float64(max(1, s.RxSuper-before.RxSuper)),
			frames, reads, float64(frames)/float64(max(1, reads)), s.RxCsumPartial-before.RxCsumPartial, s.RxCsumValid-before.RxCsumValid)
		if s.RxSuper == before.RxSuper || s.RxSegs <= s.RxSuper {
			t.Errorf("no GSO segmentation happened: %+v", s)
		}
	}
	t.Run("tcp4 50MB", func(t *testing.T) { tcp(t, "tcp4", "10.200.0.2:5001", 50<<20) })
	t.Run("tcp6 10MB", func(t *testing.T) { tcp(t, "tcp6", "[fd00:200::2]:5001", 10<<20) })

	t.Run("udp4 USO", func(t *testing.T) {
		const segSize, segs, sends = 1200, 8, 20
		var rc *net.UDPConn
		if err := b.Do(func() (err error) {
			rc, err = net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(10, 200, 0, 2), Port: 5002})
			return
		}); err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		rc.SetReadBuffer(4 << 20)
		var sc *net.UDPConn
		if err := a.Do(func() (err error) {
			sc, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.IPv4(10, 200, 0, 2), Port: 5002})
			return
		}); err != nil {
			t.Fatal(err)
		}
		defer sc.Close()
		raw, _ := sc.SyscallConn()
		var serr error
		raw.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_UDP, unix.UDP_SEGMENT, segSize) })
		if serr != nil {
			t.Skipf("UDP_SEGMENT: %v", serr)
		}
		before := pa.Stats()
		msg := make([]byte, segSize*segs)
		for i := range sends {
			for j := range segs {
				seg := msg[j*segSize : (j+1)*segSize]
				for k := range seg {
					seg[k] = byte(i*31 + j*7 + k)
				}
				seg[0], seg[1] = byte(i), byte(j)
			}
			if _, err := sc.Write(msg); err != nil {
				t.Fatalf("send %d: %v", i, err)
			}
		}
		rc.SetReadDeadline(time.Now().Add(5 * time.Second))
		got := make([]byte, 65536)
		seen := map[[2]byte]bool{}
		for len(seen) < sends*segs {
			n, err := rc.Read(got)
			if err != nil {
				t.Fatalf("received %d of %d datagrams: %v", len(seen), sends*segs, err)
			}
			if n != segSize {
				t.Fatalf("datagram of %d bytes, want %d", n, segSize)
			}
			i, j := int(got[0]), int(got[1])
			for k := 2; k < n; k++ {
				if got[k] != byte(i*31+j*7+k) {
					t.Fatalf("datagram %d/%d: byte %d differs", i, j, k)
				}
			}
			seen[[2]byte{got[0], got[1]}] = true
		}
		s := pa.Stats()
		t.Logf("USO: %d super-frames cut into %d datagrams", s.RxSuper-before.RxSuper, s.RxSegs-before.RxSegs)
		if s.RxSuper == before.RxSuper {
			t.Errorf("no UDP_L4 super-frame seen: %+v", s)
		}
	})
	t.Logf("port ma: %+v", pa.Stats())
	t.Logf("port mb: %+v; B->A %d frames in %d reads", pb.Stats(), ba.frames.Load(), ba.reads.Load())
}

// TestBigTCP gives A's NIC BIG TCP (super-frames over 64 KiB): the port
// must count and drop what it cannot hold, and go on working.
func TestBigTCP(t *testing.T) {
	nstest.NeedRoot(t)
	st := newSites(t)
	a0 := st.a.Link(t, "a0")
	if err := st.a.NL.LinkSetGSOMaxSize(a0, 150000); err != nil {
		t.Skipf("gso_max_size 150000: %v", err)
	}
	if err := st.a.NL.LinkSetGSOIPv4MaxSize(a0, 150000); err != nil {
		t.Skipf("gso_ipv4_max_size 150000: %v", err)
	}
	var ln net.Listener
	if err := st.b.Do(func() (err error) { ln, err = net.Listen("tcp4", "10.200.0.2:5003"); return }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			io.Copy(io.Discard, c)
			c.Close()
		}
	}()
	var c net.Conn
	if err := st.a.Do(func() (err error) { c, err = net.DialTimeout("tcp4", "10.200.0.2:5003", 5*time.Second); return }); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetWriteDeadline(time.Now().Add(3 * time.Second))
	go c.Write(make([]byte, 8<<20))
	deadline := time.Now().Add(3 * time.Second)
	for st.pa.Stats().RxTruncated == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	s := st.pa.Stats()
	t.Logf("stats: %+v", s)
	if s.RxTruncated == 0 {
		t.Errorf("no super-frame over 64 KiB seen (TCP sent %d super-frames)", s.RxSuper)
	}
}

// TestOversize sends a jumbo frame longer than a pool packet holds: it is
// counted and dropped, and the frame after it arrives.
func TestOversize(t *testing.T) {
	nstest.NeedRoot(t)
	a, m := nstest.New(t), nstest.New(t)
	nstest.Veth(t, a, "a0", m, "m0")
	a.Quiet(t, "a0")
	m.Quiet(t, "m0")
	for _, x := range []struct {
		ns   *nstest.NS
		name string
	}{{a, "a0"}, {m, "m0"}} {
		if err := x.ns.NL.LinkSetMTU(x.ns.Link(t, x.name), 9500); err != nil {
			t.Fatal(err)
		}
	}
	p := openIn(t, m, Config{Name: "m0"})
	frames := collect(t, p)
	fd := a.RawSocket(t, "a0", false)
	for _, f := range [][]byte{testFrame(nil, "jumbo", 9400), testFrame(nil, "small", 100)} {
		if _, err := unix.Write(fd, f); err != nil {
			t.Fatal(err)
		}
	}
	if f := next(t, frames, []byte("small")); len(f) != 100 {
		t.Errorf("small frame of %d bytes", len(f))
	}
	if s := p.Stats(); s.RxOversize != 1 || s.RxFrames != 1 {
		t.Errorf("stats %+v, want 1 oversize frame and 1 frame", s)
	}
}

func TestPromisc(t *testing.T) {
	nstest.NeedRoot(t)
	a, m := nstest.New(t), nstest.New(t)
	nstest.Veth(t, a, "a0", m, "m0")
	promiscuity := func() int { return m.Link(t, "m0").Attrs().Promisc }
	if n := promiscuity(); n != 0 {
		t.Fatalf("promiscuity %d before open", n)
	}
	plain := openIn(t, m, Config{Name: "m0"})
	if n := promiscuity(); n != 0 {
		t.Errorf("promiscuity %d with Promisc false", n)
	}
	p := openIn(t, m, Config{Name: "m0", Promisc: true})
	if n := promiscuity(); n != 1 {
		t.Errorf("promiscuity %d with Promisc true, want 1", n)
	}
	if m.Link(t, "m0").Attrs().RawFlags&unix.IFF_PROMISC != 0 {
		t.Errorf("IFF_PROMISC set in the link flags: a membership should not touch them")
	}
	p.Close()
	if n := promiscuity(); n != 0 {
		t.Errorf("promiscuity %d after Close, want 0", n)
	}
	plain.Close()
}

func TestMissingNIC(t *testing.T) {
	nstest.NeedRoot(t)
	m := nstest.New(t)
	err := m.Do(func() error {
		p, err := Open(Config{Name: "nosuch0"})
		if err == nil {
			p.Close()
		}
		return err
	})
	if !errors.Is(err, ErrNoDevice) || !strings.Contains(err.Error(), "nosuch0") {
		t.Fatalf("Open(nosuch0) = %v, want ErrNoDevice naming the NIC", err)
	}
	t.Log(err)
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{
		{Name: ""},
		{Name: "a-name-that-is-too-long"},
		{Name: "eth0", Batch: -1},
		{Name: "eth0", Batch: 100000},
	} {
		if p, err := Open(c); err == nil {
			p.Close()
			t.Errorf("Open(%+v) succeeded", c)
		}
	}
}

// TestWrite checks that frames written to the port leave through the NIC
// byte for byte, that a frame the NIC refuses is counted and skipped, and
// that PACKET_IGNORE_OUTGOING keeps the port from reading back its own
// frames.
func TestWrite(t *testing.T) {
	nstest.NeedRoot(t)
	a, m := nstest.New(t), nstest.New(t)
	nstest.Veth(t, a, "a0", m, "m0")
	a.Quiet(t, "a0")
	m.Quiet(t, "m0")
	p := openIn(t, m, Config{Name: "m0"})
	fd := a.RawSocket(t, "a0", false)

	pool := buf.NewPool(buf.DefaultSize, 64)
	var out []*buf.Packet
	var want [][]byte
	for i := range 10 {
		f := testFrame(nil, fmt.Sprintf("out-%d", i), 100+100*i)
		if i == 5 {
			f = testFrame(nil, "too-long", 1500+14+4+1) // beyond the MTU: EMSGSIZE
		} else {
			want = append(want, f)
		}
		pkt := pool.Get()
		pkt.SetData(f)
		out = append(out, pkt)
	}
	if n, err := p.WriteBatch(out); n != len(out) || err != nil {
		t.Fatalf("WriteBatch = %d, %v", n, err)
	}
	pool.PutN(out)
	if s := p.Stats(); s.TxFrames != 9 || s.TxErrors != 1 {
		t.Errorf("stats %+v, want 9 frames sent and 1 error", s)
	}
	got := make([]byte, 9216)
	for _, w := range want {
		for {
			n, err := unix.Read(fd, got)
			if err != nil {
				t.Fatalf("read in A: %v", err)
			}
			if l3, et, ok := l3Offset(got[:n]); ok && et == etherTypeTest && bytes.HasPrefix(got[l3:n], []byte("out-")) {
				if !bytes.Equal(got[:n], w) {
					t.Fatalf("A received %q, want %q", got[14:20], w[14:20])
				}
				break
			}
		}
	}

	frames := collect(t, p)
	if _, err := unix.Write(fd, testFrame(nil, "in-0", 100)); err != nil {
		t.Fatal(err)
	}
	f := next(t, frames, []byte("in-"))
	if !bytes.Contains(f, []byte("in-0")) {
		t.Errorf("first test frame read is %q", f[14:20])
	}
	select {
	case f := <-frames:
		t.Errorf("read back %q", f[14:min(len(f), 30)])
	case <-time.After(100 * time.Millisecond):
	}
	s := p.Stats()
	if s.RxFrames != 1 {
		t.Errorf("RxFrames = %d, want 1 (own frames must not be read back)", s.RxFrames)
	}
}

func TestCloseUnblocks(t *testing.T) {
	nstest.NeedRoot(t)
	m := nstest.New(t)
	porttest.CheckClose(t, openIn(t, m, Config{Name: "lo"}), nil)
}

// TestAllocs writes and reads batches through a veth pair and checks that
// neither WriteBatch nor ReadBatch allocates, also when ReadBatch cuts
// super-frames and keeps segments for the next call.
func TestAllocs(t *testing.T) {
	nstest.NeedRoot(t)
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	m := nstest.New(t)
	nstest.Veth(t, m, "v0", m, "v1")
	m.Quiet(t, "v0")
	m.Quiet(t, "v1")
	tx := openIn(t, m, Config{Name: "v0", Batch: 32})
	rx := openIn(t, m, Config{Name: "v1", Batch: 32})
	pool := buf.NewPool(buf.DefaultSize, 128)
	out := buf.NewBatch(pool, 32)
	in := buf.NewBatch(pool, 32)
	for i, pkt := range out.Pkts {
		pkt.SetData(testFrame([]uint32{0x8100<<16 | 10}, fmt.Sprintf("alloc-%d", i), 1000))
	}
	step := func() {
		if _, err := tx.WriteBatch(out.Pkts); err != nil {
			t.Fatal(err)
		}
		for got := 0; got < len(out.Pkts); {
			n, err := rx.ReadBatch(in.Pkts)
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
	}
	step()
	if n := testing.AllocsPerRun(200, step); n != 0 {
		t.Fatalf("allocs per WriteBatch+ReadBatch = %v", n)
	}

	// Super-frames of 10 segments, injected with a vnet header from a raw
	// socket on v0, read 4 at a time.
	fd := m.RawSocket(t, "v0", true)
	spec := frameSpec{tags: []uint32{0x8100<<16 | 10}, payload: 10 * 1000, flags: packet.TCPFlagACK}
	frame, _, l4 := build(spec)
	msg := make([]byte, vnetHdrLen+len(frame))
	gsoHdr(spec, l4, 1000).encode(msg)
	copy(msg[vnetHdrLen:], frame)
	small := in.Pkts[:4]
	gso := func() {
		if _, err := unix.Write(fd, msg); err != nil {
			t.Fatal(err)
		}
		for got := 0; got < 10; {
			n, err := rx.ReadBatch(small)
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
	}
	gso()
	if n := testing.AllocsPerRun(200, gso); n != 0 {
		t.Fatalf("allocs per super-frame = %v", n)
	}
	s := rx.Stats()
	t.Logf("rx: %d frames, %d tags restored, %d super-frames cut into %d segments", s.RxFrames, s.RxVLAN, s.RxSuper, s.RxSegs)
	if s.RxSuper < 200 {
		t.Errorf("RxSuper = %d", s.RxSuper)
	}
}

func TestAuxVLAN(t *testing.T) {
	var ctrl [ctrlWords]uint64
	b := unsafe.Slice((*byte)(unsafe.Pointer(&ctrl[0])), len(ctrl)*8)
	put := func(status uint32, tci, tpid uint16) int {
		h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
		h.Level, h.Type = unix.SOL_PACKET, unix.PACKET_AUXDATA
		l := unix.CmsgLen(int(unsafe.Sizeof(unix.TpacketAuxdata{})))
		h.SetLen(l)
		d := b[unix.CmsgLen(0):]
		binary.NativeEndian.PutUint32(d[0:], status)
		binary.NativeEndian.PutUint16(d[16:], tci)
		binary.NativeEndian.PutUint16(d[18:], tpid)
		return l
	}
	tests := []struct {
		status         uint32
		tci, tpid      uint16
		wantTCI, wantP uint16
		ok             bool
	}{
		{unix.TP_STATUS_VLAN_VALID | unix.TP_STATUS_VLAN_TPID_VALID, 0xA00A, 0x88a8, 0xA00A, 0x88a8, true},
		{unix.TP_STATUS_VLAN_VALID, 0x000A, 0, 0x000A, 0x8100, true},
		{0, 0x000A, 0x8100, 0, 0, false},
	}
	for _, tt := range tests {
		l := put(tt.status, tt.tci, tt.tpid)
		tci, tpid, ok := auxVLAN(b[:l])
		if ok != tt.ok || tci != tt.wantTCI || tpid != tt.wantP {
			t.Errorf("auxVLAN(status %#x) = %#x %#x %v", tt.status, tci, tpid, ok)
		}
	}
	if _, _, ok := auxVLAN(b[:10]); ok {
		t.Errorf("auxVLAN of a short buffer reported a tag")
	}
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[0]))
	h.SetLen(1000)
	if _, _, ok := auxVLAN(b); ok {
		t.Errorf("auxVLAN of a bad length reported a tag")
	}
}
