// SPDX-License-Identifier: Apache-2.0

package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.fd.io/govpp/adapter"
	"go.fd.io/govpp/adapter/mock"
	govppapi "go.fd.io/govpp/api"
	"go.fd.io/govpp/binapi/ethernet_types"
	"go.fd.io/govpp/binapi/memif"
	"go.fd.io/govpp/core"

	"github.com/skiffnet/skiff/vpp/vppapi"
	"github.com/skiffnet/skiff/vpp/vppapi/vppapitest"
)

// fakeVPPDial points skiff vpp at a fake VPP and a stats segment with
// counters for sw_if_index 3 (memif1/0), until the test ends.
func fakeVPPDial(t *testing.T) *vppapitest.VPP {
	t.Helper()
	f := vppapitest.New(t)
	sa := mock.NewStatsAdapter()
	sa.MockDir(&adapter.StatDir{Entries: []adapter.StatEntry{
		{StatIdentifier: adapter.StatIdentifier{Name: []byte("/if/names")}, Data: adapter.NameStat{[]byte("local0"), []byte("a"), []byte("b"), []byte("memif1/0")}},
		{StatIdentifier: adapter.StatIdentifier{Name: []byte("/if/rx")}, Data: adapter.CombinedCounterStat{{{}, {}, {}, {12, 3400}}}},
		{StatIdentifier: adapter.StatIdentifier{Name: []byte("/if/tx")}, Data: adapter.CombinedCounterStat{{{}, {}, {}, {56, 7800}}}},
		{StatIdentifier: adapter.StatIdentifier{Name: []byte("/if/drops")}, Data: adapter.SimpleCounterStat{{0, 0, 0, 9}}},
	}})
	oldDial, oldStats := vppDial, vppDialStats
	t.Cleanup(func() { vppDial, vppDialStats = oldDial, oldStats })
	vppDial = func(path string) (vppapi.Conn, func(), error) {
		if path != "/test/api.sock" {
			t.Errorf("API socket %q, want the -api flag's /test/api.sock", path)
		}
		return f.Connect(), func() {}, nil
	}
	vppDialStats = func(path string) (vppapi.Stats, func(), error) {
		if path == "/nowhere" {
			return nil, nil, errors.New("no stats here")
		}
		sc, err := core.ConnectStats(sa)
		if err != nil {
			return nil, nil, err
		}
		return sc, sc.Disconnect, nil
	}
	return f
}

func TestVPPAttachShowDetach(t *testing.T) {
	f := fakeVPPDial(t)
	initial := f.State()
	code, out, errOut := runArgs(t, "vpp", "attach", "-api", "/test/api.sock", "-socket", "/run/skiff//memif.sock", "-role", "client",
		"-secret", "pw", "-queues", "2", "-ring", "512", "-buffer", "9216", "-mac", "02:00:00:00:00:09", "-mtu", "9000", "-bridge", "10")
	if want := "attached memif1/0 (sw_if_index 3, VPP master for skiff's client, socket 1 /run/skiff/memif.sock, id 0), in bridge domain 10 (created)\n"; code != 0 || out != want || errOut != "" {
		t.Fatalf("skiff vpp attach = %d, %q, stderr %q; want %q", code, out, errOut, want)
	}
	var create *memif.MemifCreateV2
	for _, r := range f.Requests() {
		if c, ok := r.(*memif.MemifCreateV2); ok {
			create = c
		}
	}
	want := &memif.MemifCreateV2{Role: memif.MEMIF_ROLE_API_MASTER, Mode: memif.MEMIF_MODE_API_ETHERNET, RxQueues: 2, TxQueues: 2, SocketID: 1,
		RingSize: 512, BufferSize: 9216, NoZeroCopy: true, HwAddr: ethernet_types.MacAddress{2, 0, 0, 0, 0, 9}, Secret: "pw"}
	if create == nil || *create != *want {
		t.Errorf("memif_create_v2 = %+v, want %+v", create, want)
	}
	if mtu := f.State().Ifs[3].Mtu; mtu[0] != 9000 {
		t.Errorf("MTU %v, want 9000", mtu)
	}

	code, out, errOut = runArgs(t, "vpp", "show", "-api", "/test/api.sock")
	if code != 0 || errOut != "" {
		t.Fatalf("skiff vpp show = %d, stderr %q", code, errOut)
	}
	for _, re := range []string{
		`(?m)^MEMIF +SW_IF_INDEX +SKIFF ROLE +ID +SOCKET +RING +BUFFER +ADMIN +LINK +MTU +L2$`,
		`(?m)^memif1/0 +3 +client \(VPP master\) +0 +1 /run/skiff/memif.sock +512 +9216 +up +down +9000 +bridge 10$`,
		`(?m)^ +COUNTERS +RX PACKETS +RX BYTES +TX PACKETS +TX BYTES +DROPS +RX ERRORS +TX ERRORS +RX NO BUF +RX MISS$`,
		`(?m)^ +memif1/0 +12 +3400 +56 +7800 +9 +0 +0 +0 +0$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("skiff vpp show does not match %s:\n%s", re, out)
		}
	}

	code, out, errOut = runArgs(t, "vpp", "show", "-api", "/test/api.sock", "-json", "-stats", "/nowhere", "-socket", "/run/skiff/memif.sock", "-id", "0")
	var ms []vppapi.Memif
	if err := json.Unmarshal([]byte(out), &ms); code != 0 || err != nil || len(ms) != 1 {
		t.Fatalf("skiff vpp show -json = %d, %v, %q", code, err, out)
	}
	if m := ms[0]; m.Name != "memif1/0" || m.Role != "client" || m.Bridge != 10 || m.MAC != "02:00:00:00:00:09" || m.Counters != nil {
		t.Errorf("skiff vpp show -json: %+v", m)
	}
	if !strings.Contains(errOut, "skiff vpp show: no counters: no stats here") {
		t.Errorf("show without stats: stderr %q", errOut)
	}
	if code, out, _ := runArgs(t, "vpp", "show", "-api", "/test/api.sock", "-socket", "/run/skiff/memif.sock", "-id", "1"); code != 0 || !strings.HasPrefix(out, "VPP has no memif skiff attached") {
		t.Errorf("skiff vpp show -id 1 = %d, %q", code, out)
	}

	code, out, errOut = runArgs(t, "vpp", "detach", "-api", "/test/api.sock", "-socket", "/run/skiff/memif.sock")
	if want := "detached memif1/0 (sw_if_index 3): bridge domain 10 left and deleted, memif deleted, socket 1 deleted\n"; code != 0 || out != want {
		t.Errorf("skiff vpp detach = %d, %q, stderr %q; want %q", code, out, errOut, want)
	}
	if !vppStateEqual(f.State(), initial) {
		t.Errorf("VPP after detach: %+v, want %+v", f.State(), initial)
	}
	code, _, errOut = runArgs(t, "vpp", "detach", "-api", "/test/api.sock", "-socket", "/run/skiff/memif.sock")
	if code != 1 || !strings.Contains(errOut, "skiff vpp: socket /run/skiff/memif.sock id 0: VPP has no such memif") {
		t.Errorf("second detach = %d, stderr %q", code, errOut)
	}
}

func vppStateEqual(a, b vppapitest.State) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestVPPAttachXconnectJSON(t *testing.T) {
	fakeVPPDial(t)
	code, out, errOut := runArgs(t, "vpp", "attach", "-api", "/test/api.sock", "-socket", "abstract:skiff", "-id", "4", "-role", "server", "-zero-copy", "-xconnect", "GigabitEthernet0/8/0", "-json")
	var a vppapi.Attachment
	if err := json.Unmarshal([]byte(out), &a); code != 0 || err != nil {
		t.Fatalf("skiff vpp attach -json = %d, %v, %q, stderr %q", code, err, out, errOut)
	}
	want := vppapi.Attachment{SwIfIndex: 3, Name: "memif1/4", Role: "server", VPPRole: "slave", ID: 4, SocketID: 1, Socket: "abstract:skiff", SocketCreated: true, Xconnect: "GigabitEthernet0/8/0", XconnectIndex: 1}
	if a != want {
		t.Errorf("attachment %+v, want %+v", a, want)
	}
	code, out, _ = runArgs(t, "vpp", "show", "-api", "/test/api.sock", "-stats", "")
	if code != 0 || !regexp.MustCompile(`(?m)^memif1/4 +3 +server \(VPP slave\) +4 +1 abstract:skiff .* xconnect GigabitEthernet0/8/0$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^ +memif1/4( +-){9}$`).MatchString(out) {
		t.Errorf("skiff vpp show = %d:\n%s", code, out)
	}
}

func TestVPPAttachFails(t *testing.T) {
	f := fakeVPPDial(t)
	initial := f.State()
	f.Fail(4, int32(govppapi.INVALID_ARGUMENT)) // memif_create_v2, after three dumps and the socket
	code, out, errOut := runArgs(t, "vpp", "attach", "-api", "/test/api.sock", "-socket", "/run/skiff/memif.sock", "-role", "server", "-bridge", "10")
	if want := "skiff vpp: create memif (socket 1, id 0, VPP slave): VPPApiError: Invalid argument (-73)\n"; code != 1 || out != "" || errOut != want {
		t.Errorf("skiff vpp attach = %d, %q, stderr %q; want 1 and %q", code, out, errOut, want)
	}
	if !vppStateEqual(f.State(), initial) {
		t.Errorf("VPP after a failed attach: %+v, want %+v", f.State(), initial)
	}
}

func TestVPPNoAPISocket(t *testing.T) {
	code, _, errOut := runArgs(t, "vpp", "show", "-api", t.TempDir()+"/api.sock")
	if code != 1 || !strings.Contains(errOut, "VPP API socket: stat ") || !strings.Contains(errOut, "is VPP running") {
		t.Errorf("skiff vpp show without VPP = %d, stderr %q", code, errOut)
	}
}

func TestVPPUsageErrors(t *testing.T) {
	attach := []string{"vpp", "attach", "-socket", "/s", "-role", "server"}
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"no subcommand", []string{"vpp"}, "missing subcommand: attach, detach or show"},
		{"unknown subcommand", []string{"vpp", "frob"}, `unknown subcommand "frob"`},
		{"unknown flag", []string{"vpp", "show", "-x"}, "flag provided but not defined: -x"},
		{"argument", []string{"vpp", "show", "now"}, `unexpected argument "now"`},
		{"no socket", []string{"vpp", "attach", "-role", "server", "-bridge", "1"}, "missing -socket PATH"},
		{"relative socket", []string{"vpp", "detach", "-socket", "memif.sock"}, `-socket "memif.sock": want an absolute path or abstract:NAME`},
		{"no role", []string{"vpp", "attach", "-socket", "/s", "-bridge", "1"}, "missing -role server|client"},
		{"bad role", []string{"vpp", "attach", "-socket", "/s", "-role", "master!", "-bridge", "1"}, `-role "master!": want server or client`},
		{"neither", attach, "give -bridge N or -xconnect IFNAME"},
		{"both", append(attach, "-bridge", "1", "-xconnect", "x"), "-bridge and -xconnect are mutually exclusive"},
		{"bridge range", append(attach, "-bridge", "16777216"), "-bridge 16777216 out of range 1..16777215"},
		{"id range", []string{"vpp", "detach", "-socket", "/s", "-id", "4294967296"}, "-id 4294967296 out of range 0..4294967295"},
		{"ring", append(attach, "-bridge", "1", "-ring", "100"), "-ring 100: want a power of two in 2..16384"},
		{"zero ring", append(attach, "-bridge", "1", "-ring", "0"), "-ring 0: must be above 0"},
		{"queues", append(attach, "-bridge", "1", "-queues", "300"), "-queues 300 out of range 1..255"},
		{"mtu", append(attach, "-bridge", "1", "-mtu", "100"), "-mtu 100 out of range 576..9000"},
		{"buffer", append(attach, "-bridge", "1", "-buffer", "70000"), "-buffer 70000 out of range 128..65535"},
		{"secret", append(attach, "-bridge", "1", "-secret", strings.Repeat("x", 24)), "-secret must be at most 23 bytes"},
		{"mac", append(attach, "-bridge", "1", "-mac", "nope"), "-mac: address nope: invalid MAC address"},
		{"multicast mac", append(attach, "-bridge", "1", "-mac", "01:00:5e:00:00:01"), "-mac 01:00:5e:00:00:01 is a multicast address"},
		{"timeout", append(attach, "-bridge", "1", "-timeout", "0s"), "-timeout 0s: must be above 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runArgs(t, tt.args...)
			if code != 2 || !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, "usage: skiff vpp") {
				t.Errorf("skiff %q = %d, stdout %q, stderr %q; want 2 and %q with usage", tt.args, code, out, errOut, tt.want)
			}
		})
	}
}

func TestVPPHelp(t *testing.T) {
	code, out, _ := runArgs(t, "help", "vpp")
	if code != 0 {
		t.Fatalf("skiff help vpp = %d", code)
	}
	for _, want := range []string{
		"usage: skiff vpp attach|detach|show [FLAGS]",
		"skiff vpp attach -socket PATH -role server|client (-bridge N | -xconnect IFNAME) [FLAGS]",
		"skiff vpp detach -socket PATH [-id N] [FLAGS]",
		"skiff vpp show [-socket PATH] [-id N] [-all] [-json] [FLAGS]",
		"-xconnect IFNAME", "-bridge N", "-stats SOCKET", `(default "/run/vpp/api.sock")`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("skiff help vpp does not contain %q", want)
		}
	}
	for _, sub := range []string{"attach", "detach", "show"} {
		code, out, errOut := runArgs(t, "vpp", sub, "-h")
		if code != 0 || out != "" || !strings.HasPrefix(errOut, "usage: skiff vpp "+sub+" ") || !strings.Contains(errOut, "-timeout DURATION") {
			t.Errorf("skiff vpp %s -h = %d, stderr %q", sub, code, errOut)
		}
	}
}

// -c FILE takes the memif from skiff's config; flags override it.
func TestVPPAttachFromConfig(t *testing.T) {
	f := fakeVPPDial(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "site.yaml")
	body := `version: 1
node: {name: a, id: 1}
psk: {key: "c2tpZmYgZXhhbXBsZSBrZXkgLSByZXBsYWNlIG1lISE="}
local:
  type: memif
  memif: {socket: "@skiff-vpp", id: 7, role: server, secret: pw, queues: 2, ring_size: 512, buffer_size: 4096}
peers:
  - {name: b, id: 2, paths: [{remote: "192.0.2.2:4800"}]}
`
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runArgs(t, "vpp", "attach", "-api", "/test/api.sock", "-c", cfg, "-queues", "1", "-bridge", "10")
	if code != 0 || !strings.Contains(out, "VPP slave for skiff's server") || !strings.Contains(out, "abstract:skiff-vpp, id 7") {
		t.Fatalf("attach -c = %d, %q, stderr %q", code, out, errOut)
	}
	var create *memif.MemifCreateV2
	var sock *memif.MemifSocketFilenameAddDelV2
	for _, r := range f.Requests() {
		switch r := r.(type) {
		case *memif.MemifCreateV2:
			create = r
		case *memif.MemifSocketFilenameAddDelV2:
			sock = r
		}
	}
	if sock == nil || sock.SocketFilename != "abstract:skiff-vpp" {
		t.Errorf("socket request %+v", sock)
	}
	if create == nil || create.ID != 7 || create.Role != memif.MEMIF_ROLE_API_SLAVE || create.Secret != "pw" || create.RxQueues != 1 ||
		create.RingSize != 512 || create.BufferSize != 4096 {
		t.Errorf("memif_create_v2 = %+v", create)
	}
	code, out, errOut = runArgs(t, "vpp", "detach", "-api", "/test/api.sock", "-c", cfg)
	if code != 0 || !strings.Contains(out, "detached memif") {
		t.Fatalf("detach -c = %d, %q, stderr %q", code, out, errOut)
	}

	other := filepath.Join(dir, "tap.yaml")
	os.WriteFile(other, []byte(strings.Replace(body, "type: memif\n  memif: {socket: \"@skiff-vpp\", id: 7, role: server, secret: pw, queues: 2, ring_size: 512, buffer_size: 4096}", "type: tap", 1)), 0o600)
	if code, _, errOut := runArgs(t, "vpp", "detach", "-api", "/test/api.sock", "-c", other); code != 1 || !strings.Contains(errOut, "not memif") {
		t.Fatalf("detach -c tap config = %d, stderr %q", code, errOut)
	}
}
