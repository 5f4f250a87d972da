// SPDX-License-Identifier: Apache-2.0

package node

import (
	"fmt"
	"net/netip"

	"github.com/skiffnet/skiff/conf"
	"github.com/skiffnet/skiff/control/api"
	"github.com/skiffnet/skiff/dataplane/port"
	"github.com/skiffnet/skiff/dataplane/port/afpacket"
	"github.com/skiffnet/skiff/dataplane/port/tap"
	"github.com/skiffnet/skiff/dataplane/port/udp"
)

// DefaultPorts opens real devices: a TAP device (with an address or on a
// bridge) or a raw NIC (AF_PACKET) on the local side, UDP sockets on the
// underlay.
func DefaultPorts() Ports {
	return Ports{Local: openLocal, Underlay: openUDP}
}

func openLocal(c *conf.Config) (port.Port, error) {
	l := c.Local
	// Each branch returns a nil interface on error, never a typed nil
	// pointer, so callers can test the port against nil.
	switch l.Type {
	case conf.LocalTAP:
		p, err := tap.Open(tap.Config{Name: l.Name, MTU: l.MTU, Address: l.Address, Bridge: l.Bridge, Offload: offloadable(c)})
		if err != nil {
			return nil, err
		}
		return p, nil
	case conf.LocalAFPacket:
		p, err := afpacket.Open(afpacket.Config{Name: l.Name, Promisc: l.Promisc})
		if err != nil {
			return nil, err
		}
		return p, nil
	}
	return nil, fmt.Errorf("unknown local type %v", l.Type)
}

// offloadable reports whether every peer can carry offload super-frames
// (the skiff codec can; plain VXLAN cannot), so the TAP device may hand
// them over.
func offloadable(c *conf.Config) bool {
	for _, p := range c.Peers {
		if p.Codec != conf.CodecSkiff {
			return false
		}
	}
	return true
}

func openUDP(addr netip.AddrPort, socketBuffer int) (port.Port, netip.AddrPort, error) {
	u, err := udp.Listen(udp.Config{Addr: addr, SocketBuffer: socketBuffer})
	if err != nil {
		return nil, netip.AddrPort{}, err
	}
	return u, u.LocalAddr(), nil
}

// portInfo describes a port for skiff status.
func portInfo(p port.Port) api.PortInfo {
	switch p := p.(type) {
	case *tap.Port:
		return api.PortInfo{Type: "tap", Name: p.Name(), Stats: p.Stats()}
	case *afpacket.Port:
		return api.PortInfo{Type: "afpacket", Name: p.Name(), Stats: p.Stats()}
	case *udp.Port:
		return api.PortInfo{Type: "udp", Name: p.LocalAddr().String(), Stats: p.Stats()}
	}
	return api.PortInfo{Type: fmt.Sprintf("%T", p)}
}
