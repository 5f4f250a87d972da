// SPDX-License-Identifier: Apache-2.0

//go:build linux

package afpacket

// Network namespace helpers for the root tests. The same helpers live in
// dataplane/port/tap; they belong in a shared test package once more ports
// need them.

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// needRoot skips a test that needs root, unless CI is set: CI must run the
// root tests, so there it fails.
func needRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("needs root; CI must run as root")
	}
	t.Skip("needs root")
}

var nsSeq atomic.Int32

// netNS is a named network namespace that a test created.
type netNS struct {
	name string
	h    netns.NsHandle
	nl   *netlink.Handle // netlink in the namespace, usable from any thread
}

// newNS creates the namespace skt-<pid>-<n> with its loopback up, and
// deletes it in t.Cleanup.
func newNS(t *testing.T) *netNS {
	t.Helper()
	name := fmt.Sprintf("skt-%d-%d", os.Getpid(), nsSeq.Add(1))
	var h netns.NsHandle
	err := onThread(func() error {
		var err error
		h, err = netns.NewNamed(name) // unshares the calling thread; onThread restores it
		return err
	})
	if err != nil {
		t.Fatalf("create netns %s: %v", name, err)
	}
	ns := &netNS{name: name, h: h}
	t.Cleanup(func() {
		if ns.nl != nil {
			ns.nl.Close()
		}
		h.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete netns %s: %v", name, err)
		}
	})
	if ns.nl, err = netlink.NewHandleAt(h); err != nil {
		t.Fatalf("netlink in %s: %v", name, err)
	}
	ns.linkUp(t, "lo")
	return ns
}

// onThread runs f on a locked OS thread and puts the thread back into the
// namespace it started in. If that fails the thread stays locked, and the
// runtime discards it when the goroutine ends.
func onThread(f func() error) error {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return err
	}
	defer orig.Close()
	ferr := f()
	if err := netns.Set(orig); err != nil {
		panic(fmt.Sprintf("restore network namespace: %v", err))
	}
	runtime.UnlockOSThread()
	return ferr
}

// do runs f in the namespace: sockets and devices f creates belong to it
// for their whole life.
func (ns *netNS) do(f func() error) error {
	return onThread(func() error {
		if err := netns.Set(ns.h); err != nil {
			return fmt.Errorf("enter netns %s: %w", ns.name, err)
		}
		return f()
	})
}

func (ns *netNS) link(t *testing.T, name string) netlink.Link {
	t.Helper()
	l, err := ns.nl.LinkByName(name)
	if err != nil {
		t.Fatalf("%s: link %s: %v", ns.name, name, err)
	}
	return l
}

func (ns *netNS) linkUp(t *testing.T, name string) {
	t.Helper()
	if err := ns.nl.LinkSetUp(ns.link(t, name)); err != nil {
		t.Fatalf("%s: set %s up: %v", ns.name, name, err)
	}
}

// addAddr adds an address (without duplicate address detection).
func (ns *netNS) addAddr(t *testing.T, name, prefix string) {
	t.Helper()
	p := netip.MustParsePrefix(prefix)
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	if err := ns.nl.AddrAdd(ns.link(t, name), a); err != nil {
		t.Fatalf("%s: add %s to %s: %v", ns.name, prefix, name, err)
	}
}

// quiet turns IPv6 off on a link, so the kernel sends no router or
// neighbour solicitations of its own on it.
func (ns *netNS) quiet(t *testing.T, name string) {
	t.Helper()
	err := ns.do(func() error {
		return os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", []byte("1"), 0)
	})
	if err != nil {
		t.Fatalf("%s: disable IPv6 on %s: %v", ns.name, name, err)
	}
}

// veth creates a veth pair, name1 in ns1 and name2 in ns2, both up.
func veth(t *testing.T, ns1 *netNS, name1 string, ns2 *netNS, name2 string) {
	t.Helper()
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name1}, PeerName: name2, PeerNamespace: netlink.NsFd(ns2.h)}
	if err := ns1.nl.LinkAdd(v); err != nil {
		t.Fatalf("veth %s/%s - %s/%s: %v", ns1.name, name1, ns2.name, name2, err)
	}
	ns1.linkUp(t, name1)
	ns2.linkUp(t, name2)
}
