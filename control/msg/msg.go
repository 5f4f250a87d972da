// SPDX-License-Identifier: Apache-2.0

// Package msg encodes and decodes skiff's control messages: the payloads of
// wire type 2 (control) datagrams, which are sealed and replay-checked like
// data. The encoding is versioned and language-neutral: fixed-layout,
// big-endian fields after a two-byte prefix.
//
//	 0               1               2               3
//	+---------------+---------------+---------------+---------------+
//	|  version = 1  |     kind      |          path index           |  0
//	+---------------+---------------+---------------+---------------+
//	|                  timestamp (64 bits, sender's clock)          |  4
//	|                                                               |
//	+---------------+---------------+---------------+---------------+
//
// Kinds:
//
//   - 1 ping: sent on each path every keepalive interval. Path index is the
//     sender's index of the path it sent the ping on; timestamp is the
//     sender's monotonic clock in nanoseconds.
//   - 2 pong: the answer, sent back to the ping's source over the socket it
//     arrived on, sealed with the session it arrived on; path index and
//     timestamp are copied from the ping, so the pinger learns which of its
//     paths works in both directions and its round-trip time.
//
// A receiver drops messages of another version or an unknown kind.
// Messages longer than their kind's layout are accepted and the rest is
// ignored, so later versions of a kind may append fields.
package msg

import (
	"encoding/binary"
	"errors"
)

// Version is the control message version this package speaks.
const Version = 1

// Kind is a control message kind.
type Kind uint8

const (
	KindPing Kind = 1
	KindPong Kind = 2
)

func (k Kind) String() string {
	switch k {
	case KindPing:
		return "ping"
	case KindPong:
		return "pong"
	}
	return "unknown"
}

// KeepaliveLen is the length of a ping or pong.
const KeepaliveLen = 12

// Keepalive is a ping or a pong.
type Keepalive struct {
	Kind      Kind
	Path      uint16
	Timestamp uint64
}

// Errors of Decode.
var (
	ErrShort   = errors.New("control message truncated")
	ErrVersion = errors.New("control message of unknown version")
	ErrKind    = errors.New("control message of unknown kind")
)

// Append appends the encoded message to b.
func (k *Keepalive) Append(b []byte) []byte {
	var m [KeepaliveLen]byte
	m[0] = Version
	m[1] = byte(k.Kind)
	binary.BigEndian.PutUint16(m[2:], k.Path)
	binary.BigEndian.PutUint64(m[4:], k.Timestamp)
	return append(b, m[:]...)
}

// Decode parses a keepalive message.
func (k *Keepalive) Decode(b []byte) error {
	if len(b) < 2 {
		return ErrShort
	}
	if b[0] != Version {
		return ErrVersion
	}
	kind := Kind(b[1])
	if kind != KindPing && kind != KindPong {
		return ErrKind
	}
	if len(b) < KeepaliveLen {
		return ErrShort
	}
	*k = Keepalive{Kind: kind, Path: binary.BigEndian.Uint16(b[2:]), Timestamp: binary.BigEndian.Uint64(b[4:])}
	return nil
}
