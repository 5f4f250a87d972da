// SPDX-License-Identifier: Apache-2.0

package traffic

import (
	"bytes"
	"testing"
)

// FuzzTrafficHeader: the sink and the echo server parse whatever arrives on
// their port. No panic; a parsed header encodes back to the same 16 bytes.
func FuzzTrafficHeader(f *testing.F) {
	for _, h := range []header{{MagicData, 7, 1}, {MagicEnd, 7, 100}, {MagicProbe, 1, 1 << 40}} {
		b := make([]byte, HeaderLen)
		putHeader(b, h)
		f.Add(b)
	}
	f.Add([]byte("SKGD"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, ok := parseHeader(b)
		if !ok {
			return
		}
		out := make([]byte, HeaderLen)
		putHeader(out, h)
		if !bytes.Equal(out, b[:HeaderLen]) {
			t.Fatalf("re-encoded %x, input %x", out, b[:HeaderLen])
		}
	})
}
