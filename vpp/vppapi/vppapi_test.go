// SPDX-License-Identifier: Apache-2.0

package vppapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"reflect"
	"strings"
	"testing"

	"go.fd.io/govpp/adapter"
	"go.fd.io/govpp/adapter/mock"
	govppapi "go.fd.io/govpp/api"
	"go.fd.io/govpp/binapi/ethernet_types"
	interfaces "go.fd.io/govpp/binapi/interface"
	"go.fd.io/govpp/binapi/interface_types"
	"go.fd.io/govpp/binapi/l2"
	"go.fd.io/govpp/binapi/memif"
	"go.fd.io/govpp/core"

	"github.com/skiffnet/skiff/vpp/vppapi/vppapitest"
)

const sockPath = "/run/skiff/memif.sock"

var vppMAC = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}

func bridgeSpec() AttachSpec {
	return AttachSpec{Socket: sockPath, ID: 0, Role: RoleServer, Secret: "s3cret", Queues: 2, Ring: 2048, Buffer: 4096, MAC: vppMAC, MTU: 1500, Bridge: 10}
}

func xconnectSpec() AttachSpec {
	return AttachSpec{Socket: "abstract:skiff", ID: 7, Role: RoleClient, Xconnect: "GigabitEthernet0/8/0"}
}

// The requests Attach and Detach send, as the fake VPP decodes them; sw 3
// is the memif the fake creates first, socket 1 the first socket id it
// hands out, interface 1 GigabitEthernet0/8/0.
var (
	reqSocketDump = &memif.MemifSocketFilenameDump{}
	reqMemifDump  = &memif.MemifDump{}
	reqXcDump     = &l2.L2XconnectDump{}
	reqAllBDs     = &l2.BridgeDomainDump{BdID: ^uint32(0), SwIfIndex: noIndex}

	reqSocketAdd = func(name string) govppapi.Message {
		return &memif.MemifSocketFilenameAddDelV2{IsAdd: true, SocketID: ^uint32(0), SocketFilename: name}
	}
	reqSocketDel = func(id uint32, name string) govppapi.Message {
		return &memif.MemifSocketFilenameAddDelV2{SocketID: id, SocketFilename: name}
	}
	reqTag = &interfaces.SwInterfaceTagAddDel{IsAdd: true, SwIfIndex: 3, Tag: "skiff"}
	reqUp  = &interfaces.SwInterfaceSetFlags{SwIfIndex: 3, Flags: interface_types.IF_STATUS_API_FLAG_ADMIN_UP}
	reqMTU = func(mtu uint32) govppapi.Message {
		return &interfaces.SwInterfaceSetMtu{SwIfIndex: 3, Mtu: []uint32{mtu, mtu, mtu, mtu}}
	}
	reqDel = &memif.MemifDelete{SwIfIndex: 3}
	reqXc  = func(rx, tx uint32, on bool) govppapi.Message {
		return &l2.SwInterfaceSetL2Xconnect{RxSwIfIndex: interface_types.InterfaceIndex(rx), TxSwIfIndex: interface_types.InterfaceIndex(tx), Enable: on}
	}

	bridgeAttachReqs = []govppapi.Message{
		reqSocketDump,
		reqMemifDump,
		&l2.BridgeDomainDump{BdID: 10, SwIfIndex: noIndex},
		reqSocketAdd(sockPath),
		&memif.MemifCreateV2{Role: memif.MEMIF_ROLE_API_SLAVE, Mode: memif.MEMIF_MODE_API_ETHERNET, RxQueues: 2, TxQueues: 2, ID: 0, SocketID: 1,
			RingSize: 2048, BufferSize: 4096, NoZeroCopy: true, HwAddr: ethernet_types.MacAddress{2, 0, 0, 0, 0, 1}, Secret: "s3cret"},
		reqTag,
		reqUp,
		reqMTU(1500),
		&l2.BridgeDomainAddDelV2{BdID: 10, Flood: true, UuFlood: true, Forward: true, Learn: true, BdTag: "skiff", IsAdd: true},
		&l2.SwInterfaceSetL2Bridge{RxSwIfIndex: 3, BdID: 10, PortType: l2.L2_API_PORT_TYPE_NORMAL, Enable: true},
	}
	xconnectAttachReqs = []govppapi.Message{
		reqSocketDump,
		reqMemifDump,
		&interfaces.SwInterfaceDump{SwIfIndex: noIndex, NameFilterValid: true, NameFilter: "GigabitEthernet0/8/0"},
		reqXcDump,
		reqAllBDs,
		reqSocketAdd("abstract:skiff"),
		&memif.MemifCreateV2{Role: memif.MEMIF_ROLE_API_MASTER, Mode: memif.MEMIF_MODE_API_ETHERNET, RxQueues: 1, TxQueues: 1, ID: 7, SocketID: 1,
			RingSize: 1024, BufferSize: 2048, NoZeroCopy: true},
		reqTag,
		reqUp,
		reqMTU(1500),
		reqXc(3, 1, true),
		reqXc(1, 3, true),
	}
)

// checkRequests fails the test unless got and want are the same requests
// with the same fields, in the same order.
func checkRequests(t *testing.T, what string, got, want []govppapi.Message) {
	t.Helper()
	n := max(len(got), len(want))
	for i := range n {
		var g, w govppapi.Message
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s: request %d:\n got %s\nwant %s", what, i, msgString(g), msgString(w))
		}
	}
}

func msgString(m govppapi.Message) string {
	if m == nil {
		return "(none)"
	}
	return fmt.Sprintf("%s %+v", m.GetMessageName(), m)
}

// checkState fails the test unless VPP's state is want, naming every
// entry that differs.
func checkState(t *testing.T, what string, got, want vppapitest.State) {
	t.Helper()
	diff := func(kind string, g, w any) {
		gv, wv := reflect.ValueOf(g), reflect.ValueOf(w)
		keys := map[uint32]bool{}
		for _, k := range gv.MapKeys() {
			keys[uint32(k.Uint())] = true
		}
		for _, k := range wv.MapKeys() {
			keys[uint32(k.Uint())] = true
		}
		for k := range keys {
			kv := reflect.ValueOf(k)
			ge, we := gv.MapIndex(kv), wv.MapIndex(kv)
			switch {
			case !ge.IsValid():
				t.Errorf("%s: %s %d missing, want %+v", what, kind, k, we)
			case !we.IsValid():
				t.Errorf("%s: %s %d left over: %+v", what, kind, k, ge)
			case !reflect.DeepEqual(ge.Interface(), we.Interface()):
				t.Errorf("%s: %s %d\n got %+v\nwant %+v", what, kind, k, ge, we)
			}
		}
	}
	diff("socket", got.Sockets, want.Sockets)
	diff("memif", got.Memifs, want.Memifs)
	diff("interface", got.Ifs, want.Ifs)
	diff("bridge domain", got.BDs, want.BDs)
	diff("cross-connect from", got.Xc, want.Xc)
}

func TestAttachDetachBridge(t *testing.T) {
	f := vppapitest.New(t)
	initial := f.State()
	a, err := Attach(context.Background(), f.Connect(), bridgeSpec())
	if err != nil {
		t.Fatal(err)
	}
	checkRequests(t, "attach", f.Requests(), bridgeAttachReqs)
	want := &Attachment{SwIfIndex: 3, Name: "memif1/0", Role: "server", VPPRole: "slave", ID: 0, SocketID: 1, Socket: sockPath, SocketCreated: true, Bridge: 10, BridgeCreated: true}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("attachment = %+v, want %+v", a, want)
	}
	s := f.State()
	if got := s.BDs[10]; got.BdTag != "skiff" || len(got.SwIfDetails) != 1 || got.SwIfDetails[0].SwIfIndex != 3 {
		t.Errorf("bridge domain 10 = %+v, want skiff's with memif 3 in it", got)
	}
	if got := s.Ifs[3]; got.Tag != "skiff" || got.Flags != interface_types.IF_STATUS_API_FLAG_ADMIN_UP || got.Mtu[0] != 1500 {
		t.Errorf("memif interface = %+v", got)
	}

	// Detach from another connection, as another skiff process would.
	d, err := Detach(context.Background(), f.Connect(), sockPath, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkRequests(t, "detach", f.Requests(), []govppapi.Message{
		reqSocketDump, reqMemifDump, reqXcDump, reqAllBDs,
		&l2.SwInterfaceSetL2Bridge{RxSwIfIndex: 3, BdID: 10},
		&l2.BridgeDomainAddDelV2{BdID: 10},
		reqDel,
		reqSocketDel(1, sockPath),
	})
	wantD := &Detached{SwIfIndex: 3, Name: "memif1/0", ID: 0, SocketID: 1, Socket: sockPath, SocketDeleted: true, Bridge: 10, BridgeDeleted: true}
	if !reflect.DeepEqual(d, wantD) {
		t.Errorf("detached = %+v, want %+v", d, wantD)
	}
	checkState(t, "after detach", f.State(), initial)
}

// A bridge domain skiff did not create, or one that has other members,
// stays.
func TestBridgeDomainStays(t *testing.T) {
	ctx := context.Background()
	f := vppapitest.New(t)
	initial := f.State()
	spec := bridgeSpec()
	spec.Bridge = 20 // exists, with interface 2 in it
	if _, err := Attach(ctx, f.Connect(), spec); err != nil {
		t.Fatal(err)
	}
	got := f.Requests()
	checkRequests(t, "attach to existing bridge domain", got[8:], []govppapi.Message{
		&l2.SwInterfaceSetL2Bridge{RxSwIfIndex: 3, BdID: 20, PortType: l2.L2_API_PORT_TYPE_NORMAL, Enable: true},
	})
	if _, err := Detach(ctx, f.Connect(), sockPath, 0); err != nil {
		t.Fatal(err)
	}
	checkRequests(t, "detach from existing bridge domain", f.Requests()[4:], []govppapi.Message{
		&l2.SwInterfaceSetL2Bridge{RxSwIfIndex: 3, BdID: 20}, reqDel, reqSocketDel(1, sockPath),
	})
	checkState(t, "after detach", f.State(), initial)

	// Skiff's bridge domain 10, which GigabitEthernet0/8/0 joined since.
	if _, err := Attach(ctx, f.Connect(), bridgeSpec()); err != nil {
		t.Fatal(err)
	}
	f.Edit(func(s *vppapitest.State) {
		bd := s.BDs[10]
		bd.SwIfDetails = append(bd.SwIfDetails, l2.BridgeDomainSwIf{SwIfIndex: 1})
		s.BDs[10] = bd
	})
	f.Requests()
	d, err := Detach(ctx, f.Connect(), sockPath, 0)
	if err != nil {
		t.Fatal(err)
	}
	checkRequests(t, "detach from a shared skiff bridge domain", f.Requests()[4:], []govppapi.Message{
		&l2.SwInterfaceSetL2Bridge{RxSwIfIndex: 4, BdID: 10},
		&memif.MemifDelete{SwIfIndex: 4},
		reqSocketDel(1, sockPath),
	})
	if d.BridgeDeleted {
		t.Error("detach deleted a bridge domain with another member")
	}
	if bd := f.State().BDs[10]; len(bd.SwIfDetails) != 1 || bd.SwIfDetails[0].SwIfIndex != 1 {
		t.Errorf("bridge domain 10 = %+v, want it with interface 1 only", bd)
	}
}

func TestAttachDetachXconnect(t *testing.T) {
	f := vppapitest.New(t)
	initial := f.State()
	a, err := Attach(context.Background(), f.Connect(), xconnectSpec())
	if err != nil {
		t.Fatal(err)
	}
	checkRequests(t, "attach", f.Requests(), xconnectAttachReqs)
	want := &Attachment{SwIfIndex: 3, Name: "memif1/7", Role: "client", VPPRole: "master", ID: 7, SocketID: 1, Socket: "abstract:skiff", SocketCreated: true, Xconnect: "GigabitEthernet0/8/0", XconnectIndex: 1}
	if !reflect.DeepEqual(a, want) {
		t.Errorf("attachment = %+v, want %+v", a, want)
	}
	if xc := f.State().Xc; !reflect.DeepEqual(xc, map[uint32]uint32{1: 3, 3: 1}) {
		t.Errorf("cross-connects = %v, want 1<->3", xc)
	}

	d, err := Detach(context.Background(), f.Connect(), "abstract:skiff", 7)
	if err != nil {
		t.Fatal(err)
	}
	checkRequests(t, "detach", f.Requests(), []govppapi.Message{
		reqSocketDump, reqMemifDump, reqXcDump, reqAllBDs,
		reqXc(1, 3, false),
		reqXc(3, 1, false),
		reqDel,
		reqSocketDel(1, "abstract:skiff"),
	})
	wantD := &Detached{SwIfIndex: 3, Name: "memif1/7", ID: 7, SocketID: 1, Socket: "abstract:skiff", SocketDeleted: true, Xconnect: 1}
	if !reflect.DeepEqual(d, wantD) {
		t.Errorf("detached = %+v, want %+v", d, wantD)
	}
	checkState(t, "after detach", f.State(), initial)
}

// Every change attach makes, failed in turn: the error names the step and
// VPP's error, exactly the right changes are undone, newest first, and VPP
// is left as it was.
func TestAttachRollback(t *testing.T) {
	const retval = int32(govppapi.UNSPECIFIED)
	undoSocket := reqSocketDel(1, sockPath)
	undoAbstract := reqSocketDel(1, "abstract:skiff")
	tests := []struct {
		name string
		spec AttachSpec
		reqs []govppapi.Message // attach's requests when nothing fails
		fail int                // index in reqs of the failing request
		step string             // in the error
		undo []govppapi.Message
	}{
		{"bridge/socket", bridgeSpec(), bridgeAttachReqs, 3, "register memif socket " + sockPath, nil},
		{"bridge/create", bridgeSpec(), bridgeAttachReqs, 4, "create memif (socket 1, id 0, VPP slave)", []govppapi.Message{undoSocket}},
		{"bridge/tag", bridgeSpec(), bridgeAttachReqs, 5, "tag memif1/0", []govppapi.Message{reqDel, undoSocket}},
		{"bridge/up", bridgeSpec(), bridgeAttachReqs, 6, "set memif1/0 admin up", []govppapi.Message{reqDel, undoSocket}},
		{"bridge/mtu", bridgeSpec(), bridgeAttachReqs, 7, "set memif1/0 mtu 1500", []govppapi.Message{reqDel, undoSocket}},
		{"bridge/create bd", bridgeSpec(), bridgeAttachReqs, 8, "create bridge domain 10", []govppapi.Message{reqDel, undoSocket}},
		{"bridge/join bd", bridgeSpec(), bridgeAttachReqs, 9, "add memif1/0 to bridge domain 10", []govppapi.Message{&l2.BridgeDomainAddDelV2{BdID: 10}, reqDel, undoSocket}},
		{"xconnect/socket", xconnectSpec(), xconnectAttachReqs, 5, "register memif socket abstract:skiff", nil},
		{"xconnect/create", xconnectSpec(), xconnectAttachReqs, 6, "create memif (socket 1, id 7, VPP master)", []govppapi.Message{undoAbstract}},
		{"xconnect/tag", xconnectSpec(), xconnectAttachReqs, 7, "tag memif1/7", []govppapi.Message{reqDel, undoAbstract}},
		{"xconnect/up", xconnectSpec(), xconnectAttachReqs, 8, "set memif1/7 admin up", []govppapi.Message{reqDel, undoAbstract}},
		{"xconnect/mtu", xconnectSpec(), xconnectAttachReqs, 9, "set memif1/7 mtu 1500", []govppapi.Message{reqDel, undoAbstract}},
		{"xconnect/out", xconnectSpec(), xconnectAttachReqs, 10, "cross-connect memif1/7 -> GigabitEthernet0/8/0", []govppapi.Message{reqDel, undoAbstract}},
		{"xconnect/in", xconnectSpec(), xconnectAttachReqs, 11, "cross-connect GigabitEthernet0/8/0 -> memif1/7", []govppapi.Message{reqXc(3, 1, false), reqDel, undoAbstract}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := vppapitest.New(t)
			initial := f.State()
			f.Fail(tt.fail, retval)
			a, err := Attach(context.Background(), f.Connect(), tt.spec)
			if err == nil || a != nil {
				t.Fatalf("attach = %+v, %v; want an error", a, err)
			}
			wantErr := tt.step + ": " + govppapi.VPPApiError(retval).Error()
			if err.Error() != wantErr {
				t.Errorf("error %q, want %q", err, wantErr)
			}
			if !errors.Is(err, govppapi.VPPApiError(retval)) {
				t.Errorf("error %q does not wrap VPP's error", err)
			}
			want := append(append([]govppapi.Message(nil), tt.reqs[:tt.fail+1]...), tt.undo...)
			checkRequests(t, "attach", f.Requests(), want)
			checkState(t, "after rollback", f.State(), initial)
		})
	}
}

// An undo that fails is reported with the original error, and the undo
// goes on with the older changes.
func TestAttachRollbackFails(t *testing.T) {
	f := vppapitest.New(t)
	f.Fail(7, int32(govppapi.INVALID_VALUE)) // the MTU
	f.Fail(8, int32(govppapi.UNSPECIFIED))   // its undo: deleting the memif
	_, err := Attach(context.Background(), f.Connect(), bridgeSpec())
	if err == nil {
		t.Fatal("attach succeeded")
	}
	checkRequests(t, "attach", f.Requests(), append(append([]govppapi.Message(nil), bridgeAttachReqs[:8]...), reqDel, reqSocketDel(1, sockPath)))
	for _, want := range []string{
		"set memif1/0 mtu 1500: VPPApiError: Invalid value (-7)",
		"undo create memif memif1/0: VPPApiError: Unspecified Error (-1) (left in VPP)",
		// VPP refuses to delete a socket file a memif still uses.
		"undo register memif socket " + sockPath + ": VPPApiError: Unexpected interface state (-74) (left in VPP)",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if !errors.Is(err, govppapi.INVALID_VALUE) {
		t.Errorf("error %q does not wrap the MTU error", err)
	}
}

func TestAttachRefuses(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		setup func(s *vppapitest.State)
		spec  AttachSpec
		want  string
		reqs  int // requests sent, all reads
	}{
		{"memif exists", func(s *vppapitest.State) {
			s.Sockets[4] = sockPath
			s.Memifs[9] = memif.MemifDetails{SwIfIndex: 9, SocketID: 4, ID: 0, IfName: "memif4/0"}
		}, bridgeSpec(), "socket /run/skiff/memif.sock id 0: memif4/0 (sw_if_index 9): VPP has this memif already", 2},
		{"no such interface", nil, AttachSpec{Socket: sockPath, Role: RoleServer, Xconnect: "GigabitEthernet0/8"}, `VPP has no interface "GigabitEthernet0/8"`, 3},
		{"interface in a bridge", nil, AttachSpec{Socket: sockPath, Role: RoleServer, Xconnect: "GigabitEthernet0/8/0.100"}, "VPP interface GigabitEthernet0/8/0.100 is in bridge domain 20 already", 5},
		{"interface cross-connected", func(s *vppapitest.State) { s.Xc[1] = 0 }, xconnectSpec(), "VPP interface GigabitEthernet0/8/0 is cross-connected already", 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := vppapitest.New(t)
			if tt.setup != nil {
				f.Edit(tt.setup)
			}
			initial := f.State()
			_, err := Attach(ctx, f.Connect(), tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("attach error %v, want %q", err, tt.want)
			}
			if n := len(f.Requests()); n != tt.reqs {
				t.Errorf("%d requests, want %d reads", n, tt.reqs)
			}
			checkState(t, "after refusal", f.State(), initial)
		})
	}
	t.Run("memif exists/errors.Is", func(t *testing.T) {
		f := vppapitest.New(t)
		if _, err := Attach(ctx, f.Connect(), bridgeSpec()); err != nil {
			t.Fatal(err)
		}
		if _, err := Attach(ctx, f.Connect(), bridgeSpec()); !errors.Is(err, ErrAttached) {
			t.Errorf("second attach: %v, want ErrAttached", err)
		}
	})
}

func TestSpecValidate(t *testing.T) {
	ok := bridgeSpec()
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid spec: %v", err)
	}
	min := AttachSpec{Socket: "/s", Role: RoleClient, Bridge: 1}
	if err := min.Validate(); err != nil {
		t.Fatalf("spec with defaults: %v", err)
	}
	tests := []struct {
		name   string
		change func(s *AttachSpec)
		fields []string
	}{
		{"no socket", func(s *AttachSpec) { s.Socket = "" }, []string{"socket"}},
		{"relative socket", func(s *AttachSpec) { s.Socket = "memif.sock" }, []string{"socket"}},
		{"empty abstract", func(s *AttachSpec) { s.Socket = "abstract:" }, []string{"socket"}},
		{"long socket", func(s *AttachSpec) { s.Socket = "/" + strings.Repeat("x", 107) }, []string{"socket"}},
		{"no role", func(s *AttachSpec) { s.Role = 0 }, []string{"role"}},
		{"long secret", func(s *AttachSpec) { s.Secret = strings.Repeat("s", 24) }, []string{"secret"}},
		{"queues", func(s *AttachSpec) { s.Queues = 256 }, []string{"queues"}},
		{"ring not a power of two", func(s *AttachSpec) { s.Ring = 1000 }, []string{"ring"}},
		{"ring too big", func(s *AttachSpec) { s.Ring = 32768 }, []string{"ring"}},
		{"buffer", func(s *AttachSpec) { s.Buffer = 64 }, []string{"buffer"}},
		{"mtu", func(s *AttachSpec) { s.MTU = 9001 }, []string{"mtu"}},
		{"multicast mac", func(s *AttachSpec) { s.MAC = net.HardwareAddr{1, 0, 0, 0, 0, 1} }, []string{"mac"}},
		{"zero mac", func(s *AttachSpec) { s.MAC = make(net.HardwareAddr, 6) }, []string{"mac"}},
		{"both", func(s *AttachSpec) { s.Xconnect = "GigabitEthernet0/8/0" }, []string{"bridge"}},
		{"neither", func(s *AttachSpec) { s.Bridge = 0 }, []string{"bridge"}},
		{"bridge range", func(s *AttachSpec) { s.Bridge = 1 << 24 }, []string{"bridge"}},
		{"three at once", func(s *AttachSpec) { s.Ring, s.Buffer, s.Socket = 3, 1<<16, "x" }, []string{"socket", "ring", "buffer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := bridgeSpec()
			tt.change(&s)
			err := s.Validate()
			var fields []string
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				for _, e := range j.Unwrap() {
					var fe *FieldError
					if !errors.As(e, &fe) {
						t.Errorf("%v is not a *FieldError", e)
						continue
					}
					fields = append(fields, fe.Field)
				}
			}
			if !reflect.DeepEqual(fields, tt.fields) {
				t.Errorf("Validate() = %v: fields %v, want %v", err, fields, tt.fields)
			}
			// Attach validates before it talks to VPP.
			f := vppapitest.New(t)
			if _, aerr := Attach(context.Background(), f.Connect(), s); aerr == nil || aerr.Error() != err.Error() {
				t.Errorf("Attach: %v, want %v", aerr, err)
			}
			if n := len(f.Requests()); n != 0 {
				t.Errorf("Attach sent %d requests for an invalid spec", n)
			}
		})
	}
}

func TestParseRole(t *testing.T) {
	for in, want := range map[string]Role{"server": RoleServer, "master": RoleServer, "client": RoleClient, "slave": RoleClient} {
		if r, err := ParseRole(in); r != want || err != nil {
			t.Errorf("ParseRole(%q) = %v, %v; want %v", in, r, err, want)
		}
	}
	if _, err := ParseRole("Server"); err == nil {
		t.Error(`ParseRole("Server") succeeded`)
	}
	if RoleServer.vpp() != memif.MEMIF_ROLE_API_SLAVE || RoleClient.vpp() != memif.MEMIF_ROLE_API_MASTER {
		t.Error("VPP does not take the role opposite skiff's")
	}
}

// Two memifs on one socket file: the second attach reuses the socket, and
// only the last detach removes it. VPP's default socket (id 0) is never
// removed.
func TestSharedSocket(t *testing.T) {
	ctx := context.Background()
	f := vppapitest.New(t)
	initial := f.State()
	spec := bridgeSpec()
	if _, err := Attach(ctx, f.Connect(), spec); err != nil {
		t.Fatal(err)
	}
	spec.ID = 1
	a, err := Attach(ctx, f.Connect(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if a.SocketCreated || a.SocketID != 1 || a.BridgeCreated || a.Name != "memif1/1" {
		t.Errorf("second attach = %+v, want socket 1 and bridge domain 10 reused", a)
	}
	f.Requests()
	if d, err := Detach(ctx, f.Connect(), sockPath+"/../memif.sock/", 0); err != nil || d.SocketDeleted || d.BridgeDeleted {
		t.Errorf("first detach = %+v, %v; want the socket and bridge domain kept", d, err)
	}
	if d, err := Detach(ctx, f.Connect(), sockPath, 1); err != nil || !d.SocketDeleted || !d.BridgeDeleted {
		t.Errorf("second detach = %+v, %v; want the socket and bridge domain deleted", d, err)
	}
	checkState(t, "after both detaches", f.State(), initial)
	if _, err := Detach(ctx, f.Connect(), sockPath, 1); !errors.Is(err, ErrNotAttached) {
		t.Errorf("third detach: %v, want ErrNotAttached", err)
	}

	// VPP's default socket.
	f.Requests()
	spec.Socket, spec.ID = "/run/vpp/memif.sock", 3
	if a, err := Attach(ctx, f.Connect(), spec); err != nil || a.SocketCreated || a.SocketID != 0 || a.Name != "memif0/3" {
		t.Fatalf("attach on the default socket = %+v, %v", a, err)
	}
	if reqs := f.Requests(); len(reqs) != len(bridgeAttachReqs)-1 {
		t.Errorf("attach on the default socket sent %d requests, want %d (no socket registration)", len(reqs), len(bridgeAttachReqs)-1)
	}
	d, err := Detach(ctx, f.Connect(), "/run/vpp/memif.sock", 3)
	if err != nil || d.SocketDeleted {
		t.Errorf("detach from the default socket = %+v, %v; want socket 0 kept", d, err)
	}
	for _, r := range f.Requests() {
		if _, ok := r.(*memif.MemifSocketFilenameAddDelV2); ok {
			t.Errorf("detach sent %s", msgString(r))
		}
	}
	checkState(t, "after default socket detach", f.State(), initial)
}

func TestDetachFailureStops(t *testing.T) {
	ctx := context.Background()
	f := vppapitest.New(t)
	if _, err := Attach(ctx, f.Connect(), xconnectSpec()); err != nil {
		t.Fatal(err)
	}
	f.Requests()
	f.Fail(5, int32(govppapi.UNSPECIFIED)) // memif -> peer, after peer -> memif
	_, err := Detach(ctx, f.Connect(), "abstract:skiff", 7)
	if want := "remove cross-connect memif1/7 -> sw_if_index 1: VPPApiError: Unspecified Error (-1)"; err == nil || err.Error() != want {
		t.Errorf("detach error %v, want %q", err, want)
	}
	if n := len(f.Requests()); n != 6 {
		t.Errorf("detach sent %d requests, want 6: it stops at the failure", n)
	}
	// Running it again finishes the job.
	f.Fail(5, 0)
	if _, err := Detach(ctx, f.Connect(), "abstract:skiff", 7); err != nil {
		t.Fatal(err)
	}
	if xc := f.State().Xc; len(xc) != 0 {
		t.Errorf("cross-connects left: %v", xc)
	}
}

func TestShow(t *testing.T) {
	ctx := context.Background()
	f := vppapitest.New(t)
	if _, err := Attach(ctx, f.Connect(), bridgeSpec()); err != nil { // sw 3
		t.Fatal(err)
	}
	if _, err := Attach(ctx, f.Connect(), xconnectSpec()); err != nil { // sw 4
		t.Fatal(err)
	}
	// A memif that is not skiff's (sw 5, link up).
	f.Edit(func(s *vppapitest.State) {
		s.Memifs[5] = memif.MemifDetails{SwIfIndex: 5, ID: 1, Role: memif.MEMIF_ROLE_API_MASTER, SocketID: 0, RingSize: 1024, BufferSize: 2048, IfName: "memif0/1"}
		s.Ifs[5] = interfaces.SwInterfaceDetails{SwIfIndex: 5, InterfaceName: "memif0/1", Flags: 3, Mtu: []uint32{9000, 0, 0, 0}}
	})
	f.Requests()

	ms, err := Show(ctx, f.Connect(), ShowFilter{})
	if err != nil {
		t.Fatal(err)
	}
	checkRequests(t, "show", f.Requests(), []govppapi.Message{
		reqSocketDump, reqMemifDump, &interfaces.SwInterfaceDump{SwIfIndex: noIndex}, reqXcDump, reqAllBDs,
	})
	want := []Memif{
		{SwIfIndex: 3, Name: "memif1/0", Tag: "skiff", Role: "server", VPPRole: "slave", ID: 0, SocketID: 1, Socket: sockPath,
			Ring: 2048, Buffer: 4096, MAC: "02:00:00:00:00:01", AdminUp: true, MTU: 1500, Bridge: 10},
		{SwIfIndex: 4, Name: "memif2/7", Tag: "skiff", Role: "client", VPPRole: "master", ID: 7, SocketID: 2, Socket: "abstract:skiff",
			Ring: 1024, Buffer: 2048, MAC: "02:fe:00:00:00:04", AdminUp: true, MTU: 1500, Xconnect: "GigabitEthernet0/8/0"},
	}
	if !reflect.DeepEqual(ms, want) {
		t.Errorf("show =\n%+v\nwant\n%+v", ms, want)
	}
	if ms[0].L2() != "bridge 10" || ms[1].L2() != "xconnect GigabitEthernet0/8/0" {
		t.Errorf("L2() = %q, %q", ms[0].L2(), ms[1].L2())
	}

	all, err := Show(ctx, f.Connect(), ShowFilter{All: true})
	if err != nil || len(all) != 3 || all[2].Name != "memif0/1" || !all[2].LinkUp || all[2].Role != "client" || all[2].Tag != "" {
		t.Errorf("show -all = %+v, %v", all, err)
	}
	one, err := Show(ctx, f.Connect(), ShowFilter{Socket: "abstract:skiff", ID: 7, HasID: true})
	if err != nil || len(one) != 1 || one[0].SwIfIndex != 4 {
		t.Errorf("show abstract:skiff id 7 = %+v, %v", one, err)
	}
	none, err := Show(ctx, f.Connect(), ShowFilter{Socket: sockPath, ID: 7, HasID: true})
	if err != nil || len(none) != 0 {
		t.Errorf("show of a memif that is not there = %+v, %v", none, err)
	}

	// Counters from the stats segment: two threads, summed.
	sa := mock.NewStatsAdapter()
	names := adapter.NameStat{[]byte("local0"), []byte("GigabitEthernet0/8/0"), []byte("GigabitEthernet0/8/0.100"), []byte("memif1/0"), []byte("memif9/9")}
	comb := func(a, b adapter.CombinedCounter) adapter.CombinedCounterStat {
		return adapter.CombinedCounterStat{
			{{}, {}, {}, a, {1000, 1000}},
			{{}, {}, {}, b, {1000, 1000}},
		}
	}
	simple := func(a, b adapter.Counter) adapter.SimpleCounterStat {
		return adapter.SimpleCounterStat{{0, 0, 0, a, 99}, {0, 0, 0, b, 99}}
	}
	entry := func(name string, data adapter.Stat) adapter.StatEntry {
		return adapter.StatEntry{StatIdentifier: adapter.StatIdentifier{Name: []byte(name)}, Data: data}
	}
	sa.MockDir(&adapter.StatDir{Entries: []adapter.StatEntry{
		entry("/if/names", names),
		entry("/if/rx", comb(adapter.CombinedCounter{10, 1000}, adapter.CombinedCounter{5, 500})),
		entry("/if/tx", comb(adapter.CombinedCounter{7, 700}, adapter.CombinedCounter{1, 100})),
		entry("/if/drops", simple(2, 1)),
		entry("/if/rx-error", simple(0, 4)),
		entry("/if/tx-error", simple(6, 0)),
		entry("/if/rx-no-buf", simple(8, 0)),
		entry("/if/rx-miss", simple(0, 9)),
	}})
	sc, err := core.ConnectStats(sa)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Disconnect()
	if err := AddCounters(sc, ms); err != nil {
		t.Fatal(err)
	}
	wantC := &Counters{RxPackets: 15, RxBytes: 1500, TxPackets: 8, TxBytes: 800, Drops: 3, RxErrors: 4, TxErrors: 6, RxNoBuf: 8, RxMiss: 9}
	if !reflect.DeepEqual(ms[0].Counters, wantC) {
		t.Errorf("counters of memif1/0 = %+v, want %+v", ms[0].Counters, wantC)
	}
	// sw 4 is named memif9/9 in the stats: not the same interface.
	if ms[1].Counters != nil {
		t.Errorf("counters of memif2/7 = %+v, want none (the stats name another interface)", ms[1].Counters)
	}
}

// A stats segment govpp cannot read is an error, not a crash.
func TestAddCountersMalformed(t *testing.T) {
	sa := mock.NewStatsAdapter()
	sa.MockDir(&adapter.StatDir{Entries: []adapter.StatEntry{
		{StatIdentifier: adapter.StatIdentifier{Name: []byte("/if/rx")}, Data: adapter.CombinedCounterStat{}},
	}})
	sc, err := core.ConnectStats(sa)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Disconnect()
	ms := []Memif{{SwIfIndex: 3, Name: "memif1/0"}}
	if err := AddCounters(sc, ms); err == nil || !strings.Contains(err.Error(), "bad interface counters") {
		t.Errorf("AddCounters on a malformed segment: %v", err)
	}
}

// The govpp version the compatibility error names is the one go.mod
// requires (BinapiVPPVersion goes with it: see the binapi files' headers).
func TestGovppVersion(t *testing.T) {
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if want := "go.fd.io/govpp " + GovppVersion + "\n"; !strings.Contains(string(mod), want) {
		t.Errorf("go.mod does not require %s: update GovppVersion and BinapiVPPVersion", strings.TrimSpace(want))
	}
}
