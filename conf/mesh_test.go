// SPDX-License-Identifier: Apache-2.0

package conf

import (
	"maps"
	"slices"
	"testing"
	"time"
)

const meshHead = `version: 1
node: {name: n1, id: 1}
psk: {passphrase: mesh test}
local: {type: tap}
`

func TestMesh(t *testing.T) {
	c, err := Parse("m.yaml", []byte(meshHead+`mesh:
  mode: p2p
  probe_interval: 200ms
  filter: 3
  tolerance: 1ms
  hop_cost: 500us
  report_interval: 500ms
  fib_timeout: 1m
peers:
  - {name: n2, id: 2, paths: [{remote: "192.0.2.2:4800"}], dead_after: 1s}
  - {name: n3, id: 3, paths: [{remote: "0.0.0.0:0"}], keepalive: 300ms}
  - {name: n5, id: 5}
`))
	if err != nil {
		t.Fatal(err)
	}
	m := c.Mesh
	want := Mesh{Mode: MeshP2P, ProbeInterval: 200 * time.Millisecond, Filter: 3, Tolerance: time.Millisecond,
		HopCost: 500 * time.Microsecond, ReportInterval: 500 * time.Millisecond, FIBTimeout: time.Minute}
	if m == nil || m.Mode != want.Mode || m.ProbeInterval != want.ProbeInterval || m.Filter != want.Filter ||
		m.Tolerance != want.Tolerance || m.HopCost != want.HopCost || m.ReportInterval != want.ReportInterval || m.FIBTimeout != want.FIBTimeout {
		t.Fatalf("mesh = %+v, want %+v", m, want)
	}
	if c.Peers[0].Keepalive != 200*time.Millisecond || c.Peers[1].Keepalive != 300*time.Millisecond {
		t.Errorf("keepalives %v %v: want mesh.probe_interval as the default, the peer's own key first", c.Peers[0].Keepalive, c.Peers[1].Keepalive)
	}
	if !c.Peers[0].Linked() || c.Peers[2].Linked() {
		t.Error("Linked wrong")
	}

	c, err = Parse("d.yaml", []byte(meshHead+"mesh: {mode: super, controllers: [1, 2]}\npeers:\n  - {name: n2, id: 2, paths: [{remote: \"192.0.2.2:4800\"}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m := c.Mesh; m.Filter != DefaultFilter || m.ProbeInterval != DefaultProbeInterval || m.FIBTimeout != DefaultFIBTimeout ||
		m.Tolerance != DefaultTolerance || m.HopCost != DefaultHopCost || !slices.Equal(m.Controllers, []uint16{1, 2}) {
		t.Errorf("defaults: %+v", m)
	}

	c, err = Parse("s.yaml", []byte(meshHead+"mesh: {mode: static, next_hops: {3: 2, 4: 2}}\npeers:\n  - {name: n2, id: 2, paths: [{remote: \"192.0.2.2:4800\"}]}\n  - {name: n3, id: 3}\n  - {name: n4, id: 4}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Mesh.NextHops; !maps.Equal(got, map[uint16]uint16{3: 2, 4: 2}) {
		t.Errorf("next hops %v", got)
	}
}

func TestMeshErrors(t *testing.T) {
	link := "  - {name: n2, id: 2, paths: [{remote: \"192.0.2.2:4800\"}]}\n"
	for _, tc := range []struct{ cfg, want string }{
		{"mesh: {probe_interval: 1s}\npeers:\n" + link, "m.yaml:5: mesh.mode: required (static, super or p2p)"},
		{"mesh: {mode: ring}\npeers:\n" + link, "mesh.mode: unknown value \"ring\" (want one of static, super, p2p)"},
		{"mesh: {mode: super}\npeers:\n" + link, "mesh.controllers: required in super mode"},
		{"mesh: {mode: p2p, controllers: [1]}\npeers:\n" + link, "mesh.controllers: only for mode super (this mesh is p2p)"},
		{"mesh: {mode: super, controllers: [7]}\npeers:\n" + link, "mesh.controllers[0]: 7 is neither this node (1) nor a peer"},
		{"mesh: {mode: super, controllers: [2, 2]}\npeers:\n" + link, "mesh.controllers[1]: 2 listed twice"},
		{"mesh: {mode: p2p, next_hops: {3: 2}}\npeers:\n" + link, "mesh.next_hops: only for mode static"},
		{"mesh: {mode: static, next_hops: {3: 2}}\npeers:\n" + link, "mesh.next_hops.3: destination 3 is not a peer"},
		{"mesh: {mode: static, next_hops: {3: 9}}\npeers:\n" + link + "  - {name: n3, id: 3}\n", "mesh.next_hops.3: next hop 9 is not a peer"},
		{"mesh: {mode: static, next_hops: {2: 3}}\npeers:\n" + link + "  - {name: n3, id: 3}\n", "next hop 3 (n3) has no paths: a next hop must be a linked peer"},
		{"mesh: {mode: static, next_hops: {1: 2}}\npeers:\n" + link, "mesh.next_hops.1: 1 is this node"},
		{"mesh: {mode: static, next_hops: [2]}\npeers:\n" + link, "mesh.next_hops: want a mapping of destination id: next-hop id"},
		{"mesh: {mode: p2p, filter: 0}\npeers:\n" + link, "mesh.filter: 0 out of range 1..63"},
		{"mesh: {mode: p2p, probe_interval: 10ms}\npeers:\n" + link, "mesh.probe_interval: 10ms out of range 100ms..60s"},
		{"mesh: {mode: p2p, probe_interval: 5s}\npeers:\n" + link, "peers[0].dead_after: the default 3s must be greater than the keepalive (5s, mesh.probe_interval)"},
		{"mesh: {mode: p2p}\npeers:\n  - {name: n3, id: 3}\n", "peers: no peer has paths"},
		{"mesh: {mode: p2p}\npeers:\n  - {name: n3, id: 3, codec: vxlan, vni: 1, paths: [{remote: \"192.0.2.2:4789\"}]}\n", "peers[0].codec: vxlan: a mesh carries skiff's header"},
		{"peers:\n" + link + "  - {name: n3, id: 3}\n", "peers[1].paths: required: at least one path (only a mesh peer may have none"},
		{"mesh: {mode: p2p, colour: red}\npeers:\n" + link, "mesh.colour: unknown key"},
	} {
		_, err := Parse("m.yaml", []byte(meshHead+tc.cfg))
		wantErr(t, err, tc.want)
	}
}
