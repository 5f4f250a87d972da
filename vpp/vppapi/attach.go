// SPDX-License-Identifier: Apache-2.0

package vppapi

import (
	"context"
	"errors"
	"fmt"

	"go.fd.io/govpp/binapi/ethernet_types"
	interfaces "go.fd.io/govpp/binapi/interface"
	"go.fd.io/govpp/binapi/interface_types"
	"go.fd.io/govpp/binapi/l2"
	"go.fd.io/govpp/binapi/memif"
)

// ErrAttached is returned by Attach when VPP has a memif on the socket
// with the id already.
var ErrAttached = errors.New("VPP has this memif already (skiff vpp detach removes it)")

// Attachment is what Attach made in VPP.
type Attachment struct {
	SwIfIndex     uint32 `json:"sw_if_index"`
	Name          string `json:"name"`     // VPP's name for it: memif<socket id>/<id>
	Role          string `json:"role"`     // skiff's end: server or client
	VPPRole       string `json:"vpp_role"` // VPP's end: master or slave
	ID            uint32 `json:"id"`
	SocketID      uint32 `json:"socket_id"`
	Socket        string `json:"socket"`
	SocketCreated bool   `json:"socket_created"` // false: VPP had the socket file registered already
	Bridge        uint32 `json:"bridge,omitempty"`
	BridgeCreated bool   `json:"bridge_created,omitempty"`
	Xconnect      string `json:"xconnect,omitempty"`
	XconnectIndex uint32 `json:"xconnect_sw_if_index,omitempty"`
}

// change is one change Attach made, with the request that undoes it (nil:
// it goes away with the memif).
type change struct {
	step string
	undo func(ctx context.Context) error
}

// Attach creates VPP's end of skiff's memif and attaches it to a bridge
// domain or cross-connects it (see the package doc). If a step fails, the
// changes made so far are undone, newest first, and the error names the
// step and VPP's error (and any undo that failed too).
func Attach(ctx context.Context, conn Conn, spec AttachSpec) (*Attachment, error) {
	spec = spec.withDefaults()
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	spec.Socket = cleanSocket(spec.Socket)
	if err := checkCompat(conn, attachMsgs); err != nil {
		return nil, err
	}
	v := newVPP(conn)

	// Read what is there before changing anything.
	socks, ms, err := v.memifState(ctx)
	if err != nil {
		return nil, err
	}
	ids := socketIDs(socks, spec.Socket)
	if m := findMemif(ms, ids, spec.ID); m != nil {
		return nil, fmt.Errorf("socket %s id %d: %s (sw_if_index %d): %w", spec.Socket, spec.ID, m.IfName, m.SwIfIndex, ErrAttached)
	}
	var bridgeExists bool
	peer := noIndex
	if spec.Bridge != 0 {
		bds, err := v.bridgeDomains(ctx, spec.Bridge)
		if err != nil {
			return nil, fmt.Errorf("dump bridge domain %d: %w", spec.Bridge, err)
		}
		for _, bd := range bds {
			bridgeExists = bridgeExists || bd.BdID == spec.Bridge
		}
	} else {
		if peer, err = v.l3Interface(ctx, spec.Xconnect); err != nil {
			return nil, err
		}
	}

	a := &Attachment{Role: spec.Role.String(), VPPRole: vppRoleName(spec.Role.vpp()), ID: spec.ID, Socket: spec.Socket, Bridge: spec.Bridge, Xconnect: spec.Xconnect}
	var done []change
	fail := func(step string, err error) (*Attachment, error) {
		err = fmt.Errorf("%s: %w", step, err)
		uctx, cancel := undoCtx(ctx)
		defer cancel()
		for i := len(done) - 1; i >= 0; i-- {
			c := done[i]
			if c.undo == nil {
				continue
			}
			if uerr := c.undo(uctx); uerr != nil {
				err = errors.Join(err, fmt.Errorf("undo %s: %w (left in VPP)", c.step, uerr))
			}
		}
		return nil, err
	}

	// 1. The socket file, unless VPP has it (then it is not ours to delete).
	if len(ids) > 0 {
		a.SocketID = ids[0]
	} else {
		step := "register memif socket " + spec.Socket
		r, err := v.memif.MemifSocketFilenameAddDelV2(ctx, &memif.MemifSocketFilenameAddDelV2{
			IsAdd:          true,
			SocketID:       ^uint32(0), // VPP picks a free id
			SocketFilename: spec.Socket,
		})
		if err != nil {
			return fail(step, err)
		}
		a.SocketID, a.SocketCreated = r.SocketID, true
		id := r.SocketID
		done = append(done, change{step, func(ctx context.Context) error {
			_, err := v.memif.MemifSocketFilenameAddDelV2(ctx, &memif.MemifSocketFilenameAddDelV2{SocketID: id, SocketFilename: spec.Socket})
			return err
		}})
	}

	// 2. The memif.
	step := fmt.Sprintf("create memif (socket %d, id %d, VPP %s)", a.SocketID, spec.ID, a.VPPRole)
	req := &memif.MemifCreateV2{
		Role:       spec.Role.vpp(),
		Mode:       memif.MEMIF_MODE_API_ETHERNET,
		RxQueues:   uint8(spec.Queues),
		TxQueues:   uint8(spec.Queues),
		ID:         spec.ID,
		SocketID:   a.SocketID,
		RingSize:   uint32(spec.Ring),
		BufferSize: uint16(spec.Buffer),
		NoZeroCopy: !spec.ZeroCopy,
		Secret:     spec.Secret,
	}
	if spec.MAC != nil {
		req.HwAddr = ethernet_types.NewMacAddress(spec.MAC)
	}
	cr, err := v.memif.MemifCreateV2(ctx, req)
	if err != nil {
		return fail(step, err)
	}
	sw := cr.SwIfIndex
	a.SwIfIndex = uint32(sw)
	a.Name = fmt.Sprintf("memif%d/%d", a.SocketID, spec.ID)
	done = append(done, change{"create memif " + a.Name, func(ctx context.Context) error {
		_, err := v.memif.MemifDelete(ctx, &memif.MemifDelete{SwIfIndex: sw})
		return err
	}})

	// 3. Tag, admin up, MTU: they go with the memif.
	if _, err := v.ifs.SwInterfaceTagAddDel(ctx, &interfaces.SwInterfaceTagAddDel{IsAdd: true, SwIfIndex: sw, Tag: Tag}); err != nil {
		return fail("tag "+a.Name, err)
	}
	if _, err := v.ifs.SwInterfaceSetFlags(ctx, &interfaces.SwInterfaceSetFlags{SwIfIndex: sw, Flags: interface_types.IF_STATUS_API_FLAG_ADMIN_UP}); err != nil {
		return fail("set "+a.Name+" admin up", err)
	}
	mtu := uint32(spec.MTU)
	if _, err := v.ifs.SwInterfaceSetMtu(ctx, &interfaces.SwInterfaceSetMtu{SwIfIndex: sw, Mtu: []uint32{mtu, mtu, mtu, mtu}}); err != nil {
		return fail(fmt.Sprintf("set %s mtu %d", a.Name, mtu), err)
	}

	// 4. L2.
	if spec.Bridge != 0 {
		bd := spec.Bridge
		if !bridgeExists {
			step := fmt.Sprintf("create bridge domain %d", bd)
			if _, err := v.l2.BridgeDomainAddDelV2(ctx, &l2.BridgeDomainAddDelV2{
				BdID: bd, Flood: true, UuFlood: true, Forward: true, Learn: true, BdTag: Tag, IsAdd: true,
			}); err != nil {
				return fail(step, err)
			}
			a.BridgeCreated = true
			done = append(done, change{step, func(ctx context.Context) error {
				_, err := v.l2.BridgeDomainAddDelV2(ctx, &l2.BridgeDomainAddDelV2{BdID: bd, IsAdd: false})
				return err
			}})
		}
		step := fmt.Sprintf("add %s to bridge domain %d", a.Name, bd)
		if _, err := v.l2.SwInterfaceSetL2Bridge(ctx, &l2.SwInterfaceSetL2Bridge{
			RxSwIfIndex: sw, BdID: bd, PortType: l2.L2_API_PORT_TYPE_NORMAL, Enable: true,
		}); err != nil {
			return fail(step, err)
		}
		done = append(done, change{step, func(ctx context.Context) error {
			_, err := v.l2.SwInterfaceSetL2Bridge(ctx, &l2.SwInterfaceSetL2Bridge{RxSwIfIndex: sw, BdID: bd, Enable: false})
			return err
		}})
	} else {
		a.XconnectIndex = uint32(peer)
		for _, dir := range [][2]interface_types.InterfaceIndex{{sw, peer}, {peer, sw}} {
			rx, tx := dir[0], dir[1]
			step := fmt.Sprintf("cross-connect %s", a.arrow(rx))
			if _, err := v.l2.SwInterfaceSetL2Xconnect(ctx, &l2.SwInterfaceSetL2Xconnect{RxSwIfIndex: rx, TxSwIfIndex: tx, Enable: true}); err != nil {
				return fail(step, err)
			}
			done = append(done, change{step, func(ctx context.Context) error {
				_, err := v.l2.SwInterfaceSetL2Xconnect(ctx, &l2.SwInterfaceSetL2Xconnect{RxSwIfIndex: rx, TxSwIfIndex: tx, Enable: false})
				return err
			}})
		}
	}
	return a, nil
}

// arrow names the cross-connect direction starting at rx.
func (a *Attachment) arrow(rx interface_types.InterfaceIndex) string {
	if uint32(rx) == a.SwIfIndex {
		return a.Name + " -> " + a.Xconnect
	}
	return a.Xconnect + " -> " + a.Name
}

// l3Interface finds VPP's interface named name and checks that it is not
// in a bridge domain or cross-connected already: attaching would take it
// away from there, and undoing would not put it back.
func (v *vpp) l3Interface(ctx context.Context, name string) (interface_types.InterfaceIndex, error) {
	ifs, err := v.interfaces(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("find VPP interface %q: %w", name, err)
	}
	sw := noIndex
	for _, d := range ifs {
		if d.InterfaceName == name {
			sw = d.SwIfIndex
		}
	}
	if sw == noIndex {
		return 0, fmt.Errorf("VPP has no interface %q (vppctl show interface lists them)", name)
	}
	xcs, err := v.xconnects(ctx)
	if err != nil {
		return 0, fmt.Errorf("dump cross-connects: %w", err)
	}
	if _, ok := xcs[sw]; ok {
		return 0, fmt.Errorf("VPP interface %s is cross-connected already", name)
	}
	bds, err := v.bridgeDomains(ctx, ^uint32(0))
	if err != nil {
		return 0, fmt.Errorf("dump bridge domains: %w", err)
	}
	if bd := bridgeOf(bds, sw); bd != nil {
		return 0, fmt.Errorf("VPP interface %s is in bridge domain %d already", name, bd.BdID)
	}
	return sw, nil
}
