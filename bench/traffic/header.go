// SPDX-License-Identifier: Apache-2.0

package traffic

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/port/udp"
)

// The magics of the UDP header (see the package doc).
const (
	MagicData  = 0x534b4744 // "SKGD": a generator's datagram; third field: sequence
	MagicEnd   = 0x534b4745 // "SKGE": the generator's end marker; third field: datagrams sent
	MagicProbe = 0x534b4750 // "SKGP": an echo probe; third field: sequence, then the send time
)

const (
	// HeaderLen is the length of the UDP header, the smallest generator
	// datagram.
	HeaderLen = 16
	// ProbeLen is the header and the send time of an echo probe, the
	// smallest probe.
	ProbeLen = HeaderLen + 8
	// MaxDatagram is the largest UDP payload over IPv4, the largest size
	// of a generator datagram or probe.
	MaxDatagram = 65507
	// batchSize is the number of datagrams per sendmmsg or recvmmsg call.
	batchSize = 64
)

// header is the decoded UDP header.
type header struct {
	magic, run uint32
	seq        uint64
}

func putHeader(b []byte, h header) {
	binary.BigEndian.PutUint32(b[0:4], h.magic)
	binary.BigEndian.PutUint32(b[4:8], h.run)
	binary.BigEndian.PutUint64(b[8:16], h.seq)
}

// parseHeader decodes the header of b; ok is false if b is too short or
// its magic is not one of ours.
func parseHeader(b []byte) (h header, ok bool) {
	if len(b) < HeaderLen {
		return h, false
	}
	h.magic = binary.BigEndian.Uint32(b[0:4])
	switch h.magic {
	case MagicData, MagicEnd, MagicProbe:
	default:
		return h, false
	}
	h.run = binary.BigEndian.Uint32(b[4:8])
	h.seq = binary.BigEndian.Uint64(b[8:16])
	return h, true
}

// newRunID returns a random non-zero run id.
func newRunID() uint32 {
	for {
		if id := rand.Uint32(); id != 0 {
			return id
		}
	}
}

// ListenUDP opens a UDP port (the dataplane's, with recvmmsg/sendmmsg
// batches) on addr, host:port; a name is resolved, an empty host means
// 0.0.0.0 (IPv4 only: use [::]:port for IPv6).
func ListenUDP(addr string) (*udp.Port, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	ap := ua.AddrPort()
	if !ap.Addr().IsValid() {
		ap = netip.AddrPortFrom(netip.IPv4Unspecified(), ap.Port())
	}
	return udp.Listen(udp.Config{Addr: ap, Batch: batchSize})
}

// dialUDP opens a UDP port on an ephemeral port of the family of the
// destination addr, host:port (a name is resolved), and returns both.
func dialUDP(addr string) (*udp.Port, netip.AddrPort, error) {
	ua, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, netip.AddrPort{}, err
	}
	dst := ua.AddrPort()
	dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	if !dst.Addr().IsValid() || dst.Addr().IsUnspecified() || dst.Port() == 0 {
		return nil, netip.AddrPort{}, fmt.Errorf("%q: need a destination host:port", addr)
	}
	local := netip.IPv4Unspecified()
	if dst.Addr().Is6() {
		local = netip.IPv6Unspecified()
	}
	// No UDP GSO: every datagram must leave as its own packet, or the
	// kernel (and veth, and a TAP with offloads) would carry runs of them
	// as one, and a frames/s measurement would count runs.
	p, err := udp.Listen(udp.Config{Addr: netip.AddrPortFrom(local, 0), Batch: batchSize, NoGSO: true})
	return p, dst, err
}

// newPackets returns n packets, belonging to no pool, with room for a
// datagram of size bytes.
func newPackets(n, size int) []*buf.Packet {
	pkts := make([]*buf.Packet, n)
	for i := range pkts {
		pkts[i] = buf.New(buf.Headroom + size + buf.Tailroom)
	}
	return pkts
}

// maxRecv is the room of a receiving packet: any UDP payload.
const maxRecv = 65535
