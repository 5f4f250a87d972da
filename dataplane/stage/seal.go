// SPDX-License-Identifier: Apache-2.0

package stage

import (
	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/wire"
)

// Sealer encapsulates frames in skiff datagrams: it pushes the wire header
// in front of the data and encrypts the data in place, appending the tag in
// the tailroom. One per worker goroutine.
type Sealer struct {
	sc  wire.Scratch
	hdr wire.Header
}

// Seal turns p into a datagram of type typ for session s with counter ctr.
// It reads p.Meta's Flags, TTL, SrcNode, DstNode and fragment fields.
func (x *Sealer) Seal(p *buf.Packet, s *wire.Session, typ wire.Type, ctr uint64) {
	m := &p.Meta
	x.hdr = wire.Header{
		Type:       typ,
		Flags:      m.Flags,
		TTL:        m.TTL,
		Suite:      s.Suite,
		FragIndex:  m.FragIndex,
		Src:        m.SrcNode,
		Dst:        m.DstNode,
		FragOffset: m.FragOffset,
		FragTotal:  m.FragTotal,
		Session:    s.RemoteID,
		Counter:    ctr,
	}
	n := p.Len()
	if o := s.Suite.Overhead(); o > 0 {
		p.Extend(o)
	}
	hdr := p.Push(wire.HeaderLen)
	x.hdr.Put(hdr)
	d := p.Data()
	s.Seal(&x.sc, hdr, d[wire.HeaderLen:wire.HeaderLen+n], ctr)
}

// Opener decapsulates skiff datagrams. One per worker goroutine.
type Opener struct {
	sc wire.Scratch
}

// DecodeHeader decodes the wire header at the front of p into h.
func DecodeHeader(p *buf.Packet, h *wire.Header) Reason {
	switch h.Decode(p.Data()) {
	case nil:
		return Pass
	case wire.ErrShort:
		return HeaderShort
	case wire.ErrVersion:
		return HeaderVersion
	case wire.ErrType:
		return HeaderType
	case wire.ErrFlags:
		return HeaderFlags
	case wire.ErrSuite:
		return HeaderSuite
	case wire.ErrReserved:
		return HeaderReserved
	default:
		return HeaderFrag
	}
}

// Open authenticates and decrypts the datagram p, whose header h was
// decoded by DecodeHeader, with session s (found by h.Session). On Pass, p's
// data is the plaintext payload (header and tag stripped) and p.Meta holds
// the header's fields.
func (x *Opener) Open(p *buf.Packet, h *wire.Header, s *wire.Session) Reason {
	if h.Suite != s.Suite {
		return HeaderSuite
	}
	if h.Src != s.RemoteNode {
		return NoSession
	}
	d := p.Data()
	o := s.Suite.Overhead()
	if len(d) < wire.HeaderLen+o {
		return HeaderShort
	}
	_, err := s.Open(&x.sc, d[:wire.HeaderLen], d[wire.HeaderLen:], h.Counter)
	switch err {
	case nil:
	case wire.ErrReplay:
		return Replay
	default:
		return Auth
	}
	p.Pull(wire.HeaderLen)
	p.Trim(o)
	p.Meta = buf.Meta{
		Counter:    h.Counter,
		Session:    h.Session,
		SrcNode:    h.Src,
		DstNode:    h.Dst,
		FragOffset: h.FragOffset,
		FragTotal:  h.FragTotal,
		FragIndex:  h.FragIndex,
		Flags:      h.Flags,
		TTL:        h.TTL,
	}
	return Pass
}

// EncapVXLAN pushes a VXLAN header with vni in front of p's frame.
func EncapVXLAN(p *buf.Packet, vni uint32) {
	wire.PutVXLAN(p.Push(wire.VXLANHeaderLen), vni)
}

// DecapVXLAN strips the VXLAN header from p if it carries vni.
func DecapVXLAN(p *buf.Packet, vni uint32) Reason {
	v, err := wire.DecodeVXLAN(p.Data())
	if err != nil {
		return VXLANHeader
	}
	if v != vni {
		return VXLANVNI
	}
	p.Pull(wire.VXLANHeaderLen)
	return Pass
}
