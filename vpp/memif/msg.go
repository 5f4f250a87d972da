// SPDX-License-Identifier: Apache-2.0

package memif

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
)

// Protocol constants (memif 2.0).
const (
	// MsgSize is the size of every control message.
	MsgSize = 128
	// Version is the protocol version skiff speaks: 2.0.
	Version = 2<<8 | 0
	// Cookie marks a ring header; the server checks it at connect.
	Cookie = 0x3E31F20

	nameLen   = 32 // interface and application names
	secretLen = 24 // the secret, NUL-terminated when shorter
	reasonLen = 96 // a disconnect reason

	// MinLog2Ring and MaxLog2Ring bound a ring's size, 2..16384 slots.
	MinLog2Ring = 1
	MaxLog2Ring = 14
)

// MsgType is a control message's type.
type MsgType uint16

// Control message types.
const (
	MsgAck MsgType = iota + 1
	MsgHello
	MsgInit
	MsgAddRegion
	MsgAddRing
	MsgConnect
	MsgConnected
	MsgDisconnect
)

var msgNames = [...]string{MsgAck: "ack", MsgHello: "hello", MsgInit: "init", MsgAddRegion: "add-region",
	MsgAddRing: "add-ring", MsgConnect: "connect", MsgConnected: "connected", MsgDisconnect: "disconnect"}

func (t MsgType) String() string {
	if t >= MsgAck && int(t) < len(msgNames) {
		return msgNames[t]
	}
	return fmt.Sprintf("type %d", uint16(t))
}

// Mode is an interface's mode; skiff uses Ethernet.
type Mode uint8

// Interface modes.
const (
	ModeEthernet Mode = iota
	ModeIP
	ModePuntInject
)

// RingS2M marks an AddRing's ring as client-to-server (flags bit 0).
const RingS2M = 1

// Msg is one decoded control message: Type says which of the other fields
// mean something.
//
// Wire layout (host byte order, little-endian on every target skiff runs
// on; offsets from the start of the 128-byte message, the rest zero):
//
//	all          0: u16 type
//	hello        2: name[32]  34: u16 min version  36: u16 max version
//	             38: u16 max region  40: u16 max m2s ring  42: u16 max s2m ring
//	             44: u8 max log2 ring size
//	init         2: u16 version  4: u32 interface id  8: u8 mode
//	             9: secret[24]  33: name[32]
//	add-region   2: u16 index  4: u64 size              (+ the region's memfd)
//	add-ring     2: u16 flags  4: u16 index  6: u16 region  8: u32 offset
//	             12: u8 log2 size  13: u16 private header size   (+ the ring's eventfd)
//	connect,
//	connected    2: name[32]
//	disconnect   2: u32 code  6: reason[96]
//
// The max ring fields of hello are the largest ring *indices* the server
// takes. Strings end at the first NUL or at the end of their field.
type Msg struct {
	Type MsgType

	Name string // hello: the server's; init: the client application's; connect(ed): the interface's

	// hello
	MinVersion, MaxVersion    uint16
	MaxRegion, MaxM2S, MaxS2M uint16
	MaxLog2Ring               uint8

	// init
	Version uint16
	ID      uint32
	Mode    Mode
	Secret  string

	// add-region, add-ring
	Index  uint16
	Size   uint64 // region bytes
	Flags  uint16 // ring: RingS2M
	Region uint16
	Offset uint32 // ring header, from the start of the region
	Log2   uint8  // ring size
	Priv   uint16 // private header size: must be 0

	// disconnect
	Code   uint32
	Reason string
}

// Decoding errors.
var (
	ErrMsgSize = errors.New("memif: control message is not 128 bytes")
	ErrMsgType = errors.New("memif: unknown control message type")
)

// Encode writes m into b. It fails, naming the field, if a string does not
// fit its field or the type is unknown.
func (m *Msg) Encode(b *[MsgSize]byte) error {
	*b = [MsgSize]byte{}
	le := binary.LittleEndian
	le.PutUint16(b[0:], uint16(m.Type))
	switch m.Type {
	case MsgAck:
	case MsgHello:
		if err := putString(b[2:2+nameLen], m.Name, "hello name"); err != nil {
			return err
		}
		le.PutUint16(b[34:], m.MinVersion)
		le.PutUint16(b[36:], m.MaxVersion)
		le.PutUint16(b[38:], m.MaxRegion)
		le.PutUint16(b[40:], m.MaxM2S)
		le.PutUint16(b[42:], m.MaxS2M)
		b[44] = m.MaxLog2Ring
	case MsgInit:
		le.PutUint16(b[2:], m.Version)
		le.PutUint32(b[4:], m.ID)
		b[8] = byte(m.Mode)
		// At most 23 bytes, so C peers always find the NUL.
		if err := putString(b[9:9+secretLen-1], m.Secret, "init secret"); err != nil {
			return err
		}
		if err := putString(b[33:33+nameLen], m.Name, "init name"); err != nil {
			return err
		}
	case MsgAddRegion:
		le.PutUint16(b[2:], m.Index)
		le.PutUint64(b[4:], m.Size)
	case MsgAddRing:
		le.PutUint16(b[2:], m.Flags)
		le.PutUint16(b[4:], m.Index)
		le.PutUint16(b[6:], m.Region)
		le.PutUint32(b[8:], m.Offset)
		b[12] = m.Log2
		le.PutUint16(b[13:], m.Priv)
	case MsgConnect, MsgConnected:
		if err := putString(b[2:2+nameLen], m.Name, m.Type.String()+" name"); err != nil {
			return err
		}
	case MsgDisconnect:
		le.PutUint32(b[2:], m.Code)
		r := m.Reason
		if len(r) > reasonLen {
			r = r[:reasonLen] // a reason is informative: cut, never refuse
		}
		copy(b[6:6+reasonLen], r)
	default:
		return fmt.Errorf("%w: %d", ErrMsgType, uint16(m.Type))
	}
	return nil
}

func putString(dst []byte, s, field string) error {
	if len(s) > len(dst) {
		return fmt.Errorf("memif: %s %q is longer than %d bytes", field, s, len(dst))
	}
	if bytes.IndexByte([]byte(s), 0) >= 0 {
		return fmt.Errorf("memif: %s %q has a NUL byte", field, s)
	}
	copy(dst, s)
	return nil
}

func getString(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return string(b)
}

// Decode reads one control message. It checks the size and the type and
// the fields that no peer may get wrong (ring flags, ring size, an
// unterminated secret); what a role accepts (versions, ids, secrets,
// region and ring order) is the caller's to check.
func Decode(b []byte) (Msg, error) {
	var m Msg
	if len(b) != MsgSize {
		return m, fmt.Errorf("%w: %d bytes", ErrMsgSize, len(b))
	}
	le := binary.LittleEndian
	m.Type = MsgType(le.Uint16(b))
	switch m.Type {
	case MsgAck:
	case MsgHello:
		m.Name = getString(b[2 : 2+nameLen])
		m.MinVersion, m.MaxVersion = le.Uint16(b[34:]), le.Uint16(b[36:])
		m.MaxRegion, m.MaxM2S, m.MaxS2M = le.Uint16(b[38:]), le.Uint16(b[40:]), le.Uint16(b[42:])
		m.MaxLog2Ring = b[44]
		if m.MinVersion > m.MaxVersion {
			return m, fmt.Errorf("memif: hello: min version %#x above max version %#x", m.MinVersion, m.MaxVersion)
		}
	case MsgInit:
		m.Version, m.ID, m.Mode = le.Uint16(b[2:]), le.Uint32(b[4:]), Mode(b[8])
		m.Secret = getString(b[9 : 9+secretLen])
		m.Name = getString(b[33 : 33+nameLen])
	case MsgAddRegion:
		m.Index, m.Size = le.Uint16(b[2:]), le.Uint64(b[4:])
		if m.Size == 0 {
			return m, fmt.Errorf("memif: add-region %d: size 0", m.Index)
		}
	case MsgAddRing:
		m.Flags, m.Index, m.Region = le.Uint16(b[2:]), le.Uint16(b[4:]), le.Uint16(b[6:])
		m.Offset, m.Log2, m.Priv = le.Uint32(b[8:]), b[12], le.Uint16(b[13:])
		switch {
		case m.Flags&^RingS2M != 0:
			return m, fmt.Errorf("memif: add-ring %d: unknown flags %#x", m.Index, m.Flags)
		case m.Log2 < MinLog2Ring || m.Log2 > MaxLog2Ring:
			return m, fmt.Errorf("memif: add-ring %d: log2 size %d out of range %d..%d", m.Index, m.Log2, MinLog2Ring, MaxLog2Ring)
		case m.Offset%ringAlign != 0:
			return m, fmt.Errorf("memif: add-ring %d: offset %d not a multiple of %d", m.Index, m.Offset, ringAlign)
		case m.Priv != 0:
			return m, fmt.Errorf("memif: add-ring %d: private headers not supported (size %d)", m.Index, m.Priv)
		}
	case MsgConnect, MsgConnected:
		m.Name = getString(b[2 : 2+nameLen])
	case MsgDisconnect:
		m.Code = le.Uint32(b[2:])
		m.Reason = getString(b[6 : 6+reasonLen])
	default:
		return m, fmt.Errorf("%w: %d", ErrMsgType, uint16(m.Type))
	}
	return m, nil
}
