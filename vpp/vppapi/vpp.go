// SPDX-License-Identifier: Apache-2.0

package vppapi

import (
	"context"
	"fmt"
	"slices"

	govppapi "go.fd.io/govpp/api"
	interfaces "go.fd.io/govpp/binapi/interface"
	"go.fd.io/govpp/binapi/interface_types"
	"go.fd.io/govpp/binapi/l2"
	"go.fd.io/govpp/binapi/memclnt"
	"go.fd.io/govpp/binapi/memif"
)

// vpp wraps the binapi service clients with the reads skiff needs.
type vpp struct {
	memif memif.RPCService
	ifs   interfaces.RPCService
	l2    l2.RPCService
}

func newVPP(conn Conn) *vpp {
	return &vpp{
		memif: memif.NewServiceClient(conn),
		ifs:   interfaces.NewServiceClient(conn),
		l2:    l2.NewServiceClient(conn),
	}
}

// The messages each operation sends, for the compatibility check. Dumps
// end with a control ping.
var (
	dumpMsgs = []govppapi.Message{
		(*memclnt.ControlPing)(nil), (*memclnt.ControlPingReply)(nil),
		(*memif.MemifSocketFilenameDump)(nil), (*memif.MemifSocketFilenameDetails)(nil),
		(*memif.MemifDump)(nil), (*memif.MemifDetails)(nil),
		(*l2.BridgeDomainDump)(nil), (*l2.BridgeDomainDetails)(nil),
		(*l2.L2XconnectDump)(nil), (*l2.L2XconnectDetails)(nil),
	}
	attachMsgs = append([]govppapi.Message{
		(*interfaces.SwInterfaceDump)(nil), (*interfaces.SwInterfaceDetails)(nil),
		(*memif.MemifSocketFilenameAddDelV2)(nil), (*memif.MemifSocketFilenameAddDelV2Reply)(nil),
		(*memif.MemifCreateV2)(nil), (*memif.MemifCreateV2Reply)(nil),
		(*memif.MemifDelete)(nil), (*memif.MemifDeleteReply)(nil),
		(*interfaces.SwInterfaceTagAddDel)(nil), (*interfaces.SwInterfaceTagAddDelReply)(nil),
		(*interfaces.SwInterfaceSetFlags)(nil), (*interfaces.SwInterfaceSetFlagsReply)(nil),
		(*interfaces.SwInterfaceSetMtu)(nil), (*interfaces.SwInterfaceSetMtuReply)(nil),
		(*l2.BridgeDomainAddDelV2)(nil), (*l2.BridgeDomainAddDelV2Reply)(nil),
		(*l2.SwInterfaceSetL2Bridge)(nil), (*l2.SwInterfaceSetL2BridgeReply)(nil),
		(*l2.SwInterfaceSetL2Xconnect)(nil), (*l2.SwInterfaceSetL2XconnectReply)(nil),
	}, dumpMsgs...)
	detachMsgs = append([]govppapi.Message{
		(*memif.MemifSocketFilenameAddDelV2)(nil), (*memif.MemifSocketFilenameAddDelV2Reply)(nil),
		(*memif.MemifDelete)(nil), (*memif.MemifDeleteReply)(nil),
		(*l2.BridgeDomainAddDelV2)(nil), (*l2.BridgeDomainAddDelV2Reply)(nil),
		(*l2.SwInterfaceSetL2Bridge)(nil), (*l2.SwInterfaceSetL2BridgeReply)(nil),
		(*l2.SwInterfaceSetL2Xconnect)(nil), (*l2.SwInterfaceSetL2XconnectReply)(nil),
	}, dumpMsgs...)
	showMsgs = append([]govppapi.Message{
		(*interfaces.SwInterfaceDump)(nil), (*interfaces.SwInterfaceDetails)(nil),
	}, dumpMsgs...)
)

// sockets returns VPP's memif socket files by socket id.
func (v *vpp) sockets(ctx context.Context) (map[uint32]string, error) {
	ds, err := collect(v.memif.MemifSocketFilenameDump(ctx, &memif.MemifSocketFilenameDump{}))
	if err != nil {
		return nil, err
	}
	m := make(map[uint32]string, len(ds))
	for _, d := range ds {
		m[d.SocketID] = d.SocketFilename
	}
	return m, nil
}

// socketIDs are the ids under which socket file name is registered (VPP
// lets a file be registered more than once).
func socketIDs(socks map[uint32]string, name string) []uint32 {
	var ids []uint32
	for id, f := range socks {
		if f == name {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

// memifState dumps VPP's memif socket files and memifs, the state every
// subcommand starts from.
func (v *vpp) memifState(ctx context.Context) (map[uint32]string, []*memif.MemifDetails, error) {
	socks, err := v.sockets(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("dump memif sockets: %w", err)
	}
	ms, err := v.memifs(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("dump memifs: %w", err)
	}
	return socks, ms, nil
}

func (v *vpp) memifs(ctx context.Context) ([]*memif.MemifDetails, error) {
	return collect(v.memif.MemifDump(ctx, &memif.MemifDump{}))
}

// findMemif is the memif with interface id id on one of the sockets.
func findMemif(ms []*memif.MemifDetails, sockets []uint32, id uint32) *memif.MemifDetails {
	for _, m := range ms {
		for _, s := range sockets {
			if m.SocketID == s && m.ID == id {
				return m
			}
		}
	}
	return nil
}

// bridgeDomains dumps bridge domain id, or every one for ^0.
func (v *vpp) bridgeDomains(ctx context.Context, id uint32) ([]*l2.BridgeDomainDetails, error) {
	return collect(v.l2.BridgeDomainDump(ctx, &l2.BridgeDomainDump{BdID: id, SwIfIndex: noIndex}))
}

// bridgeOf is the bridge domain interface sw is in, or nil.
func bridgeOf(bds []*l2.BridgeDomainDetails, sw interface_types.InterfaceIndex) *l2.BridgeDomainDetails {
	for _, bd := range bds {
		for _, m := range bd.SwIfDetails {
			if m.SwIfIndex == sw {
				return bd
			}
		}
	}
	return nil
}

// xconnects returns VPP's L2 cross-connects, rx interface to tx interface.
func (v *vpp) xconnects(ctx context.Context) (map[interface_types.InterfaceIndex]interface_types.InterfaceIndex, error) {
	ds, err := collect(v.l2.L2XconnectDump(ctx, &l2.L2XconnectDump{}))
	if err != nil {
		return nil, err
	}
	m := make(map[interface_types.InterfaceIndex]interface_types.InterfaceIndex, len(ds))
	for _, d := range ds {
		m[d.RxSwIfIndex] = d.TxSwIfIndex
	}
	return m, nil
}

// interfaces dumps VPP's interfaces: every one for an empty name, else
// those whose name contains name (VPP's filter is a case-insensitive
// substring match; callers compare names exactly).
func (v *vpp) interfaces(ctx context.Context, name string) ([]*interfaces.SwInterfaceDetails, error) {
	return collect(v.ifs.SwInterfaceDump(ctx, &interfaces.SwInterfaceDump{SwIfIndex: noIndex, NameFilterValid: name != "", NameFilter: name}))
}
