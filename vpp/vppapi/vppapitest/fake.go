// SPDX-License-Identifier: Apache-2.0

// Package vppapitest is a stand-in VPP for testing skiff's VPP control
// code without VPP: a small model of VPP's memif, interface and L2 state
// behind govpp's mock adapter, which records every request it gets.
package vppapitest

import (
	"encoding/binary"
	"fmt"
	"io"
	"log"
	"maps"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.fd.io/govpp/adapter/mock"
	govppapi "go.fd.io/govpp/api"
	"go.fd.io/govpp/binapi/ethernet_types"
	interfaces "go.fd.io/govpp/binapi/interface"
	"go.fd.io/govpp/binapi/interface_types"
	"go.fd.io/govpp/binapi/l2"
	"go.fd.io/govpp/binapi/memclnt"
	"go.fd.io/govpp/binapi/memif"
	"go.fd.io/govpp/codec"
	"go.fd.io/govpp/core"
)

// noIndex is VPP's ~0 sw_if_index: "any" in dump filters.
const noIndex = interface_types.InterfaceIndex(^uint32(0))

// VPP's error codes the fake returns (vnet/api_errno.h).
const (
	errInvalidSwIfIndex = int32(govppapi.INVALID_SW_IF_INDEX)
	errNoSuchEntry      = int32(govppapi.NO_SUCH_ENTRY)
	errInvalidValue     = int32(govppapi.INVALID_VALUE)
	errUnexpectedState  = int32(govppapi.UNEXPECTED_INTF_STATE)
	errSubifExists      = int32(govppapi.SUBIF_ALREADY_EXISTS)
	errInvalidArgument  = int32(govppapi.INVALID_ARGUMENT)
	errBDInUse          = int32(govppapi.BD_IN_USE)
	errBDExists         = int32(govppapi.BD_ALREADY_EXISTS)
)

// VPP is a small model of VPP's memif, interface and L2 state behind
// govpp's mock adapter (handler mode). It records every request, decoded,
// in order, and fails the requests marked with Fail, changing nothing.
// The handler, which runs on govpp's goroutines, reports problems with
// tb.Errorf.
type VPP struct {
	tb testing.TB
	m  *mock.VppAdapter

	mu      sync.Mutex
	reqs    []govppapi.Message
	fail    map[int]int32
	state   State
	nextSw  uint32 // VPP reuses indexes; the fake does not, which keeps tests readable
	newMsgs map[string]func() govppapi.Message
}

// State is what the fake VPP holds.
type State struct {
	Sockets map[uint32]string
	Memifs  map[uint32]memif.MemifDetails // by sw_if_index
	Ifs     map[uint32]interfaces.SwInterfaceDetails
	BDs     map[uint32]l2.BridgeDomainDetails // members in SwIfDetails
	Xc      map[uint32]uint32                 // rx -> tx
}

// Clone returns a deep copy.
func (s State) Clone() State {
	c := s
	c.Sockets = maps.Clone(s.Sockets)
	c.Memifs = maps.Clone(s.Memifs)
	c.Ifs = maps.Clone(s.Ifs)
	c.BDs = make(map[uint32]l2.BridgeDomainDetails, len(s.BDs))
	for id, bd := range s.BDs {
		bd.SwIfDetails = slices.Clone(bd.SwIfDetails)
		c.BDs[id] = bd
	}
	c.Xc = maps.Clone(s.Xc)
	return c
}

// New returns a VPP with local0, two ethernet interfaces
// (GigabitEthernet0/8/0 and its sub-interface GigabitEthernet0/8/0.100,
// sw_if_index 1 and 2), the default memif socket (id 0,
// /run/vpp/memif.sock) and bridge domain 20 holding interface 2. The
// memifs it creates get sw_if_index 3, 4, ...; the sockets it registers
// ids 1, 2, ...
func New(tb testing.TB) *VPP {
	// The mock adapter logs a line per reply on the standard logger.
	log.SetOutput(io.Discard)
	f := &VPP{tb: tb, m: mock.NewVppAdapter(), fail: map[int]int32{}, newMsgs: map[string]func() govppapi.Message{}}
	for _, msgs := range govppapi.GetRegisteredMessages() {
		for _, msg := range msgs {
			typ := reflect.TypeOf(msg).Elem()
			f.newMsgs[msg.GetMessageName()] = func() govppapi.Message { return reflect.New(typ).Interface().(govppapi.Message) }
		}
	}
	f.state = State{
		Sockets: map[uint32]string{0: "/run/vpp/memif.sock"},
		Memifs:  map[uint32]memif.MemifDetails{},
		Ifs: map[uint32]interfaces.SwInterfaceDetails{
			0: {SwIfIndex: 0, InterfaceName: "local0", Mtu: []uint32{0, 0, 0, 0}},
			1: {SwIfIndex: 1, InterfaceName: "GigabitEthernet0/8/0", Flags: 3, Mtu: []uint32{9000, 0, 0, 0}},
			2: {SwIfIndex: 2, InterfaceName: "GigabitEthernet0/8/0.100", Flags: 3, Mtu: []uint32{9000, 0, 0, 0}},
		},
		BDs: map[uint32]l2.BridgeDomainDetails{20: {BdID: 20, Flood: true, UuFlood: true, Forward: true, Learn: true, BviSwIfIndex: noIndex, UuFwdSwIfIndex: noIndex, SwIfDetails: []l2.BridgeDomainSwIf{{SwIfIndex: 2}}}},
		Xc:  map[uint32]uint32{},
	}
	f.nextSw = 3
	f.m.MockReplyHandler(f.handle)
	return f
}

// Connect returns a new govpp connection to the fake, closed when the
// test ends.
func (f *VPP) Connect() *core.Connection {
	f.tb.Helper()
	conn, err := core.Connect(f.m)
	if err != nil {
		f.tb.Fatal(err)
	}
	f.tb.Cleanup(conn.Disconnect)
	return conn
}

// Fail makes the request with index i (counting from the last call of
// Requests) fail with retval, changing nothing; retval 0 clears it.
func (f *VPP) Fail(i int, retval int32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if retval == 0 {
		delete(f.fail, i)
		return
	}
	f.fail[i] = retval
}

// Requests returns the requests received since the last call, decoded,
// without the control pings that end dumps.
func (f *VPP) Requests() []govppapi.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.reqs
	f.reqs = nil
	return r
}

// State returns a copy of VPP's state.
func (f *VPP) State() State {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state.Clone()
}

// Edit changes VPP's state.
func (f *VPP) Edit(change func(s *State)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(&f.state)
}

// handle is the mock's reply handler: one request in, its reply out.
func (f *VPP) handle(req mock.MessageDTO) ([]byte, uint16, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	name := req.MsgName
	switch req.MsgID { // the mock's fixed ids, which it does not name
	case 100:
		name = "control_ping"
	case 200:
		name = "sw_interface_dump"
	}
	if name == "control_ping" {
		return f.reply(req, &memclnt.ControlPingReply{})
	}
	newMsg, ok := f.newMsgs[name]
	if !ok {
		f.tb.Errorf("fake VPP: unknown request %q (id %d)", name, req.MsgID)
		return nil, 0, false
	}
	msg := newMsg()
	if err := codec.DefaultCodec.DecodeMsg(req.Data, msg); err != nil {
		f.tb.Errorf("fake VPP: decode %s: %v", name, err)
		return nil, 0, false
	}
	f.reqs = append(f.reqs, msg)
	retval, failing := f.fail[len(f.reqs)-1]
	s := &f.state

	switch r := msg.(type) {
	case *memif.MemifSocketFilenameDump:
		var ds []govppapi.Message
		for _, id := range slices.Sorted(maps.Keys(s.Sockets)) {
			ds = append(ds, &memif.MemifSocketFilenameDetails{SocketID: id, SocketFilename: s.Sockets[id]})
		}
		return f.details(ds)
	case *memif.MemifDump:
		var ds []govppapi.Message
		for _, sw := range slices.Sorted(maps.Keys(s.Memifs)) {
			d := s.Memifs[sw]
			d.Flags = s.Ifs[sw].Flags
			ds = append(ds, &d)
		}
		return f.details(ds)
	case *interfaces.SwInterfaceDump:
		var ds []govppapi.Message
		for _, sw := range slices.Sorted(maps.Keys(s.Ifs)) {
			d := s.Ifs[sw]
			if r.SwIfIndex != noIndex && r.SwIfIndex != d.SwIfIndex {
				continue
			}
			if r.NameFilterValid && !strings.Contains(strings.ToLower(d.InterfaceName), strings.ToLower(r.NameFilter)) {
				continue
			}
			ds = append(ds, &d)
		}
		return f.details(ds)
	case *l2.BridgeDomainDump:
		if r.SwIfIndex != noIndex {
			f.tb.Errorf("fake VPP: bridge_domain_dump with sw_if_index filter %d", r.SwIfIndex)
		}
		var ds []govppapi.Message
		for _, id := range slices.Sorted(maps.Keys(s.BDs)) {
			if r.BdID == ^uint32(0) || r.BdID == id {
				d := s.BDs[id]
				d.NSwIfs = uint32(len(d.SwIfDetails))
				ds = append(ds, &d)
			}
		}
		return f.details(ds)
	case *l2.L2XconnectDump:
		var ds []govppapi.Message
		for _, rx := range slices.Sorted(maps.Keys(s.Xc)) {
			ds = append(ds, &l2.L2XconnectDetails{RxSwIfIndex: interface_types.InterfaceIndex(rx), TxSwIfIndex: interface_types.InterfaceIndex(s.Xc[rx])})
		}
		return f.details(ds)

	case *memif.MemifSocketFilenameAddDelV2:
		id := r.SocketID
		switch {
		case failing:
		case r.IsAdd:
			if id == ^uint32(0) {
				for id = 1; s.Sockets[id] != ""; id++ {
				}
			}
			if old, ok := s.Sockets[id]; ok && old != r.SocketFilename {
				retval = errInvalidArgument
				break
			}
			s.Sockets[id] = r.SocketFilename
		case id == 0 || s.Sockets[id] == "":
			retval = errInvalidArgument
		case f.socketInUse(id):
			retval = errUnexpectedState
		default:
			delete(s.Sockets, id)
		}
		return f.reply(req, &memif.MemifSocketFilenameAddDelV2Reply{Retval: retval, SocketID: id})
	case *memif.MemifCreateV2:
		var sw uint32
		switch {
		case failing:
		case s.Sockets[r.SocketID] == "":
			retval = errInvalidArgument
		case r.RingSize&(r.RingSize-1) != 0:
			retval = errInvalidArgument
		default:
			for _, m := range s.Memifs {
				if m.SocketID == r.SocketID && m.ID == r.ID {
					retval = errSubifExists
				}
			}
			if retval != 0 {
				break
			}
			sw = f.nextSw
			f.nextSw++
			mac := r.HwAddr
			if mac == (ethernet_types.MacAddress{}) {
				mac = ethernet_types.MacAddress{0x02, 0xfe, 0, 0, 0, byte(sw)}
			}
			name := fmt.Sprintf("memif%d/%d", r.SocketID, r.ID)
			s.Memifs[sw] = memif.MemifDetails{
				SwIfIndex: interface_types.InterfaceIndex(sw), HwAddr: mac, ID: r.ID, Role: r.Role, Mode: r.Mode,
				ZeroCopy: r.Role == memif.MEMIF_ROLE_API_SLAVE && !r.NoZeroCopy, SocketID: r.SocketID,
				RingSize: r.RingSize, BufferSize: r.BufferSize, IfName: name,
			}
			s.Ifs[sw] = interfaces.SwInterfaceDetails{SwIfIndex: interface_types.InterfaceIndex(sw), InterfaceName: name, L2Address: mac, Mtu: []uint32{9000, 0, 0, 0}, InterfaceDevType: "memif"}
		}
		return f.reply(req, &memif.MemifCreateV2Reply{Retval: retval, SwIfIndex: interface_types.InterfaceIndex(sw)})
	case *memif.MemifDelete:
		sw := uint32(r.SwIfIndex)
		switch {
		case failing:
		case !f.isMemif(sw):
			retval = errInvalidSwIfIndex
		default:
			// Like VPP, this leaves L2 references to the interface
			// alone: the tests see them in the state if skiff forgets
			// to remove them.
			delete(s.Memifs, sw)
			delete(s.Ifs, sw)
		}
		return f.reply(req, &memif.MemifDeleteReply{Retval: retval})
	case *interfaces.SwInterfaceTagAddDel:
		sw := uint32(r.SwIfIndex)
		if !failing {
			if d, ok := s.Ifs[sw]; !ok {
				retval = errInvalidSwIfIndex
			} else {
				d.Tag = ""
				if r.IsAdd {
					d.Tag = r.Tag
				}
				s.Ifs[sw] = d
			}
		}
		return f.reply(req, &interfaces.SwInterfaceTagAddDelReply{Retval: retval})
	case *interfaces.SwInterfaceSetFlags:
		sw := uint32(r.SwIfIndex)
		if !failing {
			if d, ok := s.Ifs[sw]; !ok {
				retval = errInvalidSwIfIndex
			} else {
				d.Flags = r.Flags & interface_types.IF_STATUS_API_FLAG_ADMIN_UP
				s.Ifs[sw] = d
			}
		}
		return f.reply(req, &interfaces.SwInterfaceSetFlagsReply{Retval: retval})
	case *interfaces.SwInterfaceSetMtu:
		sw := uint32(r.SwIfIndex)
		if !failing {
			if d, ok := s.Ifs[sw]; !ok {
				retval = errInvalidSwIfIndex
			} else {
				d.Mtu = slices.Clone(r.Mtu)
				s.Ifs[sw] = d
			}
		}
		return f.reply(req, &interfaces.SwInterfaceSetMtuReply{Retval: retval})
	case *l2.BridgeDomainAddDelV2:
		bd, exists := s.BDs[r.BdID]
		switch {
		case failing:
		case r.IsAdd && exists:
			retval = errBDExists
		case r.IsAdd:
			s.BDs[r.BdID] = l2.BridgeDomainDetails{BdID: r.BdID, Flood: r.Flood, UuFlood: r.UuFlood, Forward: r.Forward, Learn: r.Learn,
				ArpTerm: r.ArpTerm, ArpUfwd: r.ArpUfwd, MacAge: r.MacAge, BdTag: r.BdTag, BviSwIfIndex: noIndex, UuFwdSwIfIndex: noIndex}
		case !exists:
			retval = errNoSuchEntry
		case len(bd.SwIfDetails) > 0:
			retval = errBDInUse
		default:
			delete(s.BDs, r.BdID)
		}
		return f.reply(req, &l2.BridgeDomainAddDelV2Reply{Retval: retval, BdID: r.BdID})
	case *l2.SwInterfaceSetL2Bridge:
		sw := uint32(r.RxSwIfIndex)
		switch {
		case failing:
		case s.Ifs[sw].InterfaceName == "":
			retval = errInvalidSwIfIndex
		case r.Enable && (r.BdID == 0 || r.BdID >= 1<<24):
			retval = errInvalidValue
		default:
			f.setL3(sw)
			if r.Enable {
				bd, ok := s.BDs[r.BdID]
				if !ok { // VPP creates a missing bridge domain here
					bd = l2.BridgeDomainDetails{BdID: r.BdID, Flood: true, UuFlood: true, Forward: true, Learn: true, BviSwIfIndex: noIndex, UuFwdSwIfIndex: noIndex}
				}
				bd.SwIfDetails = append(bd.SwIfDetails, l2.BridgeDomainSwIf{SwIfIndex: r.RxSwIfIndex, Shg: r.Shg})
				s.BDs[r.BdID] = bd
			}
		}
		return f.reply(req, &l2.SwInterfaceSetL2BridgeReply{Retval: retval})
	case *l2.SwInterfaceSetL2Xconnect:
		rx, tx := uint32(r.RxSwIfIndex), uint32(r.TxSwIfIndex)
		switch {
		case failing:
		case s.Ifs[rx].InterfaceName == "":
			retval = errInvalidSwIfIndex
		case r.Enable && s.Ifs[tx].InterfaceName == "":
			retval = errInvalidSwIfIndex
		default:
			f.setL3(rx)
			if r.Enable {
				s.Xc[rx] = tx
			}
		}
		return f.reply(req, &l2.SwInterfaceSetL2XconnectReply{Retval: retval})
	}
	f.tb.Errorf("fake VPP: no handler for %s", name)
	return nil, 0, false
}

// setL3 takes interface sw out of any bridge domain and cross-connect.
func (f *VPP) setL3(sw uint32) {
	s := &f.state
	delete(s.Xc, sw)
	for id, bd := range s.BDs {
		bd.SwIfDetails = slices.DeleteFunc(bd.SwIfDetails, func(m l2.BridgeDomainSwIf) bool { return uint32(m.SwIfIndex) == sw })
		s.BDs[id] = bd
	}
}

func (f *VPP) isMemif(sw uint32) bool {
	_, ok := f.state.Memifs[sw]
	return ok
}

func (f *VPP) socketInUse(id uint32) bool {
	for _, m := range f.state.Memifs {
		if m.SocketID == id {
			return true
		}
	}
	return false
}

func (f *VPP) reply(req mock.MessageDTO, msg govppapi.Message) ([]byte, uint16, bool) {
	data, err := f.m.ReplyBytes(req, msg)
	if err != nil {
		f.tb.Errorf("fake VPP: encode %s: %v", msg.GetMessageName(), err)
		return nil, 0, false
	}
	return data, binary.BigEndian.Uint16(data), true
}

// details answers a dump: the handler can return one message only, so the
// details go to the mock's reply queue, which answers when the handler
// declines. The control ping that ends the dump comes back to handle.
func (f *VPP) details(ds []govppapi.Message) ([]byte, uint16, bool) {
	f.m.MockReply(ds...)
	return nil, 0, false
}
