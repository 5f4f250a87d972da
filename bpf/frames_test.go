// SPDX-License-Identifier: Apache-2.0

package bpf

import "encoding/binary"

// Hand-built test frames. Checksums are left zero: the programs do not
// read them.

const (
	etIPv4 = 0x0800
	etARP  = 0x0806
	etIPv6 = 0x86dd
	tpidQ  = 0x8100 // 802.1Q
	tpidAD = 0x88a8 // 802.1ad (QinQ outer tag)

	protoHopOpts = 0
	protoTCP     = 6
	protoUDP     = 17
	protoFrag6   = 44

	ipDF = 0x4000 // IPv4 Don't Fragment
	ipMF = 0x2000 // IPv4 More Fragments
)

type tag struct{ tpid, tci uint16 }

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

// ether returns an Ethernet header with tags, outermost first.
func ether(ethertype uint16, tags ...tag) []byte {
	b := []byte{0x02, 0, 0, 0, 0, 0xaa, 0x02, 0, 0, 0, 0, 0xbb}
	for _, t := range tags {
		b = cat(b, be16(t.tpid), be16(t.tci))
	}
	return cat(b, be16(ethertype))
}

// ipv4 returns an IPv4 header with options (a multiple of 4 bytes) in
// front of payloadLen bytes; frag is the flags and offset field.
func ipv4(proto byte, frag uint16, opts []byte, payloadLen int) []byte {
	h := make([]byte, 20, 20+len(opts))
	h[0] = 0x40 | byte((20+len(opts))/4)
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(opts)+payloadLen))
	binary.BigEndian.PutUint16(h[6:], frag)
	h[8] = 64
	h[9] = proto
	copy(h[12:], []byte{192, 0, 2, 1, 192, 0, 2, 2})
	return append(h, opts...)
}

func ipv6(next byte, payloadLen int) []byte {
	h := make([]byte, 40)
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(payloadLen))
	h[6] = next
	h[7] = 64
	h[8], h[9], h[23] = 0x20, 0x01, 1 // 2001::1
	h[24], h[25], h[39] = 0x20, 0x01, 2
	return h
}

func udp(dst uint16, payload []byte) []byte {
	h := make([]byte, 8, 8+len(payload))
	binary.BigEndian.PutUint16(h[0:], 40000)
	binary.BigEndian.PutUint16(h[2:], dst)
	binary.BigEndian.PutUint16(h[4:], uint16(8+len(payload)))
	return append(h, payload...)
}

func tcp(dst uint16) []byte {
	h := make([]byte, 20)
	binary.BigEndian.PutUint16(h[0:], 40000)
	binary.BigEndian.PutUint16(h[2:], dst)
	h[12] = 5 << 4
	h[13] = 0x02 // SYN
	return h
}

// arp is a who-has request for 192.0.2.2 after its Ethernet header.
func arp() []byte {
	return cat(be16(1), be16(etIPv4), []byte{6, 4}, be16(1),
		[]byte{0x02, 0, 0, 0, 0, 0xbb, 192, 0, 2, 1}, make([]byte, 6), []byte{192, 0, 2, 2})
}

var payload = []byte("skiff test payload")

// udp4 and udp6 are UDP datagrams to dst behind tags.
func udp4(dst uint16, tags ...tag) []byte {
	u := udp(dst, payload)
	return cat(ether(etIPv4, tags...), ipv4(protoUDP, ipDF, nil, len(u)), u)
}

func udp6(dst uint16, tags ...tag) []byte {
	u := udp(dst, payload)
	return cat(ether(etIPv6, tags...), ipv6(protoUDP, len(u)), u)
}
