// SPDX-License-Identifier: Apache-2.0

//go:build (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm) && linux

package bpf

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/skiffnet/skiff/internal/nstest"
	"github.com/vishvananda/netlink"
)

type underlayCase struct {
	name    string
	frame   []byte
	verdict uint32
	reason  string
	hdrLen  int // for "ours" frames: Ethernet through UDP header
}

func underlayCases() []underlayCase {
	u := udp(testPort, payload)
	opts4 := []byte{0x94, 0x04, 0, 0}                 // Router Alert: IHL 6
	opts40 := slices.Repeat([]byte{0x01}, 40)         // 40 NOPs: IHL 15
	hopByHop := []byte{protoUDP, 0, 1, 4, 0, 0, 0, 0} // Next UDP, PadN
	frag6 := []byte{protoUDP, 0, 0, 1, 0, 0, 0, 42}   // Next UDP, offset 0, M
	vlan10 := tag{tpidQ, 10}
	outer := tag{tpidAD, 100}
	return []underlayCase{
		{"ipv4", udp4(testPort), xdpRedirect, "redirected", 14 + 20 + 8},
		{"ipv4 options", cat(ether(etIPv4), ipv4(protoUDP, ipDF, opts4, len(u)), u), xdpRedirect, "redirected", 14 + 24 + 8},
		{"ipv4 40 bytes of options", cat(ether(etIPv4), ipv4(protoUDP, 0, opts40, len(u)), u), xdpRedirect, "redirected", 14 + 60 + 8},
		{"ipv6", udp6(testPort), xdpRedirect, "redirected", 14 + 40 + 8},
		{"vlan ipv4", udp4(testPort, vlan10), xdpRedirect, "redirected", 18 + 20 + 8},
		{"vlan ipv6", udp6(testPort, vlan10), xdpRedirect, "redirected", 18 + 40 + 8},
		{"qinq ipv4", udp4(testPort, outer, vlan10), xdpRedirect, "redirected", 22 + 20 + 8},
		{"qinq ipv6", udp6(testPort, outer, vlan10), xdpRedirect, "redirected", 22 + 40 + 8},
		{"two 802.1Q tags", udp4(testPort, vlan10, vlan10), xdpRedirect, "redirected", 22 + 20 + 8},
		{"vlan priority and DEI bits", udp4(testPort, tag{tpidQ, 0xf00a}), xdpRedirect, "redirected", 18 + 20 + 8},

		{"three tags", udp4(testPort, outer, vlan10, vlan10), xdpPass, "not_ip", 0},
		{"arp", cat(ether(etARP), arp()), xdpPass, "not_ip", 0},
		{"vlan arp", cat(ether(etARP, vlan10), arp()), xdpPass, "not_ip", 0},
		{"ipv4 ethertype, version 6", cat(ether(etIPv4), ipv6(protoUDP, len(u)), u), xdpPass, "not_ip", 0},
		{"ipv6 ethertype, version 4", cat(ether(etIPv6), ipv4(protoUDP, 0, nil, len(u)), u, make([]byte, 20)), xdpPass, "not_ip", 0},
		{"other port", udp4(testPort + 1), xdpPass, "other_port", 0},
		{"other port ipv6", udp6(53), xdpPass, "other_port", 0},
		{"our port as source only", cat(ether(etIPv4), ipv4(protoUDP, 0, nil, 8), []byte{testPort >> 8, testPort & 0xff, 0, 53, 0, 8, 0, 0}), xdpPass, "other_port", 0},
		{"tcp to our port", cat(ether(etIPv4), ipv4(protoTCP, ipDF, nil, 20), tcp(testPort)), xdpPass, "not_udp", 0},
		{"tcp6 to our port", cat(ether(etIPv6), ipv6(protoTCP, 20), tcp(testPort)), xdpPass, "not_udp", 0},
		{"ipv4 MF", cat(ether(etIPv4), ipv4(protoUDP, ipMF, nil, len(u)), u), xdpPass, "ip_fragment", 0},
		{"ipv4 offset", cat(ether(etIPv4), ipv4(protoUDP, 185, nil, len(u)), u), xdpPass, "ip_fragment", 0},
		{"ipv4 last fragment of a vlan", cat(ether(etIPv4, vlan10), ipv4(protoUDP, 1, nil, len(u)), u), xdpPass, "ip_fragment", 0},
		{"tcp fragment", cat(ether(etIPv4), ipv4(protoTCP, ipMF, nil, 20), tcp(testPort)), xdpPass, "not_udp", 0},
		{"ipv6 hop-by-hop", cat(ether(etIPv6), ipv6(protoHopOpts, 8+len(u)), hopByHop, u), xdpPass, "ipv6_ext_header", 0},
		{"ipv6 fragment", cat(ether(etIPv6), ipv6(protoFrag6, 8+len(u)), frag6, u), xdpPass, "ipv6_ext_header", 0},
		{"ipv4 IHL 4", cat(ether(etIPv4), []byte{0x44}, ipv4(protoUDP, 0, nil, len(u))[1:], u), xdpPass, "truncated", 0},
		{"ipv4 options past the end", cat(ether(etIPv4), []byte{0x4f}, ipv4(protoUDP, 0, nil, 0)[1:], make([]byte, 20)), xdpPass, "truncated", 0},
		{"ethernet header only", ether(etIPv4), xdpPass, "truncated", 0},
		{"vlan tpid only", ether(tpidQ), xdpPass, "truncated", 0},
	}
}

func TestUnderlay(t *testing.T) {
	p := underlayProgram(t)
	withSocket(t, p)
	for _, tc := range underlayCases() {
		t.Run(tc.name, func(t *testing.T) {
			if got := classifyRef(tc.frame, testPort); got != tc.reason {
				t.Fatalf("test's reference classifier says %s, want %s", got, tc.reason)
			}
			expect(t, p, tc.frame, nil, tc.verdict, tc.reason)
		})
	}
}

// Every cut of a datagram of ours passes, as truncated, until its UDP
// header is whole; from there on it is redirected (the payload is
// skiff's to check).
func TestUnderlayTruncated(t *testing.T) {
	p := underlayProgram(t)
	withSocket(t, p)
	for _, tc := range underlayCases() {
		if tc.reason != "redirected" {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			for n := 14; n <= len(tc.frame); n++ {
				verdict, reason := uint32(xdpPass), "truncated"
				if n >= tc.hdrLen {
					verdict, reason = xdpRedirect, "redirected"
				}
				got, delta := run(t, p, tc.frame[:n], nil)
				if got != verdict || delta[reason] != 1 || len(delta) != 1 {
					t.Errorf("first %d bytes: %s, counted %v; want %s, %s", n, verdictName(got), delta, verdictName(verdict), reason)
				}
			}
		})
	}
}

// With no socket in the queue's slot, bpf_redirect_map falls back to
// XDP_PASS.
func TestUnderlayNoSocket(t *testing.T) {
	p := underlayProgram(t)
	expect(t, p, udp4(testPort), nil, xdpPass, "no_socket")

	withSocket(t, p)
	expect(t, p, udp4(testPort), nil, xdpRedirect, "redirected")
	if err := p.Unregister(0); err != nil {
		t.Fatal(err)
	}
	expect(t, p, udp6(testPort), nil, xdpPass, "no_socket")
	if err := p.Unregister(0); err != nil {
		t.Errorf("unregister an empty slot: %v", err)
	}
	for _, q := range []int{-1, MaxQueues} {
		if err := p.Register(q, 0); err == nil {
			t.Errorf("Register(%d, 0) took a queue out of range", q)
		}
	}
	if err := p.Register(1, 0); err == nil {
		t.Error("Register took stdin, which is no AF_XDP socket")
	}
}

// The socket is looked up by the frame's receive queue: a test run's
// context names a device and queue (in the caller's namespace).
func TestUnderlayQueue(t *testing.T) {
	p := underlayProgram(t)
	ns := nstest.New(t)
	multi := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "m", NumRxQueues: 2, NumTxQueues: 2}, PeerName: "n"}
	if err := ns.NL.LinkAdd(multi); err != nil {
		t.Fatal(err)
	}
	m := ns.Link(t, "m").Attrs().Index
	err := ns.Do(func() error {
		fd, closeXSK, err := bindXSK(m)
		if err != nil {
			return err
		}
		t.Cleanup(closeXSK)
		if err := p.Register(1, fd); err != nil {
			return err
		}
		expect(t, p, udp4(testPort), &xdpMD{IngressIfindex: uint32(m), RxQueueIndex: 1}, xdpRedirect, "redirected")
		expect(t, p, udp4(testPort), &xdpMD{IngressIfindex: uint32(m), RxQueueIndex: 0}, xdpPass, "no_socket")
		expect(t, p, udp4(testPort), nil, xdpPass, "no_socket") // no context: queue 0 of lo
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestUnderlayCounters(t *testing.T) {
	p := underlayProgram(t)
	cs, err := p.Counters()
	if err != nil {
		t.Fatal(err)
	}
	want := []Counter{
		{"redirected", VerdictRedirect, 0}, {"no_socket", VerdictPass, 0}, {"not_ip", VerdictPass, 0},
		{"not_udp", VerdictPass, 0}, {"other_port", VerdictPass, 0}, {"ip_fragment", VerdictPass, 0},
		{"ipv6_ext_header", VerdictPass, 0}, {"truncated", VerdictPass, 0},
	}
	if !slices.Equal(cs, want) {
		t.Errorf("Counters() = %v, want %v", cs, want)
	}
}

// The Go names of the reasons are the C enums' names, lowercased and
// without the prefix, in the same order (no root needed).
func TestReasonNames(t *testing.T) {
	for _, tc := range []struct {
		load    func() (*ebpf.CollectionSpec, error)
		enum    string
		prefix  string
		reasons []reason
	}{
		{loadUnderlay, "underlay_reason", "UNDERLAY_", underlayReasons[:]},
		{loadLan, "lan_reason", "LAN_", lanReasons[:]},
	} {
		spec, err := tc.load()
		if err != nil {
			t.Fatal(err)
		}
		var enum *btf.Enum
		if err := spec.Types.TypeByName(tc.enum, &enum); err != nil {
			t.Fatal(err)
		}
		var names []string
		for i, v := range enum.Values {
			if v.Value != uint64(i) {
				t.Errorf("%s: %s = %d, want %d", tc.enum, v.Name, v.Value, i)
			}
			names = append(names, v.Name)
		}
		var want []string
		for _, r := range tc.reasons {
			want = append(want, tc.prefix+strings.ToUpper(r.name))
		}
		want = append(want, tc.prefix+"NREASONS")
		if !slices.Equal(names, want) {
			t.Errorf("enum %s is %v, Go names it %v", tc.enum, names, want)
		}
	}
}

func TestLoadUnderlayPort0(t *testing.T) {
	if _, err := LoadUnderlay(0); err == nil || errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("LoadUnderlay(0): %v, want an error about port 0", err)
	}
}
