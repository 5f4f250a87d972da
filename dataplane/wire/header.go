// SPDX-License-Identifier: Apache-2.0

package wire

import (
	"encoding/binary"
	"errors"
)

// HeaderLen is the length of the skiff v1 header.
const HeaderLen = 28

// Version is the wire version this package speaks.
const Version = 1

// DefaultTTL is the hop limit of every datagram a node originates (data,
// control and handshake): relays decrement it, so a datagram that arrives
// with less came through relays.
const DefaultTTL = 16

// Type is the message type of a datagram.
type Type uint8

const (
	TypeData          Type = 1
	TypeControl       Type = 2
	TypeHandshakeInit Type = 3
	TypeHandshakeResp Type = 4
)

func (t Type) valid() bool { return t >= TypeData && t <= TypeHandshakeResp }

// Header flags.
const (
	FlagLZ4 uint8 = 0x01 // payload is an LZ4 block
	FlagGSO uint8 = 0x02 // frame starts with a 10-byte offload header (see the package doc)

	knownFlags = FlagLZ4 | FlagGSO
)

// Node ids.
const (
	NodeBroadcast   uint16 = 0xFFFF
	MaxNodeID       uint16 = 0xFFEF // highest id a node may have
	firstReservedID        = MaxNodeID + 1
)

// Header offsets.
const (
	offVersion    = 0
	offType       = 1
	offFlags      = 2
	offTTL        = 3
	offSuite      = 4
	offFragIndex  = 5
	offReserved   = 6
	offSrc        = 8
	offDst        = 10
	offFragOffset = 12
	offFragTotal  = 14
	offSession    = 16
	offCounter    = 20
)

// Header is a decoded skiff v1 header.
type Header struct {
	Type       Type
	Flags      uint8
	TTL        uint8
	Suite      Suite
	FragIndex  uint8
	Src, Dst   uint16
	FragOffset uint16
	FragTotal  uint16 // 0: not a fragment
	Session    uint32
	Counter    uint64
}

// Errors of Decode. They are sentinels so the dataplane can count them
// without allocating.
var (
	ErrShort    = errors.New("wire: header truncated")
	ErrVersion  = errors.New("wire: unknown version")
	ErrType     = errors.New("wire: unknown message type")
	ErrFlags    = errors.New("wire: unknown flags")
	ErrSuite    = errors.New("wire: unknown suite")
	ErrReserved = errors.New("wire: reserved bytes not zero")
	ErrFrag     = errors.New("wire: inconsistent fragment fields")
)

// Put writes h, with version 1, into b[:HeaderLen]. It panics if b is short.
func (h *Header) Put(b []byte) {
	b = b[:HeaderLen:HeaderLen]
	b[offVersion] = Version
	b[offType] = byte(h.Type)
	b[offFlags] = h.Flags
	b[offTTL] = h.TTL
	b[offSuite] = byte(h.Suite)
	b[offFragIndex] = h.FragIndex
	b[offReserved] = 0
	b[offReserved+1] = 0
	binary.BigEndian.PutUint16(b[offSrc:], h.Src)
	binary.BigEndian.PutUint16(b[offDst:], h.Dst)
	binary.BigEndian.PutUint16(b[offFragOffset:], h.FragOffset)
	binary.BigEndian.PutUint16(b[offFragTotal:], h.FragTotal)
	binary.BigEndian.PutUint32(b[offSession:], h.Session)
	binary.BigEndian.PutUint64(b[offCounter:], h.Counter)
}

// Decode parses the header at the start of b. It checks every field that can
// be checked without session state: version, type, flags, suite, reserved
// bytes and the fragment fields' consistency with each other.
func (h *Header) Decode(b []byte) error {
	if len(b) < HeaderLen {
		return ErrShort
	}
	b = b[:HeaderLen:HeaderLen]
	if b[offVersion] != Version {
		return ErrVersion
	}
	*h = Header{
		Type:       Type(b[offType]),
		Flags:      b[offFlags],
		TTL:        b[offTTL],
		Suite:      Suite(b[offSuite]),
		FragIndex:  b[offFragIndex],
		Src:        binary.BigEndian.Uint16(b[offSrc:]),
		Dst:        binary.BigEndian.Uint16(b[offDst:]),
		FragOffset: binary.BigEndian.Uint16(b[offFragOffset:]),
		FragTotal:  binary.BigEndian.Uint16(b[offFragTotal:]),
		Session:    binary.BigEndian.Uint32(b[offSession:]),
		Counter:    binary.BigEndian.Uint64(b[offCounter:]),
	}
	switch {
	case !h.Type.valid():
		return ErrType
	case h.Flags&^knownFlags != 0:
		return ErrFlags
	case !h.Suite.Valid():
		return ErrSuite
	case b[offReserved] != 0 || b[offReserved+1] != 0:
		return ErrReserved
	case h.FragTotal == 0 && (h.FragOffset != 0 || h.FragIndex != 0):
		return ErrFrag
	case h.FragTotal != 0 && h.FragOffset >= h.FragTotal:
		return ErrFrag
	case h.FragTotal != 0 && h.Type != TypeData:
		return ErrFrag
	case uint64(h.FragIndex) > h.Counter:
		return ErrFrag
	}
	return nil
}

// PeekType returns the type byte of a datagram that is at least one header
// long and of this version, or 0.
func PeekType(b []byte) Type {
	if len(b) < HeaderLen || b[offVersion] != Version {
		return 0
	}
	return Type(b[offType])
}

// SetTTL rewrites the TTL of an encoded header in place (relays).
func SetTTL(b []byte, ttl uint8) { b[offTTL] = ttl }

// additionalData copies the encoded header b into ad with the TTL zeroed.
func additionalData(ad *[HeaderLen]byte, b []byte) {
	copy(ad[:], b[:HeaderLen])
	ad[offTTL] = 0
}
