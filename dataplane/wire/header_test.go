// SPDX-License-Identifier: Apache-2.0

package wire

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHeaderRoundTrip(t *testing.T) {
	h := Header{Type: TypeData, Flags: FlagLZ4, TTL: 7, Suite: SuiteAES256GCM, FragIndex: 2,
		Src: 0x0102, Dst: 0x0304, FragOffset: 2800, FragTotal: 9000, Session: 0xdeadbeef, Counter: 0x0102030405060708}
	var b [HeaderLen]byte
	h.Put(b[:])
	want := mustHex(t, "01 01 01 07 03 02 0000 0102 0304 0af0 2328 deadbeef 0102030405060708")
	if string(b[:]) != string(want) {
		t.Fatalf("encoded\n%x\nwant\n%x", b, want)
	}
	var got Header
	if err := got.Decode(b[:]); err != nil {
		t.Fatal(err)
	}
	if got != h {
		t.Fatalf("decoded %+v, want %+v", got, h)
	}
}

func TestHeaderDecodeHostile(t *testing.T) {
	good := "01 01 00 40 03 00 0000 0001 0002 0000 0000 00000001 0000000000000005"
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"ok", good, nil},
		{"empty", "", ErrShort},
		{"one short", good[:len(good)-2], ErrShort},
		{"version 0", "00" + good[2:], ErrVersion},
		{"version 2", "02" + good[2:], ErrVersion},
		{"type 0", "01 00" + good[5:], ErrType},
		{"type 5", "01 05" + good[5:], ErrType},
		{"unknown flag", "01 01 04" + good[8:], ErrFlags},
		{"gso flag", "01 01 02" + good[8:], nil},
		{"suite 5", "01 01 00 40 05" + good[14:], ErrSuite},
		{"suite ff", "01 01 00 40 ff" + good[14:], ErrSuite},
		{"reserved", "01 01 00 40 03 00 0100 0001 0002 0000 0000 00000001 0000000000000005", ErrReserved},
		{"offset without total", "01 01 00 40 03 00 0000 0001 0002 0010 0000 00000001 0000000000000005", ErrFrag},
		{"index without total", "01 01 00 40 03 01 0000 0001 0002 0000 0000 00000001 0000000000000005", ErrFrag},
		{"offset past total", "01 01 00 40 03 01 0000 0001 0002 0010 0010 00000001 0000000000000005", ErrFrag},
		{"index past counter", "01 01 00 40 03 06 0000 0001 0002 0010 0100 00000001 0000000000000005", ErrFrag},
		{"fragmented control", "01 02 00 40 03 01 0000 0001 0002 0010 0100 00000001 0000000000000005", ErrFrag},
		{"fragment ok", "01 01 00 40 03 01 0000 0001 0002 0010 0100 00000001 0000000000000005", nil},
		{"long is fine", good + "ffff", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Header
			err := h.Decode(mustHex(t, tt.in))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Decode = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestHeaderAllocs(t *testing.T) {
	var b [HeaderLen]byte
	h := Header{Type: TypeData, Suite: SuiteAES128GCM, Counter: 9}
	n := testing.AllocsPerRun(1000, func() {
		h.Put(b[:])
		var g Header
		if g.Decode(b[:]) != nil {
			t.Fatal("decode")
		}
		if _, err := DecodeVXLAN(b[:]); err != nil && err != ErrVXLANFlags {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Fatalf("allocs = %v", n)
	}
}

// FuzzHeaderDecode: no panic; error xor header; a decoded header encodes back
// to the same bytes.
func FuzzHeaderDecode(f *testing.F) {
	f.Add(mustHex(f, "01 01 00 40 03 00 0000 0001 0002 0000 0000 00000001 0000000000000005"))
	f.Add(mustHex(f, "01 01 01 07 03 02 0000 0102 0304 0af0 2328 deadbeef 0102030405060708"))
	f.Add(mustHex(f, "01 03 00 40 03 00 0000 0001 0002 0000 0000 00000000 0000000000000000"))
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Header
		if err := h.Decode(b); err != nil {
			return
		}
		var out [HeaderLen]byte
		h.Put(out[:])
		if string(out[:]) != string(b[:HeaderLen]) {
			t.Fatalf("re-encoded %x, input %x", out, b[:HeaderLen])
		}
		if h.FragTotal != 0 && h.FragOffset >= h.FragTotal {
			t.Fatal("accepted offset beyond total")
		}
	})
}

func TestVXLAN(t *testing.T) {
	var b [VXLANHeaderLen]byte
	PutVXLAN(b[:], 0xabcdef)
	if want := mustHex(t, "08000000 abcdef00"); string(b[:]) != string(want) {
		t.Fatalf("got %x want %x", b, want)
	}
	vni, err := DecodeVXLAN(b[:])
	if err != nil || vni != 0xabcdef {
		t.Fatalf("vni %x err %v", vni, err)
	}
	if _, err := DecodeVXLAN(b[:7]); err != ErrVXLANShort {
		t.Fatalf("short: %v", err)
	}
	if _, err := DecodeVXLAN(mustHex(t, "00000000 abcdef00")); err != ErrVXLANFlags {
		t.Fatalf("no I flag: %v", err)
	}
	// Reserved bits are ignored on receipt (RFC 7348 §5).
	if vni, err := DecodeVXLAN(mustHex(t, "ff0000ff 000001ff")); err != nil || vni != 1 {
		t.Fatalf("reserved bits: %v %v", vni, err)
	}
}

// FuzzVXLANDecode: no panic; the VNI fits 24 bits; a valid header re-encodes
// to the same VNI.
func FuzzVXLANDecode(f *testing.F) {
	f.Add([]byte{8, 0, 0, 0, 0, 0, 42, 0})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 42, 0})
	f.Add([]byte{8, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		vni, err := DecodeVXLAN(b)
		if err != nil {
			return
		}
		if vni > MaxVNI {
			t.Fatalf("vni %d", vni)
		}
		var out [VXLANHeaderLen]byte
		PutVXLAN(out[:], vni)
		if v, err := DecodeVXLAN(out[:]); err != nil || v != vni {
			t.Fatalf("round trip %d -> %d %v", vni, v, err)
		}
	})
}
