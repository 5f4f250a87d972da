// SPDX-License-Identifier: Apache-2.0

package packet

import "encoding/binary"

// EtherTypes skiff looks at (IEEE 802 numbers, big-endian on the wire).
const (
	EtherTypeIPv4 uint16 = 0x0800 // Internet Protocol version 4
	EtherTypeARP  uint16 = 0x0806 // Address Resolution Protocol
	EtherTypeVLAN uint16 = 0x8100 // IEEE 802.1Q customer tag (C-tag)
	EtherTypeIPv6 uint16 = 0x86DD // Internet Protocol version 6
	EtherTypeQinQ uint16 = 0x88A8 // IEEE 802.1ad service tag (S-tag)
)

// Ethernet is a view of an Ethernet II header (IEEE 802.3 clause 3, DIX):
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                  Destination MAC address                      |
//	+                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                               |                               |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
//	|                     Source MAC address                        |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|     EtherType (or TPID)       |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The FCS is not part of the frames skiff handles. When the frame is tagged,
// Type returns the outer tag's TPID; ParseL2 walks the tags.
type Ethernet []byte

// Ethernet header field offsets and length.
const (
	EthernetDstOffset  = 0
	EthernetSrcOffset  = 6
	EthernetTypeOffset = 12
	EthernetHeaderLen  = 14
)

// Valid reports whether e holds a whole Ethernet header.
func (e Ethernet) Valid() bool { return len(e) >= EthernetHeaderLen }

// Dst returns the destination MAC address.
func (e Ethernet) Dst() (mac [6]byte) {
	if len(e) >= EthernetHeaderLen {
		copy(mac[:], e[EthernetDstOffset:EthernetDstOffset+6])
	}
	return mac
}

// Src returns the source MAC address.
func (e Ethernet) Src() (mac [6]byte) {
	if len(e) >= EthernetHeaderLen {
		copy(mac[:], e[EthernetSrcOffset:EthernetSrcOffset+6])
	}
	return mac
}

// Type returns the EtherType field: the payload's protocol, or the outer
// tag's TPID in a tagged frame.
func (e Ethernet) Type() uint16 {
	if len(e) < EthernetHeaderLen {
		return 0
	}
	return binary.BigEndian.Uint16(e[EthernetTypeOffset:])
}

// SetDst sets the destination MAC address.
func (e Ethernet) SetDst(mac [6]byte) {
	if len(e) >= EthernetHeaderLen {
		copy(e[EthernetDstOffset:EthernetDstOffset+6], mac[:])
	}
}

// SetSrc sets the source MAC address.
func (e Ethernet) SetSrc(mac [6]byte) {
	if len(e) >= EthernetHeaderLen {
		copy(e[EthernetSrcOffset:EthernetSrcOffset+6], mac[:])
	}
}

// SetType sets the EtherType field.
func (e Ethernet) SetType(t uint16) {
	if len(e) >= EthernetHeaderLen {
		binary.BigEndian.PutUint16(e[EthernetTypeOffset:], t)
	}
}

// Payload returns what follows the 14-byte header (tags included, if any),
// or nil if e is too short.
func (e Ethernet) Payload() []byte {
	if len(e) < EthernetHeaderLen {
		return nil
	}
	return e[EthernetHeaderLen:]
}

// VLAN is a view of one IEEE 802.1Q tag as it sits in a frame: the TPID
// (0x8100 for a C-tag, 0x88A8 for an 802.1ad S-tag) followed by the TCI.
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|             TPID              | PCP |D|          VID          |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The next EtherType (or the next tag's TPID) follows the tag. Slice the
// frame at L2.OuterTag or L2.InnerTag to get one.
type VLAN []byte

// VLAN tag field offsets and length.
const (
	VLANTPIDOffset = 0
	VLANTCIOffset  = 2
	VLANTagLen     = 4

	// VLANMaxID is the largest VLAN id; 0 (priority tag) and 4095 are reserved.
	VLANMaxID = 0x0FFF
)

// Valid reports whether v holds a whole tag.
func (v VLAN) Valid() bool { return len(v) >= VLANTagLen }

// TPID returns the tag protocol identifier.
func (v VLAN) TPID() uint16 {
	if len(v) < VLANTagLen {
		return 0
	}
	return binary.BigEndian.Uint16(v[VLANTPIDOffset:])
}

// TCI returns the whole tag control information: PCP, DEI and VID.
func (v VLAN) TCI() uint16 {
	if len(v) < VLANTagLen {
		return 0
	}
	return binary.BigEndian.Uint16(v[VLANTCIOffset:])
}

// PCP returns the 3-bit priority code point.
func (v VLAN) PCP() uint8 { return uint8(v.TCI() >> 13) }

// DEI reports whether the drop eligible indicator is set.
func (v VLAN) DEI() bool { return v.TCI()&0x1000 != 0 }

// VID returns the 12-bit VLAN identifier.
func (v VLAN) VID() uint16 { return v.TCI() & VLANMaxID }

// SetTCI sets the whole tag control information.
func (v VLAN) SetTCI(tci uint16) {
	if len(v) >= VLANTagLen {
		binary.BigEndian.PutUint16(v[VLANTCIOffset:], tci)
	}
}

// SetVID sets the VLAN identifier (its low 12 bits) and keeps PCP and DEI.
func (v VLAN) SetVID(id uint16) {
	if len(v) >= VLANTagLen {
		tci := binary.BigEndian.Uint16(v[VLANTCIOffset:])
		binary.BigEndian.PutUint16(v[VLANTCIOffset:], tci&^VLANMaxID|id&VLANMaxID)
	}
}

// Offsets of the VLAN tags in a tagged frame.
const (
	OuterTagOffset = 12 // the outer (or only) tag's TPID
	InnerTagOffset = 16 // the inner tag's TPID, in a double-tagged frame
)

// L2 is where things are in an Ethernet frame, as found by ParseL2. Offsets
// are from the start of the frame.
//
// It has few fields on purpose: the compiler keeps a struct of up to four
// fields in registers, and a larger one on the stack, where the copy after
// each call costs more than the parse.
type L2 struct {
	Tags      int    // number of VLAN tags: 0, 1 or 2
	EtherType uint16 // EtherType after the tags: the L3 protocol
	L3        int    // offset of the L3 header: 14 + 4*Tags
}

// OuterTag returns the offset of the outer (or only) tag's TPID,
// OuterTagOffset, or 0 if the frame is untagged. Slice the frame there to
// get a VLAN view.
func (l L2) OuterTag() int {
	if l.Tags < 1 {
		return 0
	}
	return OuterTagOffset
}

// InnerTag returns the offset of the inner tag's TPID, InnerTagOffset, or 0
// unless the frame has two tags.
func (l L2) InnerTag() int {
	if l.Tags < 2 {
		return 0
	}
	return InnerTagOffset
}

// ParseL2 finds the VLAN tags, the EtherType and the L3 header of an Ethernet
// frame. A tag is either TPID, 0x8100 (802.1Q) or 0x88A8 (802.1ad), at either
// position; an untagged, single-tagged or double-tagged (QinQ) frame is ok.
// It returns ok = false for a frame shorter than its header and tags, and for
// a frame with more than two tags. The L3 header itself may be empty.
func ParseL2(frame []byte) (L2, bool) {
	if len(frame) < EthernetHeaderLen {
		return L2{}, false
	}
	t := binary.BigEndian.Uint16(frame[12:14])
	if t != EtherTypeVLAN && t != EtherTypeQinQ {
		return L2{EtherType: t, L3: 14}, true
	}
	if len(frame) < 18 {
		return L2{}, false
	}
	t = binary.BigEndian.Uint16(frame[16:18])
	if t != EtherTypeVLAN && t != EtherTypeQinQ {
		return L2{Tags: 1, EtherType: t, L3: 18}, true
	}
	if len(frame) < 22 {
		return L2{}, false
	}
	t = binary.BigEndian.Uint16(frame[20:22])
	if t == EtherTypeVLAN || t == EtherTypeQinQ {
		return L2{}, false // a third tag
	}
	return L2{Tags: 2, EtherType: t, L3: 22}, true
}
