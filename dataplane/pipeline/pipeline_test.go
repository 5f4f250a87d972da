// SPDX-License-Identifier: Apache-2.0

package pipeline

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/stage"
	"github.com/skiffnet/skiff/dataplane/wire"
	"github.com/skiffnet/skiff/dataplane/wire/wiretest"
)

var (
	epA = netip.MustParseAddrPort("192.0.2.1:4800")
	epB = netip.MustParseAddrPort("192.0.2.2:4800")
)

func handshake(t testing.TB, suite wire.Suite) (a, b *wire.Session) {
	t.Helper()
	return wiretest.Pair(t, suite)
}

func snapshots(a, b *wire.Session) (sa, sb *Snapshot) {
	sa = &Snapshot{Node: 1, Route: Route{Node: 2, Session: a, Endpoint: epB}, Sessions: map[uint32]*wire.Session{a.LocalID: a}}
	sb = &Snapshot{Node: 2, Route: Route{Node: 1, Session: b, Endpoint: epA}, Sessions: map[uint32]*wire.Session{b.LocalID: b}}
	return sa, sb
}

// link carries one batch from a Tx through an Rx, as the engine does.
type link struct {
	pool         *buf.Pool
	tx           *Tx
	rx           *Rx
	txs, rxs     Stats
	in, mid, out *buf.Batch
	ctl          []wire.Type
	now          int64
}

func newLink(t testing.TB) *link {
	l := &link{pool: buf.NewPool(buf.DefaultSize, 1024)}
	l.tx = NewTx(&l.txs)
	l.rx = NewRx(RxConfig{Stats: &l.rxs, Pool: l.pool, Now: func() int64 { return l.now },
		Control: func(p *buf.Packet, h *wire.Header) { l.ctl = append(l.ctl, h.Type) }})
	l.in = buf.NewBatch(l.pool, 64)
	l.mid = buf.NewBatch(l.pool, 64+stage.MaxPieces)
	l.out = buf.NewBatch(l.pool, 64+stage.MaxPieces)
	return l
}

// send runs frames through tx (snapshot st) and the datagrams through rx
// (snapshot sr); it returns the frames that came out.
func (l *link) send(st, sr *Snapshot, frames ...[]byte) [][]byte {
	for i, f := range frames {
		l.in.Pkts[i].SetData(f)
	}
	l.mid.N, l.out.N = 0, 0
	l.tx.Process(st, l.in.Pkts[:len(frames)], l.mid)
	// What arrives has the sender's address, as a port would set it.
	for _, p := range l.mid.Pkts[:l.mid.N] {
		p.Addr = epA
	}
	l.rx.Process(sr, l.mid.Pkts[:l.mid.N], l.out)
	var got [][]byte
	for _, p := range l.out.Pkts[:l.out.N] {
		got = append(got, append([]byte(nil), p.Data()...))
	}
	return got
}

func frame(n int, fill byte) []byte {
	f := bytes.Repeat([]byte{fill}, n)
	copy(f, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x88, 0xb5})
	return f
}

func TestRoundTrip(t *testing.T) {
	for _, suite := range wire.Suites {
		a, b := handshake(t, suite)
		sa, sb := snapshots(a, b)
		sa.LZ4, sa.Fragment, sa.PieceSize = true, true, 1000
		l := newLink(t)
		f1, f2, f3 := frame(60, 1), frame(1400, 'z'), frame(9000, 7)
		for j := 14; j < len(f3); j++ {
			f3[j] = byte(j * 7919 >> 3) // incompressible: must be fragmented
		}
		got := l.send(sa, sb, f1, f2, f3)
		if len(got) != 3 || !bytes.Equal(got[0], f1) || !bytes.Equal(got[1], f2) || !bytes.Equal(got[2], f3) {
			t.Fatalf("%v: round trip failed: %d frames", suite, len(got))
		}
		tc, rc := l.txs.Load(), l.rxs.Load()
		if tc.In != 3 || rc.Out != 3 || tc.Dropped()+rc.Dropped() != 0 || rc.Frags == 0 {
			t.Fatalf("%v: counters tx %+v rx %+v", suite, tc, rc)
		}
	}
}

// Every drop has its reason.
func TestDropReasons(t *testing.T) {
	a, b := handshake(t, wire.SuiteAES256GCM)
	l := newLink(t)
	check := func(name string, st *Stats, r stage.Reason, want uint64) {
		t.Helper()
		if got := st.Drops[r].Load(); got != want {
			t.Fatalf("%s: %v drops = %d, want %d", name, r, got, want)
		}
	}

	sa, sb := snapshots(a, b)
	l.send(sa, sb, frame(13, 0))
	check("runt", &l.txs, stage.FrameMalformed, 1)

	noSess := *sa
	noSess.Route.Session = nil
	l.send(&noSess, sb, frame(100, 0))
	check("no session", &l.txs, stage.NoSession, 1)

	noEP := *sa
	noEP.Route.Endpoint = netip.MustParseAddrPort("0.0.0.0:0")
	l.send(&noEP, sb, frame(100, 0))
	check("no endpoint", &l.txs, stage.NoEndpoint, 1)

	tooBig := *sa
	tooBig.PieceSize = 1000
	l.send(&tooBig, sb, frame(1001, 0))
	check("too big", &l.txs, stage.FrameTooBig, 1)

	wrongNode := *sb
	wrongNode.Node = 3
	l.send(sa, &wrongNode, frame(100, 0))
	check("wrong node", &l.rxs, stage.WrongNode, 1)

	unknown := *sb
	unknown.Sessions = nil
	l.send(sa, &unknown, frame(100, 0))
	check("unknown session", &l.rxs, stage.NoSession, 1)

	// Wrong key: a session of another handshake, found under the id the
	// datagram carries.
	_, b2 := handshake(t, wire.SuiteAES256GCM)
	other := *sb
	other.Sessions = map[uint32]*wire.Session{b.LocalID: b2}
	l.send(sa, &other, frame(100, 0))
	check("wrong key", &l.rxs, stage.Auth, 1)

	// Replay: the same datagram twice.
	l.in.Pkts[0].SetData(frame(100, 0))
	l.mid.N, l.out.N = 0, 0
	l.tx.Process(sa, l.in.Pkts[:1], l.mid)
	dgram := append([]byte(nil), l.mid.Pkts[0].Data()...)
	l.rx.Process(sb, l.mid.Pkts[:1], l.out)
	l.mid.Pkts[0].SetData(dgram)
	l.out.N = 0
	l.rx.Process(sb, l.mid.Pkts[:1], l.out)
	check("replay", &l.rxs, stage.Replay, 1)

	// Garbage datagrams.
	flags := make([]byte, 40)
	flags[0], flags[1], flags[2] = 1, 1, 0x80
	for _, g := range [][]byte{{}, {1}, {2, 1}, flags, bytes.Repeat([]byte{0xff}, 40)} {
		l.mid.Pkts[0].SetData(g)
		l.out.N = 0
		l.rx.Process(sb, l.mid.Pkts[:1], l.out)
	}
	check("short", &l.rxs, stage.HeaderShort, 3)
	check("flags", &l.rxs, stage.HeaderFlags, 1)
	check("version", &l.rxs, stage.HeaderVersion, 1)

	// VXLAN: wrong VNI, wrong source, no I flag.
	vx := &Snapshot{Node: 2, VXLAN: true, VXLANVNI: 42, VXLANFrom: epA.Addr()}
	for i, g := range [][]byte{
		append([]byte{8, 0, 0, 0, 0, 0, 43, 0}, frame(60, 0)...),
		append([]byte{8, 0, 0, 0, 0, 0, 42, 0}, frame(60, 0)...),
		append([]byte{0x80, 0, 0, 0, 0, 0, 42, 0}, frame(60, 0)...),
	} {
		l.mid.Pkts[0].SetData(g)
		l.mid.Pkts[0].Addr = epA
		if i == 1 {
			l.mid.Pkts[0].Addr = epB
		}
		l.out.N = 0
		l.rx.Process(vx, l.mid.Pkts[:1], l.out)
	}
	check("vxlan vni", &l.rxs, stage.VXLANVNI, 1)
	check("vxlan header", &l.rxs, stage.VXLANHeader, 2)

	// Nothing else was dropped for other reasons.
	var total uint64
	for _, st := range []*Stats{&l.txs, &l.rxs} {
		c := st.Load()
		total += c.Dropped()
	}
	if total != 16 {
		t.Fatalf("%d drops in all, want 16", total)
	}
}

func TestVXLANRoundTrip(t *testing.T) {
	l := newLink(t)
	st := &Snapshot{Node: 1, Route: Route{Codec: CodecVXLAN, VNI: 42, Endpoint: epB}, LZ4: true}
	sr := &Snapshot{Node: 2, VXLAN: true, VXLANVNI: 42, VXLANFrom: epA.Addr()}
	f := frame(1400, 'v')
	got := l.send(st, sr, f)
	if c := l.rxs.Load(); c.Dropped() != 0 {
		t.Fatalf("drops %v", c.Drops)
	}
	if len(got) != 1 || !bytes.Equal(got[0], f) {
		t.Fatal("vxlan round trip failed")
	}
	if l.txs.LZ4.Load() != 0 {
		t.Fatal("vxlan frames must not be compressed")
	}
	if n := l.txs.OutBytes.Load(); n != 1408 {
		t.Fatalf("vxlan datagram of %d bytes, want 1408", n)
	}
}

func TestControlDelivery(t *testing.T) {
	a, b := handshake(t, wire.SuiteChaCha20Poly1305)
	_, sb := snapshots(a, b)
	l := newLink(t)
	// A handshake initiation goes to the control plane as it is.
	_, init, err := wire.Initiate(wire.HandshakeConfig{Suite: wire.SuiteAES128GCM, LocalNode: 1, RemoteNode: 2}, 5, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	l.mid.Pkts[0].SetData(init)
	// A control message is sealed like data and opened before delivery.
	p := l.mid.Pkts[1]
	p.SetData([]byte("keepalive"))
	p.Meta = buf.Meta{SrcNode: 1, DstNode: 2}
	ctr, _ := a.NextCounters(1)
	var sl stage.Sealer
	sl.Seal(p, a, wire.TypeControl, ctr)
	l.out.N = 0
	l.rx.Process(sb, l.mid.Pkts[:2], l.out)
	if len(l.ctl) != 2 || l.ctl[0] != wire.TypeHandshakeInit || l.ctl[1] != wire.TypeControl || l.out.N != 0 {
		t.Fatalf("control delivery: %v, %d frames out", l.ctl, l.out.N)
	}
	if c := l.rxs.Load(); c.Control != 2 || c.Dropped() != 0 {
		t.Fatalf("counters %+v", c)
	}
}

// Zero allocations per batch, for every stage on.
func TestPipelineAllocs(t *testing.T) {
	a, b := handshake(t, wire.SuiteAES256GCM)
	sa, sb := snapshots(a, b)
	vm, err := stage.ParseVLANMap(bytes.NewReader([]byte("10 30\n")))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*Snapshot{sa, sb} {
		s.LZ4, s.Fragment, s.PieceSize, s.VLAN, s.MSS = true, true, 1428, vm, stage.MSS{V4: 1360, V6: 1340}
	}
	l := newLink(t)
	frames := [][]byte{frame(60, 0), frame(1400, 'a'), frame(1514, 0), frame(9000, 'b')}
	for i := range frames[:2] {
		for j := 14; j < len(frames[i]); j++ {
			frames[i][j] = byte(j * 7919 >> 3) // incompressible
		}
	}
	n := testing.AllocsPerRun(200, func() {
		for i, f := range frames {
			l.in.Pkts[i].SetData(f)
		}
		l.mid.N, l.out.N = 0, 0
		l.tx.Process(sa, l.in.Pkts[:len(frames)], l.mid)
		l.rx.Process(sb, l.mid.Pkts[:l.mid.N], l.out)
		if l.out.N != len(frames) {
			t.Fatalf("%d frames out", l.out.N)
		}
	})
	if n != 0 {
		t.Fatalf("allocs per batch = %v", n)
	}

	// An offload super-frame: forced into pieces, reassembled into a large
	// buffer, its offload header restored.
	sf := superFrame(func(i int) byte { return byte(i * 7919 >> 3) })
	want := append([]byte(nil), sf.Data()...)
	g := sf.Meta.GSO
	spare := l.in.Pkts[0]
	l.in.Pkts[0] = sf
	n = testing.AllocsPerRun(50, func() {
		sf.SetData(want)
		sf.Meta.GSO = g
		l.mid.N, l.out.N = 0, 0
		l.tx.Process(sa, l.in.Pkts[:1], l.mid)
		l.rx.Process(sb, l.mid.Pkts[:l.mid.N], l.out)
		if l.out.N != 1 || l.out.Pkts[0].Len() != len(want) {
			t.Fatalf("super-frame: %d frames out", l.out.N)
		}
		// Put the large packet back where it came from, so the next
		// round reads into one again.
		sf, l.out.Pkts[0] = l.out.Pkts[0], sf
		l.in.Pkts[0] = sf
	})
	if n != 0 {
		t.Fatalf("allocs per super-frame = %v", n)
	}
	buf.Release(l.in.Pkts[0])
	l.in.Pkts[0] = spare
}

func stringsReader(s string) *bytes.Reader { return bytes.NewReader([]byte(s)) }

// superFrame is an IPv4/TCP-looking 60000-byte frame with an offload header.
func superFrame(fill func(i int) byte) *buf.Packet {
	p := buf.Large.Get()
	f := make([]byte, 60000)
	for i := range f {
		f[i] = fill(i)
	}
	copy(f, []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00})
	p.SetData(f)
	p.Meta.GSO = buf.GSO{Flags: buf.VirtioNeedsCsum, Type: buf.VirtioGSOTCPv4, HdrLen: 66, Size: 1448, CsumStart: 34, CsumOffset: 16}
	return p
}

// A TSO super-frame with its offload header crosses whole: in pieces (also
// under a policy that drops other oversized frames), reassembled into a
// large buffer, the offload header restored for the local device.
func TestSuperFrame(t *testing.T) {
	for _, lz4 := range []bool{false, true} {
		for _, frag := range []bool{false, true} {
			a, b := handshake(t, wire.SuiteAES256GCM)
			sa, sb := snapshots(a, b)
			sa.LZ4, sa.PieceSize, sa.Fragment = lz4, 1428, frag
			l := newLink(t)
			random := func(i int) byte { return byte(i*7919>>3) ^ byte(i>>11) }
			same := func(i int) byte { return 'x' }
			for _, fill := range []func(int) byte{random, same} {
				in := superFrame(fill)
				want := append([]byte(nil), in.Data()...)
				wantGSO := in.Meta.GSO
				// The link's input slots are default-size: put the large
				// packet in a slot, as the engine's large input batch would.
				spare := l.in.Pkts[0]
				l.in.Pkts[0] = in
				l.mid.N, l.out.N = 0, 0
				l.tx.Process(sa, l.in.Pkts[:1], l.mid)
				if l.mid.N < 2 && !lz4 {
					t.Fatalf("lz4=%v frag=%v: a super-frame went out in %d datagram(s)", lz4, frag, l.mid.N)
				}
				for _, p := range l.mid.Pkts[:l.mid.N] {
					p.Addr = epA
				}
				l.rx.Process(sb, l.mid.Pkts[:l.mid.N], l.out)
				if l.out.N != 1 {
					t.Fatalf("lz4=%v frag=%v: %d frames out, drops tx %v rx %v", lz4, frag, l.out.N, l.txs.Load().Drops, l.rxs.Load().Drops)
				}
				got := l.out.Pkts[0]
				if !bytes.Equal(got.Data(), want) || got.Meta.GSO != wantGSO {
					t.Fatalf("lz4=%v frag=%v: super-frame differs (%d bytes, gso %+v)", lz4, frag, got.Len(), got.Meta.GSO)
				}
				buf.Release(l.in.Pkts[0])
				l.in.Pkts[0] = spare
			}
		}
	}
}

func TestSuperFrameOverVXLAN(t *testing.T) {
	l := newLink(t)
	st := &Snapshot{Node: 1, Route: Route{Codec: CodecVXLAN, VNI: 42, Endpoint: epB}}
	p := superFrame(func(int) byte { return 1 })
	spare := l.in.Pkts[0]
	l.in.Pkts[0] = p
	l.mid.N = 0
	l.tx.Process(st, l.in.Pkts[:1], l.mid)
	if l.mid.N != 0 || l.txs.Drops[stage.GSOUnsupported].Load() != 1 {
		t.Fatal("a super-frame must not go out as a VXLAN datagram")
	}
	buf.Release(p)
	l.in.Pkts[0] = spare
}
