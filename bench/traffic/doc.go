// SPDX-License-Identifier: Apache-2.0

// Package traffic is skiff's own traffic tool, behind "skiff traffic": the
// load and the measurements of a benchmark through a tunnel, without
// iperf3 or ping. It has three pairs of ends, each reporting a result
// struct that the command prints as one JSON object:
//
//	skiff traffic   receiving end (-l)   sending end (-c)   JSON "mode"
//	    TCP         ServeTCP             SendTCP            tcp, tcp
//	-u  UDP load    UDPSink              UDPGenerate        udp-sink, udp-gen
//	-e  UDP echo    EchoServe            EchoProbe          echo, rtt
//
// TCP transfer (SendTCP, ServeTCP; mode "tcp"): seeded pseudo-random bytes
// on one or more parallel connections, for a byte count or a duration. With
// one stream both ends hash it with SHA-256, so a transfer is checked end to
// end; the seconds and Gbit/s are the aggregate over all streams.
//
//	SendTCP: ChaCha8(seed) --P x TCP--> tunnel --P x TCP--> ServeTCP: count, SHA-256 (P=1)
//
// UDP load (UDPGenerate, UDPSink; modes "udp-gen" and "udp-sink"):
// datagrams of a fixed size carrying a 16-byte header, sent from one socket
// with sendmmsg batches at a paced rate (or as fast as possible) for a
// duration, then an end marker repeated a few times. The sink counts what
// arrived, finds losses, duplicates and reordering from the sequence
// numbers, and stops when the marker (plus a grace time for stragglers) or
// its timeout comes.
//
//	UDPGenerate: header|filler x rate x duration, then 10 x end marker (count)
//	      --UDP--> tunnel --UDP--> UDPSink: received, lost, duplicates,
//	                                        reordered, pps
//
// UDP echo (EchoServe, EchoProbe; modes "echo" and "rtt"): probes sent at a
// fixed interval, each with a sequence number and a monotonic send time,
// reflected by the echo server; the prober reports the round-trip time
// percentiles and the probes that never came back.
//
//	EchoProbe: seq, t_send --UDP--> tunnel --> EchoServe
//	EchoProbe: rtt = now - t_send <--UDP-- tunnel <-- (same bytes back)
//
// # The UDP header
//
// Every datagram of the generator, the end marker and every probe start
// with the same 16 bytes, big-endian:
//
//	0      4        8                16
//	| magic | run id | sequence/count | filler (generator) or send time (probe)
//
// magic tells a data datagram ("SKGD"), an end marker ("SKGE", whose
// third field is the number of datagrams sent) and an echo probe ("SKGP",
// followed by its 8-byte send time) apart. The run id is random per
// generator or prober run: the sink follows the first run it sees and
// ignores datagrams of any other, so a late datagram of an earlier run does
// not count.
//
// The UDP hot loops (generator, sink, echo server) use the dataplane's UDP
// port (recvmmsg/sendmmsg batches of buf.Packet) and allocate nothing per
// datagram.
package traffic
