// SPDX-License-Identifier: Apache-2.0

package stage

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// EthUDP's sample vlanmap.txt, verbatim.
const vlanEthUDPSample = "#my_vlan remote_vlan\n10 30\n40 100\n"

func vlanMustParse(tb testing.TB, text string) *VLANMap {
	tb.Helper()
	m, err := ParseVLANMap(strings.NewReader(text))
	if err != nil {
		tb.Fatalf("ParseVLANMap(%q): %v", text, err)
	}
	return m
}

// vlanHex decodes hex with blanks, e.g. "8100 b00a".
func vlanHex(s string) []byte {
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		panic(err)
	}
	return b
}

// Ethernet addresses shared by the fixtures.
const vlanMACs = "ffffffffffff 020000000001 "

// vlanFrame builds a frame whose 802.1Q tag (single-tagged, or the C-tag of
// an 802.1ad frame if qinq) has the given TCI, carrying a short IPv4-ish payload.
func vlanFrame(qinq bool, tci uint16) []byte {
	f := vlanHex(vlanMACs)
	if qinq {
		f = append(f, 0x88, 0xa8, 0x00, 0x07)
	}
	f = binary.BigEndian.AppendUint16(append(f, 0x81, 0x00), tci)
	return append(f, 0x08, 0x00, 0x45, 0x00, 0x00, 0x14, 0xde, 0xad)
}

func TestParseVLANMap(t *testing.T) {
	tests := []struct {
		name string
		text string
		want map[uint16]uint16 // local -> remote
	}{
		{"ethudp sample", vlanEthUDPSample, map[uint16]uint16{10: 30, 40: 100}},
		{"empty", "", nil},
		{"only comments", "# nothing\n\n   # here\n", nil},
		{"tabs and crlf", "1\t2\r\n\t3  4\r\n", map[uint16]uint16{1: 2, 3: 4}},
		{"trailing comment", "10 30 # office\n40 100#lab\n", map[uint16]uint16{10: 30, 40: 100}},
		{"no final newline", "7 8", map[uint16]uint16{7: 8}},
		{"identity mapping", "5 5\n", map[uint16]uint16{5: 5}},
		{"bounds", "1 4094\n4094 1\n", map[uint16]uint16{1: 4094, 4094: 1}},
		{"leading zeros", "010 0030\n", map[uint16]uint16{10: 30}},
		{"swap", "10 20\n20 10\n", map[uint16]uint16{10: 20, 20: 10}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := vlanMustParse(t, tt.text)
			if m.Len() != len(tt.want) {
				t.Errorf("Len = %d, want %d", m.Len(), len(tt.want))
			}
			for local, remote := range tt.want {
				if got := m.egress[local]; got != remote {
					t.Errorf("egress[%d] = %d, want %d", local, got, remote)
				}
				if got := m.ingress[remote]; got != local {
					t.Errorf("ingress[%d] = %d, want %d", remote, got, local)
				}
			}
		})
	}
}

func TestParseVLANMapErrors(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string // substrings of the error
	}{
		{"remote out of range", "1 2\n\n3 5000\n", []string{"vlanmap: line 3: remote id 5000 out of range 1..4094"}},
		{"local zero", "0 10\n", []string{"line 1: local id 0 out of range 1..4094"}},
		{"local 4095", "4095 10\n", []string{"line 1: local id 4095 out of range"}},
		{"huge", "1 99999999999999999999999\n", []string{"line 1: remote id 99999999999999999999999 out of range"}},
		{"negative", "-1 10\n", []string{`line 1: local id "-1" is not a decimal number`}},
		{"hex", "0x10 10\n", []string{`line 1: local id "0x10" is not a decimal number`}},
		{"one field", "# c\n10\n", []string{"line 2: want \"LOCAL REMOTE\" (two VLAN ids), got 1 fields"}},
		{"three fields", "10 20 30\n", []string{"line 1: want \"LOCAL REMOTE\" (two VLAN ids), got 3 fields"}},
		{"comma", "10,20\n", []string{`line 1: want "LOCAL REMOTE"`}},
		{"duplicate local", "10 30\n# x\n10 40\n", []string{"line 3: local id 10 already mapped on line 1"}},
		{"duplicate remote", "10 30\n11 31\n12 30\n", []string{"line 3: remote id 30 already mapped on line 1"}},
		{"several", "a b\n1 2\n1 3\n", []string{"line 1: local id \"a\"", "line 3: local id 1 already mapped on line 2"}},
		{"too long", "1 2\n" + strings.Repeat(" ", vlanMaxLineLen+1) + "\n", []string{"line 2: line longer than"}},
		{"too many", strings.Repeat("x\n", 50), []string{"line 10:", "too many errors"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseVLANMap(strings.NewReader(tt.text))
			if err == nil {
				t.Fatalf("no error, map with %d entries", m.Len())
			}
			if m != nil {
				t.Errorf("map %v returned with error", m)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadVLANMap(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "vlanmap.txt")
	bad := filepath.Join(dir, "bad.txt")
	if err := os.WriteFile(good, []byte(vlanEthUDPSample), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bad, []byte("10 30\n10 31\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := LoadVLANMap(good)
	if err != nil || m.Len() != 2 {
		t.Fatalf("LoadVLANMap(good) = %v, %v", m, err)
	}
	_, err = LoadVLANMap(bad)
	if want := "vlanmap: " + bad + ": line 2: local id 10 already mapped on line 1"; err == nil || err.Error() != want {
		t.Errorf("LoadVLANMap(bad) error = %v, want %q", err, want)
	}
	_, err = LoadVLANMap(filepath.Join(dir, "missing.txt"))
	if err == nil || !strings.Contains(err.Error(), "missing.txt") || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadVLANMap(missing) error = %v", err)
	}
}

func TestVLANMapRewrite(t *testing.T) {
	m := vlanMustParse(t, vlanEthUDPSample+"5 5\n")
	const (
		egress  = true
		ingress = false
	)
	tests := []struct {
		name   string
		egress bool
		in     string // hex
		want   string // hex; "" means unchanged
		reason Reason
	}{
		// Single 802.1Q tag: 0x000a is VLAN 10, PCP 0.
		{"q mapped", egress, vlanMACs + "8100 000a 0800 4500", vlanMACs + "8100 001e 0800 4500", Pass},
		{"q mapped back", ingress, vlanMACs + "8100 001e 0800 4500", vlanMACs + "8100 000a 0800 4500", Pass},
		{"q pcp dei kept", egress, vlanMACs + "8100 b00a 0800", vlanMACs + "8100 b01e 0800", Pass},
		{"q pcp 7 dei kept ingress", ingress, vlanMACs + "8100 f064 86dd", vlanMACs + "8100 f028 86dd", Pass},
		{"q unmapped identity", egress, vlanMACs + "8100 0063 0800", "", Pass},
		{"q unmapped identity ingress", ingress, vlanMACs + "8100 0063 0800", "", Pass},
		{"q identity mapping", egress, vlanMACs + "8100 0005 0800", "", Pass},
		{"q egress unmapped id that is a wire id", egress, vlanMACs + "8100 001e 0800", "", Pass},
		{"q egress unmapped wire id, pcp", egress, vlanMACs + "8100 e064 0800", "", Pass},
		{"q ingress unmapped id that is a local id", ingress, vlanMACs + "8100 000a 0800", "", Pass},
		{"q ingress unmapped local id 40", ingress, vlanMACs + "8100 0028 0800", "", Pass},
		{"q vid 0 priority tag", egress, vlanMACs + "8100 a000 0800", "", Pass},
		{"q vid 4095", ingress, vlanMACs + "8100 0fff 0800", "", Pass},
		{"q minimal 18 bytes", egress, vlanMACs + "8100 000a 0800", vlanMACs + "8100 001e 0800", Pass},
		// 802.1ad: the S-tag (0x0007 here) is never touched, the C-tag is.
		{"ad mapped", egress, vlanMACs + "88a8 000a 8100 0028 0800 4500", vlanMACs + "88a8 000a 8100 0064 0800 4500", Pass},
		{"ad mapped ingress", ingress, vlanMACs + "88a8 0064 8100 2064 0800", vlanMACs + "88a8 0064 8100 2028 0800", Pass},
		{"ad unmapped wire id", egress, vlanMACs + "88a8 000a 8100 0064 0800", "", Pass},
		{"ad without inner tag", egress, vlanMACs + "88a8 000a 0800 4500", "", Pass},
		{"ad s-tag only, 18 bytes", egress, vlanMACs + "88a8 000a 0800", "", Pass},
		{"ad triple tag, only the first c-tag", egress, vlanMACs + "88a8 0001 8100 000a 8100 000a 0800", vlanMACs + "88a8 0001 8100 001e 8100 000a 0800", Pass},
		{"q in q with 8100 twice, only the outer", egress, vlanMACs + "8100 000a 8100 000a 0800", vlanMACs + "8100 001e 8100 000a 0800", Pass},
		{"ad inside q is not looked at", egress, vlanMACs + "8100 0028 88a8 000a 8100 000a 0800", vlanMACs + "8100 0064 88a8 000a 8100 000a 0800", Pass},
		// Other EtherTypes, including the legacy QinQ TPID 0x9100, pass.
		{"untagged ipv4", egress, vlanMACs + "0800 4500 0014", "", Pass},
		{"untagged header only", ingress, vlanMACs + "86dd", "", Pass},
		{"tpid 9100", egress, vlanMACs + "9100 000a 0800", "", Pass},
		{"8100 in the payload", egress, vlanMACs + "0800 8100 000a", "", Pass},
		// Hostile: tags announced but cut short.
		{"empty", egress, "", "", FrameMalformed},
		{"13 bytes", egress, "ffffffffffff 020000000001 81", "", FrameMalformed},
		{"q tag announced, nothing after", egress, vlanMACs + "8100", "", FrameMalformed},
		{"q tci cut", egress, vlanMACs + "8100 00", "", FrameMalformed},
		{"q no inner ethertype", ingress, vlanMACs + "8100 001e", "", FrameMalformed},
		{"q inner ethertype cut", egress, vlanMACs + "8100 000a 08", "", FrameMalformed},
		{"ad announced, nothing after", egress, vlanMACs + "88a8", "", FrameMalformed},
		{"ad s-tag cut", egress, vlanMACs + "88a8 000a 81", "", FrameMalformed},
		{"ad c-tag announced, tci missing", egress, vlanMACs + "88a8 000a 8100", "", FrameMalformed},
		{"ad c-tag no inner ethertype", egress, vlanMACs + "88a8 000a 8100 000a", "", FrameMalformed},
		{"ad c-tag inner ethertype cut", ingress, vlanMACs + "88a8 000a 8100 001e 08", "", FrameMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := vlanHex(tt.in)
			want := in
			if tt.want != "" {
				want = vlanHex(tt.want)
			}
			got := bytes.Clone(in)
			var r Reason
			if tt.egress {
				r = m.Egress(got)
			} else {
				r = m.Ingress(got)
			}
			if r != tt.reason {
				t.Errorf("reason = %v, want %v", r, tt.reason)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("frame\n got  %x\n want %x", got, want)
			}
		})
	}
}

func TestVLANMapNilAndZero(t *testing.T) {
	var nilMap *VLANMap
	var zero VLANMap
	for _, f := range [][]byte{nil, vlanHex(vlanMACs + "8100"), vlanFrame(false, 10), vlanFrame(true, 10)} {
		orig := bytes.Clone(f)
		if r := nilMap.Egress(f); r != Pass || !bytes.Equal(f, orig) {
			t.Errorf("nil Egress(%x) = %v, %x", orig, r, f)
		}
		if r := nilMap.Ingress(f); r != Pass || !bytes.Equal(f, orig) {
			t.Errorf("nil Ingress(%x) = %v, %x", orig, r, f)
		}
	}
	if nilMap.Len() != 0 || zero.Len() != 0 {
		t.Errorf("Len of nil, zero = %d, %d", nilMap.Len(), zero.Len())
	}
	for id := uint16(0); id < vlanIDs; id++ {
		f := vlanFrame(true, id)
		if r := zero.Egress(f); r != Pass || !bytes.Equal(f, vlanFrame(true, id)) {
			t.Fatalf("zero map Egress of id %d = %v, %x", id, r, f)
		}
	}
}

// A site pair: site A calls VLAN 10 what site B calls VLAN 30, and both
// agree to carry it as 100 on the wire. A's VLAN 20 is B's VLAN 20.
func TestVLANMapRoundTrip(t *testing.T) {
	a := vlanMustParse(t, "10 100\n")
	b := vlanMustParse(t, "30 100\n")
	none := vlanMustParse(t, "")
	tests := []struct {
		name       string
		from, to   *VLANMap
		local, far uint16 // id at the sending and at the receiving site
	}{
		{"a to b", a, b, 10, 30},
		{"b to a", b, a, 30, 10},
		{"a to b, unmapped", a, b, 20, 20},
		{"a to unmapped site", a, none, 10, 100},
		{"unmapped site to a", none, a, 100, 10},
		{"b to b, same map both ends", b, b, 30, 30},
	}
	for _, tt := range tests {
		for _, qinq := range []bool{false, true} {
			const pcpDEI = 0xd000 // PCP 6, DEI 1
			f := vlanFrame(qinq, pcpDEI|tt.local)
			if r := tt.from.Egress(f); r != Pass {
				t.Fatalf("%s: Egress = %v", tt.name, r)
			}
			if r := tt.to.Ingress(f); r != Pass {
				t.Fatalf("%s: Ingress = %v", tt.name, r)
			}
			if want := vlanFrame(qinq, pcpDEI|tt.far); !bytes.Equal(f, want) {
				t.Errorf("%s (qinq %v): got %x, want %x", tt.name, qinq, f, want)
			}
		}
	}

}

// EthUDP's usual two-ended setup: A has "10 20", B has "20 10" (the columns
// swapped). A's VLAN 10 and B's VLAN 20 are one segment; the wire carries 20
// from A to B and 10 from B to A.
func TestVLANMapEthUDPBothEnds(t *testing.T) {
	a := vlanMustParse(t, "10 20\n")
	b := vlanMustParse(t, "20 10\n")
	for _, tt := range []struct {
		name                string
		from, to            *VLANMap
		local, wire, remote uint16
	}{
		{"a to b", a, b, 10, 20, 20},
		{"b to a", b, a, 20, 10, 10},
	} {
		f := vlanFrame(false, tt.local)
		if r := tt.from.Egress(f); r != Pass || !bytes.Equal(f, vlanFrame(false, tt.wire)) {
			t.Fatalf("%s: egress %v, %x", tt.name, r, f)
		}
		if r := tt.to.Ingress(f); r != Pass || !bytes.Equal(f, vlanFrame(false, tt.remote)) {
			t.Fatalf("%s: ingress %v, %x", tt.name, r, f)
		}
	}
}

// Egress then Ingress with the same map restores every mapped id, and every
// unmapped id that is not also some mapping's wire id.
func vlanCheckInverse(t *testing.T, m *VLANMap) {
	t.Helper()
	mapped := 0
	for id := uint16(0); id < vlanIDs; id++ {
		for _, qinq := range []bool{false, true} {
			orig := vlanFrame(qinq, 0x5000|id)
			f := bytes.Clone(orig)
			r := m.Egress(f)
			switch e := m.egress[id]; {
			case e == 0 && m.ingress[id] != 0:
				// Unmapped, but some mapping's wire id: passes
				// unchanged, and comes back as that mapping's local id.
				if r != Pass || !bytes.Equal(f, orig) {
					t.Fatalf("id %d: Egress = %v, %x; want pass, unchanged", id, r, f)
				}
				continue
			case r != Pass:
				t.Fatalf("id %d: Egress = %v", id, r)
			case e != 0 && !qinq:
				mapped++
			}
			if r := m.Ingress(f); r != Pass || !bytes.Equal(f, orig) {
				t.Fatalf("id %d: Ingress after Egress = %v, %x, want %x", id, r, f, orig)
			}
		}
	}
	if mapped != m.Len() {
		t.Fatalf("%d ids mapped, Len = %d", mapped, m.Len())
	}
}

func TestVLANMapInverse(t *testing.T) {
	for _, text := range []string{vlanEthUDPSample, "", "1 4094\n4094 1\n", "10 20\n20 10\n", "5 5\n6 7\n7 8\n"} {
		vlanCheckInverse(t, vlanMustParse(t, text))
	}
}

func TestVLANMapAllocs(t *testing.T) {
	m := vlanMustParse(t, vlanEthUDPSample)
	frames := [][]byte{vlanFrame(false, 10), vlanFrame(true, 40), vlanFrame(false, 30), vlanHex(vlanMACs + "0800"), vlanHex("00")}
	n := testing.AllocsPerRun(1000, func() {
		for _, f := range frames {
			m.Egress(f)
			m.Ingress(f)
		}
	})
	if n != 0 {
		t.Fatalf("allocs = %v, want 0", n)
	}
}

func BenchmarkVLANMap(b *testing.B) {
	m := vlanMustParse(b, vlanEthUDPSample)
	for _, bc := range []struct {
		name  string
		frame []byte
	}{
		{"untagged", vlanHex(vlanMACs + "0800 4500 0014")},
		{"dot1q", vlanFrame(false, 10)},
		{"qinq", vlanFrame(true, 40)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.frame)))
			for b.Loop() {
				m.Egress(bc.frame)
				m.Ingress(bc.frame)
			}
		})
	}
}

func FuzzVLANMapParse(f *testing.F) {
	for _, s := range []string{
		vlanEthUDPSample, "", "# c\n", "1 2\r\n3\t4 # x\n", "10 20\n20 10\n", "5 5\n",
		"1 2\n\n3 5000\n", "10 30\n10 40\n", "10 30\n11 30\n", "a b\n", "1 2 3\n", "-1 2\n",
		"4094 1\n1 4094\n", "0 0\n", "007 08\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		m, err := ParseVLANMap(strings.NewReader(text))
		if (m == nil) == (err == nil) {
			t.Fatalf("map %v, error %v: want exactly one", m, err)
		}
		if err != nil {
			if !strings.HasPrefix(err.Error(), "vlanmap: ") {
				t.Fatalf("error %q lacks the vlanmap: prefix", err)
			}
			return
		}
		vlanCheckInverse(t, m)
	})
}

func FuzzVLANMapRewrite(f *testing.F) {
	for _, s := range []string{
		vlanMACs + "8100 000a 0800 4500", vlanMACs + "8100 b01e 0800", vlanMACs + "88a8 000a 8100 0028 0800",
		vlanMACs + "88a8 000a 0800", vlanMACs + "88a8 0001 8100 000a 8100 000a 0800", vlanMACs + "0800 4500",
		vlanMACs + "8100", vlanMACs + "8100 001e", vlanMACs + "88a8 000a 8100", vlanMACs + "88a8 000a 8100 000a",
		"", "00", vlanMACs + "8100 0fff 0800", vlanMACs + "8100 0000 0800",
	} {
		f.Add(vlanHex(s), true)
		f.Add(vlanHex(s), false)
	}
	m := vlanMustParse(f, vlanEthUDPSample+"5 5\n4094 1\n")
	f.Fuzz(func(t *testing.T, frame []byte, egress bool) {
		orig := bytes.Clone(frame)
		var r Reason
		if egress {
			r = m.Egress(frame)
		} else {
			r = m.Ingress(frame)
		}
		if len(frame) != len(orig) {
			t.Fatalf("length changed: %d -> %d", len(orig), len(frame))
		}
		off, want := vlanTCIOffset(orig)
		if off < 0 || r != Pass {
			if r != want {
				t.Fatalf("reason = %v, want %v (tag at %d)", r, want, off)
			}
			if !bytes.Equal(frame, orig) {
				t.Fatalf("frame changed with reason %v: %x -> %x", r, orig, frame)
			}
			return
		}
		for i := range frame {
			changed := frame[i] ^ orig[i]
			switch {
			case i == off && changed&0xf0 == 0, i == off+1:
				// The VLAN id: 12 bits after PCP and DEI.
			case changed != 0:
				t.Fatalf("byte %d changed (tag id at %d): %x -> %x", i, off, orig, frame)
			}
		}
		// What went out comes back, for mapped ids.
		id := binary.BigEndian.Uint16(orig[off:]) & vlanIDMask
		if egress && m.egress[id] == 0 || !egress && m.ingress[id] == 0 {
			if !bytes.Equal(frame, orig) {
				t.Fatalf("unmapped id %d changed: %x -> %x", id, orig, frame)
			}
			return
		}
		if egress {
			r = m.Ingress(frame)
		} else {
			r = m.Egress(frame)
		}
		if r != Pass || !bytes.Equal(frame, orig) {
			t.Fatalf("reverse = %v, %x; want pass, %x", r, frame, orig)
		}
	})
}
