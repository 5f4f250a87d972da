// SPDX-License-Identifier: Apache-2.0

//go:build (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm) && linux

package bpf

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestLAN(t *testing.T) {
	p := lanProgram(t)
	withSocket(t, p)
	for name, frame := range map[string][]byte{
		"ipv4":                   udp4(53),
		"arp":                    cat(ether(etARP), arp()),
		"vlan":                   udp6(53, tag{tpidQ, 10}),
		"qinq":                   udp4(53, tag{tpidAD, 100}, tag{tpidQ, 10}),
		"ethernet header only":   ether(etIPv4),
		"vlan tpid, tag missing": ether(tpidQ),
	} {
		t.Run(name, func(t *testing.T) { expect(t, p, frame, nil, xdpRedirect, "redirected") })
	}
}

func TestLANFilter(t *testing.T) {
	p := lanProgram(t, 10, 4094)
	withSocket(t, p)
	for _, tc := range []struct {
		name    string
		frame   []byte
		verdict uint32
		reason  string
	}{
		{"vlan 10", udp4(53, tag{tpidQ, 10}), xdpRedirect, "redirected"},
		{"802.1ad vlan 10", udp4(53, tag{tpidAD, 10}), xdpRedirect, "redirected"},
		{"vlan 4094", cat(ether(etARP, tag{tpidQ, 4094}), arp()), xdpRedirect, "redirected"},
		{"vlan 10 with priority and DEI", udp6(53, tag{tpidQ, 0xf00a}), xdpRedirect, "redirected"},
		{"qinq outer 10", udp4(53, tag{tpidAD, 10}, tag{tpidQ, 20}), xdpRedirect, "redirected"},
		{"qinq outer 20 inner 10", udp4(53, tag{tpidAD, 20}, tag{tpidQ, 10}), xdpPass, "vlan_filtered"},
		{"vlan 11", udp4(53, tag{tpidQ, 11}), xdpPass, "vlan_filtered"},
		{"vlan 0 (priority tag)", udp4(53, tag{tpidQ, 0}), xdpPass, "vlan_filtered"},
		{"untagged", udp4(53), xdpPass, "vlan_filtered"},
		{"untagged arp", cat(ether(etARP), arp()), xdpPass, "vlan_filtered"},
		{"vlan tpid, tag missing", ether(tpidQ), xdpPass, "truncated"},
		{"vlan tpid, half a tag", cat(ether(tpidQ), []byte{0, 10}), xdpPass, "truncated"},
	} {
		t.Run(tc.name, func(t *testing.T) { expect(t, p, tc.frame, nil, tc.verdict, tc.reason) })
	}
}

func TestLANNoSocket(t *testing.T) {
	p := lanProgram(t)
	expect(t, p, udp4(53), nil, xdpPass, "no_socket")
	cs, err := p.Counters()
	if err != nil {
		t.Fatal(err)
	}
	want := []Counter{{"redirected", VerdictRedirect, 0}, {"no_socket", VerdictPass, 1}, {"vlan_filtered", VerdictPass, 0}, {"truncated", VerdictPass, 0}}
	if !slices.Equal(cs, want) {
		t.Errorf("Counters() = %v, want %v", cs, want)
	}
}

// Bad ids are rejected before anything is loaded: no root needed.
func TestLoadLANBadVLAN(t *testing.T) {
	for _, id := range []uint16{0, 4095, 65535} {
		_, err := LoadLAN([]uint16{10, id})
		if err == nil || !strings.Contains(err.Error(), "vlan id "+strconv.Itoa(int(id))) {
			t.Errorf("LoadLAN([10 %d]): %v, want an error naming vlan id %d", id, err, id)
		}
	}
}
