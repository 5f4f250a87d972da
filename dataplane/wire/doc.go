// SPDX-License-Identifier: Apache-2.0

// Package wire is skiff's on-the-wire format: the skiff v1 header codec, the
// VXLAN (RFC 7348) codec, the AEAD suites, pre-shared keys, the handshake
// that gives each peer pair fresh session keys, and the replay window.
//
// # The skiff v1 header
//
// Every skiff datagram (data, control and handshake) starts with this
// 28-byte header; all multi-byte fields are big-endian.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+---------------+---------------+---------------+---------------+
//	|  version = 1  |     type      |     flags     |      TTL      |  0
//	+---------------+---------------+---------------+---------------+
//	|     suite     |  frag index   |        reserved (zero)        |  4
//	+---------------+---------------+---------------+---------------+
//	|        source node id         |     destination node id       |  8
//	+---------------+---------------+---------------+---------------+
//	|      fragment byte offset     |  fragment total (frame) len   | 12
//	+---------------+---------------+---------------+---------------+
//	|                     receiver session id                       | 16
//	+---------------+---------------+---------------+---------------+
//	|                                                               | 20
//	+                        counter (64 bits)                      +
//	|                                                               | 24
//	+---------------+---------------+---------------+---------------+
//	|   payload: AEAD ciphertext of the (LZ4-compressed) frame,     | 28
//	|   or of a control message; followed by the 16-byte tag        |
//
// Fields:
//
//   - version (byte 0): 1. A receiver drops other versions.
//   - type (byte 1): 1 data (an Ethernet frame), 2 control (keepalive, probe,
//     route advert; its own versioned encoding inside), 3 handshake
//     initiation, 4 handshake response. Other values are dropped.
//   - flags (byte 2): bit 0 (0x01) LZ4: the payload is an LZ4 block. Bit 1
//     (0x02) GSO: the frame (after LZ4 decompression) starts with a 10-byte
//     offload header, the fields of a virtio_net_hdr in little-endian
//     order: flags (1: checksum partial), GSO type (0 none, 1 TCPv4,
//     4 TCPv6, 5 UDP segments; bit 7 ECN), header length, segment size,
//     checksum start, checksum offset (each 16 bits). It lets a TCP
//     super-frame of up to 64 KiB that a TAP device handed over whole cross
//     as one unit (in fragments) and be handed whole to the far side's
//     device, which segments it. Other bits must be zero.
//   - TTL (byte 3): hops left. A node originating a datagram sets it to 16
//     (DefaultTTL) on every datagram: data, control, and both handshake
//     messages. A mesh relay forwards a datagram for another node with
//     the TTL decremented, and drops one that arrives with 1 or less (it
//     would leave with 0), so a datagram crosses at most 15 relays. A
//     datagram that arrives with less than 16 came through relays: a
//     receiver learns a peer's address (NAT) and takes one-way delay
//     probes only from datagrams that arrive with 16, and counts the hops
//     a node's messages took from the difference. It is the only byte not
//     covered by authentication, since relays rewrite it.
//   - suite (byte 4): the AEAD of the session (0 none, 1 aes-128-gcm,
//     2 aes-192-gcm, 3 aes-256-gcm, 4 chacha20-poly1305). It must be the
//     suite the session was made for.
//   - frag index (byte 5): piece number of a fragmented frame, 0-based;
//     0 for an unfragmented one.
//   - reserved (bytes 6-7): zero; a receiver drops anything else.
//   - source / destination node id (bytes 8-11): the sending node and the
//     node the frame is for. Relays forward by destination without
//     decrypting. Ids 65520-65535 are reserved (65535: broadcast).
//   - fragment byte offset (bytes 12-13) and total (bytes 14-15): for a piece
//     of a fragmented frame, where the piece's plaintext starts in the
//     frame, and the frame's whole length (1..65535). Total 0 means not
//     fragmented, and then offset and index must be 0.
//   - receiver session id (bytes 16-19): the id the receiver chose for the
//     session during the handshake; it finds the keys by it. 0 in a
//     handshake initiation; the initiator's id in a response.
//   - counter (bytes 20-27): the sender's per-session packet counter. It is
//     the AEAD nonce (4 zero bytes followed by the 8 counter bytes) and the
//     replay window's sequence number. Pieces of one fragmented frame carry
//     consecutive counters, so counter - frag index identifies the frame.
//
// # Authentication
//
// The AEAD's additional data is the header with the TTL byte set to zero: a
// flipped bit anywhere else in the header fails Open. Handshake messages are
// protected by the Noise handshake instead; their encrypted payload carries
// a copy of the header (TTL zeroed), which the receiver compares.
//
// # Sessions
//
// Keys come from a Noise NNpsk0 handshake (X25519, ChaCha20-Poly1305,
// BLAKE2s) authenticated by the network's pre-shared key: fresh ephemeral
// keys on both sides for every handshake, so a restarted node never reuses
// a key and nonces (counters from 0) never repeat under one. Each direction
// has its own key, derived from the handshake's output for the session's
// suite. Datagrams recorded from an earlier run carry session ids and keys
// that no longer exist and are refused; a replayed handshake initiation is
// refused by its timestamp (see Initiation).
//
// # VXLAN
//
// The VXLAN codec writes and reads the 8-byte RFC 7348 header (flags 0x08,
// 24-bit VNI) for interoperation with Linux vxlan devices and VPP; it has no
// authentication, encryption or compression.
package wire
