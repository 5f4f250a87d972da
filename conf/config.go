// SPDX-License-Identifier: Apache-2.0

package conf

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/skiffnet/skiff/dataplane/stage"
	"github.com/skiffnet/skiff/dataplane/wire"
)

// Version is the config schema version this package reads.
const Version = 1

// Config is a node's validated configuration with every default applied.
// Treat it as read-only once Load or Parse has returned it.
type Config struct {
	// Version is the schema version: always 1 (key version, required).
	Version int

	// Node identifies this node (key node, required).
	Node Node

	// PSKSource says where the pre-shared key comes from (key psk). It is
	// required when at least one peer uses the skiff codec; a node whose
	// peers are all vxlan needs none. Use Config.PSK to get the key.
	PSKSource PSKSource

	// Suite is the AEAD of skiff sessions (key suite, one of
	// wire.SuiteNames(), default aes-256-gcm). vxlan peers ignore it.
	Suite wire.Suite

	// LZ4 compresses frames sent to skiff peers (key lz4, default false).
	// It must be false when any peer uses the vxlan codec, which carries
	// plaintext frames only.
	LZ4 bool

	// RekeyAfter is how long a session key is used before a new handshake
	// (key rekey_after, default 2m, range 10s..24h).
	RekeyAfter time.Duration

	// Local is the L2 side: the device frames come from and go to
	// (key local, required).
	Local Local

	// Underlay is the UDP side (key underlay, optional).
	Underlay Underlay

	// VLANMapFile is the resolved path of the VLAN map file (key vlan_map,
	// optional; relative to the config file's directory), "" if unset.
	VLANMapFile string

	// VLANMap is the VLAN map loaded from VLANMapFile at load time, nil if
	// vlan_map is unset. See stage.VLANMap for the file format.
	VLANMap *stage.VLANMap

	// Peers are the nodes this node talks to (key peers, at least one;
	// exactly one without a mesh section). Names and ids are unique and no
	// id is Node.ID.
	Peers []Peer

	// Mesh makes this node one of a mesh (key mesh, optional); nil: a
	// point-to-point tunnel to the one peer.
	Mesh *Mesh

	// Control is the local control socket (key control, optional).
	Control Control

	// Log configures logging (key log, optional).
	Log Log

	psk *pskCache
}

// Node identifies this node.
type Node struct {
	// Name is the node's name (key node.name, required): 1..32 characters
	// from A-Z a-z 0-9 . _ -.
	Name string
	// ID is the node's id carried in skiff headers (key node.id, required):
	// 1..65519; 65520..65535 are reserved.
	ID uint16
}

// PSKSource is where the network's pre-shared key comes from: exactly one
// of the keys psk.key, psk.key_file and psk.passphrase.
type PSKSource struct {
	// Key is the key given by psk.key (base64 of 32 bytes, as printed by
	// skiff keygen) or read from psk.key_file at load time. It is zero when
	// Passphrase is used or no psk is configured. An all-zero key is
	// rejected.
	Key wire.PSK
	// KeyFile is the resolved path of psk.key_file (a file holding a key as
	// skiff keygen prints it), "" otherwise.
	KeyFile string
	// Passphrase is psk.passphrase (non-empty). The key is derived from it
	// with Argon2id (wire.PSKFromPassphrase) by the first call of
	// Config.PSK, not at load, because the derivation costs 19 MiB.
	Passphrase string
}

// Configured reports whether a key source is set.
func (p PSKSource) Configured() bool { return p.Passphrase != "" || p.Key != wire.PSK{} }

// String describes the source without revealing the key or passphrase.
func (p PSKSource) String() string {
	switch {
	case p.Passphrase != "":
		return "passphrase (redacted)"
	case p.KeyFile != "":
		return "key_file " + p.KeyFile
	case p.Key != wire.PSK{}:
		return "key (redacted)"
	}
	return "none"
}

// GoString is String, so that %#v does not print the key either.
func (p PSKSource) GoString() string { return "conf.PSKSource{" + p.String() + "}" }

type pskCache struct {
	once sync.Once
	key  wire.PSK
	err  error
}

// PSK returns the pre-shared key. A key from a passphrase is derived on the
// first call (Argon2id: about 19 MiB and some tens of milliseconds) and
// cached; later calls and concurrent callers get the cached result.
func (c *Config) PSK() (wire.PSK, error) {
	p := c.PSKSource
	switch {
	case p.Passphrase != "":
		if c.psk == nil { // a Config not made by Parse: no cache
			return derivePSK(p.Passphrase)
		}
		c.psk.once.Do(func() { c.psk.key, c.psk.err = derivePSK(p.Passphrase) })
		return c.psk.key, c.psk.err
	case p.Key != wire.PSK{}:
		return p.Key, nil
	}
	return wire.PSK{}, errors.New("conf: no psk configured")
}

func derivePSK(passphrase string) (wire.PSK, error) {
	k, err := wire.PSKFromPassphrase(passphrase)
	if err != nil {
		return wire.PSK{}, fmt.Errorf("conf: psk.passphrase: %w", err)
	}
	return k, nil
}

// LocalType is the kind of L2 attachment.
type LocalType uint8

const (
	// LocalTAP is a TAP device that skiff creates ("tap").
	LocalTAP LocalType = iota + 1
	// LocalAFPacket is an existing NIC read and written raw, like EthUDP -e
	// ("afpacket").
	LocalAFPacket
	// LocalAFXDP is an existing NIC read and written through AF_XDP
	// sockets fed by skiff's XDP program ("afxdp"); where XDP cannot
	// attach, skiff falls back to afpacket and logs it.
	LocalAFXDP
	// LocalMemif is a memif interface to a VPP router or another memif
	// peer ("memif"), described by Local.Memif.
	LocalMemif
)

var localTypeNames = map[LocalType]string{LocalTAP: "tap", LocalAFPacket: "afpacket", LocalAFXDP: "afxdp", LocalMemif: "memif"}

func (t LocalType) String() string {
	if s, ok := localTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("localtype(%d)", uint8(t))
}

// Local is the L2 side of the node.
type Local struct {
	// Type is tap, afpacket, afxdp or memif (key local.type, required).
	Type LocalType
	// Name is the interface name, at most 15 characters, no '/', ':' or
	// blanks (key local.name). For tap it is the device to create (default
	// "skiff0"); for afpacket and afxdp the existing NIC to attach to
	// (required).
	Name string
	// Address is the tap device's address and prefix length, IPv4 or IPv6,
	// such as 10.99.0.1/24 (key local.address, tap only, optional). It is
	// mutually exclusive with Bridge. Zero if unset.
	Address netip.Prefix
	// Bridge is an existing Linux bridge to enslave the tap device to, as
	// EthUDP -b does (key local.bridge, tap only, optional). It is mutually
	// exclusive with Address.
	Bridge string
	// MTU is the tap device's MTU (key local.mtu, tap only, default 1500,
	// range 576..9000). It is 0 for afpacket and afxdp, whose NIC keeps
	// its own MTU.
	MTU int
	// Promisc puts the NIC in promiscuous mode (key local.promisc,
	// afpacket and afxdp, default true). It is false for tap.
	Promisc bool
	// VLANs, if set, restricts an afxdp port to the frames of these
	// 802.1Q/802.1ad VLANs (outer tag); the NIC's other frames stay with
	// the kernel (key local.vlans, afxdp only, a list of ids 1..4094,
	// default: every frame).
	VLANs []uint16
	// Queues is how many of the NIC's queues get an AF_XDP socket and a
	// worker, from queue 0 (key local.queues, afxdp only, default 0 =
	// every receive queue the NIC has, range 0..64).
	Queues int
	// Memif describes a memif interface (key local.memif, required for
	// and only for type memif).
	Memif *Memif
}

// Memif is the local side on a memif interface (key local.memif).
type Memif struct {
	// Socket is the control socket: a filesystem path (relative to the
	// config file's directory), or an abstract socket written @name or
	// abstract:name (key socket, required).
	Socket string
	// ID is the interface id both ends name (key id, 0..2^32-1, default 0).
	ID uint32
	// Server: skiff listens and the peer (VPP) connects; otherwise skiff
	// connects as the client and owns the shared memory (key role, server
	// or client, default server).
	Server bool
	// Secret, if set, must match the peer's (key secret, at most 23 bytes).
	Secret string
	// Queues is the number of queue pairs (key queues, 1..16, default 1).
	Queues int
	// RingSize is the slots per ring when skiff is the client (key
	// ring_size, a power of two 2..16384, default 1024).
	RingSize int
	// BufferSize is the bytes per buffer when skiff is the client (key
	// buffer_size, 128..65535, default 2048); longer frames are chained.
	BufferSize int
	// Poll polls the receive rings instead of sleeping until the peer
	// kicks an eventfd (key mode, interrupt or poll, default interrupt).
	Poll bool
}

// UnderlayType is how the underlay sends and receives.
type UnderlayType uint8

const (
	// UnderlayUDP is the kernel's UDP sockets ("udp", the default).
	UnderlayUDP UnderlayType = iota + 1
	// UnderlayAFXDP is AF_XDP sockets on Underlay.Interface fed by
	// skiff's XDP program, with skiff building the outer headers
	// ("afxdp"); where XDP cannot attach, skiff falls back to udp and
	// logs it.
	UnderlayAFXDP
)

var underlayTypeNames = map[UnderlayType]string{UnderlayUDP: "udp", UnderlayAFXDP: "afxdp"}

func (t UnderlayType) String() string {
	if s, ok := underlayTypeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("underlaytype(%d)", uint8(t))
}

// MTUPolicy says what happens to frames whose encapsulation exceeds
// Underlay.MTU.
type MTUPolicy uint8

const (
	// MTUFragment splits the datagram into pieces that fit, each sealed on
	// its own ("fragment", the default).
	MTUFragment MTUPolicy = iota + 1
	// MTUClamp clamps the MSS of TCP SYN and SYN-ACK segments so that TCP
	// traffic fits; skiff does not fragment, so other frames that do not
	// fit are dropped (stage.FrameTooBig) ("clamp").
	MTUClamp
	// MTUNone neither fragments nor clamps (unless Underlay.MSS is set):
	// frames whose encapsulation does not fit are dropped
	// (stage.FrameTooBig) ("none").
	MTUNone
)

var mtuPolicyNames = map[MTUPolicy]string{MTUFragment: "fragment", MTUClamp: "clamp", MTUNone: "none"}

func (p MTUPolicy) String() string {
	if s, ok := mtuPolicyNames[p]; ok {
		return s
	}
	return fmt.Sprintf("mtupolicy(%d)", uint8(p))
}

// Underlay is the UDP side of the node.
type Underlay struct {
	// Type is udp or afxdp (key underlay.type, default udp).
	Type UnderlayType
	// Interface is the NIC an afxdp underlay attaches to (key
	// underlay.interface, required for afxdp, not allowed for udp).
	Interface string
	// Queues is how many of the NIC's queues get an AF_XDP socket (key
	// underlay.queues, afxdp only, default 0 = every receive queue).
	Queues int
	// Listen are the local UDP addresses to receive on and send from (key
	// underlay.listen, a list, default ["0.0.0.0:4800"]). Each is an
	// address and a port in 1..65535; none appears twice. IPv4-mapped IPv6
	// addresses are stored as IPv4.
	Listen []netip.AddrPort
	// MTU is the path MTU of the underlay in bytes, the largest IP packet
	// skiff sends (key underlay.mtu, default 1500, range 576..65535).
	MTU int
	// MTUPolicy is fragment, clamp or none (key underlay.mtu_policy,
	// default fragment).
	MTUPolicy MTUPolicy
	// MSS is the TCP MSS clamp (key underlay.mss, default 0, else
	// 88..65495). 0 is automatic: with MTUPolicy clamp the dataplane
	// computes the clamp from the local MTU and the encapsulation overhead;
	// with the other policies there is no clamping. A non-zero value clamps
	// under every policy.
	MSS int
	// SocketBuffer is the SO_RCVBUF and SO_SNDBUF size of the UDP sockets
	// in bytes (key underlay.socket_buffer, default 4194304 = 4 MiB, range
	// 65536..268435456).
	SocketBuffer int
}

// Codec is how frames to one peer are encapsulated.
type Codec uint8

const (
	// CodecSkiff is skiff's own authenticated, encrypted wire ("skiff",
	// the default).
	CodecSkiff Codec = iota + 1
	// CodecVXLAN is plaintext VXLAN (RFC 7348), for a Linux vxlan device or
	// a VPP vxlan tunnel at the far end ("vxlan").
	CodecVXLAN
)

var codecNames = map[Codec]string{CodecSkiff: "skiff", CodecVXLAN: "vxlan"}

func (c Codec) String() string {
	if s, ok := codecNames[c]; ok {
		return s
	}
	return fmt.Sprintf("codec(%d)", uint8(c))
}

// Peer is another node.
type Peer struct {
	// Name is the peer's name (key peers[i].name, required, unique), with
	// the charset of Node.Name.
	Name string
	// ID is the peer's node id (key peers[i].id, required, unique, not
	// Node.ID, range 1..65519).
	ID uint16
	// Codec is skiff or vxlan (key peers[i].codec, default skiff). A vxlan
	// peer ignores Config.Suite; it forbids Config.LZ4, address learning
	// (its paths need a full remote address), more than one path and the
	// keys keepalive and dead_after, since a plain VXLAN endpoint sends
	// nothing skiff could authenticate or use as a liveness signal.
	Codec Codec
	// VNI is the VXLAN network identifier (key peers[i].vni, vxlan only and
	// required there, range 0..16777215). It must not be set for skiff.
	VNI uint32
	// Paths are the underlay paths to the peer in failover order: traffic
	// uses the first live one (key peers[i].paths, at least one; in a mesh,
	// none means the peer is reached through relays only).
	Paths []Path
	// Keepalive is the interval of keepalives on every path (key
	// peers[i].keepalive, default 1s or mesh.probe_interval, range
	// 100ms..60s). Zero for vxlan.
	Keepalive time.Duration
	// DeadAfter is the silence after which a path counts as dead (key
	// peers[i].dead_after, default 3s, greater than Keepalive, at most
	// 10m). Zero for vxlan.
	DeadAfter time.Duration
}

// Path is one underlay path to a peer.
type Path struct {
	// Remote is the peer's address (key paths[j].remote, required). An
	// unspecified address (0.0.0.0 or ::) and port 0 mean "learn": the
	// address, the port, or both are taken from authenticated traffic from
	// the peer, for a peer behind NAT. Either half may be pinned while the
	// other is learned, as in EthUDP: 198.51.100.2:0 accepts that host from
	// any port, 0.0.0.0:4800 any host from port 4800. IPv4-mapped IPv6
	// addresses are stored as IPv4.
	Remote netip.AddrPort
	// Local is the Underlay.Listen socket to send from (key paths[j].local,
	// optional; it must be one of underlay.listen and of Remote's address
	// family). The default is the first listen address of Remote's family;
	// there must be one.
	Local netip.AddrPort
}

// LearnAddr reports whether the remote address is learned from traffic.
func (p Path) LearnAddr() bool { return p.Remote.Addr().IsUnspecified() }

// LearnPort reports whether the remote port is learned from traffic.
func (p Path) LearnPort() bool { return p.Remote.Port() == 0 }

// Control is the local control socket served to the CLI.
type Control struct {
	// Socket is the unix socket's path (key control.socket, default
	// /run/skiff/NODE.sock with NODE the node's name; relative to the
	// config file's directory; at most 107 bytes).
	Socket string
}

// Log configures logging.
type Log struct {
	// Level is the minimum level logged (key log.level: debug, info, warn
	// or error; default info).
	Level slog.Level
}

// maxFileSize bounds what Load reads: configs are small.
const maxFileSize = 1 << 20

// Load reads and parses the config file at path. Errors from parsing are
// prefixed with the file's base name ("site-a.yaml:12: ..."); relative paths
// in the file are resolved against the file's directory.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("conf: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("conf: read %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("conf: %s: larger than %d bytes", path, maxFileSize)
	}
	return parse(filepath.Base(path), filepath.Dir(path), data)
}

// Parse parses a config file's contents. name is used in errors and its
// directory is the base of relative paths in the file. The error, if any,
// joins (errors.Join) one *Error per problem, in line order.
func Parse(name string, data []byte) (*Config, error) {
	return parse(name, filepath.Dir(name), data)
}

// MeshMode is how a mesh finds its routes.
type MeshMode uint8

const (
	// MeshStatic: the next hops are in the config (mesh.next_hops).
	MeshStatic MeshMode = iota + 1
	// MeshSuper: controller nodes collect the measured latencies, solve and
	// push each node its next-hop row; a node keeps the last row it got
	// when no controller answers.
	MeshSuper
	// MeshP2P: every node floods its latencies and solves for itself.
	MeshP2P
)

var meshModeNames = map[MeshMode]string{MeshStatic: "static", MeshSuper: "super", MeshP2P: "p2p"}

func (m MeshMode) String() string {
	if s, ok := meshModeNames[m]; ok {
		return s
	}
	return fmt.Sprintf("mesh-mode(%d)", uint8(m))
}

// Mesh configures a mesh of more than two nodes: frames carry source and
// destination node ids and a TTL, relays forward them by next-hop table
// without decrypting, and routes follow measured one-way latency.
type Mesh struct {
	// Mode is static, super or p2p (key mesh.mode, required).
	Mode MeshMode
	// ProbeInterval is the default keepalive of linked peers: each
	// keepalive is a probe that carries the sender's wall clock, and the
	// receiver's one-way delay estimate comes from it (key
	// mesh.probe_interval, default 1s, range 100ms..60s). A peer's own
	// keepalive key overrides it.
	ProbeInterval time.Duration
	// Filter is how many recent probes the median filter looks at (key
	// mesh.filter, default 5, range 1..63).
	Filter int
	// Tolerance is the hysteresis: the latency a node reports for a link
	// changes only when the filtered value moves further than this from it
	// (key mesh.tolerance, default 2ms, range 0..10s).
	Tolerance time.Duration
	// HopCost is added to every link's latency, so a relay path must save
	// at least this much per extra hop to be chosen (key mesh.hop_cost,
	// default 1ms, range 0..10s).
	HopCost time.Duration
	// ReportInterval is how often a node sends its measured latencies
	// (flooded in p2p and super mode) and a controller pushes tables, at
	// the latest; changes are sent at once (key mesh.report_interval,
	// default 1s, range 100ms..60s).
	ReportInterval time.Duration
	// FIBTimeout is how long a learned MAC address stays in the L2
	// forwarding table without traffic from it (key mesh.fib_timeout,
	// default 5m, range 1s..24h).
	FIBTimeout time.Duration
	// Controllers are the controller nodes of super mode (key
	// mesh.controllers, required there and only there): this node's id or
	// ids of peers. This node is a controller if its id is listed.
	Controllers []uint16
	// NextHops is this node's next-hop table in static mode (key
	// mesh.next_hops, a mapping destination id: next-hop id; static mode
	// only). Destinations not listed that are linked peers go direct;
	// others are unreachable. Every next hop must be a linked peer.
	NextHops map[uint16]uint16
}

// Mesh defaults.
const (
	DefaultProbeInterval  = time.Second
	DefaultFilter         = 5
	DefaultTolerance      = 2 * time.Millisecond
	DefaultHopCost        = time.Millisecond
	DefaultReportInterval = time.Second
	DefaultFIBTimeout     = 5 * time.Minute
)

// Linked reports whether the peer has underlay paths of its own (else it
// is reached through relays, in a mesh).
func (p Peer) Linked() bool { return len(p.Paths) > 0 }
