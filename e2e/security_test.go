// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/port/afpacket"
	"github.com/skiffnet/skiff/dataplane/wire"
)

// vlanFrame is a broadcast test frame with an 802.1Q tag.
func vlanFrame(vlan uint16, seq int) []byte {
	f := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0x0a, 0x81, 0x00, 0, 0, 0x88, 0xb5}
	binary.BigEndian.PutUint16(f[14:], 5<<13|vlan) // PCP 5
	return append(f, []byte(fmt.Sprintf("skiff vlan test %04d padding padding padding padding", seq))...)
}

// An 802.1Q frame on VLAN 10 at site A arrives on VLAN 30 at site B through
// A's vlan map ("10 30"), and frames on VLAN 30 at B arrive on 10 at A.
func TestVLANMap(t *testing.T) {
	tp := newTopo(t, "afpacket", 1)
	tp.start(nodeOpts{site: 0, vlanMap: "# site A's VLAN 10 is VLAN 30 on the wire (and at B)\n10 30\n"})
	tp.start(nodeOpts{site: 1})
	tp.waitPing(tp.ha, innerB, 10*time.Second)

	var ha, hb *afpacket.Port
	inNS(t, tp.ha, func() { ha = mustOpen(t, "lan0") })
	inNS(t, tp.hb, func() { hb = mustOpen(t, "lan0") })
	defer ha.Close()
	defer hb.Close()
	for _, dir := range []struct {
		name             string
		from, to         *afpacket.Port
		sendVLAN, wantVL uint16
	}{{"a to b", ha, hb, 10, 30}, {"b to a", hb, ha, 30, 10}} {
		const n = 20
		pkts := make([]*buf.Packet, n)
		buf.Default.GetN(pkts)
		for i := range pkts {
			pkts[i].SetData(vlanFrame(dir.sendVLAN, i))
		}
		if _, err := dir.from.WriteBatch(pkts); err != nil {
			t.Fatal(err)
		}
		got := 0
		deadline := time.Now().Add(5 * time.Second)
		for got < n && time.Now().Before(deadline) {
			k := readTimeout(dir.to, pkts, time.Second)
			for _, p := range pkts[:k] {
				d := p.Data()
				if len(d) < 18 || binary.BigEndian.Uint16(d[16:]) != 0x88b5 {
					continue // not ours (IPv6 neighbour discovery and such)
				}
				want := vlanFrame(dir.wantVL, got)
				if !bytes.Equal(d[:len(want)], want) {
					t.Fatalf("%s: frame %d\n got %x\nwant %x", dir.name, got, d, want)
				}
				got++
			}
		}
		buf.Default.PutN(pkts)
		if got != n {
			t.Fatalf("%s: %d of %d tagged frames arrived", dir.name, got, n)
		}
	}
}

func mustOpen(t *testing.T, nic string) *afpacket.Port {
	t.Helper()
	p, err := afpacket.Open(afpacket.Config{Name: nic})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// readTimeout reads one batch, giving up after d (by closing nothing: the
// read runs in a goroutine and its result is collected on the next call).
func readTimeout(p *afpacket.Port, pkts []*buf.Packet, d time.Duration) int {
	type res struct{ n int }
	c := make(chan res, 1)
	go func() {
		n, _ := p.ReadBatch(pkts)
		c <- res{n}
	}()
	select {
	case r := <-c:
		return r.n
	case <-time.After(d):
		r := <-c // the port has traffic (pings); this returns soon
		return r.n
	}
}

// captureDatagram reads UDP payloads that arrive on site b's underlay NIC
// and returns the first skiff data datagram.
func captureDatagram(t *testing.T, tp *topo) []byte {
	t.Helper()
	var capt *afpacket.Port
	inNS(t, tp.b, func() { capt = mustOpen(t, "ul0") })
	defer capt.Close()
	pkts := make([]*buf.Packet, 16)
	buf.Default.GetN(pkts)
	defer buf.Default.PutN(pkts)
	done := make(chan struct{})
	go func() { // traffic to capture
		for {
			select {
			case <-done:
				return
			default:
				tp.ha.Run("ping", "-c", "1", "-W", "1", innerB)
			}
		}
	}()
	defer close(done)
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		n := readTimeout(capt, pkts, time.Second)
		for _, p := range pkts[:n] {
			d := p.Data()
			// Ethernet + IPv4 (IHL 5) + UDP to port 4800 + a skiff data header.
			if len(d) < 42+wire.HeaderLen || binary.BigEndian.Uint16(d[12:]) != 0x0800 || d[23] != 17 ||
				binary.BigEndian.Uint16(d[36:]) != 4800 || d[42] != wire.Version || wire.Type(d[43]) != wire.TypeData {
				continue
			}
			return append([]byte(nil), d[42:]...)
		}
	}
	t.Fatal("captured no skiff datagram")
	return nil
}

// sendUDP sends datagrams to b's skiff from a socket in site a.
func sendUDP(t *testing.T, tp *topo, dgrams ...[]byte) {
	t.Helper()
	var c *net.UDPConn
	inNS(t, tp.a, func() {
		var err error
		c, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.ParseIP(underlay(0, 1)), Port: 4800})
		if err != nil {
			t.Fatal(err)
		}
	})
	defer c.Close()
	for _, d := range dgrams {
		if _, err := c.Write(d); err != nil {
			t.Fatal(err)
		}
	}
}

// A datagram captured on the underlay and sent again is dropped as a
// replay; datagrams sealed with a wrong key are dropped as failing
// authentication; both are counted, and the tunnel keeps working.
func TestReplayAndWrongKey(t *testing.T) {
	tp := newTopo(t, "afpacket", 1)
	tp.start(nodeOpts{site: 0})
	b := tp.start(nodeOpts{site: 1})
	tp.waitPing(tp.ha, innerB, 10*time.Second)
	d := captureDatagram(t, tp)
	before := b.status().Rx.Drops
	const replays = 5
	for i := 0; i < replays; i++ {
		sendUDP(t, tp, d)
	}
	// Wrong key: the captured header with a fresh counter, sealed with a
	// random AES-256-GCM key the way skiff seals (nonce = 4 zero bytes +
	// counter, additional data = header with TTL 0).
	var h wire.Header
	if err := h.Decode(d); err != nil {
		t.Fatal(err)
	}
	key := make([]byte, 32)
	rand.Read(key)
	blk, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(blk)
	const forged = 7
	var bad [][]byte
	for i := 0; i < forged; i++ {
		h.Counter += 1 << 40
		out := make([]byte, wire.HeaderLen, len(d))
		h.Put(out)
		var nonce [12]byte
		binary.BigEndian.PutUint64(nonce[4:], h.Counter)
		ad := append([]byte(nil), out...)
		ad[3] = 0
		out = aead.Seal(out, nonce[:], make([]byte, len(d)-wire.HeaderLen-wire.TagSize), ad)
		bad = append(bad, out)
	}
	sendUDP(t, tp, bad...)
	time.Sleep(300 * time.Millisecond)
	after := b.status().Rx.Drops
	if after["replay"]-before["replay"] < replays {
		t.Fatalf("replay drops %d -> %d, want +%d", before["replay"], after["replay"], replays)
	}
	if after["auth"]-before["auth"] < forged {
		t.Fatalf("auth drops %d -> %d, want +%d", before["auth"], after["auth"], forged)
	}
	tp.ping(tp.ha, innerB, 3)
}

// Random garbage at full rate to the underlay port for 10 s: the node
// stays up, the tunnel keeps carrying a transfer, and every drop is counted
// by its reason.
func TestGarbageFlood(t *testing.T) {
	tp := newTopo(t, "tap", 1)
	tp.start(nodeOpts{site: 0, mtuPolicy: "clamp"})
	b := tp.start(nodeOpts{site: 1, mtuPolicy: "clamp"})
	tp.waitPing(tp.a, innerB, 10*time.Second)

	var c *net.UDPConn
	inNS(t, tp.a, func() {
		var err error
		if c, err = net.DialUDP("udp4", nil, &net.UDPAddr{IP: net.ParseIP(underlay(0, 1)), Port: 4800}); err != nil {
			t.Fatal(err)
		}
	})
	defer c.Close()
	var sent atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		r := mrand.New(mrand.NewPCG(1, 2))
		b := make([]byte, 1500)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			n := r.IntN(len(b) + 1)
			for j := range b[:n] {
				b[j] = byte(r.Uint32())
			}
			if n >= wire.HeaderLen {
				switch i % 5 {
				case 1: // a skiff version byte, random rest
					b[0] = wire.Version
				case 2: // a plausible data header with a random session
					h := wire.Header{Type: wire.TypeData, Suite: wire.SuiteAES256GCM, Src: 1, Dst: 2, Session: r.Uint32(), Counter: r.Uint64() >> 8}
					h.Put(b)
				case 3: // a handshake initiation of the right length
					if n >= wire.InitLen {
						n = wire.InitLen
						h := wire.Header{Type: wire.TypeHandshakeInit, Suite: wire.SuiteAES256GCM, Src: 1, Dst: 2}
						h.Put(b)
					}
				case 4: // VXLAN-looking
					b[0] = 0x08
				}
			}
			c.Write(b[:n])
			sent.Add(1)
		}
	}()
	time.Sleep(time.Second)
	r := tp.transfer(tp.a, tp.b, innerB, "50M", nil)
	tp.ping(tp.a, innerB, 5)
	time.Sleep(9 * time.Second)
	close(stop)
	wg.Wait()
	t.Logf("%d garbage datagrams in 10 s; transfer during the flood: %v", sent.Load(), r)
	select {
	case <-b.proc.Done():
		t.Fatalf("node b died:\n%s", b.proc.Output())
	default:
	}
	st := b.status()
	t.Logf("rx drops: %v; control drops: %v", st.Rx.Drops, st.Control)
	for _, reason := range []string{"header-short", "header-version", "no-session"} {
		if st.Rx.Drops[reason] == 0 {
			t.Errorf("no %s drops counted", reason)
		}
	}
	if st.Control["handshake-refused"]+st.Control["handshake-rate-limited"]+st.Control["queue-full"] == 0 {
		t.Errorf("no junk handshake was counted: %v", st.Control)
	}
	tp.ping(tp.a, innerB, 3)
	tp.transfer(tp.a, tp.b, innerB, "20M", nil)
}
