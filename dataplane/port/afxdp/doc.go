// SPDX-License-Identifier: Apache-2.0

// Package afxdp is skiff's fast path: ports on AF_XDP sockets fed by
// skiff's own XDP programs (package bpf), one socket and one worker per
// queue of the NIC, so that frames skip the kernel's network stack.
//
// On the LAN side (OpenLAN) the program redirects every frame (or the
// frames of configured VLANs) to the socket of the queue it arrived on:
//
//	NIC queue q --XDP skiff_lan--> xsks[q] --rx ring--> ReadBatch (copy out of UMEM)
//	WriteBatch --copy into UMEM--> tx ring --sendto kick--> NIC
//
// On the underlay side (OpenUnderlay) the program redirects UDP to skiff's
// port, IPv4 and IPv6, with or without VLAN tags, and passes everything
// else to the kernel. skiff parses and checks the outer headers itself on
// receive, and builds them on send: Ethernet (the next hop's MAC from the
// kernel's neighbour table, kept current over netlink), IPv4 with DF or
// IPv6, UDP with its checksum.
//
//	NIC --XDP skiff_underlay--> xsks[q] --> parse Ethernet/VLAN/IP/UDP --> ReadBatch (payload, Addr = source)
//	                        \-> kernel (IP fragments, other traffic) --> the port's UDP socket --> ReadBatch
//	WriteBatch --> neighbour known? --yes--> build Ethernet/IP/UDP in UMEM --> tx ring --> NIC
//	                               \--no--> the port's UDP socket (the kernel resolves the neighbour)
//
// The port keeps an ordinary UDP socket bound to its address: it reserves
// the port, receives what the program passes to the kernel, and sends to
// destinations whose next hop is not resolved yet or not on this NIC.
//
// UMEM accounting: each socket has its own UMEM, cut in 4 KiB chunks; the
// receive chunks and the transmit chunks are disjoint sets, every chunk
// has an owner state that each hand-over checks and flips, so no chunk is
// ever handed out twice (asavie/xdp shares one free list between the two
// directions; this package replaces its socket for that reason and because
// its Receive allocates, its ring indices are not atomic, and it has no
// need-wakeup). Frames larger than a chunk use multi-buffer descriptors
// (XDP_USE_SG) where the kernel has them. Sockets bind zero-copy where the
// driver can and in copy mode otherwise (veth), with need-wakeup.
//
// Packets are copied between UMEM and the caller's buffers: one copy each
// way, against the kernel stack's several, and it keeps UMEM chunks out of
// the pipeline's ownership rules.
package afxdp
