// SPDX-License-Identifier: Apache-2.0

package conf

// Example is a commented config with every key, printed by skiff example.
// It is site A of a two-site tunnel; Parse accepts it as it is.
const Example = `# skiff node config, schema version 1.
# Durations are strings such as "250ms", "3s", "2m"; sizes are integers of
# bytes. Unknown and duplicate keys are errors. A key left out, or given an
# empty value, takes its default. Relative file paths are resolved against
# the directory of this file.

# Schema version (required). Must be 1.
version: 1

# This node.
node:
  # Name (required): 1..32 characters from A-Z a-z 0-9 . _ -
  name: site-a
  # Node id carried in every skiff header (required): 1..65519, unique in
  # the network. 65520..65535 are reserved.
  id: 1

# The pre-shared key of the network: exactly one of key, key_file and
# passphrase. Every node of the network uses the same one. It authenticates
# the handshakes; traffic is encrypted with per-session keys. Required when
# any peer uses codec skiff.
psk:
  # A base64 key of 32 bytes as printed by "skiff keygen".
  # THIS IS A PUBLIC EXAMPLE KEY: replace it with the output of skiff keygen.
  key: "c2tpZmYgZXhhbXBsZSBrZXkgLSByZXBsYWNlIG1lISE="
  # Or: a file that holds such a key, read when the config is loaded.
  # key_file: /etc/skiff/psk
  # Or: a long passphrase; the key is derived from it with Argon2id
  # (19 MiB of memory, once at start-up).
  # passphrase: "correct horse battery staple and some more words"

# Cipher suite of skiff sessions: none, aes-128-gcm, aes-192-gcm,
# aes-256-gcm or chacha20-poly1305 (for CPUs without AES instructions).
# "none" has neither encryption nor integrity: benchmarks and trusted links
# only. vxlan peers ignore it. Default aes-256-gcm.
suite: aes-256-gcm

# Compress frames with LZ4 before encryption, when that makes them smaller.
# Not allowed with vxlan peers. Default false.
lz4: false

# Start a new session key after this long. 10s..24h, default 2m.
rekey_after: 2m

# The L2 side (required): where the frames to carry come from.
local:
  # tap: a TAP device that skiff creates (EthUDP -i and -b),
  # afpacket: an existing NIC whose frames are carried raw (EthUDP -e),
  # afxdp: an existing NIC read through AF_XDP sockets fed by skiff's XDP
  # program, the fast path (falls back to afpacket, with a log line, where
  # XDP cannot attach), or
  # memif: a VPP router's memif interface (shared memory), set up below.
  type: tap
  # tap: the name of the device to create, default skiff0.
  # afpacket, afxdp: the NIC to attach to (required). At most 15 characters.
  name: skiff0
  # tap only, optional: an address and prefix length for the device, IPv4
  # or IPv6.
  address: 10.99.0.1/24
  # tap only, optional: enslave the device to this existing Linux bridge
  # instead of giving it an address (not both).
  # bridge: br0
  # tap only: the device's MTU, 576..9000, default 1500.
  mtu: 1500
  # afpacket and afxdp: put the NIC in promiscuous mode, default true.
  # promisc: true
  # afxdp only, optional: carry only the frames of these VLANs (outer tag,
  # ids 1..4094); the NIC's other frames stay with the kernel.
  # vlans: [10, 20]
  # afxdp only: how many NIC queues (from 0) get a socket and a worker;
  # 0..64, default 0 = every receive queue.
  # queues: 0
  # memif only (and required there): a memif interface to a VPP router or
  # another memif peer (type: memif; name, address, mtu and the other keys
  # above are not used). See "Attaching skiff to a VPP router" in the README.
  # memif:
  #   # The control socket: a path (relative to this file), or @name /
  #   # abstract:name for an abstract socket. Required.
  #   socket: /run/skiff/memif.sock
  #   # The interface id both ends name, default 0.
  #   id: 0
  #   # server: skiff listens and the peer (VPP) connects, the default;
  #   # client: skiff connects (and reconnects) and owns the shared memory.
  #   role: server
  #   # Optional, at most 23 bytes; must match the peer's.
  #   secret: ""
  #   # Queue pairs, 1..16, default 1.
  #   queues: 1
  #   # Client only: slots per ring (power of two 2..16384, default 1024)
  #   # and bytes per buffer (128..65535, default 2048; longer frames are
  #   # chained over several buffers).
  #   ring_size: 1024
  #   buffer_size: 2048
  #   # interrupt (sleep until the peer kicks, the default) or poll (spin;
  #   # lowest latency, one busy core per queue).
  #   mode: interrupt

# The UDP side.
underlay:
  # udp (kernel UDP sockets, the default) or afxdp: skiff's XDP program
  # steers skiff's UDP port on interface to AF_XDP sockets, skiff builds
  # the outer headers itself (falls back to udp, with a log line, where XDP
  # cannot attach). afxdp takes exactly one listen address.
  # type: udp
  # afxdp only (required there): the NIC the underlay traffic uses.
  # interface: eth0
  # afxdp only: NIC queues that get a socket, 0..64, default 0 = all.
  # queues: 0
  # Local addresses to listen on and send from, each address:port with a
  # port in 1..65535; [::]:4800 for IPv6. Default ["0.0.0.0:4800"].
  listen: ["0.0.0.0:4800"]
  # Path MTU of the underlay: the largest IP packet skiff sends.
  # 576..65535, default 1500.
  mtu: 1500
  # What to do with frames whose encapsulation exceeds mtu:
  # fragment (split into pieces, each sealed on its own), clamp (lower the
  # MSS of TCP connections so their segments fit; drop other frames that do
  # not fit) or none (drop what does not fit). Default fragment.
  mtu_policy: fragment
  # TCP MSS clamp for SYN and SYN-ACK segments, both directions. 0 means
  # automatic: computed from the local MTU when mtu_policy is clamp, off
  # otherwise. Else 88..65495. Default 0.
  mss: 0
  # SO_RCVBUF and SO_SNDBUF of the UDP sockets in bytes: the kernel's
  # default drops bursts. 65536..268435456, default 4194304 (4 MiB).
  socket_buffer: 4194304

# Optional: a VLAN map file, the format of EthUDP's vlanmap.txt: lines of
# "LOCAL REMOTE" VLAN ids, where REMOTE is the id carried on the wire; '#'
# starts a comment. It rewrites the 802.1Q tag (the C-tag of 802.1ad
# frames). Read when the config is loaded.
# vlan_map: /etc/skiff/vlanmap.txt

# The other nodes (at least one; more than one needs the mesh section
# below, and a mesh node lists every other node of the mesh).
peers:
    # Name (required, unique), same characters as node.name.
  - name: site-b
    # The peer's node id (required, unique, not node.id), 1..65519.
    id: 2
    # skiff (authenticated and encrypted, the default) or vxlan (plaintext
    # RFC 7348 VXLAN, to a Linux vxlan device or a VPP vxlan tunnel).
    codec: skiff
    # vxlan only, and required there: the VXLAN network id, 0..16777215.
    # vni: 42
    # Underlay paths to the peer (at least one). Traffic uses the first live
    # path in this order; the others are fail-over paths. In a mesh a peer
    # may have none: it is then reached through relays (other nodes).
    paths:
        # The peer's address:port. 0.0.0.0:0 (or [::]:0) learns the peer's
        # address from authenticated traffic, for a peer behind NAT. One half
        # may be pinned while the other is learned: 198.51.100.2:0 accepts
        # that host from any port. vxlan peers need a full address.
      - remote: 192.0.2.2:4800
        # Optional: which underlay.listen address to send from. Default:
        # the first listen address of the remote's IP family.
        local: 0.0.0.0:4800
    # Interval of keepalives on every path. 100ms..60s, default 1s (in a
    # mesh, mesh.probe_interval).
    # (vxlan peers have no keepalives: leave it and dead_after out.)
    keepalive: 1s
    # A path that has been silent this long is dead and traffic moves to
    # the next live path. More than keepalive, at most 10m, default 3s.
    dead_after: 3s

# Optional: make this node one of a mesh of more than two nodes. Frames
# then carry source and destination node ids and a TTL, nodes without a
# link of their own are reached through relays (which forward without
# decrypting), and routes follow the measured one-way latency. A mesh node
# may have many peers; all of them must use codec skiff. Every node of a
# mesh uses the same mode. See conf/examples/mesh-*.yaml and "A mesh of
# sites" in the README.
# mesh:
#   # static (next hops from next_hops below), super (controller nodes
#   # compute the routes and push them) or p2p (every node floods its link
#   # latencies and computes its own routes). Required.
#   mode: p2p
#   # Default keepalive of linked peers; every keepalive is a probe that
#   # carries the sender's wall clock for a one-way delay estimate.
#   # 100ms..60s, default 1s.
#   probe_interval: 1s
#   # Probes the median filter looks at. 1..63, default 5.
#   filter: 5
#   # Hysteresis: a link's reported delay changes only when the filtered
#   # delay moves more than this from it. 0..10s, default 2ms.
#   tolerance: 2ms
#   # Added to every link's delay: a relay path must save more than this
#   # per extra hop. 0..10s, default 1ms.
#   hop_cost: 1ms
#   # Latencies are flooded (and controllers push routes) at least this
#   # often; changes go out at once. 100ms..60s, default 1s.
#   report_interval: 1s
#   # How long a learned MAC address stays in the L2 forwarding table
#   # without frames from it. 1s..24h, default 5m.
#   fib_timeout: 5m
#   # super mode only, and required there: the controller node ids (this
#   # node's id or peers'). Nodes follow the lowest-id controller heard
#   # from recently.
#   controllers: [1, 2]
#   # static mode only: destination id: next-hop id. Next hops must be
#   # peers with paths; peers with paths not listed go direct, other
#   # destinations not listed are unreachable.
#   next_hops: {3: 2}

# The control socket that the skiff CLI talks to.
control:
  # Default /run/skiff/NAME.sock, NAME being node.name.
  socket: /run/skiff/site-a.sock

# Logging.
log:
  # debug, info, warn or error. Default info.
  level: info
`
