// SPDX-License-Identifier: Apache-2.0

// Package bpf holds skiff's XDP programs, which steer frames from a NIC
// into skiff's AF_XDP sockets, and loads them: skiff_underlay for the
// underlay NIC, skiff_lan for the LAN NIC.
//
// Each program has an XSKMAP with one slot per receive queue (MaxQueues);
// Register puts the queue's AF_XDP socket there. A redirected frame goes
// to the socket of the queue it arrived on; when that slot is empty,
// bpf_redirect_map falls back to XDP_PASS. Every verdict is counted by
// reason in a per-CPU array (Counters).
//
// skiff_underlay (underlay.c), loaded with skiff's UDP port, takes UDP
// datagrams to that port and leaves everything else to the kernel:
//
//	frame
//	  ├─ Ethernet header, then up to two tags (802.1Q, 802.1ad)
//	  │     └─ cut short ──────────────────────────────────▶ truncated        PASS
//	  ├─ IPv4 (options skipped) or IPv6
//	  │     ├─ another ethertype, a bad IP version ────────▶ not_ip           PASS
//	  │     ├─ cut short, or IHL < 5 ──────────────────────▶ truncated        PASS
//	  │     ├─ an IPv6 extension header ───────────────────▶ ipv6_ext_header  PASS
//	  │     ├─ not UDP ────────────────────────────────────▶ not_udp          PASS
//	  │     └─ an IPv4 fragment (MF or an offset) ─────────▶ ip_fragment      PASS
//	  ├─ UDP header
//	  │     ├─ cut short ──────────────────────────────────▶ truncated        PASS
//	  │     └─ destination port is not skiff's ────────────▶ other_port       PASS
//	  └─ xsks[rx queue]
//	        ├─ a socket ───────────────────────────────────▶ redirected       REDIRECT
//	        └─ empty ──────────────────────────────────────▶ no_socket        PASS
//
// Fragments go to the kernel, which reassembles them (skiff sets DF, so
// they are rare). Only the headers are checked: lengths and checksums are
// skiff's to check.
//
// skiff_lan (lan.c), loaded with the VLAN ids to take (none: all frames):
//
//	frame
//	  ├─ Ethernet header cut short ────────────────────────▶ truncated        PASS
//	  ├─ only when VLAN ids were given:
//	  │     ├─ untagged ───────────────────────────────────▶ vlan_filtered    PASS
//	  │     ├─ outer tag cut short ────────────────────────▶ truncated        PASS
//	  │     └─ outer tag's VLAN id not listed ─────────────▶ vlan_filtered    PASS
//	  └─ xsks[rx queue]
//	        ├─ a socket ───────────────────────────────────▶ redirected       REDIRECT
//	        └─ empty ──────────────────────────────────────▶ no_socket        PASS
//
// Counters returns the reasons in their enums' order. Underlay:
// redirected, no_socket, not_ip, not_udp, other_port, ip_fragment,
// ipv6_ext_header, truncated. LAN: redirected, no_socket, vlan_filtered,
// truncated.
//
// Both see the frame as the driver hands it to XDP: a NIC that strips
// VLAN tags in hardware (rx-vlan-offload) hides them from the programs.
// The programs are multi-buffer aware (section "xdp.frags"): they read only
// the headers, which are in the first buffer, so drivers attach them at
// jumbo MTUs too (veth above about 3.5 KB needs it), and AF_XDP sockets
// bound with XDP_USE_SG get frames that span several UMEM chunks.
//
// The C is compiled by bpf2go (gen.go) into *_bpfel.o and *_bpfel.go,
// which are committed, so building needs no clang. bpf/generate.sh
// installs clang, llvm and libbpf-dev (Debian) and regenerates;
// bpf/checkgen.sh fails when the committed files are stale. The objects
// are little-endian; the include path is Debian's amd64 multiarch one, so
// regenerate on amd64. Loading needs CAP_BPF and CAP_NET_ADMIN (root);
// so do the tests, which skip without root unless CI is set.
package bpf
