// SPDX-License-Identifier: Apache-2.0

package msg

import (
	"bytes"
	"errors"
	"testing"
)

func TestKeepalive(t *testing.T) {
	k := Keepalive{Kind: KindPong, Path: 0x0102, Timestamp: 0x0a0b0c0d0e0f1011}
	b := k.Append(nil)
	if want := []byte{1, 2, 1, 2, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11}; !bytes.Equal(b, want) {
		t.Fatalf("encoded %x, want %x", b, want)
	}
	var g Keepalive
	if err := g.Decode(b); err != nil || g != k {
		t.Fatalf("decoded %+v %v", g, err)
	}
	if err := g.Decode(append(b, 9, 9)); err != nil || g != k {
		t.Fatal("trailing bytes of a later version must be ignored")
	}
	for _, tc := range []struct {
		in   []byte
		want error
	}{
		{nil, ErrShort},
		{[]byte{1}, ErrShort},
		{[]byte{2, 1}, ErrVersion},
		{[]byte{1, 3}, ErrKind},
		{[]byte{1, 0}, ErrKind},
		{b[:11], ErrShort},
	} {
		if err := g.Decode(tc.in); !errors.Is(err, tc.want) {
			t.Fatalf("Decode(%x) = %v, want %v", tc.in, err, tc.want)
		}
	}
}

// FuzzControl: no panic; error xor message; a decoded message encodes back to
// the same first 12 bytes.
func FuzzControl(f *testing.F) {
	f.Add((&Keepalive{Kind: KindPing, Path: 1, Timestamp: 5}).Append(nil))
	f.Add((&Keepalive{Kind: KindPong, Path: 9, Timestamp: 1 << 60}).Append(nil))
	f.Add([]byte{1, 2, 3})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		var k Keepalive
		if err := k.Decode(b); err != nil {
			return
		}
		if out := k.Append(nil); !bytes.Equal(out, b[:KeepaliveLen]) {
			t.Fatalf("re-encoded %x, input %x", out, b[:KeepaliveLen])
		}
	})
}
