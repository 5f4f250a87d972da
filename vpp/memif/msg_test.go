// SPDX-License-Identifier: Apache-2.0

package memif

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

var sample = []Msg{
	{Type: MsgAck},
	{Type: MsgHello, Name: "skiff-server", MinVersion: Version, MaxVersion: Version, MaxRegion: 255, MaxM2S: 255, MaxS2M: 255, MaxLog2Ring: 14},
	{Type: MsgInit, Version: Version, ID: 0xdeadbeef, Mode: ModeEthernet, Secret: "s3cret", Name: "skiff"},
	{Type: MsgAddRegion, Index: 3, Size: 1 << 33},
	{Type: MsgAddRing, Flags: RingS2M, Index: 1, Region: 0, Offset: 4224, Log2: 10},
	{Type: MsgConnect, Name: "memif0/0"},
	{Type: MsgConnected, Name: strings.Repeat("n", 32)},
	{Type: MsgDisconnect, Code: 7, Reason: "incorrect secret"},
}

func TestMsgRoundTrip(t *testing.T) {
	for _, m := range sample {
		var b [MsgSize]byte
		if err := m.Encode(&b); err != nil {
			t.Fatalf("%v: %v", m.Type, err)
		}
		got, err := Decode(b[:])
		if err != nil {
			t.Fatalf("%v: decode: %v", m.Type, err)
		}
		if got != m {
			t.Fatalf("%v: got %+v, want %+v", m.Type, got, m)
		}
	}
}

// TestMsgLayout pins the byte offsets of the wire format (memif.h).
func TestMsgLayout(t *testing.T) {
	le := binary.LittleEndian
	enc := func(m Msg) [MsgSize]byte {
		var b [MsgSize]byte
		if err := m.Encode(&b); err != nil {
			t.Fatal(err)
		}
		return b
	}
	b := enc(sample[1])
	if le.Uint16(b[0:]) != 2 || string(b[2:14]) != "skiff-server" || le.Uint16(b[34:]) != 0x200 || le.Uint16(b[36:]) != 0x200 ||
		le.Uint16(b[38:]) != 255 || le.Uint16(b[42:]) != 255 || b[44] != 14 {
		t.Errorf("hello: % x", b[:46])
	}
	b = enc(sample[2])
	if le.Uint16(b[0:]) != 3 || le.Uint16(b[2:]) != 0x200 || le.Uint32(b[4:]) != 0xdeadbeef || b[8] != 0 || string(b[9:15]) != "s3cret" || b[15] != 0 || string(b[33:38]) != "skiff" {
		t.Errorf("init: % x", b[:66])
	}
	b = enc(sample[3])
	if le.Uint16(b[0:]) != 4 || le.Uint16(b[2:]) != 3 || le.Uint64(b[4:]) != 1<<33 {
		t.Errorf("add-region: % x", b[:12])
	}
	b = enc(sample[4])
	if le.Uint16(b[0:]) != 5 || le.Uint16(b[2:]) != 1 || le.Uint16(b[4:]) != 1 || le.Uint16(b[6:]) != 0 || le.Uint32(b[8:]) != 4224 || b[12] != 10 || le.Uint16(b[13:]) != 0 {
		t.Errorf("add-ring: % x", b[:15])
	}
	b = enc(sample[7])
	if le.Uint16(b[0:]) != 8 || le.Uint32(b[2:]) != 7 || string(b[6:22]) != "incorrect secret" {
		t.Errorf("disconnect: % x", b[:22])
	}
}

func TestMsgErrors(t *testing.T) {
	raw := func(typ uint16, f func(b []byte)) []byte {
		b := make([]byte, MsgSize)
		binary.LittleEndian.PutUint16(b, typ)
		if f != nil {
			f(b)
		}
		return b
	}
	le := binary.LittleEndian
	for _, c := range []struct {
		name string
		b    []byte
		want string
	}{
		{"short", make([]byte, 100), "not 128 bytes"},
		{"long", make([]byte, 129), "not 128 bytes"},
		{"type 0", raw(0, nil), "unknown control message type"},
		{"type 9", raw(9, nil), "unknown control message type: 9"},
		{"hello versions", raw(2, func(b []byte) { le.PutUint16(b[34:], 0x300); le.PutUint16(b[36:], 0x200) }), "min version 0x300 above max version 0x200"},
		{"region size 0", raw(4, func(b []byte) { le.PutUint16(b[2:], 2) }), "add-region 2: size 0"},
		{"ring flags", raw(5, func(b []byte) { le.PutUint16(b[2:], 2); b[12] = 10 }), "unknown flags 0x2"},
		{"ring log2 0", raw(5, func(b []byte) { b[12] = 0 }), "log2 size 0 out of range 1..14"},
		{"ring log2 15", raw(5, func(b []byte) { b[12] = 15 }), "log2 size 15 out of range"},
		{"ring offset", raw(5, func(b []byte) { b[12] = 10; le.PutUint32(b[8:], 100) }), "offset 100 not a multiple of 64"},
		{"ring private header", raw(5, func(b []byte) { b[12] = 10; le.PutUint16(b[13:], 8) }), "private headers not supported"},
	} {
		_, err := Decode(c.b)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.name, err, c.want)
		}
	}
	if _, err := Decode(make([]byte, 3)); !errors.Is(err, ErrMsgSize) {
		t.Errorf("size error does not wrap ErrMsgSize: %v", err)
	}

	var b [MsgSize]byte
	for _, c := range []struct {
		m    Msg
		want string
	}{
		{Msg{Type: MsgHello, Name: strings.Repeat("x", 33)}, "hello name"},
		{Msg{Type: MsgInit, Secret: strings.Repeat("x", 24)}, "init secret"},
		{Msg{Type: MsgInit, Name: "a\x00b"}, "has a NUL byte"},
		{Msg{Type: MsgConnect, Name: strings.Repeat("x", 40)}, "connect name"},
		{Msg{Type: 42}, "unknown control message type: 42"},
	} {
		if err := c.m.Encode(&b); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("encode %+v: %v, want an error with %q", c.m, err, c.want)
		}
	}
	// A long disconnect reason is cut, not refused.
	m := Msg{Type: MsgDisconnect, Reason: strings.Repeat("r", 200)}
	if err := m.Encode(&b); err != nil {
		t.Fatal(err)
	}
	if got, _ := Decode(b[:]); len(got.Reason) != reasonLen {
		t.Errorf("reason of %d bytes after a cut, want %d", len(got.Reason), reasonLen)
	}
}

// FuzzControlMsg: Decode never panics; what it accepts encodes back to a
// message that decodes to the same value.
func FuzzControlMsg(f *testing.F) {
	for _, m := range sample {
		var b [MsgSize]byte
		if err := m.Encode(&b); err != nil {
			f.Fatal(err)
		}
		f.Add(b[:])
	}
	f.Add(make([]byte, MsgSize))
	f.Add([]byte{5, 0})
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := Decode(in)
		if err != nil {
			return
		}
		var b [MsgSize]byte
		if err := m.Encode(&b); err != nil {
			// Strings decode up to 32 bytes but a secret encodes up to 23:
			// that is the only way a decoded message may not encode.
			if m.Type == MsgInit && len(m.Secret) >= secretLen {
				return
			}
			t.Fatalf("decoded %+v does not encode: %v", m, err)
		}
		again, err := Decode(b[:])
		if err != nil || again != m {
			t.Fatalf("round trip: %+v -> %+v, %v", m, again, err)
		}
	})
}
