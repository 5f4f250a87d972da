// SPDX-License-Identifier: Apache-2.0

package vppapi

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"go.fd.io/govpp/binapi/interface_types"
	"go.fd.io/govpp/binapi/l2"
	"go.fd.io/govpp/binapi/memif"
)

// ErrNotAttached is returned by Detach when VPP has no memif on the socket
// with the id.
var ErrNotAttached = errors.New("VPP has no such memif")

// Detached is what Detach removed.
type Detached struct {
	SwIfIndex     uint32 `json:"sw_if_index"`
	Name          string `json:"name"`
	ID            uint32 `json:"id"`
	SocketID      uint32 `json:"socket_id"`
	Socket        string `json:"socket"`
	SocketDeleted bool   `json:"socket_deleted"` // false: other memifs use it, or it is VPP's default socket (id 0)
	Bridge        uint32 `json:"bridge,omitempty"`
	BridgeDeleted bool   `json:"bridge_deleted,omitempty"` // skiff created it and nothing else is in it
	Xconnect      uint32 `json:"xconnect_sw_if_index,omitempty"`
}

// Detach removes the memif with interface id id on socket file socket
// from VPP, with its cross-connects or bridge membership, the bridge
// domain if skiff created it and it is empty then, and the socket file if
// nothing else uses it and it is not VPP's default (id 0). It reads
// everything from VPP, so it needs nothing from the Attach call. It stops
// at the first failing step; running it again continues from there.
func Detach(ctx context.Context, conn Conn, socket string, id uint32) (*Detached, error) {
	if err := ValidSocket(socket); err != nil {
		return nil, err
	}
	socket = cleanSocket(socket)
	if err := checkCompat(conn, detachMsgs); err != nil {
		return nil, err
	}
	v := newVPP(conn)
	socks, ms, err := v.memifState(ctx)
	if err != nil {
		return nil, err
	}
	m := findMemif(ms, socketIDs(socks, socket), id)
	if m == nil {
		return nil, fmt.Errorf("socket %s id %d: %w", socket, id, ErrNotAttached)
	}
	sw := m.SwIfIndex
	d := &Detached{SwIfIndex: uint32(sw), Name: m.IfName, ID: id, SocketID: m.SocketID, Socket: socket}
	xcs, err := v.xconnects(ctx)
	if err != nil {
		return nil, fmt.Errorf("dump cross-connects: %w", err)
	}
	bds, err := v.bridgeDomains(ctx, ^uint32(0))
	if err != nil {
		return nil, fmt.Errorf("dump bridge domains: %w", err)
	}

	// The reverse of Attach: the cross-connects towards the memif first
	// (left alone, they would point at a deleted interface), then the
	// memif's own; or the bridge, then the bridge domain if it is skiff's.
	var into []interface_types.InterfaceIndex
	for rx, tx := range xcs {
		if tx == sw && rx != sw {
			into = append(into, rx)
		}
	}
	slices.Sort(into)
	for _, rx := range into {
		if _, err := v.l2.SwInterfaceSetL2Xconnect(ctx, &l2.SwInterfaceSetL2Xconnect{RxSwIfIndex: rx, TxSwIfIndex: sw, Enable: false}); err != nil {
			return nil, fmt.Errorf("remove cross-connect sw_if_index %d -> %s: %w", rx, m.IfName, err)
		}
	}
	if peer, ok := xcs[sw]; ok {
		d.Xconnect = uint32(peer)
		if _, err := v.l2.SwInterfaceSetL2Xconnect(ctx, &l2.SwInterfaceSetL2Xconnect{RxSwIfIndex: sw, TxSwIfIndex: peer, Enable: false}); err != nil {
			return nil, fmt.Errorf("remove cross-connect %s -> sw_if_index %d: %w", m.IfName, peer, err)
		}
	}
	if bd := bridgeOf(bds, sw); bd != nil {
		d.Bridge = bd.BdID
		if _, err := v.l2.SwInterfaceSetL2Bridge(ctx, &l2.SwInterfaceSetL2Bridge{RxSwIfIndex: sw, BdID: bd.BdID, Enable: false}); err != nil {
			return nil, fmt.Errorf("remove %s from bridge domain %d: %w", m.IfName, bd.BdID, err)
		}
		if bd.BdTag == Tag && len(bd.SwIfDetails) == 1 {
			if _, err := v.l2.BridgeDomainAddDelV2(ctx, &l2.BridgeDomainAddDelV2{BdID: bd.BdID, IsAdd: false}); err != nil {
				return nil, fmt.Errorf("delete bridge domain %d: %w", bd.BdID, err)
			}
			d.BridgeDeleted = true
		}
	}
	if _, err := v.memif.MemifDelete(ctx, &memif.MemifDelete{SwIfIndex: sw}); err != nil {
		return nil, fmt.Errorf("delete memif %s: %w", m.IfName, err)
	}
	if m.SocketID != 0 && !socketUsed(ms, m.SocketID, sw) {
		if _, err := v.memif.MemifSocketFilenameAddDelV2(ctx, &memif.MemifSocketFilenameAddDelV2{SocketID: m.SocketID, SocketFilename: socket}); err != nil {
			return nil, fmt.Errorf("delete memif socket %d (%s): %w", m.SocketID, socket, err)
		}
		d.SocketDeleted = true
	}
	return d, nil
}

// socketUsed reports whether a memif other than sw uses socket id.
func socketUsed(ms []*memif.MemifDetails, id uint32, sw interface_types.InterfaceIndex) bool {
	for _, m := range ms {
		if m.SocketID == id && m.SwIfIndex != sw {
			return true
		}
	}
	return false
}
