// SPDX-License-Identifier: Apache-2.0

// Package udp is the UDP underlay port: one non-blocking UDP socket, IPv4
// or IPv6, read with recvmmsg(2) and written with sendmmsg(2) a batch at a
// time, with no allocation per call.
//
// A packet's way through the port:
//
//	        WriteBatch(pkts)                      ReadBatch(pkts)
//	             |                                      ^
//	pkt.Data() + pkt.Addr              pkt.Reset, Room() <- datagram,
//	             |                     SetLen(msg_len), Addr <- source
//	             v                                      |
//	[iovec + sockaddr] x batch            [iovec + sockaddr] x batch
//	(preallocated per Port)               (preallocated per Port)
//	             |                                      ^
//	             v                                      |
//	      sendmmsg(2) --EAGAIN--> poller  recvmmsg(2) <--EAGAIN-- poller
//	             |                                      ^
//	             v                                      |
//	    kernel UDP/IP, DF set  ======= wire =======  kernel UDP/IP
//
// The socket is registered with Go's netpoller (os.NewFile on a
// non-blocking descriptor, then syscall.RawConn), so a ReadBatch waiting for
// datagrams parks its goroutine instead of a thread, and Close wakes it with
// net.ErrClosed.
//
// Datagrams leave with the Don't Fragment bit (IP_PMTUDISC_DO, or
// IPV6_PMTUDISC_DO and IPV6_DONTFRAG): a datagram above the path MTU is
// refused by the kernel with EMSGSIZE and counted in Stats.TxTooBig; the
// caller fragments (stage frag) instead of the IP layer. IPv6 sockets are
// IPV6_V6ONLY, so 0.0.0.0:P and [::]:P are two independent ports, and
// SO_REUSEADDR/SO_REUSEPORT are left off, so a second Listen on a port in
// use fails with EADDRINUSE.
//
// Per-datagram trouble is counted, not returned: a received datagram longer
// than the packet's Room is dropped (RxTruncated); a datagram the kernel
// refuses to send is skipped (TxTooBig, TxUnreachable, TxOther). ReadBatch
// and WriteBatch return an error only when the port is closed or broken.
//
// The package is Linux only; elsewhere Listen returns an error.
package udp
