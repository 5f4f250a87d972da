// SPDX-License-Identifier: Apache-2.0

package afxdp

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// nextHop is how to reach one underlay destination from the port's NIC.
type nextHop struct {
	ok  bool // resolved: the route leaves through our NIC and the neighbour's MAC is known
	hdr outerHeader
}

// neighbours keeps, for every destination the port sends to, the next
// hop's MAC address and our source address, from the kernel's routing and
// neighbour tables. Senders read an immutable map (copy on write); a miss
// or an unresolved entry sends through the kernel socket instead, which
// makes the kernel resolve the neighbour, and asks the resolver goroutine
// to look the destination up. Neighbour and route changes from netlink,
// and a periodic refresh, keep the map current.
type neighbours struct {
	ifindex int
	mac     [6]byte
	nl      *netlink.Handle // in the namespace the port was opened in
	ns      netns.NsHandle
	local   netip.Addr // the port's address; unspecified: the route's preferred source

	table atomic.Pointer[map[netip.Addr]nextHop]
	want  chan netip.Addr
	done  chan struct{}
	wg    sync.WaitGroup

	// resolve looks one destination up; tests replace it.
	resolve func(dst netip.Addr) nextHop
}

// refreshEvery bounds how long a stale entry lives when netlink says
// nothing (a neighbour that went away, a route change we missed).
const refreshEvery = time.Second

// settleAfter is how long a burst of neighbour or route changes may go on
// before the table is refreshed once for all of it.
const settleAfter = 10 * time.Millisecond

// newNeighbours must be called in the network namespace of the NIC: the
// resolver's netlink sockets belong to it, whatever thread runs them.
func newNeighbours(ifindex int, mac net.HardwareAddr, local netip.Addr) (*neighbours, error) {
	h, err := netlink.NewHandle()
	if err != nil {
		return nil, err
	}
	ns, err := netns.Get()
	if err != nil {
		h.Close()
		return nil, err
	}
	n := &neighbours{ifindex: ifindex, local: local, nl: h, ns: ns, want: make(chan netip.Addr, 256), done: make(chan struct{})}
	copy(n.mac[:], mac)
	n.resolve = n.kernelLookup
	empty := map[netip.Addr]nextHop{}
	n.table.Store(&empty)
	return n, nil
}

// lookup returns the next hop for dst, asking for a lookup on a miss.
func (n *neighbours) lookup(dst netip.Addr) nextHop {
	h, found := (*n.table.Load())[dst]
	if !found {
		select {
		case n.want <- dst:
		default: // the resolver is busy; the next packet asks again
		}
	}
	return h
}

// start runs the resolver until stop.
func (n *neighbours) start() {
	updates := make(chan netlink.NeighUpdate, 64)
	routes := make(chan netlink.RouteUpdate, 64)
	// Subscriptions fail only without netlink; the periodic refresh then
	// still keeps the table current.
	_ = netlink.NeighSubscribeWithOptions(updates, n.done, netlink.NeighSubscribeOptions{Namespace: &n.ns})
	_ = netlink.RouteSubscribeWithOptions(routes, n.done, netlink.RouteSubscribeOptions{Namespace: &n.ns})
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		tick := time.NewTicker(refreshEvery)
		defer tick.Stop()
		// A burst of netlink events (an ARP exchange is several) causes
		// one refresh, settleAfter after the first of them.
		settle := time.NewTimer(time.Hour)
		settle.Stop()
		pending := false
		changed := func() {
			if !pending {
				pending = true
				settle.Reset(settleAfter)
			}
		}
		for {
			select {
			case <-n.done:
				settle.Stop()
				return
			case dst := <-n.want:
				if _, ok := (*n.table.Load())[dst]; !ok {
					n.set(dst, n.resolve(dst))
				}
			case <-updates:
				changed()
			case <-routes:
				changed()
			case <-settle.C:
				pending = false
				n.refresh()
			case <-tick.C:
				n.refresh()
			}
		}
	}()
}

// stop ends the resolver and releases the netlink handles. Start need
// not have been called.
func (n *neighbours) stop() {
	close(n.done)
	n.wg.Wait()
	n.nl.Close()
	n.ns.Close()
}

// set adds or replaces one entry.
func (n *neighbours) set(dst netip.Addr, h nextHop) {
	old := *n.table.Load()
	m := make(map[netip.Addr]nextHop, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[dst] = h
	n.table.Store(&m)
}

// refresh looks every known destination up again.
func (n *neighbours) refresh() {
	old := *n.table.Load()
	m := make(map[netip.Addr]nextHop, len(old))
	changed := false
	for dst, h := range old {
		nh := n.resolve(dst)
		m[dst] = nh
		changed = changed || nh != h
	}
	if changed {
		n.table.Store(&m)
	}
}

// kernelLookup asks the kernel: the route to dst must leave through our
// NIC; the next hop is its gateway or dst itself; the neighbour entry must
// hold a MAC address in a usable state.
func (n *neighbours) kernelLookup(dst netip.Addr) nextHop {
	var h nextHop
	rs, err := n.nl.RouteGet(dst.AsSlice())
	if err != nil || len(rs) == 0 || rs[0].LinkIndex != n.ifindex {
		return h
	}
	r := rs[0]
	hop := dst
	if gw, ok := netip.AddrFromSlice(r.Gw); ok && gw.IsValid() && !gw.IsUnspecified() {
		hop = gw.Unmap()
	}
	src := n.local
	if !src.IsValid() || src.IsUnspecified() {
		s, ok := netip.AddrFromSlice(r.Src)
		if !ok {
			return h
		}
		src = s.Unmap()
	}
	if src.Is4() != dst.Is4() {
		return h
	}
	family := unix.AF_INET
	if !dst.Is4() {
		family = unix.AF_INET6
	}
	ns, err := n.nl.NeighList(n.ifindex, family)
	if err != nil {
		return h
	}
	for _, e := range ns {
		a, ok := netip.AddrFromSlice(e.IP)
		if !ok || a.Unmap() != hop || len(e.HardwareAddr) != 6 {
			continue
		}
		if e.State&(netlink.NUD_REACHABLE|netlink.NUD_STALE|netlink.NUD_DELAY|netlink.NUD_PROBE|netlink.NUD_PERMANENT|netlink.NUD_NOARP) == 0 {
			continue
		}
		h.ok = true
		copy(h.hdr.dstMAC[:], e.HardwareAddr)
		h.hdr.srcMAC = n.mac
		h.hdr.src = src
		return h
	}
	return h
}
