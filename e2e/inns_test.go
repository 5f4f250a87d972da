// SPDX-License-Identifier: Apache-2.0

package e2e

import (
	"runtime"
	"testing"

	vnetns "github.com/vishvananda/netns"

	"github.com/skiffnet/skiff/bench/netns"
)

// inNS runs fn on a thread switched into ns. Sockets fn opens stay in ns
// after the thread switches back; fn must not start goroutines that expect
// to be in ns.
func inNS(t *testing.T, ns *netns.NS, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := vnetns.Get()
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	h, err := vnetns.GetFromName(ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if err := vnetns.Set(h); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := vnetns.Set(orig); err != nil {
			panic(err) // the thread would stay in the wrong namespace
		}
	}()
	fn()
}
