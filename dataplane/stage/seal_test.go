// SPDX-License-Identifier: Apache-2.0

package stage

import (
	"bytes"
	"testing"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/wire"
	"github.com/skiffnet/skiff/dataplane/wire/wiretest"
)

// sessionPair runs a handshake between nodes 1 (a) and 2 (b).
func sessionPair(tb testing.TB, suite wire.Suite) (a, b *wire.Session) {
	tb.Helper()
	return wiretest.Pair(tb, suite)
}

func TestSealOpen(t *testing.T) {
	frame := bytes.Repeat([]byte("0123456789"), 140)
	for _, suite := range wire.Suites {
		a, b := sessionPair(t, suite)
		var sl Sealer
		var op Opener
		p := buf.New(buf.DefaultSize)
		p.SetData(frame)
		p.Meta = buf.Meta{SrcNode: 1, DstNode: 2, TTL: 8, Flags: wire.FlagLZ4}
		ctr, _ := a.NextCounters(1)
		sl.Seal(p, a, wire.TypeData, ctr)
		if p.Len() != wire.HeaderLen+len(frame)+suite.Overhead() {
			t.Fatalf("%v: sealed length %d", suite, p.Len())
		}
		dgram := append([]byte(nil), p.Data()...)
		var h wire.Header
		if r := DecodeHeader(p, &h); r != Pass {
			t.Fatalf("%v: decode %v", suite, r)
		}
		if h.Session != b.LocalID || h.Src != 1 || h.Dst != 2 || h.TTL != 8 || h.Flags != wire.FlagLZ4 {
			t.Fatalf("%v: header %+v", suite, h)
		}
		if r := op.Open(p, &h, b); r != Pass {
			t.Fatalf("%v: open %v", suite, r)
		}
		if !bytes.Equal(p.Data(), frame) || p.Meta.Flags != wire.FlagLZ4 || p.Meta.SrcNode != 1 || p.Meta.Counter != ctr {
			t.Fatalf("%v: opened frame or meta differs: %+v", suite, p.Meta)
		}
		// The same datagram again is a replay (suite none has no replay
		// window: nothing it receives is authenticated).
		p.SetData(dgram)
		DecodeHeader(p, &h)
		want := Replay
		if suite == wire.SuiteNone {
			want = Pass
		}
		if r := op.Open(p, &h, b); r != want {
			t.Fatalf("%v: replay %v, want %v", suite, r, want)
		}
		if suite == wire.SuiteNone {
			continue
		}
		// Tampered payload.
		ctr, _ = a.NextCounters(1)
		p.SetData(frame)
		sl.Seal(p, a, wire.TypeData, ctr)
		p.Data()[wire.HeaderLen+3] ^= 0x80
		DecodeHeader(p, &h)
		if r := op.Open(p, &h, b); r != Auth {
			t.Fatalf("%v: tampered %v", suite, r)
		}
		// Session of another suite.
		_, other := sessionPair(t, wire.SuiteChaCha20Poly1305)
		if suite != wire.SuiteChaCha20Poly1305 {
			p.SetData(dgram)
			DecodeHeader(p, &h)
			if r := op.Open(p, &h, other); r != HeaderSuite {
				t.Fatalf("%v: suite mismatch %v", suite, r)
			}
		}
	}
}

func TestVXLANEncapDecap(t *testing.T) {
	p := buf.New(buf.DefaultSize)
	p.SetData([]byte("frame"))
	EncapVXLAN(p, 42)
	if p.Len() != 13 {
		t.Fatal(p.Len())
	}
	q := buf.New(buf.DefaultSize)
	q.SetData(p.Data())
	if r := DecapVXLAN(q, 43); r != VXLANVNI {
		t.Fatalf("wrong vni: %v", r)
	}
	if r := DecapVXLAN(p, 42); r != Pass || string(p.Data()) != "frame" {
		t.Fatalf("decap %v %q", r, p.Data())
	}
	p.SetData([]byte{0, 0, 0, 0, 0, 0, 42, 0, 'x'})
	if r := DecapVXLAN(p, 42); r != VXLANHeader {
		t.Fatalf("no I flag: %v", r)
	}
}

func TestSealOpenAllocs(t *testing.T) {
	a, b := sessionPair(t, wire.SuiteAES256GCM)
	var sl Sealer
	var op Opener
	var h wire.Header
	p := buf.New(buf.DefaultSize)
	frame := make([]byte, 1400)
	n := testing.AllocsPerRun(1000, func() {
		p.SetData(frame)
		p.Meta = buf.Meta{SrcNode: 1, DstNode: 2}
		ctr, _ := a.NextCounters(1)
		sl.Seal(p, a, wire.TypeData, ctr)
		DecodeHeader(p, &h)
		if op.Open(p, &h, b) != Pass {
			t.Fatal("open")
		}
	})
	if n != 0 {
		t.Fatalf("allocs = %v", n)
	}
}
