// SPDX-License-Identifier: Apache-2.0

package stage

import (
	"encoding/binary"
	"math/bits"

	"github.com/skiffnet/skiff/dataplane/packet"
)

// MSS clamps the TCP maximum segment size option of SYN and SYN-ACK segments
// crossing the tunnel, so that TCP endpoints on both sides pick segments that
// fit the tunnel's inner MTU instead of relying on path MTU discovery, which
// ICMP filtering often breaks. Set V4 and V6 with MSSFor.
//
// The zero value clamps nothing. An MSS is safe for concurrent use as long as
// nobody writes its fields.
type MSS struct {
	V4 uint16 // clamp TCP over IPv4 to this MSS; 0 = leave IPv4 alone
	V6 uint16 // clamp TCP over IPv6 to this MSS; 0 = leave IPv6 alone
}

// Clamp lowers the MSS option of a TCP SYN or SYN-ACK in an Ethernet frame
// (untagged, 802.1Q, or 802.1ad+802.1Q) to the configured value, in place,
// fixing the TCP checksum incrementally. It never raises an MSS and never
// drops: frames it cannot parse, non-TCP, non-SYN, non-first IPv4 fragments,
// and truncated headers are left untouched. It reports whether it changed the
// frame.
//
// IPv6 extension headers before TCP are skipped; non-first IPv6 fragments
// are left alone as well. An MSS option whose length is not 4 is ignored, as
// receivers ignore it; a malformed options area (an option running past the
// header, or a length below 2) leaves the whole frame untouched. Should a
// segment carry several MSS options, each is clamped.
//
// The checksum update assumes the TCP checksum field holds a full checksum.
// For a frame whose checksum is still to be completed by offload (a
// virtio-net header with NEEDS_CSUM) use ClampPartial.
func (m *MSS) Clamp(frame []byte) bool { return m.clamp(frame, false) }

// ClampPartial is Clamp for a frame whose TCP checksum is partial (only the
// pseudo-header sum, to be completed over the segment later by the kernel
// or the NIC): the MSS is lowered and the checksum field left alone, since
// the completion covers the new value.
func (m *MSS) ClampPartial(frame []byte) bool { return m.clamp(frame, true) }

func (m *MSS) clamp(frame []byte, partial bool) bool {
	l2, ok := packet.ParseL2(frame)
	if !ok {
		return false
	}
	switch l2.EtherType {
	case packet.EtherTypeIPv4:
		if m.V4 == 0 {
			return false
		}
		ip := packet.IPv4(frame[l2.L3:])
		if !ip.Valid() || ip.Protocol() != packet.ProtoTCP || ip.FragmentOffset() != 0 {
			return false
		}
		return clampTCP(packet.TCP(ip.Payload()), m.V4, partial)
	case packet.EtherTypeIPv6:
		if m.V6 == 0 {
			return false
		}
		ip := packet.IPv6(frame[l2.L3:])
		ext, ok := ip.Walk()
		if !ok || ext.Proto != packet.ProtoTCP || ext.FragmentOffset != 0 {
			return false
		}
		end := packet.IPv6HeaderLen + int(ip.PayloadLength())
		return clampTCP(packet.TCP(ip[ext.Offset:end]), m.V6, partial)
	}
	return false
}

// clampTCP clamps the MSS options of the TCP segment t to mss. It checks the
// whole options area before writing anything.
func clampTCP(t packet.TCP, mss uint16, partial bool) bool {
	if !t.Valid() || t.Flags()&packet.TCPFlagSYN == 0 {
		return false
	}
	// Offsets of the MSS options to lower. Options take at most 40 bytes,
	// an MSS option 4.
	var at [(packet.TCPMaxHeaderLen - packet.TCPMinHeaderLen) / packet.TCPOptionMSSLen]int
	n := 0
	it := packet.NewTCPOptionIter(t.Options())
	for it.Next() {
		if it.Kind() != packet.TCPOptionMSS {
			continue
		}
		if d := it.Data(); len(d) == 2 && binary.BigEndian.Uint16(d) > mss && n < len(at) {
			at[n] = packet.TCPMinHeaderLen + it.Offset() + 2
			n++
		}
	}
	if n == 0 || it.Malformed() {
		return false
	}
	sum := t.Checksum()
	for _, off := range at[:n] {
		old := binary.BigEndian.Uint16(t[off:])
		binary.BigEndian.PutUint16(t[off:], mss)
		if partial {
			continue
		}
		// The value sits at an odd offset in the segment when the
		// option is not 16-bit aligned (after a lone NOP, say): its
		// bytes then straddle two checksum words, which is the same
		// as adding the byte-swapped value.
		if off%2 == 0 {
			sum = packet.UpdateChecksum16(sum, old, mss)
		} else {
			sum = packet.UpdateChecksum16(sum, bits.ReverseBytes16(old), bits.ReverseBytes16(mss))
		}
	}
	if !partial {
		t.SetChecksum(sum)
	}
	return true
}

// MSSFor returns the MSS that makes a TCP segment over IPv4 (IPv6) fit an
// inner (tap) MTU: mtu-40 (mtu-60), the minimum IP and TCP headers. TCP
// options are not subtracted, as senders account for them themselves. A
// result that would be below 1 is 0 (leave alone); one above 65535 is 65535.
func MSSFor(mtu int) (v4, v6 uint16) {
	return mssFit(mtu - 40), mssFit(mtu - 60)
}

func mssFit(n int) uint16 {
	switch {
	case n < 1:
		return 0
	case n > 0xFFFF:
		return 0xFFFF
	}
	return uint16(n)
}
