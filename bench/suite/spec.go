// SPDX-License-Identifier: Apache-2.0

package suite

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/skiffnet/skiff/dataplane/wire"
)

// Kind is what carries the frames between the two sites of a row.
type Kind string

// Row kinds.
const (
	KindVeth  Kind = "veth"         // no tunnel: the inner addresses sit on the underlay veth (the ceiling)
	KindVXLAN Kind = "vxlan"        // the Linux kernel's vxlan device at both sites
	KindWG    Kind = "wireguard-go" // wireguard-go (a binary given with --wireguard-go) at both sites
	KindSkiff Kind = "skiff"        // skiff up at both sites (or one, with codec vxlan)
	// dpdk-testpmd to dpdk-testpmd over memif, no tunnel: what the memif
	// transport alone carries on the machine (the anchor of local=memif
	// rows).
	KindTestpmd Kind = "testpmd"
)

// Row is one configuration to measure.
type Row struct {
	Name string
	Kind Kind

	// skiff rows only.
	Suite    string // cipher suite, default aes-256-gcm
	LZ4      bool
	Policy   string // underlay.mtu_policy: clamp (default), fragment, none
	Local    string // tap (default), afpacket, afxdp or memif
	LocalMTU int    // MTU of the LAN side; 0 = automatic (see InnerMTU)
	Codec    string // skiff (default) or vxlan (site-b is then a kernel vxlan device)
	Underlay string // underlay port: udp (default) or afxdp
	// NoUnderlayGSO turns UDP segmentation offload off on both sites'
	// ul0: the kernel then cuts skiff's GSO sends into datagrams before
	// the veth (as for a NIC without it) instead of the veth carrying
	// them whole.
	NoUnderlayGSO bool

	// All kinds: MTU of the veth underlay; 0 = 1500.
	UnderlayMTU int
}

// Defaults of a skiff row.
const (
	defaultSuite       = "aes-256-gcm"
	defaultPolicy      = "clamp"
	defaultLocal       = "tap"
	defaultCodec       = "skiff"
	defaultUnderlay    = "udp"
	defaultUnderlayMTU = 1500
)

// withDefaults fills in the defaults of the row's kind.
func (r Row) withDefaults() Row {
	if r.Kind == "" {
		r.Kind = KindSkiff
	}
	if r.UnderlayMTU == 0 {
		r.UnderlayMTU = defaultUnderlayMTU
	}
	if r.Kind != KindSkiff {
		return r
	}
	if r.Suite == "" {
		r.Suite = defaultSuite
	}
	if r.Policy == "" {
		r.Policy = defaultPolicy
	}
	if r.Local == "" {
		r.Local = defaultLocal
	}
	if r.Codec == "" {
		r.Codec = defaultCodec
	}
	if r.Underlay == "" {
		r.Underlay = defaultUnderlay
	}
	return r
}

// Frame bytes that fit one underlay datagram over IPv4: the underlay MTU
// less outer IP (20) and UDP (8), less the skiff header and AEAD tag or
// the VXLAN header.
func (r Row) pieceSize() int {
	r = r.withDefaults()
	if r.Codec == "vxlan" {
		return r.UnderlayMTU - 28 - wire.VXLANHeaderLen
	}
	over := wire.HeaderLen
	if s, err := wire.ParseSuite(r.Suite); err == nil {
		over += s.Overhead()
	}
	return r.UnderlayMTU - 28 - over
}

// InnerMTU is the MTU of the device the traffic runs over: the veth's for
// veth rows, the underlay's less 50 for kernel vxlan, 1420 for
// wireguard-go (its default), and for skiff rows LocalMTU, or if that is 0:
// with mtu_policy clamp (and codec vxlan) the frame bytes per datagram less
// the 14-byte Ethernet header, as the README recommends (1414 for an AEAD,
// 1430 for none, 1450 for vxlan over a 1500-byte underlay), otherwise 1500.
func (r Row) InnerMTU() int {
	r = r.withDefaults()
	switch r.Kind {
	case KindVeth:
		return r.UnderlayMTU
	case KindVXLAN:
		return r.UnderlayMTU - 50
	case KindWG:
		return 1420
	case KindTestpmd:
		return 1500
	}
	if r.LocalMTU != 0 {
		return r.LocalMTU
	}
	if r.Policy == "clamp" || r.Codec == "vxlan" {
		return min(9000, r.pieceSize()-14)
	}
	return 1500
}

// Memif reports whether the row is a memif row: frames from dpdk-testpmd
// into skiff's memif (local=memif), or testpmd to testpmd over memif. They
// measure frames/s of saturating one-way load (see memif.go) instead of
// TCP, round trips and paced searches.
func (r Row) Memif() bool {
	r = r.withDefaults()
	return r.Kind == KindTestpmd || (r.Kind == KindSkiff && r.Local == "memif")
}

// FrameSizes are the Ethernet frame sizes whose frames/s the row measures:
// 64 and 1400, and 9000 when the inner MTU carries it (not on memif rows).
func (r Row) FrameSizes() []int {
	sizes := []int{64, 1400}
	if !r.Memif() && r.InnerMTU() >= 9000-14 {
		sizes = append(sizes, 9000)
	}
	return sizes
}

// Tunnel reports whether the row has tunnel processes (whose CPU time and
// RSS are measured): skiff and wireguard-go rows.
func (r Row) Tunnel() bool { return r.Kind == KindSkiff || r.Kind == KindWG }

// Spec is the row as a --row SPEC that parses back to it.
func (r Row) Spec() string {
	r = r.withDefaults()
	f := []string{"name=" + r.Name, "kind=" + string(r.Kind)}
	if r.Kind == KindSkiff {
		lz4 := "off"
		if r.LZ4 {
			lz4 = "on"
		}
		if r.Codec != "vxlan" {
			f = append(f, "suite="+r.Suite, "lz4="+lz4)
		}
		f = append(f, "policy="+r.Policy, "local="+r.Local)
		if r.Local != "memif" {
			f = append(f, "local_mtu="+strconv.Itoa(r.InnerMTU()))
		}
		f = append(f, "codec="+r.Codec, "underlay="+r.Underlay)
		if r.NoUnderlayGSO {
			f = append(f, "underlay_gso=off")
		}
	}
	if r.Kind != KindTestpmd {
		f = append(f, "underlay_mtu="+strconv.Itoa(r.UnderlayMTU))
	}
	return strings.Join(f, ",")
}

// RowSpecHelp documents ParseRow's syntax (the help of --row).
const RowSpecHelp = "a custom row, `SPEC` = comma-separated key=value: " +
	"name=NAME (default: made from the options), " +
	"kind=skiff|veth|vxlan|wireguard-go|testpmd (default skiff; testpmd: dpdk-testpmd to dpdk-testpmd over memif, no tunnel, the anchor of local=memif rows), " +
	"suite=none|aes-128-gcm|aes-192-gcm|aes-256-gcm|chacha20-poly1305 (default aes-256-gcm), " +
	"lz4=on|off (default off), " +
	"policy=clamp|fragment|none (underlay.mtu_policy, default clamp), " +
	"local=tap|afpacket|afxdp|memif (default tap; afpacket and afxdp run the traffic in host namespaces behind the sites; " +
	"memif: a dpdk-testpmd txonly client sends 64- and 1400-byte frames into site-a's memif, counted arriving at site-b, needs dpdk-testpmd and nft), " +
	"local_mtu=N (576..9000, not with local=memif; default with clamp: what fits one datagram, else 1500; frames/s of 9000-byte frames are measured when N >= 8986), " +
	"underlay_mtu=N (576..65535, default 1500), " +
	"codec=skiff|vxlan (vxlan: skiff at site-a, a kernel vxlan device at site-b; no suite, no lz4), " +
	"underlay=udp|afxdp (the underlay port, default udp), " +
	"underlay_gso=on|off (off: UDP segmentation offload off on the sites' ul0, so the kernel segments skiff's GSO sends before the veth, as for a NIC without it; default on). Repeatable"

// ParseRow parses a --row SPEC: comma-separated key=value pairs (see
// RowSpecHelp).
func ParseRow(spec string) (Row, error) {
	var r Row
	seen := map[string]bool{}
	for _, field := range strings.Split(spec, ",") {
		field = strings.TrimSpace(field)
		if field == "" {
			continue
		}
		k, v, ok := strings.Cut(field, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return Row{}, fmt.Errorf("row %q: %q is not key=value", spec, field)
		}
		if seen[k] {
			return Row{}, fmt.Errorf("row %q: %s given twice", spec, k)
		}
		seen[k] = true
		bad := func(want string) error {
			return fmt.Errorf("row %q: %s=%s: want %s", spec, k, v, want)
		}
		switch k {
		case "name":
			if strings.ContainsAny(v, " \t\"'<>&") {
				return Row{}, bad("a name without spaces, quotes or <>&")
			}
			r.Name = v
		case "kind":
			kind := Kind(v)
			if !slices.Contains([]Kind{KindSkiff, KindVeth, KindVXLAN, KindWG, KindTestpmd}, kind) {
				return Row{}, bad("skiff, veth, vxlan, wireguard-go or testpmd")
			}
			r.Kind = kind
		case "suite":
			s, err := wire.ParseSuite(v)
			if err != nil {
				return Row{}, bad(wire.SuiteNames())
			}
			r.Suite = s.String()
		case "lz4", "underlay_gso":
			var on bool
			switch v {
			case "on", "true", "yes", "1":
				on = true
			case "off", "false", "no", "0":
			default:
				return Row{}, bad("on or off")
			}
			if k == "lz4" {
				r.LZ4 = on
			} else {
				r.NoUnderlayGSO = !on
			}
		case "policy":
			if !slices.Contains([]string{"clamp", "fragment", "none"}, v) {
				return Row{}, bad("clamp, fragment or none")
			}
			r.Policy = v
		case "local":
			if v != "tap" && v != "afpacket" && v != "afxdp" && v != "memif" {
				return Row{}, bad("tap, afpacket, afxdp or memif")
			}
			r.Local = v
		case "local_mtu", "underlay_mtu":
			n, err := strconv.Atoi(v)
			lo, hi := 576, 9000
			if k == "underlay_mtu" {
				hi = 65535
			}
			if err != nil || n < lo || n > hi {
				return Row{}, bad(fmt.Sprintf("a number in %d..%d", lo, hi))
			}
			if k == "local_mtu" {
				r.LocalMTU = n
			} else {
				r.UnderlayMTU = n
			}
		case "codec":
			if v != "skiff" && v != "vxlan" {
				return Row{}, bad("skiff or vxlan")
			}
			r.Codec = v
		case "underlay":
			if v != "udp" && v != "afxdp" {
				return Row{}, bad("udp or afxdp (memif is a local port: local=memif)")
			}
			r.Underlay = v
		default:
			return Row{}, fmt.Errorf("row %q: unknown key %q (known: name, kind, suite, lz4, policy, local, local_mtu, underlay_mtu, codec, underlay, underlay_gso)", spec, k)
		}
	}
	if r.Kind != "" && r.Kind != KindSkiff {
		for _, k := range []string{"suite", "lz4", "policy", "local", "local_mtu", "codec", "underlay", "underlay_gso"} {
			if seen[k] {
				return Row{}, fmt.Errorf("row %q: %s applies to skiff rows only", spec, k)
			}
		}
	}
	if r.Kind == KindTestpmd && seen["underlay_mtu"] {
		return Row{}, fmt.Errorf("row %q: kind testpmd has no underlay: no underlay_mtu", spec)
	}
	if r.Local == "memif" {
		if seen["local_mtu"] {
			return Row{}, fmt.Errorf("row %q: local=memif has no MTU to set: its rows measure 64- and 1400-byte frames", spec)
		}
		if r.Codec == "vxlan" {
			return Row{}, fmt.Errorf("row %q: local=memif counts skiff datagrams at site-b: codec vxlan is not supported", spec)
		}
		if p := r.withDefaults().pieceSize(); 1400 > p {
			return Row{}, fmt.Errorf("row %q: local=memif sends 1400-byte frames, more than one %d-byte underlay datagram carries (%d frame bytes): use a larger underlay_mtu", spec, r.withDefaults().UnderlayMTU, p)
		}
	}
	if r.Codec == "vxlan" {
		if r.LZ4 {
			return Row{}, fmt.Errorf("row %q: codec vxlan carries plaintext frames only: no lz4", spec)
		}
		if seen["suite"] {
			return Row{}, fmt.Errorf("row %q: codec vxlan has no suite", spec)
		}
		if r.Policy == "fragment" {
			return Row{}, fmt.Errorf("row %q: codec vxlan cannot fragment (a kernel vxlan device has no reassembly): use policy clamp or none", spec)
		}
	}
	r = r.withDefaults()
	if r.Kind == KindSkiff && r.LocalMTU != 0 && r.Policy != "fragment" && r.LocalMTU+14 > r.pieceSize() {
		// Allowed (clamp still fits TCP), but frames/s of frames larger
		// than a datagram would be all loss: say so up front.
		sizes := r.FrameSizes()
		if sizes[len(sizes)-1] > r.pieceSize() {
			return Row{}, fmt.Errorf("row %q: %d-byte frames do not fit one %d-byte underlay datagram and policy %s does not fragment: use policy=fragment or a larger underlay_mtu", spec, sizes[len(sizes)-1], r.UnderlayMTU, r.Policy)
		}
	}
	if r.Name == "" {
		r.Name = r.autoName()
	}
	return r, nil
}

// autoName names a row after its options that differ from the defaults.
func (r Row) autoName() string {
	r = r.withDefaults()
	if r.Kind != KindSkiff {
		if r.UnderlayMTU != defaultUnderlayMTU {
			return fmt.Sprintf("%s-ul%d", r.Kind, r.UnderlayMTU)
		}
		return string(r.Kind)
	}
	parts := []string{"skiff"}
	if r.Codec == "vxlan" {
		parts = append(parts, "vxlan")
	} else {
		parts = append(parts, r.Suite)
	}
	if r.LZ4 {
		parts = append(parts, "lz4")
	}
	if r.Local != defaultLocal {
		parts = append(parts, r.Local)
	}
	if r.Underlay != defaultUnderlay {
		parts = append(parts, r.Underlay+"-underlay")
	}
	if r.NoUnderlayGSO {
		parts = append(parts, "nogso")
	}
	if r.Policy != defaultPolicy {
		parts = append(parts, r.Policy)
	}
	if r.LocalMTU != 0 {
		parts = append(parts, "mtu"+strconv.Itoa(r.LocalMTU))
	}
	if r.UnderlayMTU != defaultUnderlayMTU {
		parts = append(parts, "ul"+strconv.Itoa(r.UnderlayMTU))
	}
	return strings.Join(parts, "-")
}

// Catalog is every named row --rows can pick, in the order a default run
// lists them. Default tells which a run without --rows includes, Quick
// which --quick includes.
var Catalog = []struct {
	Row            Row
	Default, Quick bool
}{
	{Row{Name: "veth", Kind: KindVeth}, true, true},
	{Row{Name: "vxlan", Kind: KindVXLAN}, true, true},
	{Row{Name: "wireguard-go", Kind: KindWG}, true, true}, // only with --wireguard-go PATH
	{Row{Name: "skiff-none", Suite: "none"}, true, true},
	{Row{Name: "skiff-aes-256-gcm", Suite: "aes-256-gcm"}, true, true},
	{Row{Name: "skiff-aes-256-gcm-lz4", Suite: "aes-256-gcm", LZ4: true}, true, false},
	{Row{Name: "skiff-chacha20-poly1305", Suite: "chacha20-poly1305"}, true, false},
	{Row{Name: "skiff-aes-256-gcm-frag9000", Suite: "aes-256-gcm", Policy: "fragment", LocalMTU: 9000}, true, false},
	{Row{Name: "skiff-aes-256-gcm-jumbo9000", Suite: "aes-256-gcm", Policy: "fragment", LocalMTU: 9000, UnderlayMTU: 9100}, true, false},
	// The AF_XDP fast path (LAN and underlay) against the afpacket/udp
	// path it replaces.
	{Row{Name: "skiff-aes-256-gcm-afpacket", Suite: "aes-256-gcm", Local: "afpacket"}, true, false},
	{Row{Name: "skiff-aes-256-gcm-afxdp", Suite: "aes-256-gcm", Local: "afxdp", Underlay: "afxdp"}, true, false},
	// memif (VPP's shared-memory interface) with dpdk-testpmd standing
	// in for VPP: testpmd to testpmd (the transport alone), and testpmd
	// into skiff's memif, out through the underlay. Skipped without
	// dpdk-testpmd.
	{Row{Name: "testpmd-memif", Kind: KindTestpmd}, true, false},
	{Row{Name: "skiff-aes-256-gcm-memif", Suite: "aes-256-gcm", Local: "memif"}, true, false},
	{Row{Name: "skiff-none-memif", Suite: "none", Local: "memif"}, true, false},
	// Not in the default run; pick with --rows.
	{Row{Name: "skiff-aes-128-gcm", Suite: "aes-128-gcm"}, false, false},
	{Row{Name: "skiff-aes-256-gcm-fragment", Suite: "aes-256-gcm", Policy: "fragment", LocalMTU: 1500}, false, false},
	{Row{Name: "skiff-none-afpacket", Suite: "none", Local: "afpacket"}, false, false},
	{Row{Name: "skiff-none-afxdp", Suite: "none", Local: "afxdp", Underlay: "afxdp"}, false, false},
	{Row{Name: "skiff-vxlan", Codec: "vxlan"}, false, false},
	// The memif row with the kernel segmenting skiff's sends before the
	// veth (a NIC without UDP segmentation offload).
	{Row{Name: "skiff-aes-256-gcm-memif-nogso", Suite: "aes-256-gcm", Local: "memif", NoUnderlayGSO: true}, false, false},
}

// CatalogNames lists the names of the catalog's rows.
func CatalogNames() []string {
	var names []string
	for _, c := range Catalog {
		names = append(names, c.Row.Name)
	}
	return names
}

// SelectRows returns the rows of a run: the rows named in names (nil: the
// default set, or the quick set; "wireguard-go" is left out of those
// unless haveWG), then the custom rows. A name may refer to a custom row,
// which then runs at that place. Names must be unique.
func SelectRows(names []string, custom []Row, quick, haveWG bool) ([]Row, error) {
	var rows []Row
	byName := map[string]Row{}
	for _, c := range Catalog {
		byName[c.Row.Name] = c.Row.withDefaults()
	}
	seenCustom := map[string]bool{}
	for _, r := range custom {
		if _, builtin := byName[r.Name]; builtin {
			return nil, fmt.Errorf("--row name=%s: that is the name of a built-in row; pick another", r.Name)
		}
		if seenCustom[r.Name] {
			return nil, fmt.Errorf("--row name=%s given twice", r.Name)
		}
		seenCustom[r.Name] = true
	}
	customUsed := map[string]bool{}
	if names == nil {
		for _, c := range Catalog {
			if (quick && c.Quick) || (!quick && c.Default) {
				if c.Row.Kind == KindWG && !haveWG {
					continue
				}
				rows = append(rows, c.Row.withDefaults())
			}
		}
	} else {
		for _, n := range names {
			if i := slices.IndexFunc(custom, func(r Row) bool { return r.Name == n }); i >= 0 {
				rows = append(rows, custom[i].withDefaults())
				customUsed[n] = true
				continue
			}
			r, ok := byName[n]
			if !ok {
				return nil, fmt.Errorf("unknown row %q (known: %s, or a --row name)", n, strings.Join(CatalogNames(), ", "))
			}
			rows = append(rows, r)
		}
	}
	for _, r := range custom {
		if !customUsed[r.Name] {
			rows = append(rows, r.withDefaults())
		}
	}
	seen := map[string]bool{}
	for _, r := range rows {
		if seen[r.Name] {
			return nil, fmt.Errorf("row %q is asked for twice", r.Name)
		}
		seen[r.Name] = true
		if r.Kind == KindWG && !haveWG {
			return nil, fmt.Errorf("row %q needs --wireguard-go PATH", r.Name)
		}
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("no rows to run")
	}
	return rows, nil
}
