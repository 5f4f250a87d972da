// SPDX-License-Identifier: Apache-2.0

package vppapi

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	govppapi "go.fd.io/govpp/api"
	interfaces "go.fd.io/govpp/binapi/interface"
	"go.fd.io/govpp/binapi/interface_types"
)

// Memif is one of VPP's memifs as Show reports it.
type Memif struct {
	SwIfIndex uint32    `json:"sw_if_index"`
	Name      string    `json:"name"`
	Tag       string    `json:"tag"`
	Role      string    `json:"role"`     // skiff's end: server or client
	VPPRole   string    `json:"vpp_role"` // VPP's end: master or slave
	ID        uint32    `json:"id"`
	SocketID  uint32    `json:"socket_id"`
	Socket    string    `json:"socket"`
	Ring      uint32    `json:"ring"`
	Buffer    uint16    `json:"buffer"`
	ZeroCopy  bool      `json:"zero_copy"`
	MAC       string    `json:"mac"`
	AdminUp   bool      `json:"admin_up"`
	LinkUp    bool      `json:"link_up"` // the memif is connected
	MTU       uint32    `json:"mtu"`     // L3 MTU
	Bridge    uint32    `json:"bridge,omitempty"`
	Xconnect  string    `json:"xconnect,omitempty"` // the interface the memif is cross-connected to
	Counters  *Counters `json:"counters,omitempty"`
}

// L2 describes the memif's L2 attachment in words.
func (m *Memif) L2() string {
	switch {
	case m.Bridge != 0:
		return fmt.Sprintf("bridge %d", m.Bridge)
	case m.Xconnect != "":
		return "xconnect " + m.Xconnect
	}
	return "none"
}

// Counters are VPP's counters of an interface, summed over its threads.
type Counters struct {
	RxPackets uint64 `json:"rx_packets"`
	RxBytes   uint64 `json:"rx_bytes"`
	TxPackets uint64 `json:"tx_packets"`
	TxBytes   uint64 `json:"tx_bytes"`
	Drops     uint64 `json:"drops"`
	RxErrors  uint64 `json:"rx_errors"`
	TxErrors  uint64 `json:"tx_errors"`
	RxNoBuf   uint64 `json:"rx_no_buf"`
	RxMiss    uint64 `json:"rx_miss"`
}

// ShowFilter selects memifs: those tagged by skiff (or all with All),
// narrowed to a socket file and an interface id when set.
type ShowFilter struct {
	All    bool
	Socket string
	ID     uint32
	HasID  bool
}

// Show returns the memifs f selects, in sw_if_index order, without
// counters (see AddCounters).
func Show(ctx context.Context, conn Conn, f ShowFilter) ([]Memif, error) {
	if f.Socket != "" {
		if err := ValidSocket(f.Socket); err != nil {
			return nil, err
		}
		f.Socket = cleanSocket(f.Socket)
	}
	if err := checkCompat(conn, showMsgs); err != nil {
		return nil, err
	}
	v := newVPP(conn)
	socks, ms, err := v.memifState(ctx)
	if err != nil {
		return nil, err
	}
	ifs, err := v.interfaces(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("dump interfaces: %w", err)
	}
	byIndex := make(map[interface_types.InterfaceIndex]*interfaces.SwInterfaceDetails, len(ifs))
	for _, d := range ifs {
		byIndex[d.SwIfIndex] = d
	}
	xcs, err := v.xconnects(ctx)
	if err != nil {
		return nil, fmt.Errorf("dump cross-connects: %w", err)
	}
	bds, err := v.bridgeDomains(ctx, ^uint32(0))
	if err != nil {
		return nil, fmt.Errorf("dump bridge domains: %w", err)
	}

	var out []Memif
	for _, m := range ms {
		d := byIndex[m.SwIfIndex]
		var tag string
		var mtu uint32
		if d != nil {
			tag = d.Tag
			if len(d.Mtu) > 0 {
				mtu = d.Mtu[0]
			}
		}
		switch {
		case !f.All && tag != Tag:
			continue
		case f.Socket != "" && socks[m.SocketID] != f.Socket:
			continue
		case f.HasID && m.ID != f.ID:
			continue
		}
		x := Memif{
			SwIfIndex: uint32(m.SwIfIndex),
			Name:      m.IfName,
			Tag:       tag,
			Role:      skiffRole(m.Role).String(),
			VPPRole:   vppRoleName(m.Role),
			ID:        m.ID,
			SocketID:  m.SocketID,
			Socket:    socks[m.SocketID],
			Ring:      m.RingSize,
			Buffer:    m.BufferSize,
			ZeroCopy:  m.ZeroCopy,
			MAC:       m.HwAddr.String(),
			AdminUp:   m.Flags&interface_types.IF_STATUS_API_FLAG_ADMIN_UP != 0,
			LinkUp:    m.Flags&interface_types.IF_STATUS_API_FLAG_LINK_UP != 0,
			MTU:       mtu,
		}
		if bd := bridgeOf(bds, m.SwIfIndex); bd != nil {
			x.Bridge = bd.BdID
		}
		if peer, ok := xcs[m.SwIfIndex]; ok {
			x.Xconnect = fmt.Sprintf("sw_if_index %d", peer)
			if d := byIndex[peer]; d != nil {
				x.Xconnect = d.InterfaceName
			}
		}
		out = append(out, x)
	}
	slices.SortFunc(out, func(a, b Memif) int { return cmp.Compare(a.SwIfIndex, b.SwIfIndex) })
	return out, nil
}

// AddCounters fills in the memifs' counters from VPP's stats segment.
func AddCounters(stats Stats, ms []Memif) (err error) {
	// govpp indexes the counter vectors without checking their length; a
	// malformed stats segment must not crash skiff.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("VPP stats: bad interface counters: %v", r)
		}
	}()
	var st govppapi.InterfaceStats
	if err := stats.GetInterfaceStats(&st); err != nil {
		return fmt.Errorf("VPP stats: %w", err)
	}
	for i := range ms {
		m := &ms[i]
		if int(m.SwIfIndex) >= len(st.Interfaces) {
			continue
		}
		c := &st.Interfaces[m.SwIfIndex]
		if c.InterfaceName != "" && c.InterfaceName != m.Name {
			continue // the index was reused since the dump
		}
		m.Counters = &Counters{
			RxPackets: c.Rx.Packets, RxBytes: c.Rx.Bytes,
			TxPackets: c.Tx.Packets, TxBytes: c.Tx.Bytes,
			Drops: c.Drops, RxErrors: c.RxErrors, TxErrors: c.TxErrors,
			RxNoBuf: c.RxNoBuf, RxMiss: c.RxMiss,
		}
	}
	return nil
}
