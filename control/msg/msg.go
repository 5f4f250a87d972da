// SPDX-License-Identifier: Apache-2.0

// Package msg encodes and decodes skiff's control messages: the payloads of
// wire type 2 (control) datagrams, which are sealed and replay-checked like
// data, so a control message is authenticated like data. The encoding is
// versioned and language-neutral: fixed-layout, big-endian fields after a
// two-byte prefix (version, kind). Signed fields are two's complement.
// Diagrams show byte offsets on the right.
//
// # Prefix
//
// Every message starts with:
//
//	 0               1
//	+---------------+---------------+
//	|  version = 1  |     kind      |
//	+---------------+---------------+
//
// Kinds:
//
//   - 1 ping, 2 pong: keepalive and path probe (Keepalive).
//   - 3 link-state: the delay and loss a node measured on its inbound links,
//     flooded through the mesh (LinkState).
//   - 4 table: a controller pushes one node its next-hop row, in super mode
//     (Table).
//
// A receiver drops messages of another version or an unknown kind.
//
// # Ping and pong (kinds 1 and 2)
//
//	 0               1               2               3
//	+---------------+---------------+---------------+---------------+
//	|  version = 1  |   kind 1|2    |          path index           |  0
//	+---------------+---------------+---------------+---------------+
//	|                  timestamp (64 bits, sender's clock)          |  4
//	|                                                               |
//	+---------------+---------------+---------------+---------------+
//	|                  probe sequence (32 bits)                     | 12
//	+---------------+---------------+---------------+---------------+
//	|           wall clock (64 bits signed, Unix nanoseconds)       | 16
//	|                                                               |
//	+---------------+---------------+---------------+---------------+
//
// Meaning:
//
//   - 1 ping: sent on each path every keepalive interval. Path index is the
//     sender's index of the path it sent the ping on; timestamp is the
//     sender's monotonic clock in nanoseconds. Path index 0xFFFF means
//     "routed": the ping was sent through relays to a node the sender has no
//     direct path to, only to confirm the session.
//   - 2 pong: the answer, sent back to the ping's source over the socket it
//     arrived on, sealed with the session it arrived on; path index,
//     timestamp and, if present, probe sequence and wall clock are copied
//     from the ping, so the pinger learns which of its paths works in both
//     directions and its round-trip time.
//
// The probe fields (offsets 12 to 23) extend the original 12-byte layout;
// a keepalive shorter than 24 bytes carries no probe fields (bytes 12 and
// on, if any, are ignored). Probe sequence counts the sender's pings per
// path: it starts at 1 when the sender's process starts and grows by 1 per
// ping, so the receiver can count lost probes. Wall clock is the sender's
// wall clock when it sent the ping, in nanoseconds since the Unix epoch;
// the receiver's wall clock on arrival minus it is the one-way delay (which
// includes the offset between the two clocks, and may be negative).
//
// # Link state (kind 3)
//
//	 0               1               2               3
//	+---------------+---------------+---------------+---------------+
//	|  version = 1  |   kind = 3    |            origin             |  0
//	+---------------+---------------+---------------+---------------+
//	|          link count           |                               |  4
//	+---------------+---------------+                               +
//	|                   sequence (64 bits)                          |  8
//	+                               +---------------+---------------+
//	|                               |    link 0 (16 bytes) ...      | 12
//	+---------------+---------------+---------------+---------------+
//	.                                                               .
//
// followed by link count links, link i at offset 14 + 16×i:
//
//	 0               1               2               3
//	+---------------+---------------+---------------+---------------+
//	|             from              |     flags     |  reserved = 0 |  0
//	+---------------+---------------+---------------+---------------+
//	|             loss              |          reserved = 0         |  4
//	+---------------+---------------+---------------+---------------+
//	|             delay (64 bits signed, nanoseconds)               |  8
//	|                                                               |
//	+---------------+---------------+---------------+---------------+
//
// A link-state message reports what the origin node measured on its
// inbound links, from the probe fields of the pings it received; it is
// flooded through the mesh. Origin is the node that measured (the links'
// receiving end). Sequence is the origin's: it increases strictly with
// each message the origin sends, also across restarts (the origin starts
// from its wall clock in nanoseconds at process start and adds 1 per
// message), so receivers keep the message with the highest sequence per
// origin. There are at most 1024 links. For each link:
//
//   - from: the neighbour that sent the probes (the edge is from → origin).
//   - flags: bit 0 (0x01) "up"; when clear the link is unreachable (no
//     probes arrived within the dead-after time) and delay is meaningless
//     (senders should write 0; receivers ignore it). Senders write the other
//     bits as 0 and receivers ignore them.
//   - loss: the fraction of probes lost, × 65535 (65535 = all lost).
//   - delay: the reported one-way delay in nanoseconds; may be negative
//     because of clock offsets.
//
// # Table (kind 4)
//
//	 0               1               2               3
//	+---------------+---------------+---------------+---------------+
//	|  version = 1  |   kind = 4    |          controller           |  0
//	+---------------+---------------+---------------+---------------+
//	|             node              |          entry count          |  4
//	+---------------+---------------+---------------+---------------+
//	|          reserved = 0         |                               |  8
//	+---------------+---------------+                               +
//	|                     epoch (64 bits)                           | 12
//	+                               +---------------+---------------+
//	|                               |    entry 0 (16 bytes) ...     | 16
//	+---------------+---------------+---------------+---------------+
//	.                                                               .
//
// followed by entry count entries, entry i at offset 18 + 16×i:
//
//	 0               1               2               3
//	+---------------+---------------+---------------+---------------+
//	|              to               |              via              |  0
//	+---------------+---------------+---------------+---------------+
//	|     hops      |  reserved = 0 |          reserved = 0         |  4
//	+---------------+---------------+---------------+---------------+
//	|               cost (64 bits signed)                           |  8
//	|                                                               |
//	+---------------+---------------+---------------+---------------+
//
// A table message is sent by a controller (in super mode) to one node and
// carries that node's next-hop row. Controller is the sending controller,
// node the node the row is for; epoch is the controller's table version,
// increasing with each new table, so a node keeps the row of the highest
// epoch. There are at most 4096 entries. For each entry: to is the
// destination node, via the neighbour to forward to (0: the destination is
// unreachable), hops the number of hops and cost the path's cost.
//
// # Validity and later versions
//
// Node ids (origin, from, controller, node, to, and via other than 0) are
// 1 to 0xFFEF; a message carrying another id is invalid. Reserved fields
// must be 0; a message with one that is not is invalid. A count above its
// kind's maximum, or more than the bytes that follow hold, makes the
// message invalid. Receivers drop invalid messages.
//
// Messages of every kind that are longer than their layout (for link-state
// and table, the header plus count entries) are accepted and the rest is
// ignored, so later versions of a kind may append fields at the end.
package msg

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
)

// Version is the control message version this package speaks.
const Version = 1

// Kind is a control message kind.
type Kind uint8

const (
	KindPing      Kind = 1
	KindPong      Kind = 2
	KindLinkState Kind = 3
	KindTable     Kind = 4
)

func (k Kind) String() string {
	switch k {
	case KindPing:
		return "ping"
	case KindPong:
		return "pong"
	case KindLinkState:
		return "link-state"
	case KindTable:
		return "table"
	}
	return "unknown"
}

// maxNodeID is the highest valid node id; 0 and ids above it are invalid.
// It mirrors wire.MaxNodeID (0xFFEF), kept local so this package does not
// depend on wire.
const maxNodeID = 0xFFEF

func validNode(id uint16) bool { return id != 0 && id <= maxNodeID }

// PathRouted is the path index of a ping sent through relays to a node
// with no direct path, only to confirm the session.
const PathRouted = 0xFFFF

const (
	// KeepaliveLen is the length of a ping or pong without probe fields.
	KeepaliveLen = 12
	// ProbeLen is the length of a ping or pong with probe fields.
	ProbeLen = 24

	// LinkStateHeaderLen is the length of a link-state message without links.
	LinkStateHeaderLen = 14
	// LinkLen is the length of one link in a link-state message.
	LinkLen = 16
	// MaxLinks is the most links a link-state message may carry.
	MaxLinks = 1024

	// TableHeaderLen is the length of a table message without entries.
	TableHeaderLen = 18
	// RouteLen is the length of one entry in a table message.
	RouteLen = 16
	// MaxRoutes is the most entries a table message may carry.
	MaxRoutes = 4096
)

// Errors of Decode and Peek. Returned errors wrap one of them (test with
// errors.Is) and name the message kind and field at fault.
var (
	ErrShort   = errors.New("control message truncated")
	ErrVersion = errors.New("control message of unknown version")
	ErrKind    = errors.New("control message of unknown kind")
	// ErrField: a field holds an invalid value (node id, reserved field
	// not zero, count above the maximum).
	ErrField = errors.New("control message field invalid")
)

// decodeError is a decoding error with its own text that wraps a sentinel.
type decodeError struct {
	text string
	err  error
}

func (e *decodeError) Error() string { return e.text }
func (e *decodeError) Unwrap() error { return e.err }

func errorf(sentinel error, format string, args ...any) error {
	return &decodeError{fmt.Sprintf(format, args...), sentinel}
}

// Peek checks the prefix of a control message (version and a known kind)
// and returns its kind.
func Peek(b []byte) (Kind, error) {
	if len(b) < 2 {
		return 0, errorf(ErrShort, "control message of %d bytes, shorter than its prefix", len(b))
	}
	if b[0] != Version {
		return 0, errorf(ErrVersion, "control message of version %d, want %d", b[0], Version)
	}
	k := Kind(b[1])
	switch k {
	case KindPing, KindPong, KindLinkState, KindTable:
		return k, nil
	}
	return 0, errorf(ErrKind, "control message of unknown kind %d", b[1])
}

// peekKind checks the prefix of a message the caller expects to be of
// kind want (named name).
func peekKind(b []byte, name string, want Kind) error {
	k, err := Peek(b)
	if err != nil {
		return err
	}
	if k != want {
		return errorf(ErrKind, "%s: message is of kind %v", name, k)
	}
	return nil
}

// Keepalive is a ping or a pong.
type Keepalive struct {
	Kind      Kind
	Path      uint16 // sender's path index, or PathRouted
	Timestamp uint64 // sender's monotonic clock, ns
	// Probe fields, present when HasProbe.
	Seq      uint32 // per sender and path, 1 at process start, +1 per ping
	Wall     int64  // sender's wall clock, Unix ns
	HasProbe bool   // the message carries Seq and Wall (ProbeLen bytes)
}

// Append appends the encoded message to b: ProbeLen bytes when k.HasProbe,
// KeepaliveLen bytes otherwise (Seq and Wall are then not sent).
func (k *Keepalive) Append(b []byte) []byte {
	var m [ProbeLen]byte
	m[0] = Version
	m[1] = byte(k.Kind)
	binary.BigEndian.PutUint16(m[2:], k.Path)
	binary.BigEndian.PutUint64(m[4:], k.Timestamp)
	if !k.HasProbe {
		return append(b, m[:KeepaliveLen]...)
	}
	binary.BigEndian.PutUint32(m[12:], k.Seq)
	binary.BigEndian.PutUint64(m[16:], uint64(k.Wall))
	return append(b, m[:]...)
}

// Decode parses a ping or pong. A message of KeepaliveLen to ProbeLen-1
// bytes decodes with HasProbe false and zero Seq and Wall.
func (k *Keepalive) Decode(b []byte) error {
	kind, err := Peek(b)
	if err != nil {
		return err
	}
	if kind != KindPing && kind != KindPong {
		return errorf(ErrKind, "keepalive: message is of kind %v", kind)
	}
	if len(b) < KeepaliveLen {
		return errorf(ErrShort, "%v: %d bytes, want %d", kind, len(b), KeepaliveLen)
	}
	*k = Keepalive{Kind: kind, Path: binary.BigEndian.Uint16(b[2:]), Timestamp: binary.BigEndian.Uint64(b[4:])}
	if len(b) >= ProbeLen {
		k.Seq = binary.BigEndian.Uint32(b[12:])
		k.Wall = int64(binary.BigEndian.Uint64(b[16:]))
		k.HasProbe = true
	}
	return nil
}

// LinkState is what the origin node measured on its inbound links (kind 3).
type LinkState struct {
	Origin uint16 // the node that measured (the links' receiving end)
	Seq    uint64 // origin's sequence: strictly increasing across restarts
	Links  []Link
}

// Link is one inbound link of a LinkState's origin.
type Link struct {
	From  uint16 // the neighbour that sent the probes (edge From -> Origin)
	Delay int64  // reported one-way delay, ns (may be negative: clock offsets)
	Loss  uint16 // loss fraction × 65535
	Up    bool   // false: unreachable (no probes within dead-after); Delay then meaningless
}

// Append appends the encoded message to b. It does not check field values
// (see Validate); it panics if m has more than MaxLinks links.
func (m *LinkState) Append(b []byte) []byte {
	if len(m.Links) > MaxLinks {
		panic(fmt.Sprintf("msg: link-state with %d links, more than %d", len(m.Links), MaxLinks))
	}
	b = slices.Grow(b, LinkStateHeaderLen+LinkLen*len(m.Links))
	b = append(b, Version, byte(KindLinkState))
	b = binary.BigEndian.AppendUint16(b, m.Origin)
	b = binary.BigEndian.AppendUint16(b, uint16(len(m.Links)))
	b = binary.BigEndian.AppendUint64(b, m.Seq)
	for _, l := range m.Links {
		var flags byte
		if l.Up {
			flags = 1
		}
		b = binary.BigEndian.AppendUint16(b, l.From)
		b = append(b, flags, 0)
		b = binary.BigEndian.AppendUint16(b, l.Loss)
		b = append(b, 0, 0)
		b = binary.BigEndian.AppendUint64(b, uint64(l.Delay))
	}
	return b
}

// Validate reports whether m can be sent: valid node ids and at most
// MaxLinks links. Decode applies the same checks.
func (m *LinkState) Validate() error {
	if !validNode(m.Origin) {
		return errorf(ErrField, "link-state: origin is node %d", m.Origin)
	}
	if len(m.Links) > MaxLinks {
		return errorf(ErrField, "link-state: %d links, more than %d", len(m.Links), MaxLinks)
	}
	for i, l := range m.Links {
		if !validNode(l.From) {
			return errorf(ErrField, "link-state: link %d: from is node %d", i, l.From)
		}
	}
	return nil
}

// Decode parses a link-state message into m, reusing the capacity of
// m.Links. On error m is unchanged.
func (m *LinkState) Decode(b []byte) error {
	if err := peekKind(b, "link-state", KindLinkState); err != nil {
		return err
	}
	if len(b) < LinkStateHeaderLen {
		return errorf(ErrShort, "link-state: %d bytes, shorter than the %d-byte header", len(b), LinkStateHeaderLen)
	}
	origin := binary.BigEndian.Uint16(b[2:])
	n := int(binary.BigEndian.Uint16(b[4:]))
	if !validNode(origin) {
		return errorf(ErrField, "link-state: origin is node %d", origin)
	}
	if n > MaxLinks {
		return errorf(ErrField, "link-state: count %d, more than %d links", n, MaxLinks)
	}
	body := b[LinkStateHeaderLen:]
	if len(body) < n*LinkLen {
		return errorf(ErrShort, "link-state: count %d but %d bytes of links", n, len(body))
	}
	for i := range n {
		p := body[i*LinkLen : (i+1)*LinkLen]
		if from := binary.BigEndian.Uint16(p); !validNode(from) {
			return errorf(ErrField, "link-state: link %d: from is node %d", i, from)
		}
		if p[3] != 0 {
			return errorf(ErrField, "link-state: link %d: reserved byte not zero", i)
		}
		if p[6] != 0 || p[7] != 0 {
			return errorf(ErrField, "link-state: link %d: reserved u16 not zero", i)
		}
	}
	m.Origin = origin
	m.Seq = binary.BigEndian.Uint64(b[6:])
	links := slices.Grow(m.Links[:0], n)
	for i := range n {
		p := body[i*LinkLen : (i+1)*LinkLen]
		links = append(links, Link{
			From:  binary.BigEndian.Uint16(p),
			Up:    p[2]&1 != 0,
			Loss:  binary.BigEndian.Uint16(p[4:]),
			Delay: int64(binary.BigEndian.Uint64(p[8:])),
		})
	}
	m.Links = links
	return nil
}

// Table is a controller's next-hop row for one node (kind 4).
type Table struct {
	Controller uint16
	Node       uint16 // the node this row is for
	Epoch      uint64 // controller's table version, increasing
	Entries    []Route
}

// Route is one entry of a Table.
type Route struct {
	To   uint16 // destination node
	Via  uint16 // next hop; 0: To is unreachable
	Hops uint8
	Cost int64
}

// Append appends the encoded message to b. It does not check field values
// (see Validate); it panics if t has more than MaxRoutes entries.
func (t *Table) Append(b []byte) []byte {
	if len(t.Entries) > MaxRoutes {
		panic(fmt.Sprintf("msg: table with %d entries, more than %d", len(t.Entries), MaxRoutes))
	}
	b = slices.Grow(b, TableHeaderLen+RouteLen*len(t.Entries))
	b = append(b, Version, byte(KindTable))
	b = binary.BigEndian.AppendUint16(b, t.Controller)
	b = binary.BigEndian.AppendUint16(b, t.Node)
	b = binary.BigEndian.AppendUint16(b, uint16(len(t.Entries)))
	b = append(b, 0, 0)
	b = binary.BigEndian.AppendUint64(b, t.Epoch)
	for _, r := range t.Entries {
		b = binary.BigEndian.AppendUint16(b, r.To)
		b = binary.BigEndian.AppendUint16(b, r.Via)
		b = append(b, r.Hops, 0, 0, 0)
		b = binary.BigEndian.AppendUint64(b, uint64(r.Cost))
	}
	return b
}

// Validate reports whether t can be sent: valid node ids and at most
// MaxRoutes entries. Decode applies the same checks.
func (t *Table) Validate() error {
	if !validNode(t.Controller) {
		return errorf(ErrField, "table: controller is node %d", t.Controller)
	}
	if !validNode(t.Node) {
		return errorf(ErrField, "table: node is node %d", t.Node)
	}
	if len(t.Entries) > MaxRoutes {
		return errorf(ErrField, "table: %d entries, more than %d", len(t.Entries), MaxRoutes)
	}
	for i, r := range t.Entries {
		if err := r.check(i); err != nil {
			return err
		}
	}
	return nil
}

func (r *Route) check(i int) error {
	if !validNode(r.To) {
		return errorf(ErrField, "table: entry %d: to is node %d", i, r.To)
	}
	if r.Via != 0 && !validNode(r.Via) {
		return errorf(ErrField, "table: entry %d: via is node %d", i, r.Via)
	}
	return nil
}

// Decode parses a table message into t, reusing the capacity of t.Entries.
// On error t is unchanged.
func (t *Table) Decode(b []byte) error {
	if err := peekKind(b, "table", KindTable); err != nil {
		return err
	}
	if len(b) < TableHeaderLen {
		return errorf(ErrShort, "table: %d bytes, shorter than the %d-byte header", len(b), TableHeaderLen)
	}
	controller := binary.BigEndian.Uint16(b[2:])
	node := binary.BigEndian.Uint16(b[4:])
	n := int(binary.BigEndian.Uint16(b[6:]))
	if !validNode(controller) {
		return errorf(ErrField, "table: controller is node %d", controller)
	}
	if !validNode(node) {
		return errorf(ErrField, "table: node is node %d", node)
	}
	if b[8] != 0 || b[9] != 0 {
		return errorf(ErrField, "table: reserved u16 not zero")
	}
	if n > MaxRoutes {
		return errorf(ErrField, "table: count %d, more than %d entries", n, MaxRoutes)
	}
	body := b[TableHeaderLen:]
	if len(body) < n*RouteLen {
		return errorf(ErrShort, "table: count %d but %d bytes of entries", n, len(body))
	}
	for i := range n {
		p := body[i*RouteLen : (i+1)*RouteLen]
		r := Route{To: binary.BigEndian.Uint16(p), Via: binary.BigEndian.Uint16(p[2:])}
		if err := r.check(i); err != nil {
			return err
		}
		if p[5] != 0 {
			return errorf(ErrField, "table: entry %d: reserved byte not zero", i)
		}
		if p[6] != 0 || p[7] != 0 {
			return errorf(ErrField, "table: entry %d: reserved u16 not zero", i)
		}
	}
	t.Controller = controller
	t.Node = node
	t.Epoch = binary.BigEndian.Uint64(b[10:])
	entries := slices.Grow(t.Entries[:0], n)
	for i := range n {
		p := body[i*RouteLen : (i+1)*RouteLen]
		entries = append(entries, Route{
			To:   binary.BigEndian.Uint16(p),
			Via:  binary.BigEndian.Uint16(p[2:]),
			Hops: p[4],
			Cost: int64(binary.BigEndian.Uint64(p[8:])),
		})
	}
	t.Entries = entries
	return nil
}
