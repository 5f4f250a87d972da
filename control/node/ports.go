// SPDX-License-Identifier: Apache-2.0

package node

import (
	"fmt"
	"log/slog"
	"net/netip"

	"github.com/skiffnet/skiff/conf"
	"github.com/skiffnet/skiff/control/api"
	"github.com/skiffnet/skiff/dataplane/port"
	"github.com/skiffnet/skiff/dataplane/port/afpacket"
	"github.com/skiffnet/skiff/dataplane/port/afxdp"
	memifport "github.com/skiffnet/skiff/dataplane/port/memif"
	"github.com/skiffnet/skiff/dataplane/port/tap"
	"github.com/skiffnet/skiff/dataplane/port/udp"
	"github.com/skiffnet/skiff/vpp/memif"
)

// DefaultPorts opens real devices: a TAP device (with an address or on a
// bridge), a raw NIC (AF_PACKET) or a NIC through AF_XDP on the local side;
// UDP sockets or AF_XDP on the underlay.
func DefaultPorts() Ports {
	return Ports{Local: openLocal, Underlay: openUnderlay}
}

func openLocal(c *conf.Config, log *slog.Logger) (port.Port, error) {
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
	case conf.LocalMemif:
		p, err := memifport.Open(memifConfig(l.Memif, log))
		if err != nil {
			return nil, err
		}
		c := p.Interface().Config()
		log.Info("local memif", "socket", c.Socket, "id", c.ID, "role", c.Role, "queues", c.Queues)
		return p, nil
	case conf.LocalAFXDP:
		p, err := afxdp.OpenLAN(afxdp.LANConfig{Name: l.Name, Promisc: l.Promisc, VLANs: l.VLANs, Queues: l.Queues})
		if err == nil {
			st := p.Stats()
			log.Info("local afxdp", "nic", l.Name, "queues", st.Queues, "mode", st.Mode)
			return p, nil
		}
		if len(l.VLANs) > 0 {
			// afpacket cannot leave the other VLANs to the kernel.
			return nil, fmt.Errorf("%w (and local.vlans has no afpacket fallback)", err)
		}
		log.Warn("local: AF_XDP unavailable, falling back to afpacket", "nic", l.Name, "err", err)
		fallthrough
	case conf.LocalAFPacket:
		p, err := afpacket.Open(afpacket.Config{Name: l.Name, Promisc: l.Promisc})
		if err != nil {
			return nil, err
		}
		return p, nil
	}
	return nil, fmt.Errorf("unknown local type %v", l.Type)
}

// memifConfig is the memif interface of a config's local.memif.
func memifConfig(m *conf.Memif, log *slog.Logger) memif.Config {
	c := memif.Config{Socket: m.Socket, ID: m.ID, Role: memif.RoleClient, Secret: m.Secret, Queues: m.Queues,
		BufferSize: m.BufferSize, Poll: m.Poll, Log: log}
	if m.Server {
		c.Role = memif.RoleServer
	}
	for c.Log2Ring = 1; 1<<c.Log2Ring < m.RingSize; c.Log2Ring++ {
	}
	return c
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

func openUnderlay(c *conf.Config, addr netip.AddrPort, log *slog.Logger) (port.Port, netip.AddrPort, error) {
	u := c.Underlay
	if u.Type == conf.UnderlayAFXDP {
		p, err := afxdp.OpenUnderlay(afxdp.UnderlayConfig{Interface: u.Interface, Addr: addr, SocketBuffer: u.SocketBuffer, Queues: u.Queues})
		if err == nil {
			st := p.Stats()
			log.Info("underlay afxdp", "nic", u.Interface, "addr", p.LocalAddr(), "queues", st.Queues, "mode", st.Mode)
			return p, p.LocalAddr(), nil
		}
		log.Warn("underlay: AF_XDP unavailable, falling back to udp", "nic", u.Interface, "err", err)
	}
	p, err := udp.Listen(udp.Config{Addr: addr, SocketBuffer: u.SocketBuffer})
	if err != nil {
		return nil, netip.AddrPort{}, err
	}
	return p, p.LocalAddr(), nil
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
	case *memifport.Port:
		return api.PortInfo{Type: "memif", Name: p.Name(), Stats: p.Stats()}
	case *afxdp.LAN:
		return api.PortInfo{Type: "afxdp", Name: p.Name(), Stats: p.Stats()}
	case *afxdp.Underlay:
		return api.PortInfo{Type: "afxdp", Name: p.Name() + " " + p.LocalAddr().String(), Stats: p.Stats()}
	}
	return api.PortInfo{Type: fmt.Sprintf("%T", p)}
}
