// SPDX-License-Identifier: Apache-2.0

//go:build linux

// Package nstest gives root tests throw-away network namespaces:
// create one, run code inside it (sockets and devices made there stay
// there), set up links and addresses through netlink, delete it at the end.
package nstest

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

// NeedRoot skips a test that needs root, unless CI is set: CI must run the
// root tests, so there it fails.
func NeedRoot(t testing.TB) {
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

// NS is a named network namespace that a test created.
type NS struct {
	Name string
	H    netns.NsHandle
	NL   *netlink.Handle // netlink in the namespace, usable from any thread
}

// New creates the namespace skt-<pid>-<n> with its loopback up, and
// deletes it in t.Cleanup.
func New(t *testing.T) *NS {
	t.Helper()
	name := fmt.Sprintf("skt-%d-%d", os.Getpid(), nsSeq.Add(1))
	var h netns.NsHandle
	err := OnThread(func() error {
		var err error
		h, err = netns.NewNamed(name) // unshares the calling thread; onThread restores it
		return err
	})
	if err != nil {
		t.Fatalf("create netns %s: %v", name, err)
	}
	ns := &NS{Name: name, H: h}
	t.Cleanup(func() {
		if ns.NL != nil {
			ns.NL.Close()
		}
		h.Close()
		if err := netns.DeleteNamed(name); err != nil {
			t.Errorf("delete netns %s: %v", name, err)
		}
	})
	if ns.NL, err = netlink.NewHandleAt(h); err != nil {
		t.Fatalf("netlink in %s: %v", name, err)
	}
	ns.LinkUp(t, "lo")
	return ns
}

// OnThread runs f on a locked OS thread and puts the thread back into the
// namespace it started in. If that fails the thread stays locked, and the
// runtime discards it when the goroutine ends.
func OnThread(f func() error) error {
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

// Do runs f in the namespace: sockets and devices f creates belong to it
// for their whole life.
func (ns *NS) Do(f func() error) error {
	return OnThread(func() error {
		if err := netns.Set(ns.H); err != nil {
			return fmt.Errorf("enter netns %s: %w", ns.Name, err)
		}
		return f()
	})
}

func (ns *NS) Link(t *testing.T, name string) netlink.Link {
	t.Helper()
	l, err := ns.NL.LinkByName(name)
	if err != nil {
		t.Fatalf("%s: link %s: %v", ns.Name, name, err)
	}
	return l
}

func (ns *NS) LinkUp(t *testing.T, name string) {
	t.Helper()
	if err := ns.NL.LinkSetUp(ns.Link(t, name)); err != nil {
		t.Fatalf("%s: set %s up: %v", ns.Name, name, err)
	}
}

// AddAddr adds an address (without duplicate address detection).
func (ns *NS) AddAddr(t *testing.T, name, prefix string) {
	t.Helper()
	p := netip.MustParsePrefix(prefix)
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	if err := ns.NL.AddrAdd(ns.Link(t, name), a); err != nil {
		t.Fatalf("%s: add %s to %s: %v", ns.Name, prefix, name, err)
	}
}

// Quiet turns IPv6 off on a link, so the kernel sends no router or
// neighbour solicitations of its own on it.
func (ns *NS) Quiet(t *testing.T, name string) {
	t.Helper()
	err := ns.Do(func() error {
		return os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", []byte("1"), 0)
	})
	if err != nil {
		t.Fatalf("%s: disable IPv6 on %s: %v", ns.Name, name, err)
	}
}

// Veth creates a veth pair, name1 in ns1 and name2 in ns2, both up.
func Veth(t *testing.T, ns1 *NS, name1 string, ns2 *NS, name2 string) {
	t.Helper()
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name1}, PeerName: name2, PeerNamespace: netlink.NsFd(ns2.H)}
	if err := ns1.NL.LinkAdd(v); err != nil {
		t.Fatalf("veth %s/%s - %s/%s: %v", ns1.Name, name1, ns2.Name, name2, err)
	}
	ns1.LinkUp(t, name1)
	ns2.LinkUp(t, name2)
}

// RawSocket opens an AF_PACKET socket in ns bound to ifname, for sending
// and receiving test frames, with a 5 s receive timeout; with vnet it takes
// a virtio_net_hdr in front of each frame. It is closed in t.Cleanup.
func (ns *NS) RawSocket(t *testing.T, ifname string, vnet bool) int {
	t.Helper()
	ifindex := ns.Link(t, ifname).Attrs().Index
	all := int(ethPAll())
	var fd int
	err := ns.Do(func() error {
		var err error
		if fd, err = unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, all); err != nil {
			return err
		}
		if vnet {
			if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VNET_HDR, 1); err != nil {
				return err
			}
		}
		tv := unix.Timeval{Sec: 5}
		if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
			return err
		}
		return unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: ethPAll(), Ifindex: ifindex})
	})
	if err != nil {
		t.Fatalf("raw socket on %s/%s: %v", ns.Name, ifname, err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// ethPAll is ETH_P_ALL in network byte order, as AF_PACKET wants it.
func ethPAll() uint16 { return uint16(unix.ETH_P_ALL)<<8 | uint16(unix.ETH_P_ALL)>>8 }
