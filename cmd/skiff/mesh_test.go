// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/skiffnet/skiff/control/api"
)

func meshFixture() *api.MeshStatus {
	return &api.MeshStatus{Mode: "p2p", FIBEntries: 3, Nodes: []api.MeshNode{
		{ID: 2, Name: "n2", State: "up", Linked: true, Reachable: true, NextHop: 2, NextHopName: "n2", LatencyMs: 0.25, Cost: 1, Loss: 0.015, Source: "solved", ProxyCIDRs: []string{}},
		{ID: 5, Name: "n5", State: "up", Reachable: true, NextHop: 3, NextHopName: "n3", LatencyMs: 1.5, Cost: 2, Source: "solved", ProxyCIDRs: []string{"10.5.0.0/16"}},
		{ID: 7, Name: "n7", State: "down", LatencyMs: -1, Cost: -1, ProxyCIDRs: []string{}},
	}}
}

func fields(s string) [][]string {
	var rows [][]string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		rows = append(rows, strings.Fields(l))
	}
	return rows
}

func TestPrintRoutes(t *testing.T) {
	var b bytes.Buffer
	printRoutes(&b, meshFixture())
	got := fields(b.String())
	want := [][]string{
		{"mesh", "mode", "p2p,", "3", "MAC", "addresses", "learned"},
		{"id", "hostname", "proxy_cidrs", "next_hop", "next_hop_hostname", "latency_ms", "cost", "source"},
		{"2", "n2", "-", "2", "n2", "0.250", "1", "solved"},
		{"5", "n5", "10.5.0.0/16", "3", "n3", "1.500", "2", "solved"},
		{"7", "n7", "-", "-", "-", "-", "-", "-"},
	}
	if len(got) != len(want) {
		t.Fatalf("skiff route printed\n%s", b.String())
	}
	for i := range want {
		if strings.Join(got[i], " ") != strings.Join(want[i], " ") {
			t.Errorf("line %d: %q, want %q", i, got[i], want[i])
		}
	}
}

func TestPrintPeers(t *testing.T) {
	var b bytes.Buffer
	printPeers(&b, meshFixture())
	got := fields(b.String())
	want := [][]string{
		{"id", "hostname", "state", "linked", "next_hop", "latency_ms", "loss"},
		{"2", "n2", "up", "yes", "n2", "0.250", "1.5%"},
		{"5", "n5", "up", "no", "n3", "1.500", "-"},
		{"7", "n7", "down", "no", "-", "-", "-"},
	}
	if len(got) != len(want) {
		t.Fatalf("skiff peers printed\n%s", b.String())
	}
	for i := range want {
		if strings.Join(got[i], " ") != strings.Join(want[i], " ") {
			t.Errorf("line %d: %q, want %q", i, got[i], want[i])
		}
	}
}
