// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"bytes"
	"encoding/binary"
	"path/filepath"
	"testing"
	"time"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/port/afpacket"
	"github.com/skiffnet/skiff/internal/testpmd"
)

// A VPP router stand-in behind site A: skiff up with a memif local port
// (server), dpdk-testpmd connected to it as the client, echoing every
// frame with its MACs swapped. Frames sent from host hb cross site B,
// the tunnel, site A and the memif, and come back the same way; then
// testpmd goes away and a new one connects, and frames flow again.
func TestMemifNode(t *testing.T) {
	testpmd.Need(t)
	tp := newTopo(t, "afpacket", 1)
	a := tp.start(nodeOpts{site: 0, kind: "memif"})
	tp.start(nodeOpts{site: 1})
	sock := filepath.Join(tp.dir, "site-a-memif.sock")

	var hb *afpacket.Port
	inNS(t, tp.hb, func() { hb = mustOpen(t, "lan0") })
	defer hb.Close()

	for round := range 2 {
		pmd := testpmd.Start(t, testpmd.Options{Role: "client", Socket: sock, Forward: "macswap"})
		if err := pmd.WaitLinkUp(10 * time.Second); err != nil {
			t.Fatal(err)
		}
		memifEcho(t, hb, 2000, round)
		st, err := pmd.StopForwarding()
		if err != nil {
			t.Fatal(err)
		}
		if st.Fwd.RxPackets < 2000 || st.Fwd.TxDropped != 0 {
			t.Fatalf("round %d: testpmd %+v", round, st.Fwd)
		}
		local, _ := a.status().Local.Stats.(map[string]any)
		if a.status().Local.Type != "memif" || local["connected"] != true || local["connects"] != float64(round+1) {
			t.Fatalf("round %d: site A's local port %+v", round, a.status().Local)
		}
		pmd.Stop()
		// Site A notices the client is gone.
		deadline := time.Now().Add(5 * time.Second)
		for {
			local, _ = a.status().Local.Stats.(map[string]any)
			if local["connected"] == false {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: site A still connected after testpmd left: %+v", round, local)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// memifEcho sends n frames of 60..1514 bytes from hb and checks every echo
// (MACs swapped, the rest unchanged), 32 in flight at most.
func memifEcho(t *testing.T, hb *afpacket.Port, n, round int) {
	t.Helper()
	src := []byte{0x02, 0x5b, 0, 0, 0, byte(round)}
	dst := []byte{0x02, 0x5a, 0, 0, 0, 0x01}
	frame := func(i int) []byte {
		b := make([]byte, 60+(i*7919)%1455)
		copy(b, dst)
		copy(b[6:], src)
		binary.BigEndian.PutUint16(b[12:], 0x88b5)
		binary.BigEndian.PutUint32(b[14:], uint32(i))
		for j := 18; j < len(b); j++ {
			b[j] = byte(i + j)
		}
		return b
	}
	out := make([]*buf.Packet, 32)
	in := make([]*buf.Packet, 64)
	buf.Default.GetN(out)
	buf.Default.GetN(in)
	defer buf.Default.PutN(out)
	defer buf.Default.PutN(in)
	got, sent := 0, 0
	deadline := time.Now().Add(30 * time.Second)
	for got < n {
		if time.Now().After(deadline) {
			t.Fatalf("round %d: %d of %d echoes (sent %d)", round, got, n, sent)
		}
		if sent == got {
			k := min(len(out), n-sent)
			for j := range k {
				out[j].SetData(frame(sent + j))
			}
			if _, err := hb.WriteBatch(out[:k]); err != nil {
				t.Fatal(err)
			}
			sent += k
		}
		k := readTimeout(hb, in, time.Second)
		if k == 0 && sent > got {
			// Lost on the way (a veth or queue drop): count it as a
			// failure only if it repeats; resend from the first missing.
			t.Logf("round %d: echoes stalled at %d of %d sent; resending", round, got, sent)
			sent = got
			continue
		}
		for _, p := range in[:k] {
			d := p.Data()
			if len(d) < 18 || binary.BigEndian.Uint16(d[12:]) != 0x88b5 || !bytes.Equal(d[:6], src) {
				continue // not an echo (IPv6 neighbour discovery and such)
			}
			seq := int(binary.BigEndian.Uint32(d[14:]))
			if seq < got {
				continue // a late duplicate of a resent frame
			}
			want := frame(seq)
			copy(want[0:], src)
			copy(want[6:], dst)
			if seq != got || !bytes.Equal(d, want) {
				t.Fatalf("round %d: echo %d (sequence %d, %d bytes, want %d) differs", round, got, seq, len(d), len(want))
			}
			got++
		}
	}
}
