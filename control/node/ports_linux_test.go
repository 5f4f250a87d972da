// SPDX-License-Identifier: Apache-2.0

package node

import (
	"bytes"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/skiffnet/skiff/conf"
	"github.com/skiffnet/skiff/dataplane/port/afpacket"
	"github.com/skiffnet/skiff/dataplane/port/afxdp"
	"github.com/skiffnet/skiff/dataplane/port/udp"
	"github.com/skiffnet/skiff/internal/nstest"
	"github.com/vishvananda/netlink"
)

// TestAFXDPFallback: where XDP cannot attach natively (a Linux bridge, the
// loopback), afxdp falls back to afpacket and udp with one log line each;
// where it can (veth), the ports are AF_XDP.
func TestAFXDPFallback(t *testing.T) {
	nstest.NeedRoot(t)
	ns := nstest.New(t)
	if err := ns.NL.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "d0"}}); err != nil {
		t.Fatal(err)
	}
	ns.LinkUp(t, "d0")
	nstest.Veth(t, ns, "v0", ns, "v1")
	ns.AddAddr(t, "v0", "10.79.0.1/24")

	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	c := &conf.Config{
		Local:    conf.Local{Type: conf.LocalAFXDP, Name: "d0", Promisc: true},
		Underlay: conf.Underlay{Type: conf.UnderlayAFXDP, Interface: "lo"},
	}
	err := ns.Do(func() error {
		l, err := openLocal(c, log)
		if err != nil {
			return err
		}
		defer l.Close()
		if _, ok := l.(*afpacket.Port); !ok {
			t.Errorf("local on a bridge: %T, want the afpacket fallback", l)
		}
		u, _, err := openUnderlay(c, netip.MustParseAddrPort("127.0.0.1:0"), log)
		if err != nil {
			return err
		}
		defer u.Close()
		if _, ok := u.(*udp.Port); !ok {
			t.Errorf("underlay on lo: %T, want the udp fallback", u)
		}

		c.Local.Name, c.Underlay.Interface = "v1", "v0"
		l2, err := openLocal(c, log)
		if err != nil {
			return err
		}
		defer l2.Close()
		if _, ok := l2.(*afxdp.LAN); !ok {
			t.Errorf("local on a veth: %T, want afxdp", l2)
		}
		u2, _, err := openUnderlay(c, netip.MustParseAddrPort("10.79.0.1:4800"), log)
		if err != nil {
			return err
		}
		defer u2.Close()
		if _, ok := u2.(*afxdp.Underlay); !ok {
			t.Errorf("underlay on a veth: %T, want afxdp", u2)
		}
		if pi := portInfo(u2); pi.Type != "afxdp" {
			t.Errorf("portInfo: %+v", pi)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, want := range []string{"local: AF_XDP unavailable, falling back to afpacket", "underlay: AF_XDP unavailable, falling back to udp", "msg=\"local afxdp\"", "msg=\"underlay afxdp\""} {
		if strings.Count(out, want) != 1 {
			t.Errorf("log has %q %d times, want once:\n%s", want, strings.Count(out, want), out)
		}
	}

	// With a VLAN filter there is no fallback: afpacket would take every
	// frame.
	c.Local = conf.Local{Type: conf.LocalAFXDP, Name: "d0", VLANs: []uint16{10}}
	err = ns.Do(func() error {
		l, err := openLocal(c, log)
		if err == nil {
			l.Close()
		}
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "no afpacket fallback") {
		t.Fatalf("vlans on a bridge: %v", err)
	}
}
