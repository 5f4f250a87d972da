// SPDX-License-Identifier: Apache-2.0

package tap

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/packet"
	"github.com/skiffnet/skiff/dataplane/port"
)

// Config describes the TAP device to create.
type Config struct {
	Name    string       // device to create, e.g. "skiff0" (at most 15 bytes)
	MTU     int          // 0 means 1500
	Address netip.Prefix // optional: address/prefix to add to the device (IPv4 or IPv6)
	Bridge  string       // optional: existing Linux bridge to enslave the device to (not with Address)
	Batch   int          // 0 means port.DefaultBatchSize
	// Offload opens the device with a virtio-net header on every frame
	// (IFF_VNET_HDR) and asks the kernel for TSO/USO super-frames with
	// partial checksums (TUNSETOFFLOAD): reads then return frames of up to
	// 64 KiB (use packets of buf.Large) with Meta.GSO set, and writes take
	// frames with Meta.GSO (the kernel segments them).
	Offload bool
}

// Stats are the port's counters since Open.
type Stats struct {
	RxFrames   uint64 // frames returned by ReadBatch
	RxBytes    uint64 // their bytes
	RxOversize uint64 // frames longer than the caller's packet (truncated by the read), dropped
	TxFrames   uint64 // frames written by WriteBatch
	TxBytes    uint64 // their bytes
	TxErrors   uint64 // frames the device refused (EINVAL, EMSGSIZE, ...), skipped
	RxSuper    uint64 // offload: super-frames read (GSO type set)
	TxSuper    uint64 // offload: super-frames written
	Offloads   string // offload: what TUNSETOFFLOAD accepted, e.g. "csum,tso4,tso6,ecn,uso"; "" without
}

// Errors Open wraps, for errors.Is.
var (
	ErrExists    = errors.New("link already exists")
	ErrNotFound  = errors.New("link not found")
	ErrNotBridge = errors.New("not a bridge")
)

const (
	// DefaultMTU is the device MTU when Config.MTU is 0.
	DefaultMTU = 1500
	// MaxMTU is the largest MTU whose frames, with a VLAN tag, fit a
	// default pool packet.
	MaxMTU = buf.MaxFrame - packet.EthernetHeaderLen - packet.VLANTagLen
	// ifNameSize is IFNAMSIZ: names have at most 15 bytes and a NUL.
	ifNameSize = 16
)

// normalize validates c and fills in defaults.
func (c Config) normalize() (Config, error) {
	if err := validName(c.Name); err != nil {
		return c, fmt.Errorf("tap: %q: %w", c.Name, err)
	}
	if c.MTU == 0 {
		c.MTU = DefaultMTU
	}
	if c.MTU < 68 || c.MTU > MaxMTU {
		return c, fmt.Errorf("tap: %s: mtu %d out of range 68..%d", c.Name, c.MTU, MaxMTU)
	}
	if c.Address.IsValid() && c.Bridge != "" {
		return c, fmt.Errorf("tap: %s: address %s and bridge %s are exclusive: a bridge port carries no address", c.Name, c.Address, c.Bridge)
	}
	if c.Bridge != "" {
		if err := validName(c.Bridge); err != nil {
			return c, fmt.Errorf("tap: %s: bridge %q: %w", c.Name, c.Bridge, err)
		}
	}
	if c.Batch == 0 {
		c.Batch = port.DefaultBatchSize
	}
	if c.Batch < 1 || c.Batch > 1024 {
		return c, fmt.Errorf("tap: %s: batch size %d out of range 1..1024", c.Name, c.Batch)
	}
	return c, nil
}

// validName applies the kernel's dev_valid_name rules, and refuses '%',
// which would let the kernel pick the name.
func validName(name string) error {
	switch {
	case name == "":
		return errors.New("empty interface name")
	case len(name) >= ifNameSize:
		return fmt.Errorf("interface name longer than %d bytes", ifNameSize-1)
	case name == "." || name == "..", strings.ContainsAny(name, "/:% \t\n\v\f\r"):
		return errors.New("invalid interface name")
	}
	return nil
}
