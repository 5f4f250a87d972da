// SPDX-License-Identifier: Apache-2.0

package packet

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"testing"
)

// checksumRef is the RFC 1071 reference: big-endian 16-bit words summed into a
// wide accumulator, folded at the end.
func checksumRef(b []byte, initial uint32) uint16 {
	s := uint64(initial)
	for len(b) >= 2 {
		s += uint64(b[0])<<8 | uint64(b[1])
		b = b[2:]
	}
	if len(b) == 1 {
		s += uint64(b[0]) << 8
	}
	for s>>16 != 0 {
		s = s>>16 + s&0xFFFF
	}
	return uint16(s)
}

func TestChecksumKnown(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		initial uint32
		want    uint16
	}{
		{"empty", nil, 0, 0},
		{"empty initial", nil, 0x1234, 0x1234},
		{"initial folds", nil, 0x0001_FFFF, 0x0001},
		{"initial max", nil, 0xFFFF_FFFF, 0xFFFF},
		{"one byte", []byte{0xAB}, 0, 0xAB00},
		{"rfc1071 example", mustHex("0001 f203 f4f5 f6f7"), 0, 0xddf2},
		{"zeros", make([]byte, 100), 0, 0},
		{"wrap to 1", mustHex("ffff 0001"), 0, 0x0001},
		{"all ones", mustHex("ffff ffff ffff"), 0, 0xFFFF},
		// An IPv4 header with a correct checksum (0xb861) sums to 0xFFFF.
		{"ipv4 header", mustHex("4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7"), 0, 0xFFFF},
		{"ipv4 header zeroed", mustHex("4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7"), 0, ^uint16(0xb861)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Checksum(tt.in, tt.initial); got != tt.want {
				t.Errorf("Checksum = %#04x, want %#04x", got, tt.want)
			}
			if got := checksumRef(tt.in, tt.initial); got != tt.want {
				t.Errorf("checksumRef = %#04x, want %#04x", got, tt.want)
			}
		})
	}
}

// TestChecksumRef compares Checksum with checksumRef for every length from 0
// to 9001, on random bytes and on all-0xFF bytes (the carry-heavy case), at
// every start alignment 0..7, with and without an initial value.
func TestChecksumRef(t *testing.T) {
	const maxLen = 9001
	r := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, maxLen+8)
	for i := range random {
		random[i] = byte(r.Uint32())
	}
	ones := make([]byte, maxLen+8)
	for i := range ones {
		ones[i] = 0xFF
	}
	for _, in := range []struct {
		name string
		b    []byte
	}{{"random", random}, {"0xff", ones}} {
		for align := range 8 {
			for n := 0; n <= maxLen; n++ {
				b := in.b[align : align+n]
				initial := uint32(0)
				if n%3 == 1 {
					initial = r.Uint32()
				}
				got, want := Checksum(b, initial), checksumRef(b, initial)
				if got != want {
					t.Fatalf("%s align %d len %d initial %#x: Checksum = %#04x, ref = %#04x",
						in.name, align, n, initial, got, want)
				}
			}
		}
	}
}

// TestChecksumChain checks that summing in even-length pieces, feeding each
// result in as the next initial value, equals one sum over the whole.
func TestChecksumChain(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	b := make([]byte, 2001)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	whole := Checksum(b, 0)
	for cut := 0; cut <= len(b); cut += 2 {
		if got := Checksum(b[cut:], uint32(Checksum(b[:cut], 0))); got != whole {
			t.Fatalf("cut %d: %#04x, want %#04x", cut, got, whole)
		}
	}
}

func TestPseudoHeader(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 1000 {
		var src4, dst4 [4]byte
		var src6, dst6 [16]byte
		for i := range src6 {
			src6[i], dst6[i] = byte(r.Uint32()), byte(r.Uint32())
		}
		copy(src4[:], src6[:])
		copy(dst4[:], dst6[:])
		proto := uint8(r.Uint32())
		l16 := uint16(r.Uint32())
		l32 := r.Uint32()
		if r.IntN(4) == 0 {
			proto, l16, l32 = 0xFF, 0xFFFF, 0xFFFFFFFF
			for i := range src6 {
				src6[i], dst6[i] = 0xFF, 0xFF
			}
			src4, dst4 = [4]byte{0xFF, 0xFF, 0xFF, 0xFF}, [4]byte{0xFF, 0xFF, 0xFF, 0xFF}
		}

		// RFC 9293: src, dst, zero, proto, TCP length (16 bits).
		ph4 := make([]byte, 0, 12)
		ph4 = append(ph4, src4[:]...)
		ph4 = append(ph4, dst4[:]...)
		ph4 = append(ph4, 0, proto)
		ph4 = binary.BigEndian.AppendUint16(ph4, l16)
		if got, want := fold32(PseudoHeader4(proto, src4, dst4, l16)), checksumRef(ph4, 0); got != want {
			t.Fatalf("PseudoHeader4 = %#04x, want %#04x", got, want)
		}

		// RFC 8200: src, dst, length (32 bits), 3 zero bytes, next header.
		ph6 := make([]byte, 0, 40)
		ph6 = append(ph6, src6[:]...)
		ph6 = append(ph6, dst6[:]...)
		ph6 = binary.BigEndian.AppendUint32(ph6, l32)
		ph6 = append(ph6, 0, 0, 0, proto)
		if got, want := fold32(PseudoHeader6(proto, src6, dst6, l32)), checksumRef(ph6, 0); got != want {
			t.Fatalf("PseudoHeader6 = %#04x, want %#04x", got, want)
		}
	}
}

func fold32(s uint32) uint16 { return Checksum(nil, s) }

// sameChecksum reports whether two checksum field values are equal as
// one's-complement numbers (0x0000 and 0xFFFF are both zero).
func sameChecksum(a, b uint16) bool {
	if a == 0xFFFF {
		a = 0
	}
	if b == 0xFFFF {
		b = 0
	}
	return a == b
}

func TestUpdateChecksum16(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	b := make([]byte, 64)
	for range 20000 {
		n := 2 + r.IntN(len(b)-1)
		for i := range n {
			b[i] = byte(r.Uint32())
			if r.IntN(8) == 0 {
				b[i] = 0xFF
			}
		}
		field := ^Checksum(b[:n], 0)
		off := r.IntN(n - 1)
		old := binary.BigEndian.Uint16(b[off:])
		nw := uint16(r.Uint32())
		switch r.IntN(4) {
		case 0:
			nw = 0
		case 1:
			nw = 0xFFFF
		}
		binary.BigEndian.PutUint16(b[off:], nw)
		var got uint16
		if off%2 == 0 {
			got = UpdateChecksum16(field, old, nw)
		} else {
			got = UpdateChecksum16(field, bits.ReverseBytes16(old), bits.ReverseBytes16(nw))
		}
		if want := ^Checksum(b[:n], 0); !sameChecksum(got, want) {
			t.Fatalf("len %d off %d %#04x -> %#04x: got %#04x, want %#04x", n, off, old, nw, got, want)
		}
	}
	// RFC 1624 section 4 example: HC 0xDD2F, m 0x5555 -> 0x3285 gives 0x0000.
	if got := UpdateChecksum16(0xDD2F, 0x5555, 0x3285); got != 0x0000 {
		t.Errorf("RFC 1624 example: got %#04x, want 0x0000", got)
	}
}

func TestChecksumNoAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("race detector allocates")
	}
	b := make([]byte, 1500)
	var sink uint16
	if n := testing.AllocsPerRun(1000, func() {
		sink += Checksum(b, PseudoHeader6(ProtoTCP, [16]byte{}, [16]byte{}, 1500))
		sink += UpdateChecksum16(sink, 1, 2)
	}); n != 0 {
		t.Fatalf("allocs = %v", n)
	}
	_ = sink
}

var benchSizes = []int{64, 512, 1400, 9000}

func BenchmarkChecksum(b *testing.B) {
	benchChecksum(b, Checksum)
}

func BenchmarkChecksumNaive(b *testing.B) {
	benchChecksum(b, checksumRef)
}

func benchChecksum(b *testing.B, f func([]byte, uint32) uint16) {
	r := rand.New(rand.NewPCG(9, 10))
	buf := make([]byte, benchSizes[len(benchSizes)-1])
	for i := range buf {
		buf[i] = byte(r.Uint32())
	}
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.SetBytes(int64(n))
			b.ReportAllocs()
			var sink uint16
			for b.Loop() {
				sink += f(buf[:n], 0)
			}
			_ = sink
		})
	}
}
