// SPDX-License-Identifier: Apache-2.0

package stage

// Reason is a stage's verdict on one packet: Pass, or why it was dropped.
// Per packet there are no errors, only reasons, which the pipeline counts.
type Reason uint8

const (
	Pass Reason = iota // keep the packet

	// Frames from the local port.
	FrameMalformed // shorter than an Ethernet header, or a truncated tag/IP/TCP header
	FrameTooBig    // encapsulation exceeds the underlay MTU and fragmentation is off
	GSOUnsupported // an offload super-frame for a codec that cannot carry it (VXLAN)

	// Datagrams from the underlay: the wire header.
	HeaderShort    // shorter than the wire header
	HeaderVersion  // unknown wire version
	HeaderType     // unknown message type
	HeaderFlags    // unknown flag bits set
	HeaderSuite    // unknown cipher suite, or not the session's suite
	HeaderReserved // reserved bytes not zero
	HeaderFrag     // inconsistent fragment fields
	WrongNode      // destination node is not this node

	// Sessions and crypto.
	NoSession      // no session to send with, or unknown receiver session id
	NoEndpoint     // the peer's underlay address is not known yet
	Replay         // counter already seen or too old
	Auth           // AEAD open failed: wrong key, tampered or truncated
	SessionExpired // send counter exhausted; a rekey is due

	// Fragments.
	FragOverlap  // a piece overlaps one already held
	FragTimeout  // a partly reassembled frame expired
	FragEvicted  // reassembly table full: the oldest entry was dropped
	FragTooBig   // the reassembled frame would exceed the buffer
	FragMismatch // pieces of one frame disagree (total length, flags)

	// Payload.
	LZ4Corrupt // LZ4 block invalid or decompresses beyond the buffer

	// VXLAN.
	VXLANHeader // VXLAN header without the I flag, or short
	VXLANVNI    // VNI is not the configured one

	// Mesh.
	TTLExpired // hop limit reached
	NoRoute    // no next hop toward the destination node
	FloodRoom  // a flooded frame's copies did not all fit the batch
	RouteLoop  // the next hop is where the datagram came from

	// Ports.
	PortWrite // the port refused or failed the write

	NumReasons // number of reasons; not a reason
)

var reasonNames = [NumReasons]string{
	Pass:           "pass",
	FrameMalformed: "frame-malformed",
	FrameTooBig:    "frame-too-big",
	GSOUnsupported: "gso-unsupported",
	HeaderShort:    "header-short",
	HeaderVersion:  "header-version",
	HeaderType:     "header-type",
	HeaderFlags:    "header-flags",
	HeaderSuite:    "header-suite",
	HeaderReserved: "header-reserved",
	HeaderFrag:     "header-frag",
	WrongNode:      "wrong-node",
	NoSession:      "no-session",
	NoEndpoint:     "no-endpoint",
	Replay:         "replay",
	Auth:           "auth",
	SessionExpired: "session-expired",
	FragOverlap:    "frag-overlap",
	FragTimeout:    "frag-timeout",
	FragEvicted:    "frag-evicted",
	FragTooBig:     "frag-too-big",
	FragMismatch:   "frag-mismatch",
	LZ4Corrupt:     "lz4-corrupt",
	VXLANHeader:    "vxlan-header",
	VXLANVNI:       "vxlan-vni",
	TTLExpired:     "ttl-expired",
	NoRoute:        "no-route",
	FloodRoom:      "flood-room",
	RouteLoop:      "route-loop",
	PortWrite:      "port-write",
}

// String is the reason's name as shown by skiff status: lowercase, dashes.
func (r Reason) String() string {
	if r < NumReasons {
		return reasonNames[r]
	}
	return "unknown"
}
