// SPDX-License-Identifier: Apache-2.0

// Package vppapi puts skiff into a VPP router over VPP's binary API
// (govpp, go.fd.io/govpp): it creates the VPP end of a memif whose other
// end is skiff's memif port, and joins it to a bridge domain or
// cross-connects it with one of VPP's interfaces.
//
// Attach checks that VPP speaks the messages it sends (govpp's CRC check),
// reads VPP's state, then changes it in this order, and on a failure
// undoes what it did, newest first:
//
//	register the socket file     memif_socket_filename_add_del_v2  (undo: delete it; skipped when VPP has the file already)
//	create the memif             memif_create_v2                   (undo: memif_delete)
//	tag it "skiff"               sw_interface_tag_add_del          (goes with the memif)
//	admin up                     sw_interface_set_flags            (goes with the memif)
//	MTU                          sw_interface_set_mtu              (goes with the memif)
//	bridge:  create the domain   bridge_domain_add_del_v2          (only if missing; tagged "skiff"; undo: delete it)
//	         join it             sw_interface_set_l2_bridge        (undo: the same with enable=false)
//	xconnect: memif -> peer      sw_interface_set_l2_xconnect      (undo: enable=false)
//	          peer -> memif      sw_interface_set_l2_xconnect      (undo: enable=false)
//
// Detach finds the memif again from its socket file and id (so it works
// from another process), and removes it the same way: the cross-connects
// or the bridge membership, the bridge domain if skiff created it and
// nothing else is in it, the memif, and the socket file if nothing else
// uses it (never VPP's default socket, id 0). Show reports the memifs that
// carry skiff's tag, with VPP's interface counters from the stats segment.
//
// The memif roles are the memif protocol's: the server (master) listens on
// the socket, the client (slave) connects and owns the shared memory.
// Specs name skiff's role; VPP takes the other one.
//
// Everything here talks to VPP through a govpp connection (Conn) and a
// stats reader (Stats), so tests run against govpp's mock adapter.
package vppapi
