// SPDX-License-Identifier: Apache-2.0

package stage

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// VLANMap translates 802.1Q VLAN ids between this site's numbering (local)
// and the numbering carried on the wire (remote), as EthUDP's -map file does.
//
// The map file has one mapping per line, "LOCAL REMOTE": two decimal VLAN ids
// in 1..4094 separated by blanks or tabs. A '#' starts a comment that runs to
// the end of the line; blank lines are ignored. Each local id and each remote
// id may appear at most once. EthUDP's vlanmap.txt is in this format:
//
//	#my_vlan remote_vlan
//	10 30
//	40 100
//
// Which tag is rewritten: the 802.1Q VLAN id wherever it sits, that is the
// tag of a frame whose TPID at offset 12 is 0x8100, or the inner C-tag of an
// 802.1ad frame (S-tag TPID 0x88A8 at offset 12, C-tag TPID 0x8100 at 16).
// The S-tag, any further tags inside, and the PCP and DEI bits are left
// alone. Untagged frames, 802.1ad frames without a C-tag, and the reserved
// ids 0 (priority tag) and 4095 pass untouched.
//
// Ids that no line maps pass unchanged in either direction, exactly as in
// EthUDP. That keeps EthUDP's usual two-ended setup working: site A with
// "10 20" and site B with "20 10" carry A's VLAN 10 as 20 one way and B's
// VLAN 20 as 10 the other, and each end delivers the unmapped id it
// receives as it is. The price is that a map can merge VLANs: with "10 20",
// a local frame on VLAN 20 also reaches the wire as 20. Map every VLAN that
// is in use (or use ids on the wire that no site uses locally) to keep them
// apart. Ingress is the exact inverse of Egress on every mapped id.
//
// The zero VLANMap maps nothing (every id is the identity); a nil *VLANMap
// passes every frame without looking at it. A VLANMap is read-only after
// ParseVLANMap returns, so any number of workers may share it.
type VLANMap struct {
	egress  [vlanIDs]uint16 // by local id: wire id, or 0 for identity
	ingress [vlanIDs]uint16 // by wire id: local id, or 0 for identity
	n       int
}

const (
	vlanIDs    = 4096
	vlanIDMin  = 1
	vlanIDMax  = 4094
	vlanIDMask = 0x0fff

	vlanTPIDOffset = 12     // EtherType/TPID after the two MAC addresses
	vlanTPIDQ      = 0x8100 // 802.1Q C-tag
	vlanTPIDAD     = 0x88a8 // 802.1ad S-tag
	vlanHeaderLen  = 14     // dst, src, EtherType
	vlanTagLen     = 4      // TPID, TCI

	vlanMaxErrors  = 10        // parse errors reported before giving up
	vlanMaxLineLen = 64 * 1024 // longest map file line accepted
)

// Len returns the number of mappings.
func (m *VLANMap) Len() int {
	if m == nil {
		return 0
	}
	return m.n
}

// Egress rewrites the frame's VLAN id in place from the local id to the wire
// id. It returns Pass, or FrameMalformed for a frame shorter than an
// Ethernet header or than the tag it announces. The frame's length never
// changes.
func (m *VLANMap) Egress(frame []byte) Reason {
	if m == nil {
		return Pass
	}
	return vlanRewrite(frame, &m.egress)
}

// Ingress rewrites the frame's VLAN id in place from the wire id to the local
// id. It returns Pass, or FrameMalformed as Egress does.
func (m *VLANMap) Ingress(frame []byte) Reason {
	if m == nil {
		return Pass
	}
	return vlanRewrite(frame, &m.ingress)
}

func vlanRewrite(frame []byte, table *[vlanIDs]uint16) Reason {
	off, r := vlanTCIOffset(frame)
	if off < 0 {
		return r
	}
	tci := binary.BigEndian.Uint16(frame[off:])
	if to := table[tci&vlanIDMask]; to != 0 {
		binary.BigEndian.PutUint16(frame[off:], tci&^vlanIDMask|to)
	}
	return Pass
}

// vlanTCIOffset returns the offset of the TCI to rewrite, or -1 and the
// verdict for a frame that has none.
func vlanTCIOffset(f []byte) (int, Reason) {
	if len(f) < vlanHeaderLen {
		return -1, FrameMalformed
	}
	switch binary.BigEndian.Uint16(f[vlanTPIDOffset:]) {
	case vlanTPIDQ:
		if len(f) < vlanHeaderLen+vlanTagLen {
			return -1, FrameMalformed
		}
		return vlanTPIDOffset + 2, Pass
	case vlanTPIDAD:
		if len(f) < vlanHeaderLen+vlanTagLen {
			return -1, FrameMalformed
		}
		if binary.BigEndian.Uint16(f[vlanTPIDOffset+vlanTagLen:]) != vlanTPIDQ {
			return -1, Pass // S-tag only: nothing to remap
		}
		if len(f) < vlanHeaderLen+2*vlanTagLen {
			return -1, FrameMalformed
		}
		return vlanTPIDOffset + vlanTagLen + 2, Pass
	}
	return -1, Pass
}

// ParseVLANMap reads a map file (see VLANMap). Errors name the line, e.g.
// "vlanmap: line 3: remote id 5000 out of range 1..4094"; several errors are
// joined (errors.Join), at most ten.
func ParseVLANMap(r io.Reader) (*VLANMap, error) {
	return parseVLANMap(r, "vlanmap: ")
}

// LoadVLANMap reads the map file at path. Errors name the file and the line,
// e.g. "vlanmap: /etc/skiff/vlanmap.txt: line 3: ...".
func LoadVLANMap(path string) (*VLANMap, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("vlanmap: %w", err)
	}
	defer f.Close()
	return parseVLANMap(f, "vlanmap: "+path+": ")
}

func parseVLANMap(r io.Reader, prefix string) (*VLANMap, error) {
	m := new(VLANMap)
	// Line on which each id was mapped, 0 if it was not.
	var localLine, remoteLine [vlanIDs]int
	var errs []error
	fail := func(line int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%sline %d: %s", prefix, line, fmt.Sprintf(format, args...)))
	}

	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), vlanMaxLineLen)
	line, truncated := 0, false
	for sc.Scan() {
		if len(errs) == vlanMaxErrors {
			truncated = true
			break
		}
		line++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		f := strings.FieldsFunc(text, func(c rune) bool { return c == ' ' || c == '\t' || c == '\r' })
		if len(f) == 0 {
			continue
		}
		if len(f) != 2 {
			fail(line, "want \"LOCAL REMOTE\" (two VLAN ids), got %d fields", len(f))
			continue
		}
		local, err := parseVLANID(f[0])
		if err != nil {
			fail(line, "local id %v", err)
			continue
		}
		remote, err := parseVLANID(f[1])
		if err != nil {
			fail(line, "remote id %v", err)
			continue
		}
		if l := localLine[local]; l != 0 {
			fail(line, "local id %d already mapped on line %d", local, l)
			continue
		}
		if l := remoteLine[remote]; l != 0 {
			fail(line, "remote id %d already mapped on line %d", remote, l)
			continue
		}
		localLine[local], remoteLine[remote] = line, line
		m.egress[local], m.ingress[remote] = remote, local
		m.n++
	}
	if err := sc.Err(); err != nil && !truncated {
		if errors.Is(err, bufio.ErrTooLong) {
			fail(line+1, "line longer than %d bytes", vlanMaxLineLen)
		} else {
			errs = append(errs, fmt.Errorf("%s%w", prefix, err))
		}
	}
	if truncated {
		errs = append(errs, fmt.Errorf("%stoo many errors", prefix))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return m, nil
}

// parseVLANID parses a decimal VLAN id in 1..4094.
func parseVLANID(s string) (uint16, error) {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			if len(s) > 32 {
				s = s[:32] + "..."
			}
			return 0, fmt.Errorf("%q is not a decimal number", s)
		}
	}
	n, err := strconv.ParseUint(s, 10, 16)
	if err != nil || n < vlanIDMin || n > vlanIDMax {
		if len(s) > 32 {
			s = s[:32] + "..."
		}
		return 0, fmt.Errorf("%s out of range %d..%d", s, vlanIDMin, vlanIDMax)
	}
	return uint16(n), nil
}
