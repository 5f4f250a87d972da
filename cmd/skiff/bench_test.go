// SPDX-License-Identifier: Apache-2.0

package main

import (
	"strings"
	"testing"

	"github.com/skiffnet/skiff/bench/suite"
)

func TestBenchHelp(t *testing.T) {
	code, out, _ := runArgs(t, "help", "bench")
	if code != 0 {
		t.Fatalf("skiff help bench = %d", code)
	}
	for _, want := range []string{
		"testpmd-memif, skiff-aes-256-gcm-memif, skiff-none-memif", // in --rows
		"local=tap|afpacket|afxdp|memif",                           // in --row
		"kind=skiff|veth|vxlan|wireguard-go|testpmd",
		"-memif-time DURATION",
		"-cpuprofile DIR",
		"skipped without dpdk-testpmd",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("skiff help bench lacks %q:\n%s", want, out)
		}
	}
	// The rows a default run leaves out, as the catalog says.
	left := map[string]bool{}
	for _, n := range strings.FieldsFunc(strings.ReplaceAll(notDefault(), " and ", ","), func(r rune) bool { return r == ',' || r == ' ' }) {
		left[n] = true
	}
	for _, c := range suite.Catalog {
		if left[c.Row.Name] == c.Default {
			t.Errorf("row %s (default %v): left out by default says %v: %s", c.Row.Name, c.Default, left[c.Row.Name], notDefault())
		}
	}
}

func TestBenchUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"bench", "--rows", "skiff-memif"}, `unknown row "skiff-memif"`},
		{[]string{"bench", "--row", "local=memif,local_mtu=1400"}, "no MTU"},
		{[]string{"bench", "--row", "kind=testpmd,suite=none"}, "skiff rows only"},
		{[]string{"bench", "--row", "name=testpmd-memif,kind=testpmd"}, "built-in row"},
		{[]string{"bench", "--memif-time", "-1s"}, "negative"},
	} {
		code, out, errOut := runArgs(t, tt.args...)
		if code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("skiff %q = %d, stdout %q, stderr %q; want 2 and %q", tt.args, code, out, errOut, tt.want)
		}
	}
}
