// SPDX-License-Identifier: Apache-2.0

package conf

import (
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/skiffnet/skiff/dataplane/stage"
	"github.com/skiffnet/skiff/dataplane/wire"
	"go.yaml.in/yaml/v3"
)

// Defaults and limits of the schema, version 1.
const (
	DefaultSuite        = wire.SuiteAES256GCM
	DefaultRekeyAfter   = 2 * time.Minute
	DefaultTAPName      = "skiff0"
	DefaultLocalMTU     = 1500
	DefaultListen       = "0.0.0.0:4800"
	DefaultUnderlayMTU  = 1500
	DefaultSocketBuffer = 4 << 20
	DefaultKeepalive    = time.Second
	DefaultDeadAfter    = 3 * time.Second
	DefaultSocketDir    = "/run/skiff"

	MaxNodeID    = 65519 // 65520..65535 are reserved
	maxNameLen   = 32
	maxIfNameLen = 15  // IFNAMSIZ - 1
	maxSocketLen = 107 // sizeof(sun_path) - 1
	maxVNI       = 1<<24 - 1
)

func parse(file, dir string, data []byte) (*Config, error) {
	d := &decoder{file: file, dir: dir, lines: map[string]int{}}
	root := d.document(data)
	if root == nil {
		return nil, d.err()
	}
	c := d.config(root)
	if err := d.err(); err != nil {
		return nil, err
	}
	return c, nil
}

func (d *decoder) config(root *yaml.Node) *Config {
	// The version decides what the rest means: check it first and stop if
	// it is not one this package reads.
	if root.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(root.Content); i += 2 {
			k, v := resolve(root.Content[i]), resolve(root.Content[i+1])
			if k == nil || k.Kind != yaml.ScalarNode || k.Value != "version" || v == nil {
				continue
			}
			var n int
			if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" || v.Decode(&n) != nil || n != Version {
				d.failf(k.Line, "version", "unsupported version %s (this skiff reads version %d)", kind(v), Version)
				return nil
			}
		}
	}
	top := d.mapping(root, root.Line, "",
		"version", "node", "psk", "suite", "lz4", "rekey_after", "local",
		"underlay", "vlan_map", "peers", "mesh", "control", "log")
	if root.Kind != yaml.MappingNode {
		return nil // mapping reported it
	}
	if !top("version").set() {
		d.failf(root.Line, "version", "required (want version: %d)", Version)
	}

	d.lines[""] = root.Line
	c := &Config{Version: Version, psk: new(pskCache)}
	c.Node = d.node(top("node"))
	c.PSKSource = d.pskSource(top("psk"))

	c.Suite = DefaultSuite
	if s, ok := d.scalar(top("suite")); ok {
		if suite, err := wire.ParseSuite(s); err == nil && top("suite").val.ShortTag() == "!!str" {
			c.Suite = suite
		} else {
			d.failf(top("suite").line, "suite", "unknown suite %s (want one of %s)", kind(top("suite").val), wire.SuiteNames())
		}
	}
	c.LZ4 = d.boolean(top("lz4"), false)
	c.RekeyAfter = d.duration(top("rekey_after"), DefaultRekeyAfter, 10*time.Second, 24*time.Hour, "10s..24h")
	c.Local = d.local(top("local"))
	c.Underlay = d.underlay(top("underlay"))
	c.VLANMapFile, c.VLANMap = d.vlanMap(top("vlan_map"))
	c.Mesh = d.mesh(top("mesh"))
	c.Peers = d.peers(top("peers"), c.Mesh)
	c.Control = d.control(top("control"), c.Node.Name)
	c.Log = d.log(top("log"))

	d.crossCheck(c, top("psk").set())
	return c
}

func (d *decoder) node(f field) Node {
	if !f.set() {
		d.failf(f.line, f.path, "required (name and id)")
		return Node{}
	}
	get := d.mapping(f.val, f.line, f.path, "name", "id")
	return Node{Name: d.name(get("name")), ID: d.nodeID(get("id"))}
}

// name decodes a required node or peer name.
func (d *decoder) name(f field) string {
	if !f.set() {
		d.failf(f.line, f.path, "required")
		return ""
	}
	s, ok := d.nonEmpty(f)
	if !ok {
		return ""
	}
	if len(s) > maxNameLen {
		d.failf(f.line, f.path, "%q is longer than %d characters", s, maxNameLen)
		return ""
	}
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '.' || r == '_' || r == '-') {
			d.failf(f.line, f.path, "%q has the character %q (want A-Z a-z 0-9 . _ -)", s, r)
			return ""
		}
	}
	return s
}

// nodeID decodes a required node id.
func (d *decoder) nodeID(f field) uint16 {
	if !f.set() {
		d.failf(f.line, f.path, "required (1..%d)", MaxNodeID)
		return 0
	}
	return uint16(d.integer(f, 0, 1, MaxNodeID))
}

func (d *decoder) pskSource(f field) PSKSource {
	var p PSKSource
	if !f.set() {
		return p // required or not depends on the peers: see crossCheck
	}
	get := d.mapping(f.val, f.line, f.path, "key", "key_file", "passphrase")
	var given []string
	for _, k := range []string{"key", "key_file", "passphrase"} {
		if get(k).set() {
			given = append(given, k)
		}
	}
	if len(given) != 1 {
		line := f.line
		if len(given) > 1 {
			for _, k := range given {
				line = max(line, get(k).line) // the later of the sources
			}
		}
		d.failf(line, f.path, "want exactly one of key, key_file and passphrase, got %d", len(given))
		return p
	}
	k := get(given[0])
	s, ok := d.nonEmpty(k)
	if !ok {
		return p
	}
	switch given[0] {
	case "key":
		p.Key = d.key(k, s, "")
	case "key_file":
		p.KeyFile = d.path(s)
		data, err := readSmall(p.KeyFile, maxKeyFileSize)
		if err != nil {
			d.fail(k.line, k.path, err)
			return p
		}
		p.Key = d.key(k, string(data), p.KeyFile+": ")
	case "passphrase":
		p.Passphrase = s
	}
	return p
}

// maxKeyFileSize bounds what is read of psk.key_file: a key is 45 bytes.
const maxKeyFileSize = 4096

// readSmall reads a file that must hold at most max bytes.
func readSmall(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes, not a key file", path, max)
	}
	return data, nil
}

// key parses a base64 key; prefix names the file it came from, if any.
func (d *decoder) key(f field, s, prefix string) wire.PSK {
	k, err := wire.ParsePSK(s)
	if err != nil {
		d.failf(f.line, f.path, "%s%w (make one with skiff keygen)", prefix, err)
		return wire.PSK{}
	}
	if k == (wire.PSK{}) {
		d.failf(f.line, f.path, "%sthe all-zero key is not a key (make one with skiff keygen)", prefix)
		return wire.PSK{}
	}
	return k
}

// path resolves a file path against the config file's directory.
func (d *decoder) path(p string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(d.dir, p)
}

func (d *decoder) local(f field) Local {
	var l Local
	if !f.set() {
		d.failf(f.line, f.path, "required (type tap or afpacket)")
		return l
	}
	get := d.mapping(f.val, f.line, f.path, "type", "name", "address", "bridge", "mtu", "promisc", "vlans", "queues", "memif")
	typ := get("type")
	switch d.choice(typ, "tap", "afpacket", "afxdp", "memif") {
	case 0:
		l.Type = LocalTAP
	case 1:
		l.Type = LocalAFPacket
	case 2:
		l.Type = LocalAFXDP
	case 3:
		l.Type = LocalMemif
	default:
		if !typ.set() {
			d.failf(typ.line, typ.path, "required (tap, afpacket, afxdp or memif)")
		}
		return l
	}
	if l.Type == LocalMemif {
		for _, k := range []string{"name", "address", "bridge", "mtu", "promisc", "vlans", "queues"} {
			if g := get(k); g.set() {
				d.failf(g.line, g.path, "not for type memif (its settings go under local.memif)")
			}
		}
		l.Memif = d.memif(get("memif"))
		return l
	}
	if g := get("memif"); g.set() {
		d.failf(g.line, g.path, "only for type memif")
	}

	l.Name = d.ifName(get("name"))
	if l.Type != LocalAFXDP {
		for _, k := range []string{"vlans", "queues"} {
			if g := get(k); g.set() {
				d.failf(g.line, g.path, "only for type afxdp")
			}
		}
	}
	if l.Type == LocalAFPacket || l.Type == LocalAFXDP {
		if !get("name").set() {
			d.failf(f.line, f.path+".name", "required for %v: the NIC to attach to", l.Type)
		}
		for _, k := range []string{"address", "bridge", "mtu"} {
			if g := get(k); g.set() {
				d.failf(g.line, g.path, "only for type tap")
			}
		}
		l.Promisc = d.boolean(get("promisc"), true)
		if l.Type == LocalAFXDP {
			l.VLANs = d.vlanList(get("vlans"))
			l.Queues = int(d.integer(get("queues"), 0, 0, 64))
		}
		return l
	}

	if l.Name == "" {
		l.Name = DefaultTAPName
	}
	if g := get("promisc"); g.set() {
		d.failf(g.line, g.path, "only for types afpacket and afxdp")
	}
	if s, ok := d.text(get("address")); ok {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			d.failf(get("address").line, get("address").path, "want an address with prefix length such as 10.99.0.1/24 or fd00::1/64, got %s", kind(get("address").val))
		} else {
			l.Address = p
		}
	}
	l.Bridge = d.ifName(get("bridge"))
	if a, b := get("address"), get("bridge"); a.set() && b.set() {
		d.failf(b.line, b.path, "address and bridge are mutually exclusive (the bridge carries the addresses)")
	}
	l.MTU = int(d.integer(get("mtu"), DefaultLocalMTU, 576, 9000))
	return l
}

// memif decodes local.memif.
func (d *decoder) memif(f field) *Memif {
	m := &Memif{}
	if !f.set() {
		d.failf(f.line, f.path, "required for type memif: at least the socket")
		return m
	}
	get := d.mapping(f.val, f.line, f.path, "socket", "id", "role", "secret", "queues", "ring_size", "buffer_size", "mode")
	if s, ok := d.nonEmpty(get("socket")); ok {
		g := get("socket")
		switch {
		case strings.HasPrefix(s, "@") || strings.HasPrefix(s, "abstract:"):
			m.Socket = s
		default:
			m.Socket = d.path(s)
		}
		if n := len(strings.TrimPrefix(m.Socket, "abstract:")); n > 107 || n < 2 {
			d.failf(g.line, g.path, "%q: want a path or @name of 1..107 bytes", m.Socket)
		}
	} else if !get("socket").set() {
		d.failf(f.line, f.path+".socket", "required: a socket path, or @name for an abstract socket")
	}
	m.ID = uint32(d.integer(get("id"), 0, 0, 1<<32-1))
	m.Server = d.choice(get("role"), "server", "client") != 1
	if s, ok := d.text(get("secret")); ok {
		if len(s) > 23 || strings.IndexByte(s, 0) >= 0 {
			d.failf(get("secret").line, get("secret").path, "at most 23 bytes without NUL")
		}
		m.Secret = s
	}
	m.Queues = int(d.integer(get("queues"), 1, 1, 16))
	m.RingSize = int(d.integer(get("ring_size"), 1024, 2, 16384))
	if m.RingSize&(m.RingSize-1) != 0 {
		d.failf(get("ring_size").line, get("ring_size").path, "%d is not a power of two", m.RingSize)
	}
	m.BufferSize = int(d.integer(get("buffer_size"), 2048, 128, 65535))
	m.Poll = d.choice(get("mode"), "interrupt", "poll") == 1
	return m
}

// vlanList decodes a list of VLAN ids 1..4094, none twice.
func (d *decoder) vlanList(f field) []uint16 {
	if !f.set() {
		return nil
	}
	var ids []uint16
	seen := map[int64]int{}
	for _, it := range d.list(f) {
		v := d.integer(it, 0, 1, 4094)
		if !it.set() || v == 0 {
			continue
		}
		if l, dup := seen[v]; dup {
			d.failf(it.line, it.path, "VLAN %d listed twice (first on line %d)", v, l)
			continue
		}
		seen[v] = it.line
		ids = append(ids, uint16(v))
	}
	if f.val.Kind == yaml.SequenceNode && len(f.val.Content) == 0 {
		d.failf(f.line, f.path, "empty list (want VLAN ids 1..4094, or leave vlans out for every frame)")
	}
	return ids
}

// ifName decodes a Linux interface name; "" if unset or wrong.
func (d *decoder) ifName(f field) string {
	s, ok := d.text(f)
	if !ok {
		return ""
	}
	switch {
	case s == "" || s == "." || s == "..":
		d.failf(f.line, f.path, "%q is not an interface name", s)
	case len(s) > maxIfNameLen:
		d.failf(f.line, f.path, "%q is longer than %d bytes", s, maxIfNameLen)
	case strings.ContainsAny(s, "/: \t\n\r\v\f\x00"):
		d.failf(f.line, f.path, "%q contains '/', ':', a blank or a control character", s)
	default:
		return s
	}
	return ""
}

func (d *decoder) underlay(f field) Underlay {
	get := d.mapping(f.val, f.line, f.path, "type", "interface", "queues", "listen", "mtu", "mtu_policy", "mss", "socket_buffer")
	u := Underlay{Type: UnderlayUDP, MTUPolicy: MTUFragment}
	if d.choice(get("type"), "udp", "afxdp") == 1 {
		u.Type = UnderlayAFXDP
	}
	u.Interface = d.ifName(get("interface"))
	if u.Type == UnderlayAFXDP {
		if !get("interface").set() {
			d.failf(f.line, f.path+".interface", "required for type afxdp: the NIC the underlay traffic uses")
		}
		u.Queues = int(d.integer(get("queues"), 0, 0, 64))
		if l := get("listen"); l.set() && l.val.Kind == yaml.SequenceNode && len(l.val.Content) > 1 {
			d.failf(l.line, l.path, "type afxdp takes one address (its port is the one the XDP program steers), got %d", len(l.val.Content))
		}
	} else {
		for _, k := range []string{"interface", "queues"} {
			if g := get(k); g.set() {
				d.failf(g.line, g.path, "only for type afxdp")
			}
		}
	}

	seen := map[netip.AddrPort]int{}
	for _, it := range d.list(get("listen")) {
		ap, ok := d.addrPort(it)
		if !ok {
			if !it.set() {
				d.failf(it.line, it.path, "want an address and port, got nothing")
			}
			continue
		}
		if ap.Port() == 0 {
			d.failf(it.line, it.path, "port 0 (want a port in 1..65535)")
			continue
		}
		if l, dup := seen[ap]; dup {
			d.failf(it.line, it.path, "%v listed twice (first on line %d)", ap, l)
			continue
		}
		seen[ap] = it.line
		u.Listen = append(u.Listen, ap)
	}
	if l := get("listen"); l.set() && l.val.Kind == yaml.SequenceNode && len(l.val.Content) == 0 {
		d.failf(get("listen").line, get("listen").path, "empty list (want at least one address, or leave listen out for %s)", DefaultListen)
	}
	if !get("listen").set() {
		u.Listen = []netip.AddrPort{netip.MustParseAddrPort(DefaultListen)}
	}

	u.MTU = int(d.integer(get("mtu"), DefaultUnderlayMTU, 576, 65535))
	switch d.choice(get("mtu_policy"), "fragment", "clamp", "none") {
	case 1:
		u.MTUPolicy = MTUClamp
	case 2:
		u.MTUPolicy = MTUNone
	}
	if mss := get("mss"); mss.set() {
		if v := d.integer(mss, 0, 0, 65495); v != 0 && v < 88 {
			d.failf(mss.line, mss.path, "%d out of range 88..65495 (or 0 for automatic)", v)
		} else {
			u.MSS = int(v)
		}
	}
	u.SocketBuffer = int(d.integer(get("socket_buffer"), DefaultSocketBuffer, 65536, 256<<20))
	return u
}

func (d *decoder) vlanMap(f field) (string, *stage.VLANMap) {
	s, ok := d.nonEmpty(f)
	if !ok {
		return "", nil
	}
	p := d.path(s)
	m, err := stage.LoadVLANMap(p)
	if err != nil {
		// One config error per map file error, each naming the map's line.
		var errs []error
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			errs = j.Unwrap()
		} else {
			errs = []error{err}
		}
		for _, e := range errs {
			d.fail(f.line, f.path, e)
		}
		return p, nil
	}
	return p, m
}

func (d *decoder) peers(f field, mesh *Mesh) []Peer {
	items := d.list(f)
	if len(items) == 0 {
		if !f.set() || f.val.Kind == yaml.SequenceNode {
			d.failf(f.line, f.path, "required: at least one peer")
		}
		return nil
	}
	peers := make([]Peer, 0, len(items))
	for _, it := range items {
		p := d.peer(it, mesh)
		peers = append(peers, p)
	}
	return peers
}

func (d *decoder) peer(f field, mesh *Mesh) Peer {
	var p Peer
	if !f.set() {
		d.failf(f.line, f.path, "empty peer (want a mapping with name, id and paths)")
		return p
	}
	get := d.mapping(f.val, f.line, f.path, "name", "id", "codec", "vni", "paths", "keepalive", "dead_after")
	p.Name = d.name(get("name"))
	p.ID = d.nodeID(get("id"))

	p.Codec = CodecSkiff
	codec := d.choice(get("codec"), "skiff", "vxlan")
	if codec == 1 {
		p.Codec = CodecVXLAN
	}
	vni := get("vni")
	switch {
	case p.Codec == CodecVXLAN && !vni.set():
		d.failf(f.line, vni.path, "required for codec vxlan (0..%d)", maxVNI)
	case p.Codec == CodecVXLAN:
		p.VNI = uint32(d.integer(vni, 0, 0, maxVNI))
	case vni.set() && get("codec").set() && codec < 0:
		// the codec is wrong; that error is enough
	case vni.set():
		d.failf(vni.line, vni.path, "only for codec vxlan (this peer's codec is skiff)")
	}

	pathsField := get("paths")
	items := d.list(pathsField)
	if len(items) == 0 && (!pathsField.set() || pathsField.val.Kind == yaml.SequenceNode) && (mesh == nil || p.Codec == CodecVXLAN) {
		d.failf(pathsField.line, pathsField.path, "required: at least one path (only a mesh peer may have none: reached through relays)")
	}
	for _, it := range items {
		p.Paths = append(p.Paths, d.path1(it, p.Codec))
	}

	if p.Codec == CodecVXLAN {
		if len(items) > 1 {
			d.failf(items[1].line, items[1].path, "a vxlan peer has one path (VXLAN has no keepalives to fail over on)")
		}
		for _, k := range []string{"keepalive", "dead_after"} {
			if g := get(k); g.set() {
				d.failf(g.line, g.path, "not for codec vxlan (VXLAN has no keepalives)")
			}
		}
		return p
	}

	ka, da := get("keepalive"), get("dead_after")
	nerr := len(d.errs)
	defKeepalive := DefaultKeepalive
	if mesh != nil {
		defKeepalive = mesh.ProbeInterval
	}
	p.Keepalive = d.duration(ka, defKeepalive, 100*time.Millisecond, time.Minute, "100ms..60s")
	p.DeadAfter = d.duration(da, DefaultDeadAfter, 1, 10*time.Minute, "(more than keepalive)..10m")
	if p.DeadAfter <= p.Keepalive && len(d.errs) == nerr {
		switch {
		case da.set():
			d.failf(da.line, da.path, "%v must be greater than keepalive (%v)", p.DeadAfter, p.Keepalive)
		case ka.set():
			d.failf(ka.line, ka.path, "%v must be less than dead_after (%v, the default)", p.Keepalive, p.DeadAfter)
		default:
			d.failf(f.line, f.path+".dead_after", "the default %v must be greater than the keepalive (%v, mesh.probe_interval): set dead_after", p.DeadAfter, p.Keepalive)
		}
	}
	return p
}

// path1 decodes one entry of a peer's paths; its local side is filled in
// by crossCheck, which knows the listen addresses.
func (d *decoder) path1(f field, codec Codec) Path {
	var p Path
	if !f.set() {
		d.failf(f.line, f.path, "empty path (want a mapping with remote)")
		return p
	}
	get := d.mapping(f.val, f.line, f.path, "remote", "local")
	r := get("remote")
	if !r.set() {
		d.failf(f.line, r.path, "required (use 0.0.0.0:0 to learn the address of a peer behind NAT)")
	} else if ap, ok := d.addrPort(r); ok {
		p.Remote = ap
		if codec == CodecVXLAN && (ap.Addr().IsUnspecified() || ap.Port() == 0) {
			d.failf(r.line, r.path, "a vxlan peer's address cannot be learned (VXLAN is not authenticated): give address and port")
		}
	}
	if l := get("local"); l.set() {
		if ap, ok := d.addrPort(l); ok {
			p.Local = ap
		}
	}
	return p
}

func (d *decoder) control(f field, node string) Control {
	get := d.mapping(f.val, f.line, f.path, "socket")
	c := Control{Socket: filepath.Join(DefaultSocketDir, node+".sock")}
	s := get("socket")
	if v, ok := d.nonEmpty(s); ok {
		c.Socket = d.path(v)
	}
	if len(c.Socket) > maxSocketLen {
		d.failf(s.line, s.path, "%q is longer than %d bytes, the limit of a unix socket path", c.Socket, maxSocketLen)
	}
	return c
}

func (d *decoder) log(f field) Log {
	get := d.mapping(f.val, f.line, f.path, "level")
	l := Log{Level: slog.LevelInfo}
	switch d.choice(get("level"), "debug", "info", "warn", "error") {
	case 0:
		l.Level = slog.LevelDebug
	case 2:
		l.Level = slog.LevelWarn
	case 3:
		l.Level = slog.LevelError
	}
	return l
}

// crossCheck checks what involves more than one section.
func (d *decoder) crossCheck(c *Config, pskSet bool) {
	names := map[string]int{}
	ids := map[uint16]int{}
	skiffPeers := 0
	for i, p := range c.Peers {
		pp := fmt.Sprintf("peers[%d]", i)
		if p.Codec == CodecSkiff {
			skiffPeers++
		}
		if p.Codec == CodecVXLAN && c.LZ4 {
			d.failf(d.lineOf("lz4"), "lz4", "true, but peer %s (%s, line %d) uses codec vxlan, which carries plaintext frames only", peerLabel(p, i), pp, d.lineOf(pp))
		}
		if p.Name != "" {
			path := pp + ".name"
			if j, dup := names[p.Name]; dup {
				d.failf(d.lineOf(path), path, "%q is also the name of peers[%d] (line %d)", p.Name, j, d.lineOf(fmt.Sprintf("peers[%d].name", j)))
			} else {
				names[p.Name] = i
			}
			if p.Name == c.Node.Name {
				d.failf(d.lineOf(path), path, "%q is this node's name", p.Name)
			}
		}
		if p.ID != 0 {
			path := pp + ".id"
			if j, dup := ids[p.ID]; dup {
				d.failf(d.lineOf(path), path, "%d is also the id of peers[%d] (line %d)", p.ID, j, d.lineOf(fmt.Sprintf("peers[%d].id", j)))
			} else {
				ids[p.ID] = i
			}
			if p.ID == c.Node.ID {
				d.failf(d.lineOf(path), path, "%d is this node's id (node.id, line %d)", p.ID, d.lineOf("node.id"))
			}
		}
		for j := range p.Paths {
			d.pathLocal(c, &c.Peers[i].Paths[j], fmt.Sprintf("%s.paths[%d]", pp, j))
		}
	}
	d.meshCheck(c)
	if skiffPeers > 0 && !pskSet {
		d.failf(d.lineOf("psk"), "psk", "required: the pre-shared key of skiff peers (key, key_file or passphrase)")
	}
}

// mesh decodes the optional mesh section.
func (d *decoder) mesh(f field) *Mesh {
	if !f.set() {
		return nil
	}
	get := d.mapping(f.val, f.line, f.path, "mode", "probe_interval", "filter", "tolerance", "hop_cost",
		"report_interval", "fib_timeout", "controllers", "next_hops")
	m := &Mesh{}
	switch d.choice(get("mode"), "static", "super", "p2p") {
	case 0:
		m.Mode = MeshStatic
	case 1:
		m.Mode = MeshSuper
	case 2:
		m.Mode = MeshP2P
	default:
		if !get("mode").set() {
			d.failf(f.line, f.path+".mode", "required (static, super or p2p)")
		}
	}
	m.ProbeInterval = d.duration(get("probe_interval"), DefaultProbeInterval, 100*time.Millisecond, time.Minute, "100ms..60s")
	m.Filter = int(d.integer(get("filter"), DefaultFilter, 1, 63))
	m.Tolerance = d.duration(get("tolerance"), DefaultTolerance, 0, 10*time.Second, "0..10s")
	m.HopCost = d.duration(get("hop_cost"), DefaultHopCost, 0, 10*time.Second, "0..10s")
	m.ReportInterval = d.duration(get("report_interval"), DefaultReportInterval, 100*time.Millisecond, time.Minute, "100ms..60s")
	m.FIBTimeout = d.duration(get("fib_timeout"), DefaultFIBTimeout, time.Second, 24*time.Hour, "1s..24h")
	ctl := get("controllers")
	for _, it := range d.list(ctl) {
		m.Controllers = append(m.Controllers, d.nodeID(it))
	}
	switch {
	case m.Mode == MeshSuper && len(m.Controllers) == 0:
		d.failf(ctl.line, ctl.path, "required in super mode: at least one controller node id")
	case m.Mode != MeshSuper && ctl.set():
		d.failf(ctl.line, ctl.path, "only for mode super (this mesh is %s)", m.Mode)
	}
	nh := get("next_hops")
	switch {
	case !nh.set():
	case m.Mode != MeshStatic:
		d.failf(nh.line, nh.path, "only for mode static (this mesh is %s)", m.Mode)
	case nh.val.Kind != yaml.MappingNode:
		d.failf(nh.line, nh.path, "want a mapping of destination id: next-hop id, got %s", kind(nh.val))
	default:
		m.NextHops = map[uint16]uint16{}
		for i := 0; i+1 < len(nh.val.Content); i += 2 {
			k, v := resolve(nh.val.Content[i]), resolve(nh.val.Content[i+1])
			if k == nil || v == nil {
				continue
			}
			kp := fmt.Sprintf("%s.%s", nh.path, k.Value)
			d.lines[kp] = k.Line
			dst := d.nodeID(field{k, k.Line, kp})
			via := d.nodeID(field{v, v.Line, kp})
			if _, dup := m.NextHops[dst]; dup && dst != 0 {
				d.failf(k.Line, kp, "duplicate destination")
			}
			if dst != 0 && via != 0 {
				m.NextHops[dst] = via
			}
		}
	}
	return m
}

// meshCheck checks the mesh section against the peers.
func (d *decoder) meshCheck(c *Config) {
	m := c.Mesh
	if m == nil {
		if len(c.Peers) > 1 {
			d.failf(d.lineOf("peers"), "peers", "%d peers need a mesh section (mesh.mode static, super or p2p); without one a node has exactly one peer", len(c.Peers))
		}
		return
	}
	byID := map[uint16]Peer{}
	for i, p := range c.Peers {
		byID[p.ID] = p
		if p.Codec == CodecVXLAN {
			pp := fmt.Sprintf("peers[%d].codec", i)
			d.failf(d.lineOf(pp), pp, "vxlan: a mesh carries skiff's header (node ids, TTL); VXLAN has none")
		}
	}
	for i, id := range m.Controllers {
		pp := fmt.Sprintf("mesh.controllers[%d]", i)
		if _, ok := byID[id]; !ok && id != c.Node.ID && id != 0 {
			d.failf(d.lineOf(pp), pp, "%d is neither this node (%d) nor a peer", id, c.Node.ID)
		}
		if slices.Index(m.Controllers, id) != i {
			d.failf(d.lineOf(pp), pp, "%d listed twice", id)
		}
	}
	dsts := slices.Sorted(maps.Keys(m.NextHops))
	for _, dst := range dsts {
		via := m.NextHops[dst]
		pp := fmt.Sprintf("mesh.next_hops.%d", dst)
		switch p, ok := byID[via]; {
		case dst == c.Node.ID:
			d.failf(d.lineOf(pp), pp, "%d is this node", dst)
		case byID[dst].ID == 0:
			d.failf(d.lineOf(pp), pp, "destination %d is not a peer", dst)
		case !ok:
			d.failf(d.lineOf(pp), pp, "next hop %d is not a peer", via)
		case !p.Linked():
			d.failf(d.lineOf(pp), pp, "next hop %d (%s) has no paths: a next hop must be a linked peer", via, p.Name)
		}
	}
	linked := 0
	for _, p := range c.Peers {
		if p.Linked() {
			linked++
		}
	}
	if linked == 0 {
		d.failf(d.lineOf("peers"), "peers", "no peer has paths: a mesh node needs at least one linked peer")
	}
}

func peerLabel(p Peer, i int) string {
	if p.Name != "" {
		return p.Name
	}
	return fmt.Sprintf("#%d", i)
}

// pathLocal checks or picks the listen socket a path sends from.
func (d *decoder) pathLocal(c *Config, p *Path, path string) {
	if !p.Remote.IsValid() {
		return // reported already
	}
	v4 := p.Remote.Addr().Is4()
	family := map[bool]string{true: "IPv4", false: "IPv6"}
	if p.Local.IsValid() {
		line := d.lineOf(path + ".local")
		found := false
		for _, l := range c.Underlay.Listen {
			found = found || l == p.Local
		}
		switch {
		case !found:
			d.failf(line, path+".local", "%v is not one of underlay.listen (%s)", p.Local, joinAddrs(c.Underlay.Listen))
		case p.Local.Addr().Is4() != v4:
			d.failf(line, path+".local", "%v is %s but remote %v is %s", p.Local, family[!v4], p.Remote, family[v4])
		}
		return
	}
	for _, l := range c.Underlay.Listen {
		if l.Addr().Is4() == v4 {
			p.Local = l
			return
		}
	}
	if len(c.Underlay.Listen) > 0 {
		d.failf(d.lineOf(path+".remote"), path+".remote", "%v is %s but underlay.listen has no %s address (%s)", p.Remote, family[v4], family[v4], joinAddrs(c.Underlay.Listen))
	}
}

func joinAddrs(aps []netip.AddrPort) string {
	s := make([]string, len(aps))
	for i, ap := range aps {
		s[i] = ap.String()
	}
	return strings.Join(s, ", ")
}
