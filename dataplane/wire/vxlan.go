// SPDX-License-Identifier: Apache-2.0

package wire

import (
	"encoding/binary"
	"errors"
)

// VXLAN (RFC 7348) header:
//
//	 0                   1                   2                   3
//	 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|R|R|R|R|I|R|R|R|            Reserved                           |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//	|                VXLAN Network Identifier (VNI) |   Reserved    |
//	+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// The I flag must be set; the R bits are sent as zero and ignored on receipt
// (RFC 7348 §5).
const (
	VXLANHeaderLen = 8
	VXLANPort      = 4789
	MaxVNI         = 1<<24 - 1
	vxlanFlagI     = 0x08
)

// Errors of DecodeVXLAN.
var (
	ErrVXLANShort = errors.New("vxlan: header truncated")
	ErrVXLANFlags = errors.New("vxlan: I flag not set")
)

// PutVXLAN writes a VXLAN header with the given VNI into b[:VXLANHeaderLen].
func PutVXLAN(b []byte, vni uint32) {
	b = b[:VXLANHeaderLen:VXLANHeaderLen]
	binary.BigEndian.PutUint32(b[0:], vxlanFlagI<<24)
	binary.BigEndian.PutUint32(b[4:], (vni&MaxVNI)<<8)
}

// DecodeVXLAN returns the VNI of the VXLAN header at the start of b.
func DecodeVXLAN(b []byte) (vni uint32, err error) {
	if len(b) < VXLANHeaderLen {
		return 0, ErrVXLANShort
	}
	if b[0]&vxlanFlagI == 0 {
		return 0, ErrVXLANFlags
	}
	return binary.BigEndian.Uint32(b[4:8]) >> 8, nil
}
