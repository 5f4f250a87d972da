// SPDX-License-Identifier: Apache-2.0

//go:build linux

package tap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/packet"
	"github.com/skiffnet/skiff/dataplane/port/porttest"
	"github.com/skiffnet/skiff/internal/nstest"
)

var (
	peerMAC = [6]byte{0x02, 0, 0, 0, 0, 0x02}
	tapIP   = netip.MustParseAddr("10.201.0.1")
	peerIP  = netip.MustParseAddr("10.201.0.2")
)

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

func openErr(ns *nstest.NS, c Config) error {
	return ns.Do(func() error {
		p, err := Open(c)
		if err == nil {
			p.Close()
		}
		return err
	})
}

// collect copies every frame p reads into the channel until p is closed.
func collect(t *testing.T, p *Port) <-chan []byte { return porttest.Collect(t, p, 16384) }

// waitFor returns the first frame from ch for which match is true.
func waitFor(t *testing.T, ch <-chan []byte, what string, match func([]byte) bool) []byte {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case f, ok := <-ch:
			if !ok {
				t.Fatalf("port closed while waiting for %s", what)
			}
			if match(f) {
				return f
			}
		case <-timeout:
			t.Fatalf("no %s within 5s", what)
		}
	}
}

func write(t *testing.T, p *Port, frames ...[]byte) {
	t.Helper()
	pkts := make([]*buf.Packet, len(frames))
	for i, f := range frames {
		pkts[i] = buf.New(buf.DefaultSize)
		pkts[i].SetData(f)
	}
	if n, err := p.WriteBatch(pkts); n != len(pkts) || err != nil {
		t.Fatalf("WriteBatch = %d, %v", n, err)
	}
}

func ethernet(dst, src [6]byte, etherType uint16, payload []byte) []byte {
	f := append(append(dst[:], src[:]...), byte(etherType>>8), byte(etherType))
	return append(f, payload...)
}

func arpFrame(op uint16, dstMAC, srcMAC [6]byte, sha [6]byte, spa netip.Addr, tha [6]byte, tpa netip.Addr) []byte {
	a := make(packet.ARP, packet.ARPLen)
	binary.BigEndian.PutUint16(a[packet.ARPHTypeOffset:], packet.ARPHTypeEthernet)
	binary.BigEndian.PutUint16(a[packet.ARPPTypeOffset:], packet.EtherTypeIPv4)
	a[packet.ARPHLenOffset], a[packet.ARPPLenOffset] = 6, 4
	a.SetOp(op)
	a.SetSender(sha, spa)
	a.SetTarget(tha, tpa)
	return ethernet(dstMAC, srcMAC, packet.EtherTypeARP, a)
}

// ipv4Frame builds an IPv4 packet in an Ethernet frame; for UDP it fills
// the checksum, for ICMP the caller's l4 must carry its own.
func ipv4Frame(dst, src [6]byte, sip, dip netip.Addr, proto uint8, l4 []byte) []byte {
	ip := make(packet.IPv4, 20+len(l4))
	ip[0] = 0x45
	ip.SetTotalLength(uint16(len(ip)))
	ip.SetTTL(64)
	ip[packet.IPv4ProtocolOffset] = proto
	ip.SetSrc(sip.As4())
	ip.SetDst(dip.As4())
	copy(ip[20:], l4)
	ip.UpdateHeaderChecksum()
	if proto == packet.ProtoUDP {
		u := packet.UDP(ip[20:])
		u.SetChecksum(0)
		c := ^packet.Checksum(u, packet.PseudoHeader4(packet.ProtoUDP, sip.As4(), dip.As4(), uint16(len(u))))
		if c == 0 {
			c = 0xFFFF
		}
		u.SetChecksum(c)
	}
	return ethernet(dst, src, packet.EtherTypeIPv4, ip)
}

func udp(sport, dport uint16, payload []byte) []byte {
	u := make(packet.UDP, 8, 8+len(payload))
	u.SetSrcPort(sport)
	u.SetDstPort(dport)
	u.SetLength(uint16(8 + len(payload)))
	return append(u, payload...)
}

func icmpEcho(id, seq uint16, data []byte) []byte {
	b := []byte{8, 0, 0, 0, byte(id >> 8), byte(id), byte(seq >> 8), byte(seq)}
	b = append(b, data...)
	binary.BigEndian.PutUint16(b[2:], ^packet.Checksum(b, 0))
	return b
}

// TestAddress is EthUDP's -i mode: a TAP with an address. What the
// namespace sends to the TAP's subnet comes out of ReadBatch (ARP first,
// then the datagram); what WriteBatch writes is delivered to sockets.
func TestAddress(t *testing.T) {
	nstest.NeedRoot(t)
	ns := nstest.New(t)
	p := openIn(t, ns, Config{Name: "skt0", MTU: 1400, Address: netip.MustParsePrefix("10.201.0.1/24")})
	ns.Quiet(t, "skt0")
	link := ns.Link(t, "skt0")
	if link.Type() != "tuntap" || link.Attrs().MTU != 1400 || link.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("link %s type %s mtu %d flags %v", link.Attrs().Name, link.Type(), link.Attrs().MTU, link.Attrs().Flags)
	}
	addrs, err := ns.NL.AddrList(link, netlink.FAMILY_V4)
	if err != nil || len(addrs) != 1 || addrs[0].IPNet.String() != "10.201.0.1/24" {
		t.Errorf("addresses %v, %v", addrs, err)
	}
	tapMAC := [6]byte(link.Attrs().HardwareAddr)
	frames := collect(t, p)

	// The namespace sends a datagram to a host behind the TAP.
	var out *net.UDPConn
	if err := ns.Do(func() (err error) {
		out, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: peerIP.AsSlice(), Port: 9999})
		return
	}); err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if _, err := out.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	req := waitFor(t, frames, "ARP request", func(f []byte) bool {
		return packet.Ethernet(f).Type() == packet.EtherTypeARP && packet.ARP(f[14:]).Op() == packet.ARPRequest
	})
	if a := packet.ARP(req[14:]); a.TargetIP() != peerIP || a.SenderIP() != tapIP || a.SenderMAC() != tapMAC {
		t.Fatalf("ARP request %x", req)
	}
	write(t, p, arpFrame(packet.ARPReply, tapMAC, peerMAC, peerMAC, peerIP, tapMAC, tapIP))
	dgram := waitFor(t, frames, "UDP datagram", func(f []byte) bool {
		return packet.Ethernet(f).Type() == packet.EtherTypeIPv4 && packet.IPv4(f[14:]).Protocol() == packet.ProtoUDP
	})
	ip := packet.IPv4(dgram[14:])
	if packet.Ethernet(dgram).Dst() != peerMAC || ip.DstAddr() != peerIP || packet.UDP(ip.Payload()).DstPort() != 9999 ||
		string(packet.UDP(ip.Payload()).Payload()) != "hello" {
		t.Errorf("datagram %x", dgram)
	}

	// The far side answers: a datagram written to the TAP reaches a socket.
	var in *net.UDPConn
	if err := ns.Do(func() (err error) {
		in, err = net.ListenUDP("udp4", &net.UDPAddr{IP: tapIP.AsSlice(), Port: 7000})
		return
	}); err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	write(t, p, ipv4Frame(tapMAC, peerMAC, peerIP, tapIP, packet.ProtoUDP, udp(9999, 7000, []byte("world"))))
	in.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 100)
	n, from, err := in.ReadFromUDP(b)
	if err != nil || string(b[:n]) != "world" || from.String() != "10.201.0.2:9999" {
		t.Fatalf("socket received %q from %v: %v", b[:n], from, err)
	}

	// Ping: an echo request written to the TAP is answered through it.
	write(t, p, ipv4Frame(tapMAC, peerMAC, peerIP, tapIP, packet.ProtoICMP, icmpEcho(0x1234, 1, []byte("ping"))))
	reply := waitFor(t, frames, "ICMP echo reply", func(f []byte) bool {
		return packet.Ethernet(f).Type() == packet.EtherTypeIPv4 && packet.IPv4(f[14:]).Protocol() == packet.ProtoICMP
	})
	if icmp := packet.IPv4(reply[14:]).Payload(); icmp[0] != 0 || !bytes.Equal(icmp[4:], []byte{0x12, 0x34, 0, 1, 'p', 'i', 'n', 'g'}) {
		t.Errorf("echo reply %x", icmp)
	}
	s := p.Stats()
	t.Logf("stats: %+v", s)
	if s.RxFrames < 3 || s.TxFrames != 3 || s.TxErrors != 0 {
		t.Errorf("stats %+v", s)
	}
}

// TestIPv6Address checks that an IPv6 prefix is added as given.
func TestIPv6Address(t *testing.T) {
	nstest.NeedRoot(t)
	ns := nstest.New(t)
	openIn(t, ns, Config{Name: "skt6", Address: netip.MustParsePrefix("fd00:201::1/64")})
	addrs, err := ns.NL.AddrList(ns.Link(t, "skt6"), netlink.FAMILY_V6)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if a.IPNet.String() == "fd00:201::1/64" {
			return
		}
	}
	t.Errorf("fd00:201::1/64 not among %v", addrs)
}

// TestBridge is EthUDP's -b mode: the TAP is enslaved to an existing
// bridge, and disappears on Close.
func TestBridge(t *testing.T) {
	nstest.NeedRoot(t)
	ns := nstest.New(t)
	if err := ns.NL.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}}); err != nil {
		t.Fatal(err)
	}
	br := ns.Link(t, "br0")
	p := openIn(t, ns, Config{Name: "skt0", Bridge: "br0"})
	link := ns.Link(t, "skt0")
	if link.Attrs().MasterIndex != br.Attrs().Index {
		t.Errorf("master index %d, want br0's %d", link.Attrs().MasterIndex, br.Attrs().Index)
	}
	if link.Attrs().Flags&net.FlagUp == 0 || link.Attrs().MTU != DefaultMTU {
		t.Errorf("flags %v mtu %d", link.Attrs().Flags, link.Attrs().MTU)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := ns.NL.LinkByName("skt0"); err == nil {
		t.Errorf("skt0 still exists after Close")
	}
}

func TestOpenErrors(t *testing.T) {
	nstest.NeedRoot(t)
	ns := nstest.New(t)
	openIn(t, ns, Config{Name: "skt0", Address: netip.MustParsePrefix("10.201.0.1/24")})
	if err := ns.NL.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "br0"}}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		c    Config
		is   error
		msg  string
	}{
		{"existing tap", Config{Name: "skt0"}, ErrExists, "tap: skt0: create: link already exists"},
		{"existing bridge", Config{Name: "br0"}, ErrExists, "tap: br0: create: link already exists"},
		{"missing bridge", Config{Name: "skt1", Bridge: "br9"}, ErrNotFound, "tap: skt1: enslave to bridge br9: link not found"},
		{"not a bridge", Config{Name: "skt1", Bridge: "lo"}, ErrNotBridge, "tap: skt1: enslave to bridge lo: not a bridge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := openErr(ns, tt.c)
			if !errors.Is(err, tt.is) || !strings.HasPrefix(fmt.Sprint(err), tt.msg) {
				t.Errorf("Open(%+v) = %v, want %q (errors.Is %v)", tt.c, err, tt.msg, tt.is)
			}
			if _, err := ns.NL.LinkByName("skt1"); err == nil {
				t.Errorf("skt1 left behind by a failed Open")
			}
		})
	}
	// The existing TAP was left alone.
	if l := ns.Link(t, "skt0"); l.Attrs().Flags&net.FlagUp == 0 {
		t.Errorf("skt0 is down after the failed Opens")
	}
}

func TestConfigErrors(t *testing.T) {
	addr := netip.MustParsePrefix("10.0.0.1/24")
	tests := []struct {
		c   Config
		msg string
	}{
		{Config{Name: "skt0", Address: addr, Bridge: "br0"}, "tap: skt0: address 10.0.0.1/24 and bridge br0 are exclusive"},
		{Config{Name: ""}, `tap: "": empty interface name`},
		{Config{Name: "skiff-0123456789"}, `tap: "skiff-0123456789": interface name longer than 15 bytes`},
		{Config{Name: "skiff%d"}, `tap: "skiff%d": invalid interface name`},
		{Config{Name: "a/b"}, `tap: "a/b": invalid interface name`},
		{Config{Name: "skt0", MTU: 67}, "tap: skt0: mtu 67 out of range"},
		{Config{Name: "skt0", MTU: MaxMTU + 1}, "tap: skt0: mtu 9199 out of range"},
		{Config{Name: "skt0", Bridge: "bad name"}, `tap: skt0: bridge "bad name": invalid interface name`},
		{Config{Name: "skt0", Batch: -1}, "tap: skt0: batch size -1 out of range"},
	}
	for _, tt := range tests {
		_, err := Open(tt.c)
		if err == nil || !strings.HasPrefix(err.Error(), tt.msg) {
			t.Errorf("Open(%+v) = %v, want %q", tt.c, err, tt.msg)
		}
	}
}

func TestCloseUnblocks(t *testing.T) {
	nstest.NeedRoot(t)
	ns := nstest.New(t)
	porttest.CheckClose(t, openIn(t, ns, Config{Name: "skt0"}), nil)
	if _, err := ns.NL.LinkByName("skt0"); err == nil {
		t.Errorf("skt0 still exists after Close")
	}
}

// TestRefused checks that a frame the kernel refuses is counted and
// skipped, and the rest of the batch is written.
func TestRefused(t *testing.T) {
	nstest.NeedRoot(t)
	ns := nstest.New(t)
	p := openIn(t, ns, Config{Name: "skt0", Address: netip.MustParsePrefix("10.201.0.1/24")})
	tapMAC := [6]byte(ns.Link(t, "skt0").Attrs().HardwareAddr)
	ok := arpFrame(packet.ARPRequest, tapMAC, peerMAC, peerMAC, peerIP, [6]byte{}, tapIP)
	pkts := []*buf.Packet{buf.New(buf.DefaultSize), buf.New(buf.DefaultSize), buf.New(buf.DefaultSize), buf.New(buf.DefaultSize)}
	pkts[0].SetData(ok)
	pkts[1].SetData(ok[:10]) // shorter than an Ethernet header: EINVAL
	// pkts[2] stays empty
	pkts[3].SetData(ok)
	if n, err := p.WriteBatch(pkts); n != len(pkts) || err != nil {
		t.Fatalf("WriteBatch = %d, %v", n, err)
	}
	if s := p.Stats(); s.TxFrames != 2 || s.TxErrors != 2 {
		t.Errorf("stats %+v, want 2 frames and 2 errors", s)
	}
}

// TestBurst has the namespace send a burst of datagrams out of the TAP
// and reports how many frames each ReadBatch returns.
func TestBurst(t *testing.T) {
	nstest.NeedRoot(t)
	ns := nstest.New(t)
	p := openIn(t, ns, Config{Name: "skt0", Address: netip.MustParsePrefix("10.201.0.1/24")})
	ns.Quiet(t, "skt0")
	link := ns.Link(t, "skt0")
	// A static neighbour, so no ARP is needed.
	if err := ns.NL.NeighAdd(&netlink.Neigh{LinkIndex: link.Attrs().Index, State: netlink.NUD_PERMANENT,
		IP: peerIP.AsSlice(), HardwareAddr: net.HardwareAddr(peerMAC[:])}); err != nil {
		t.Fatal(err)
	}
	var out *net.UDPConn
	if err := ns.Do(func() (err error) {
		out, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: peerIP.AsSlice(), Port: 9999})
		return
	}); err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	// 500 frames wait in the TAP's queue before the reader starts: its
	// first reads are full batches.
	const total, queued = 20000, 500
	msg := make([]byte, 1000)
	for range queued {
		if _, err := out.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan struct{})
	var reads, frames, first int
	var start, end time.Time
	go func() {
		defer close(done)
		b := buf.NewBatch(buf.NewPool(buf.DefaultSize, 128), p.BatchSize())
		for {
			n, err := p.ReadBatch(b.Pkts)
			if err != nil {
				return
			}
			if reads == 0 {
				start = time.Now()
				first = n
			}
			reads++
			frames += n
			end = time.Now()
		}
	}()
	for range total - queued {
		if _, err := out.Write(msg); err != nil {
			t.Fatal(err)
		}
	}
	// The TAP drops what its queue cannot hold: wait until nothing more
	// arrives.
	for last := uint64(0); ; {
		time.Sleep(50 * time.Millisecond)
		n := p.Stats().RxFrames
		if n == last {
			break
		}
		last = n
	}
	p.Close()
	<-done
	s := p.Stats()
	t.Logf("%d of %d frames in %d reads (%.1f per ReadBatch, %d in the first) in %v; stats %+v",
		frames, total, reads, float64(frames)/float64(max(1, reads)), first, end.Sub(start).Round(time.Millisecond), s)
	if first != p.BatchSize() {
		t.Errorf("first ReadBatch returned %d frames with %d queued, want a full batch of %d", first, queued, p.BatchSize())
	}
	if frames < total/2 {
		t.Errorf("read %d of %d frames", frames, total)
	}
}

// TestAllocs writes ARP requests for the TAP's address and reads the
// replies: neither WriteBatch nor ReadBatch may allocate.
func TestAllocs(t *testing.T) {
	nstest.NeedRoot(t)
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	for _, offload := range []bool{false, true} {
		t.Run(fmt.Sprintf("offload=%v", offload), func(t *testing.T) { testAllocs(t, offload) })
	}
}

// testAllocs: writing ARP requests for the device's address into the kernel
// and reading its replies back allocates nothing per batch, with and
// without the offload header.
func testAllocs(t *testing.T, offload bool) {
	ns := nstest.New(t)
	p := openIn(t, ns, Config{Name: "skt0", Address: netip.MustParsePrefix("10.201.0.1/24"), Batch: 16, Offload: offload})
	ns.Quiet(t, "skt0")
	pool := buf.NewPool(buf.DefaultSize, 64)
	out := buf.NewBatch(pool, 16)
	in := buf.NewBatch(pool, 16)
	for _, pkt := range out.Pkts {
		pkt.SetData(arpFrame(packet.ARPRequest, [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, peerMAC, peerMAC, peerIP, [6]byte{}, tapIP))
	}
	step := func() {
		if _, err := p.WriteBatch(out.Pkts); err != nil {
			t.Fatal(err)
		}
		for got := 0; got < len(out.Pkts); {
			n, err := p.ReadBatch(in.Pkts)
			if err != nil {
				t.Fatal(err)
			}
			got += n
		}
	}
	step()
	if n := testing.AllocsPerRun(100, step); n != 0 {
		t.Fatalf("allocs per WriteBatch+ReadBatch = %v", n)
	}
}

// TestOversize raises the TAP's MTU behind the port's back: a frame longer
// than the packet is counted and dropped, and the next one is read.
func TestOversize(t *testing.T) {
	nstest.NeedRoot(t)
	ns := nstest.New(t)
	p := openIn(t, ns, Config{Name: "skt0", Address: netip.MustParsePrefix("10.201.0.1/24")})
	ns.Quiet(t, "skt0")
	link := ns.Link(t, "skt0")
	if err := ns.NL.LinkSetMTU(link, 9500); err != nil {
		t.Fatal(err)
	}
	if err := ns.NL.NeighAdd(&netlink.Neigh{LinkIndex: link.Attrs().Index, State: netlink.NUD_PERMANENT,
		IP: peerIP.AsSlice(), HardwareAddr: net.HardwareAddr(peerMAC[:])}); err != nil {
		t.Fatal(err)
	}
	var out *net.UDPConn
	if err := ns.Do(func() (err error) {
		out, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: peerIP.AsSlice(), Port: 9999})
		return
	}); err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	frames := collect(t, p)
	for _, n := range []int{9400, 100} {
		if _, err := out.Write(make([]byte, n)); err != nil {
			t.Fatal(err)
		}
	}
	f := waitFor(t, frames, "UDP datagram", func(f []byte) bool {
		return packet.Ethernet(f).Type() == packet.EtherTypeIPv4 && packet.IPv4(f[14:]).Protocol() == packet.ProtoUDP
	})
	if len(f) != 14+20+8+100 {
		t.Errorf("first datagram read is %d bytes, want the small one", len(f))
	}
	if s := p.Stats(); s.RxOversize != 1 {
		t.Errorf("stats %+v, want 1 oversize frame", s)
	}
}
