// SPDX-License-Identifier: Apache-2.0

package conf

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skiffnet/skiff/dataplane/wire"
)

const testKey = "c2tpZmYgZXhhbXBsZSBrZXkgLSByZXBsYWNlIG1lISE="

// minimal is the smallest valid config; the bad cases below are variations.
const minimal = `version: 1
node:
  name: a
  id: 1
psk:
  key: "` + testKey + `"
local:
  type: tap
peers:
  - name: b
    id: 2
    paths:
      - remote: 192.0.2.2:4800
`

func examples(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("examples", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example files: %v", err)
	}
	return files
}

func mustLoad(t *testing.T, path string) *Config {
	t.Helper()
	c, err := Load(path)
	if err != nil {
		t.Fatalf("Load(%s):\n%v", path, err)
	}
	return c
}

func TestExamplesLoad(t *testing.T) {
	for _, f := range examples(t) {
		t.Run(filepath.Base(f), func(t *testing.T) {
			c := mustLoad(t, f)
			if len(c.Peers) == 0 || c.Node.Name == "" {
				t.Errorf("config without node or peers: %+v", c)
			}
		})
	}
	for _, want := range []string{"site-a", "site-b", "nat-edge", "vxlan", "bridge", "failover", "vlanmap", "mesh-p2p", "mesh-super", "mesh-static"} {
		if _, err := os.Stat(filepath.Join("examples", want+".yaml")); err != nil {
			t.Errorf("example %s.yaml: %v", want, err)
		}
	}
}

func TestExamplePair(t *testing.T) {
	a := mustLoad(t, "examples/site-a.yaml")
	b := mustLoad(t, "examples/site-b.yaml")
	ka, err := a.PSK()
	if err != nil {
		t.Fatal(err)
	}
	kb, err := b.PSK()
	if err != nil || ka != kb {
		t.Fatalf("site keys differ: %v, %v", ka, kb)
	}
	if a.Node.ID != 1 || b.Node.ID != 2 || a.Peers[0].ID != b.Node.ID || b.Peers[0].ID != a.Node.ID {
		t.Errorf("ids: a %d (peer %d), b %d (peer %d)", a.Node.ID, a.Peers[0].ID, b.Node.ID, b.Peers[0].ID)
	}
	if a.Peers[0].Name != b.Node.Name || b.Peers[0].Name != a.Node.Name {
		t.Errorf("names: a %s (peer %s), b %s (peer %s)", a.Node.Name, a.Peers[0].Name, b.Node.Name, b.Peers[0].Name)
	}
	if a.Peers[0].Paths[0].Remote != b.Underlay.Listen[0] || b.Peers[0].Paths[0].Remote != a.Underlay.Listen[0] {
		t.Errorf("underlay: a listens %v, sends to %v; b listens %v, sends to %v",
			a.Underlay.Listen, a.Peers[0].Paths[0].Remote, b.Underlay.Listen, b.Peers[0].Paths[0].Remote)
	}
	if a.Underlay.Listen[0] != netip.MustParseAddrPort("192.0.2.1:4800") || b.Underlay.Listen[0] != netip.MustParseAddrPort("192.0.2.2:4800") {
		t.Errorf("listen addresses %v, %v", a.Underlay.Listen, b.Underlay.Listen)
	}
	pa, pb := a.Local.Address, b.Local.Address
	if pa != netip.MustParsePrefix("10.99.0.1/24") || pb != netip.MustParsePrefix("10.99.0.2/24") || pa.Masked() != pb.Masked() {
		t.Errorf("tap addresses %v, %v", pa, pb)
	}
	if a.Suite != b.Suite || a.LZ4 != b.LZ4 {
		t.Errorf("suites %v/%v, lz4 %v/%v", a.Suite, b.Suite, a.LZ4, b.LZ4)
	}
}

func TestExampleFiles(t *testing.T) {
	nat := mustLoad(t, "examples/nat-edge.yaml")
	if p := nat.Peers[0].Paths[0]; !p.LearnAddr() || !p.LearnPort() || p.Local != nat.Underlay.Listen[0] {
		t.Errorf("nat-edge path %+v: want learned address and port, local %v", p, nat.Underlay.Listen[0])
	}

	vx := mustLoad(t, "examples/vxlan.yaml")
	if p := vx.Peers[0]; p.Codec != CodecVXLAN || p.VNI != 42 || p.Keepalive != 0 || vx.PSKSource.Configured() {
		t.Errorf("vxlan peer %+v, psk %v", p, vx.PSKSource)
	}
	if vx.Local.Type != LocalAFPacket || !vx.Local.Promisc || vx.Local.MTU != 0 {
		t.Errorf("vxlan local %+v", vx.Local)
	}
	if _, err := vx.PSK(); err == nil {
		t.Error("PSK() of a config without psk: no error")
	}

	br := mustLoad(t, "examples/bridge.yaml")
	if br.Local.Bridge != "br0" || br.Local.Address.IsValid() || br.PSKSource.Passphrase == "" {
		t.Errorf("bridge local %+v, psk %v", br.Local, br.PSKSource)
	}

	vpp := mustLoad(t, "examples/vpp.yaml")
	if m := vpp.Local.Memif; vpp.Local.Type != LocalMemif || m == nil || m.Socket != "/run/skiff/memif.sock" || !m.Server || m.Queues != 1 || m.RingSize != 1024 || m.BufferSize != 2048 || m.Poll {
		t.Errorf("vpp local %+v memif %+v", vpp.Local, m)
	}

	fo := mustLoad(t, "examples/failover.yaml")
	paths := fo.Peers[0].Paths
	want := []Path{
		{netip.MustParseAddrPort("192.0.2.2:4800"), netip.MustParseAddrPort("192.0.2.1:4800")},
		{netip.MustParseAddrPort("198.51.100.2:4800"), netip.MustParseAddrPort("198.51.100.1:4800")},
		{netip.MustParseAddrPort("[2001:db8::2]:4800"), netip.MustParseAddrPort("[2001:db8::1]:4800")},
	}
	if fmt.Sprint(paths) != fmt.Sprint(want) {
		t.Errorf("failover paths %v, want %v", paths, want)
	}

	p2p := mustLoad(t, "examples/mesh-p2p.yaml")
	if m := p2p.Mesh; m == nil || m.Mode != MeshP2P || m.ProbeInterval != DefaultProbeInterval || m.Filter != DefaultFilter ||
		m.Tolerance != DefaultTolerance || m.HopCost != DefaultHopCost || m.ReportInterval != DefaultReportInterval ||
		m.FIBTimeout != DefaultFIBTimeout || m.Controllers != nil || m.NextHops != nil {
		t.Errorf("mesh-p2p mesh %+v", m)
	}
	if ps := p2p.Peers; len(ps) != 3 || !ps[0].Linked() || ps[0].Paths[0].LearnAddr() ||
		!ps[1].Linked() || !ps[1].Paths[0].LearnAddr() || !ps[1].Paths[0].LearnPort() || ps[2].Linked() {
		t.Errorf("mesh-p2p peers %+v: want a configured remote, a learned one and one without paths", ps)
	}
	super := mustLoad(t, "examples/mesh-super.yaml")
	if m := super.Mesh; m == nil || m.Mode != MeshSuper || !slices.Contains(m.Controllers, super.Node.ID) || len(m.Controllers) != 2 {
		t.Errorf("mesh-super mesh %+v: want two controllers, this node one of them", m)
	}
	static := mustLoad(t, "examples/mesh-static.yaml")
	if m := static.Mesh; m == nil || m.Mode != MeshStatic || len(m.NextHops) != 1 || m.NextHops[2] != 1 {
		t.Errorf("mesh-static mesh %+v: want next hops {2: 1}", m)
	}
	for _, c := range []*Config{p2p, super, static} {
		ids := map[uint16]bool{c.Node.ID: true}
		for _, p := range c.Peers {
			ids[p.ID] = true
		}
		if len(ids) != 4 {
			t.Errorf("mesh example %s: nodes %v, want the same four everywhere", c.Node.Name, ids)
		}
	}

	vm := mustLoad(t, "examples/vlanmap.yaml")
	abs, _ := filepath.Abs("examples/vlanmap.txt")
	got, _ := filepath.Abs(vm.VLANMapFile)
	if got != abs || vm.VLANMap == nil || vm.VLANMap.Len() != 2 {
		t.Errorf("vlan map %s (%v), want %s with 2 entries", vm.VLANMapFile, vm.VLANMap, abs)
	}
}

func TestExample(t *testing.T) {
	c, err := Parse("example.yaml", []byte(Example))
	if err != nil {
		t.Fatalf("Parse(Example):\n%v", err)
	}
	if c.Node.Name != "site-a" || len(c.Peers) != 1 {
		t.Errorf("example: %+v", c)
	}
	// Every key of the schema is explained in the example, set or commented out.
	for _, k := range []string{"version", "node", "name", "id", "psk", "key", "key_file", "passphrase",
		"suite", "lz4", "rekey_after", "local", "type", "address", "bridge", "mtu", "promisc",
		"underlay", "listen", "mtu_policy", "mss", "socket_buffer", "vlan_map", "peers", "codec",
		"vni", "paths", "remote", "keepalive", "dead_after", "control", "socket", "log", "level",
		"mesh", "mode", "probe_interval", "filter", "tolerance", "hop_cost", "report_interval",
		"fib_timeout", "controllers", "next_hops"} {
		if !strings.Contains(Example, k+":") {
			t.Errorf("Example does not mention %s:", k)
		}
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse("min.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Version:    1,
		Node:       Node{Name: "a", ID: 1},
		Suite:      wire.SuiteAES256GCM,
		RekeyAfter: 2 * time.Minute,
		Local:      Local{Type: LocalTAP, Name: "skiff0", MTU: 1500},
		Underlay: Underlay{
			Type:         UnderlayUDP,
			Listen:       []netip.AddrPort{netip.MustParseAddrPort("0.0.0.0:4800")},
			MTU:          1500,
			MTUPolicy:    MTUFragment,
			SocketBuffer: 4 << 20,
		},
		Peers: []Peer{{
			Name: "b", ID: 2, Codec: CodecSkiff,
			Paths:     []Path{{netip.MustParseAddrPort("192.0.2.2:4800"), netip.MustParseAddrPort("0.0.0.0:4800")}},
			Keepalive: time.Second, DeadAfter: 3 * time.Second,
		}},
		Control: Control{Socket: "/run/skiff/a.sock"},
		Log:     Log{Level: slog.LevelInfo},
	}
	want.PSKSource.Key, _ = wire.ParsePSK(testKey)
	c.psk = nil
	if g, w := fmt.Sprintf("%+v %v", *c, c.PSKSource.Key), fmt.Sprintf("%+v %v", *want, want.PSKSource.Key); g != w {
		t.Errorf("defaults:\n got  %s\n want %s", g, w)
	}

	// Empty values are the same as leaving the key out.
	c2, err := Parse("min.yaml", []byte(minimal+"suite:\nlz4: ~\nunderlay:\ncontrol: {}\nlog:\n  level:\n"))
	if err != nil {
		t.Fatal(err)
	}
	c2.psk = nil
	if fmt.Sprintf("%+v", *c2) != fmt.Sprintf("%+v", *want) {
		t.Errorf("empty values:\n got  %+v\n want %+v", *c2, *want)
	}
}

func TestAllValues(t *testing.T) {
	c, err := Parse("/etc/skiff/all.yaml", []byte(`version: 1
node: {name: N.o_d-e9, id: 65519}
psk: {passphrase: "pass phrase"}
suite: chacha20-poly1305
lz4: true
rekey_after: 24h
local: {type: afpacket, name: enp1s0f0, promisc: false}
underlay:
  listen: ["[::]:1", "0.0.0.0:65535", "[::ffff:192.0.2.1]:9"]
  mtu: 65535
  mtu_policy: clamp
  mss: 88
  socket_buffer: 268435456
peers:
  - {name: p, id: 7, paths: [{remote: "[::]:0"}, {remote: "192.0.2.9:0", local: "192.0.2.1:9"}], keepalive: 60s, dead_after: 10m}
control: {socket: run/x.sock}
log: {level: debug}
`))
	if err != nil {
		t.Fatal(err)
	}
	if c.Node != (Node{"N.o_d-e9", 65519}) || c.Suite != wire.SuiteChaCha20Poly1305 || !c.LZ4 || c.RekeyAfter != 24*time.Hour {
		t.Errorf("top: %+v", c)
	}
	if fmt.Sprintf("%+v", c.Local) != fmt.Sprintf("%+v", Local{Type: LocalAFPacket, Name: "enp1s0f0"}) {
		t.Errorf("local: %+v", c.Local)
	}
	u := c.Underlay
	if fmt.Sprint(u.Listen) != "[[::]:1 0.0.0.0:65535 192.0.2.1:9]" || u.MTU != 65535 || u.MTUPolicy != MTUClamp || u.MSS != 88 || u.SocketBuffer != 256<<20 {
		t.Errorf("underlay: %+v", u)
	}
	p := c.Peers[0]
	if fmt.Sprint(p.Paths) != "[{[::]:0 [::]:1} {192.0.2.9:0 192.0.2.1:9}]" || p.Keepalive != time.Minute || p.DeadAfter != 10*time.Minute {
		t.Errorf("peer: %+v", p)
	}
	if !p.Paths[1].LearnPort() || p.Paths[1].LearnAddr() {
		t.Errorf("path %v: want port learned, address pinned", p.Paths[1])
	}
	if c.Control.Socket != "/etc/skiff/run/x.sock" || c.Log.Level != slog.LevelDebug {
		t.Errorf("control %+v, log %+v", c.Control, c.Log)
	}
	if s := fmt.Sprintf("%v %+v %#v", c, c, c); strings.Contains(s, "pass phrase") {
		t.Errorf("printing the config reveals the passphrase: %s", s)
	}
}

func TestPSK(t *testing.T) {
	dir := t.TempDir()
	key, _ := wire.GeneratePSK()
	if err := os.WriteFile(filepath.Join(dir, "psk"), []byte(key.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad"), []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	withPSK := func(psk string) []byte { return []byte(strings.Replace(minimal, `  key: "`+testKey+`"`, psk, 1)) }

	// key_file, relative to the config file.
	c, err := Load(writeFile(t, dir, "a.yaml", withPSK("  key_file: psk")))
	if err != nil {
		t.Fatal(err)
	}
	if k, err := c.PSK(); err != nil || k != key || c.PSKSource.KeyFile != filepath.Join(dir, "psk") {
		t.Errorf("key_file: %v, %v, %s", k, err, c.PSKSource.KeyFile)
	}
	if s := fmt.Sprintf("%v %+v", c, c); strings.Contains(s, key.String()) {
		t.Errorf("printing the config reveals the key: %s", s)
	}

	// key_file errors name the file.
	_, err = Load(writeFile(t, dir, "b.yaml", withPSK("  key_file: bad")))
	wantErr(t, err, "b.yaml:6: psk.key_file: "+filepath.Join(dir, "bad")+": key is not valid base64")
	_, err = Load(writeFile(t, dir, "c.yaml", withPSK("  key_file: /nonexistent/psk")))
	wantErr(t, err, "c.yaml:6: psk.key_file: open /nonexistent/psk: no such file")

	// Passphrase: derived on the first call, then cached.
	c, err = Parse("p.yaml", withPSK("  passphrase: correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	if c.PSKSource.Key != (wire.PSK{}) {
		t.Error("passphrase derived at load")
	}
	want, _ := wire.PSKFromPassphrase("correct horse")
	k1, err1 := c.PSK()
	k2, err2 := c.PSK()
	if k1 != want || k2 != want || err1 != nil || err2 != nil {
		t.Errorf("PSK() = %v, %v; %v, %v; want %v", k1, err1, k2, err2, want)
	}
	if n := testing.AllocsPerRun(10, func() { c.PSK() }); n != 0 {
		t.Errorf("PSK() after the first call allocates %v times: not cached", n)
	}
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func wantErr(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %q", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error does not contain %q:\n%v", w, err)
		}
	}
}

func TestVLANMapErrors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "map.txt", []byte("10 30\n10 31\n1 5000\n"))
	cfg := writeFile(t, dir, "v.yaml", []byte(minimal+"vlan_map: map.txt\n"))
	_, err := Load(cfg)
	mp := filepath.Join(dir, "map.txt")
	wantErr(t, err,
		"v.yaml:14: vlan_map: vlanmap: "+mp+": line 2: local id 10 already mapped on line 1",
		"v.yaml:14: vlan_map: vlanmap: "+mp+": line 3: remote id 5000 out of range 1..4094")
	_, err = Load(writeFile(t, dir, "w.yaml", []byte(minimal+"vlan_map: nope.txt\n")))
	wantErr(t, err, "w.yaml:14: vlan_map: vlanmap: open "+filepath.Join(dir, "nope.txt"))
}

func TestLoadErrors(t *testing.T) {
	_, err := Load("/nonexistent/x.yaml")
	wantErr(t, err, "/nonexistent/x.yaml")
	dir := t.TempDir()
	_, err = Load(writeFile(t, dir, "big.yaml", []byte(strings.Repeat("#\n", maxFileSize))))
	wantErr(t, err, "big.yaml: larger than")
	// Load names the file by its base name.
	_, err = Load(writeFile(t, dir, "v2.yaml", []byte("version: 2\n")))
	if err == nil || !strings.HasPrefix(err.Error(), "v2.yaml:1: version: ") {
		t.Errorf("error %v, want it to start with v2.yaml:1: version:", err)
	}
}

// badCases are invalid configs: each error must name the line and key path.
var badCases = []struct {
	name string
	yaml string
	line int
	path string
	msg  string
}{
	{"empty file", "", 1, "", "empty file"},
	{"only a comment", "# nothing\n", 1, "", "empty file"},
	{"null document", "~\n", 1, "", "empty document"},
	{"yaml syntax", "version: 1\nnode:\n  name: a\n    id: 3\n", 4, "", "yaml syntax: mapping values are not allowed"},
	{"unclosed quote", "version: 1\nnode: \"abc\n", 2, "", "yaml syntax: found unexpected end of stream"},
	{"tab indentation", "version: 1\nnode:\n\tname: a\n", 3, "", "yaml syntax"},
	{"two documents", minimal + "---\nversion: 1\n", 14, "", "more than one YAML document"},
	{"top level list", "- version: 1\n", 1, "", "want a mapping, got a list"},
	{"top level scalar", "hello\n", 1, "", "want a mapping, got \"hello\""},
	{"missing version", strings.Replace(minimal, "version: 1\n", "", 1), 1, "version", "required"},
	{"version 2", strings.Replace(minimal, "version: 1", "version: 2", 1), 1, "version", "unsupported version the number 2"},
	{"version string", strings.Replace(minimal, "version: 1", `version: "1"`, 1), 1, "version", "unsupported version \"1\""},
	{"version list", strings.Replace(minimal, "version: 1", "version: [1]", 1), 1, "version", "unsupported version a list"},
	{"unknown top key", minimal + "mtu: 1500\n", 14, "mtu", "unknown key (want one of version, node,"},
	{"unknown nested key", strings.Replace(minimal, "  id: 1\n", "  id: 1\n  nmae: x\n", 1), 5, "node.nmae", "unknown key (want one of name, id)"},
	{"unknown key in path", strings.Replace(minimal, "      - remote: 192.0.2.2:4800\n", "      - remote: 192.0.2.2:4800\n        weight: 3\n", 1), 14, "peers[0].paths[0].weight", "unknown key"},
	{"merge key", minimal + "log: {<<: {level: info}}\n", 14, "log.<<", "unknown key"},
	{"duplicate top key", minimal + "lz4: false\nlz4: true\n", 15, "lz4", "duplicate key (first on line 14)"},
	{"duplicate nested key", strings.Replace(minimal, "  id: 1\n", "  id: 1\n  id: 3\n", 1), 5, "node.id", "duplicate key (first on line 4)"},
	{"duplicate version", "version: 1\n" + minimal, 2, "version", "duplicate key (first on line 1)"},
	{"list for a map", strings.Replace(minimal, "local:\n  type: tap\n", "local:\n  - type: tap\n", 1), 8, "local", "want a mapping, got a list"},
	{"map for a list", minimal + "underlay:\n  listen: {a: b}\n", 15, "underlay.listen", "want a list, got a mapping"},
	{"scalar for a list", minimal + "underlay:\n  listen: 0.0.0.0:4800\n", 15, "underlay.listen", "want a list, got \"0.0.0.0:4800\""},
	{"map for a scalar", strings.Replace(minimal, "  name: a\n", "  name: {first: a}\n", 1), 3, "node.name", "want a single value, got a mapping"},
	{"missing node", strings.Replace(minimal, "node:\n  name: a\n  id: 1\n", "", 1), 1, "node", "required"},
	{"missing node name", strings.Replace(minimal, "  name: a\n", "", 1), 2, "node.name", "required"},
	{"bad node name", strings.Replace(minimal, "  name: a\n", "  name: site a\n", 1), 3, "node.name", "has the character ' '"},
	{"long node name", strings.Replace(minimal, "  name: a\n", "  name: "+strings.Repeat("x", 33)+"\n", 1), 3, "node.name", "longer than 32"},
	{"empty node name", strings.Replace(minimal, "  name: a\n", "  name: \"\"\n", 1), 3, "node.name", "empty"},
	{"bool node name", strings.Replace(minimal, "  name: a\n", "  name: true\n", 1), 3, "node.name", "want a string, got the boolean true"},
	{"node id 0", strings.Replace(minimal, "  id: 1\n", "  id: 0\n", 1), 4, "node.id", "0 out of range 1..65519"},
	{"node id reserved", strings.Replace(minimal, "  id: 1\n", "  id: 65520\n", 1), 4, "node.id", "65520 out of range 1..65519"},
	{"node id string", strings.Replace(minimal, "  id: 1\n", "  id: one\n", 1), 4, "node.id", "want an integer, got \"one\""},
	{"node id float", strings.Replace(minimal, "  id: 1\n", "  id: 1.5\n", 1), 4, "node.id", "want an integer, got the number 1.5"},
	{"node id huge", strings.Replace(minimal, "  id: 1\n", "  id: 99999999999999999999999\n", 1), 4, "node.id", "out of range 1..65519"},
	{"missing psk", strings.Replace(minimal, "psk:\n  key: \""+testKey+"\"\n", "", 1), 1, "psk", "required"},
	{"null psk", strings.Replace(minimal, "  key: \""+testKey+"\"\n", "", 1), 5, "psk", "required"},
	{"empty psk", strings.Replace(minimal, "  key: \""+testKey+"\"\n", "  {}\n", 1), 5, "psk", "want exactly one of key, key_file and passphrase, got 0"},
	{"two psk sources", strings.Replace(minimal, "psk:\n", "psk:\n  passphrase: hello\n", 1), 7, "psk", "want exactly one of key, key_file and passphrase, got 2"},
	{"bad psk key", strings.Replace(minimal, testKey, "c2tpZmY=", 1), 6, "psk.key", "key is 5 bytes, want 32"},
	{"psk key not base64", strings.Replace(minimal, testKey, "!!!", 1), 6, "psk.key", "not valid base64"},
	{"zero psk key", strings.Replace(minimal, testKey, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", 1), 6, "psk.key", "all-zero key"},
	{"empty passphrase", strings.Replace(minimal, "  key: \""+testKey+"\"", "  passphrase: \"\"", 1), 6, "psk.passphrase", "empty"},
	{"bad suite", minimal + "suite: aes-512-gcm\n", 14, "suite", `unknown suite "aes-512-gcm" (want one of none, aes-128-gcm, aes-192-gcm, aes-256-gcm, chacha20-poly1305)`},
	{"bad lz4", minimal + "lz4: yes\n", 14, "lz4", "want true or false, got \"yes\""},
	{"rekey too short", minimal + "rekey_after: 1s\n", 14, "rekey_after", "1s out of range 10s..24h"},
	{"rekey number", minimal + "rekey_after: 120\n", 14, "rekey_after", "want a duration such as \"3s\""},
	{"rekey bad unit", minimal + "rekey_after: 2 minutes\n", 14, "rekey_after", "want a duration"},
	{"missing local", strings.Replace(minimal, "local:\n  type: tap\n", "", 1), 1, "local", "required"},
	{"missing local type", strings.Replace(minimal, "  type: tap\n", "  name: x\n", 1), 7, "local.type", "required"},
	{"bad local type", strings.Replace(minimal, "type: tap", "type: tun", 1), 8, "local.type", `unknown value "tun" (want one of tap, afpacket, afxdp, memif)`},
	{"memif no section", strings.Replace(minimal, "type: tap", "type: memif", 1), 7, "local.memif", "required for type memif"},
	{"memif no socket", strings.Replace(minimal, "type: tap", "type: memif\n  memif:\n    id: 3", 1), 9, "local.memif.socket", "required"},
	{"memif name", strings.Replace(minimal, "type: tap", "type: memif\n  name: x\n  memif:\n    socket: /s", 1), 9, "local.name", "not for type memif"},
	{"memif role", strings.Replace(minimal, "type: tap", "type: memif\n  memif:\n    socket: /s\n    role: master", 1), 11, "local.memif.role", `unknown value "master" (want one of server, client)`},
	{"memif ring", strings.Replace(minimal, "type: tap", "type: memif\n  memif:\n    socket: /s\n    ring_size: 1000", 1), 11, "local.memif.ring_size", "not a power of two"},
	{"memif secret", strings.Replace(minimal, "type: tap", "type: memif\n  memif:\n    socket: /s\n    secret: 012345678901234567890123", 1), 11, "local.memif.secret", "at most 23 bytes"},
	{"memif queues", strings.Replace(minimal, "type: tap", "type: memif\n  memif:\n    socket: /s\n    queues: 17", 1), 11, "local.memif.queues", "out of range 1..16"},
	{"memif mode", strings.Replace(minimal, "type: tap", "type: memif\n  memif:\n    socket: /s\n    mode: busy", 1), 11, "local.memif.mode", `unknown value "busy"`},
	{"tap memif", strings.Replace(minimal, "type: tap", "type: tap\n  memif:\n    socket: /s", 1), 9, "local.memif", "only for type memif"},
	{"afxdp no name", strings.Replace(minimal, "type: tap", "type: afxdp", 1), 7, "local.name", "required for afxdp"},
	{"afxdp address", strings.Replace(minimal, "type: tap", "type: afxdp\n  name: eth1\n  address: 10.0.0.1/24", 1), 10, "local.address", "only for type tap"},
	{"afxdp vlan 0", strings.Replace(minimal, "type: tap", "type: afxdp\n  name: eth1\n  vlans: [10, 0]", 1), 10, "local.vlans[1]", "out of range 1..4094"},
	{"afxdp vlan twice", strings.Replace(minimal, "type: tap", "type: afxdp\n  name: eth1\n  vlans: [10, 10]", 1), 10, "local.vlans[1]", "VLAN 10 listed twice"},
	{"afxdp vlans empty", strings.Replace(minimal, "type: tap", "type: afxdp\n  name: eth1\n  vlans: []", 1), 10, "local.vlans", "empty list"},
	{"afxdp queues", strings.Replace(minimal, "type: tap", "type: afxdp\n  name: eth1\n  queues: 65", 1), 10, "local.queues", "out of range 0..64"},
	{"tap vlans", strings.Replace(minimal, "type: tap", "type: tap\n  vlans: [10]", 1), 9, "local.vlans", "only for type afxdp"},
	{"underlay type", strings.Replace(minimal, "version: 1", "version: 1\nunderlay:\n  type: dpdk", 1), 3, "underlay.type", `unknown value "dpdk" (want one of udp, afxdp)`},
	{"underlay afxdp no interface", strings.Replace(minimal, "version: 1", "version: 1\nunderlay:\n  type: afxdp", 1), 2, "underlay.interface", "required for type afxdp"},
	{"underlay afxdp two listen", strings.Replace(minimal, "version: 1", "version: 1\nunderlay:\n  type: afxdp\n  interface: eth0\n  listen: [\"0.0.0.0:1\", \"0.0.0.0:2\"]", 1), 5, "underlay.listen", "type afxdp takes one address"},
	{"underlay udp interface", strings.Replace(minimal, "version: 1", "version: 1\nunderlay:\n  interface: eth0", 1), 3, "underlay.interface", "only for type afxdp"},
	{"long tap name", strings.Replace(minimal, "type: tap", "type: tap\n  name: abcdefghijklmnop", 1), 9, "local.name", "longer than 15"},
	{"tap name slash", strings.Replace(minimal, "type: tap", "type: tap\n  name: a/b", 1), 9, "local.name", "contains '/'"},
	{"bad address", strings.Replace(minimal, "type: tap", "type: tap\n  address: 10.99.0.1", 1), 9, "local.address", "want an address with prefix length"},
	{"bad address prefix", strings.Replace(minimal, "type: tap", "type: tap\n  address: 10.99.0.1/33", 1), 9, "local.address", "want an address with prefix length"},
	{"address and bridge", strings.Replace(minimal, "type: tap", "type: tap\n  address: 10.99.0.1/24\n  bridge: br0", 1), 10, "local.bridge", "mutually exclusive"},
	{"tap mtu too big", strings.Replace(minimal, "type: tap", "type: tap\n  mtu: 9001", 1), 9, "local.mtu", "9001 out of range 576..9000"},
	{"tap promisc", strings.Replace(minimal, "type: tap", "type: tap\n  promisc: true", 1), 9, "local.promisc", "only for types afpacket and afxdp"},
	{"afpacket without name", strings.Replace(minimal, "type: tap", "type: afpacket", 1), 7, "local.name", "required for afpacket"},
	{"afpacket address", strings.Replace(minimal, "type: tap", "type: afpacket\n  name: eth1\n  address: 10.0.0.1/24", 1), 10, "local.address", "only for type tap"},
	{"afpacket mtu", strings.Replace(minimal, "type: tap", "type: afpacket\n  name: eth1\n  mtu: 1500", 1), 10, "local.mtu", "only for type tap"},
	{"bad listen", minimal + "underlay:\n  listen: [\"0.0.0.0\"]\n", 15, "underlay.listen[0]", "want an address and port"},
	{"bad listen host", minimal + "underlay:\n  listen:\n    - 0.0.0.0:4800\n    - example.com:4800\n", 17, "underlay.listen[1]", `got "example.com:4800"`},
	{"listen port 0", minimal + "underlay:\n  listen: [\"0.0.0.0:0\"]\n", 15, "underlay.listen[0]", "port 0"},
	{"listen twice", minimal + "underlay:\n  listen:\n    - 0.0.0.0:4800\n    - 0.0.0.0:4800\n", 17, "underlay.listen[1]", "listed twice (first on line 16)"},
	{"listen empty", minimal + "underlay:\n  listen: []\n", 15, "underlay.listen", "empty list"},
	{"underlay mtu", minimal + "underlay:\n  mtu: 99999\n", 15, "underlay.mtu", "99999 out of range 576..65535"},
	{"underlay mtu small", minimal + "underlay:\n  mtu: 575\n", 15, "underlay.mtu", "575 out of range 576..65535"},
	{"mtu policy", minimal + "underlay:\n  mtu_policy: drop\n", 15, "underlay.mtu_policy", `unknown value "drop" (want one of fragment, clamp, none)`},
	{"mss too small", minimal + "underlay:\n  mss: 87\n", 15, "underlay.mss", "87 out of range 88..65495"},
	{"mss too big", minimal + "underlay:\n  mss: 65496\n", 15, "underlay.mss", "65496 out of range"},
	{"socket buffer", minimal + "underlay:\n  socket_buffer: 4MiB\n", 15, "underlay.socket_buffer", "want an integer"},
	{"socket buffer small", minimal + "underlay:\n  socket_buffer: 1024\n", 15, "underlay.socket_buffer", "1024 out of range 65536..268435456"},
	{"vlan map empty", minimal + "vlan_map: \"\"\n", 14, "vlan_map", "empty"},
	{"no peers", strings.Replace(minimal, minimal[strings.Index(minimal, "peers:"):], "peers: []\n", 1), 9, "peers", "at least one peer"},
	{"missing peers", minimal[:strings.Index(minimal, "peers:")], 1, "peers", "at least one peer"},
	{"peers map", minimal[:strings.Index(minimal, "peers:")] + "peers:\n  b: {id: 2}\n", 9, "peers", "want a list, got a mapping"},
	{"peer id is node id", strings.Replace(minimal, "    id: 2\n", "    id: 1\n", 1), 11, "peers[0].id", "1 is this node's id (node.id, line 4)"},
	{"peer missing id", strings.Replace(minimal, "    id: 2\n", "", 1), 10, "peers[0].id", "required"},
	{"peer missing paths", strings.Replace(minimal, "    paths:\n      - remote: 192.0.2.2:4800\n", "", 1), 10, "peers[0].paths", "at least one path"},
	{"peer empty paths", strings.Replace(minimal, "    paths:\n      - remote: 192.0.2.2:4800\n", "    paths: []\n", 1), 12, "peers[0].paths", "at least one path"},
	{"path without remote", strings.Replace(minimal, "      - remote: 192.0.2.2:4800\n", "      - local: 0.0.0.0:4800\n", 1), 13, "peers[0].paths[0].remote", "required"},
	{"bad remote", strings.Replace(minimal, "192.0.2.2:4800", "192.0.2.2", 1), 13, "peers[0].paths[0].remote", "want an address and port"},
	{"bad remote port", strings.Replace(minimal, "192.0.2.2:4800", "192.0.2.2:65536", 1), 13, "peers[0].paths[0].remote", "want an address and port"},
	{"duplicate peer name", minimal + "  - name: b\n    id: 3\n    paths: [{remote: 192.0.2.3:4800}]\n", 14, "peers[1].name", `"b" is also the name of peers[0] (line 10)`},
	{"duplicate peer id", minimal + "  - name: c\n    id: 2\n    paths: [{remote: 192.0.2.3:4800}]\n", 15, "peers[1].id", "2 is also the id of peers[0] (line 11)"},
	{"peer name is node name", strings.Replace(minimal, "  - name: b\n", "  - name: a\n", 1), 10, "peers[0].name", "this node's name"},
	{"codec", strings.Replace(minimal, "    id: 2\n", "    id: 2\n    codec: geneve\n", 1), 12, "peers[0].codec", `unknown value "geneve" (want one of skiff, vxlan)`},
	{"vni with skiff", strings.Replace(minimal, "    id: 2\n", "    id: 2\n    vni: 42\n", 1), 12, "peers[0].vni", "only for codec vxlan"},
	{"vni with explicit skiff", strings.Replace(minimal, "    id: 2\n", "    id: 2\n    codec: skiff\n    vni: 42\n", 1), 13, "peers[0].vni", "only for codec vxlan"},
	{"vxlan without vni", strings.Replace(minimal, "    id: 2\n", "    id: 2\n    codec: vxlan\n", 1), 10, "peers[0].vni", "required for codec vxlan"},
	{"vni too big", strings.Replace(minimal, "    id: 2\n", "    id: 2\n    codec: vxlan\n    vni: 16777216\n", 1), 13, "peers[0].vni", "16777216 out of range 0..16777215"},
	{"vxlan with lz4", strings.Replace(minimal, "    id: 2\n", "    id: 2\n    codec: vxlan\n    vni: 1\n", 1) + "lz4: true\n", 16, "lz4", "peer b (peers[0], line 10) uses codec vxlan"},
	{"vxlan learning", strings.Replace(strings.Replace(minimal, "    id: 2\n", "    id: 2\n    codec: vxlan\n    vni: 1\n", 1), "192.0.2.2:4800", "192.0.2.2:0", 1), 15, "peers[0].paths[0].remote", "cannot be learned"},
	{"vxlan keepalive", strings.Replace(minimal, "    id: 2\n", "    id: 2\n    codec: vxlan\n    vni: 1\n    keepalive: 1s\n", 1), 14, "peers[0].keepalive", "not for codec vxlan"},
	{"path local not in listen", strings.Replace(minimal, "      - remote: 192.0.2.2:4800\n", "      - remote: 192.0.2.2:4800\n        local: 192.0.2.1:4800\n", 1), 14, "peers[0].paths[0].local", "192.0.2.1:4800 is not one of underlay.listen (0.0.0.0:4800)"},
	{"path local family", strings.Replace(minimal, "      - remote: 192.0.2.2:4800\n", "      - remote: 192.0.2.2:4800\n        local: \"[::]:4800\"\n", 1) + "underlay:\n  listen: [\"0.0.0.0:4800\", \"[::]:4800\"]\n", 14, "peers[0].paths[0].local", "[::]:4800 is IPv6 but remote 192.0.2.2:4800 is IPv4"},
	{"no listen of the family", strings.Replace(minimal, "192.0.2.2:4800", "\"[2001:db8::2]:4800\"", 1), 13, "peers[0].paths[0].remote", "underlay.listen has no IPv6 address"},
	{"keepalive too short", strings.Replace(minimal, "    id: 2\n", "    id: 2\n    keepalive: 50ms\n", 1), 12, "peers[0].keepalive", "50ms out of range 100ms..60s"},
	{"dead_after equal keepalive", strings.Replace(minimal, "    id: 2\n", "    id: 2\n    keepalive: 2s\n    dead_after: 2s\n", 1), 13, "peers[0].dead_after", "2s must be greater than keepalive (2s)"},
	{"keepalive above default dead_after", strings.Replace(minimal, "    id: 2\n", "    id: 2\n    keepalive: 5s\n", 1), 12, "peers[0].keepalive", "5s must be less than dead_after (3s, the default)"},
	{"dead_after too long", strings.Replace(minimal, "    id: 2\n", "    id: 2\n    dead_after: 11m\n", 1), 12, "peers[0].dead_after", "11m out of range"},
	{"control socket too long", minimal + "control:\n  socket: /" + strings.Repeat("s", 120) + "\n", 15, "control.socket", "longer than 107 bytes"},
	{"log level", minimal + "log:\n  level: verbose\n", 15, "log.level", `unknown value "verbose" (want one of debug, info, warn, error)`},
	{"log level number", minimal + "log:\n  level: 3\n", 15, "log.level", "unknown value the number 3"},
	{"complex key", minimal + "? [a]\n: b\n", 14, "", "keys must be plain names"},
}

func TestBadConfigs(t *testing.T) {
	for _, tt := range badCases {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("bad.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("no error; config %+v", c)
			}
			if c != nil {
				t.Errorf("config returned with the error")
			}
			prefix := fmt.Sprintf("bad.yaml:%d: ", tt.line)
			if tt.path != "" {
				prefix += tt.path + ": "
			}
			found := false
			for _, line := range strings.Split(err.Error(), "\n") {
				found = found || strings.HasPrefix(line, prefix) && strings.Contains(line, tt.msg)
			}
			if !found {
				t.Errorf("no error starting with %q containing %q:\n%v", prefix, tt.msg, err)
			}
			var e *Error
			if !errors.As(err, &e) || e.File != "bad.yaml" || e.Line < 1 {
				t.Errorf("error is not an *Error with file and line: %#v", err)
			}
		})
	}
}

func TestAllErrorsReported(t *testing.T) {
	_, err := Parse("many.yaml", []byte(`version: 1
node: {name: "bad name", id: 0}
suite: rot13
lz4: maybe
local: {type: tap, mtu: 1}
underlay: {mtu: 1}
peers:
  - {name: b, id: 2, paths: [{remote: nowhere}]}
  - {name: b, id: 2, paths: [{remote: 192.0.2.1:1}], color: red}
log: {level: loud}
`))
	want := []string{
		"many.yaml:1: psk: required", "many.yaml:2: node.name:", "many.yaml:2: node.id:", "many.yaml:3: suite:", "many.yaml:4: lz4:",
		"many.yaml:5: local.mtu:", "many.yaml:6: underlay.mtu:", "many.yaml:7: peers: 2 peers need a mesh section", "many.yaml:8: peers[0].paths[0].remote:",
		"many.yaml:9: peers[1].color: unknown key", "many.yaml:9: peers[1].name:", "many.yaml:9: peers[1].id:",
		"many.yaml:10: log.level:",
	}
	wantErr(t, err, want...)
	// One per line of output, in line order.
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Errorf("%d errors, want %d:\n%v", len(lines), len(want), err)
	}
	prev := 0
	for _, l := range lines {
		var n int
		if _, err := fmt.Sscanf(strings.TrimPrefix(l, "many.yaml:"), "%d:", &n); err != nil || n < prev {
			t.Errorf("error %q out of line order (after line %d)", l, prev)
		}
		prev = n
	}
}

func TestTooManyErrors(t *testing.T) {
	var b strings.Builder
	b.WriteString(minimal)
	for i := range 200 {
		fmt.Fprintf(&b, "k%d: 1\n", i)
	}
	_, err := Parse("x.yaml", []byte(b.String()))
	wantErr(t, err, "x.yaml:14: k0: unknown key", "x.yaml: 150 more errors")
	if n := strings.Count(err.Error(), "\n") + 1; n != maxErrors+1 {
		t.Errorf("%d lines of errors, want %d", n, maxErrors+1)
	}
}

func TestAliases(t *testing.T) {
	c, err := Parse("alias.yaml", []byte(minimal+"underlay:\n  listen: &l [\"0.0.0.0:4800\"]\ncontrol: &c\n  socket: /x.sock\nlog: {level: &lv debug}\n"))
	if err != nil || c.Control.Socket != "/x.sock" || c.Log.Level != slog.LevelDebug {
		t.Fatalf("aliases: %v, %+v", err, c)
	}
	_, err = Parse("alias.yaml", []byte("version: 1\nx: &a [1]\ny: *a\n"))
	wantErr(t, err, "alias.yaml:2: x: unknown key", "alias.yaml:3: y: unknown key")
}

func FuzzParse(f *testing.F) {
	for _, p := range examples(f) {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	f.Add(Example)
	f.Add(minimal)
	for _, tt := range badCases {
		f.Add(tt.yaml)
	}
	f.Fuzz(func(t *testing.T, data string) {
		c, err := Parse("fuzz.yaml", []byte(data))
		if (c == nil) == (err == nil) {
			t.Fatalf("config %v, error %v: want exactly one", c, err)
		}
		if err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "fuzz.yaml:") {
					t.Fatalf("error line without file name: %q", line)
				}
			}
			return
		}
		if c.Version != 1 || c.Node.ID == 0 || len(c.Peers) == 0 || c.Local.Type == 0 || len(c.Underlay.Listen) == 0 {
			t.Fatalf("incomplete config: %+v", c)
		}
		linked := map[uint16]bool{}
		for _, p := range c.Peers {
			for _, path := range p.Paths {
				if !path.Local.IsValid() {
					t.Fatalf("path without local address: %+v", p)
				}
			}
			if len(p.Paths) == 0 && c.Mesh == nil {
				t.Fatalf("peer %s without paths outside a mesh", p.Name)
			}
			linked[p.ID] = p.Linked()
		}
		if c.Mesh == nil {
			if len(c.Peers) != 1 {
				t.Fatalf("%d peers without a mesh", len(c.Peers))
			}
			return
		}
		m := c.Mesh
		if m.Mode < MeshStatic || m.Mode > MeshP2P || m.Filter < 1 || m.ProbeInterval <= 0 || m.ReportInterval <= 0 || m.FIBTimeout <= 0 {
			t.Fatalf("mesh %+v", m)
		}
		if (m.Mode == MeshSuper) != (len(m.Controllers) > 0) || (m.Mode != MeshStatic && len(m.NextHops) > 0) {
			t.Fatalf("mesh %+v: mode-specific keys in the wrong mode", m)
		}
		for dst, via := range m.NextHops {
			if !linked[via] || dst == c.Node.ID {
				t.Fatalf("next hop %d -> %d: via must be a linked peer", dst, via)
			}
		}
	})
}
