// SPDX-License-Identifier: Apache-2.0

package vppapi

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"

	"go.fd.io/govpp/binapi/memif"
)

// Tag marks what skiff created in VPP: the memif's interface tag and the
// tag of a bridge domain Attach created.
const Tag = "skiff"

// Defaults and limits of an AttachSpec.
const (
	DefaultRing   = 1024 // VPP's default ring size
	DefaultBuffer = 2048 // VPP's default buffer size
	DefaultMTU    = 1500
	DefaultQueues = 1

	MinRing, MaxRing     = 2, 16384 // memif: log2 ring size 1..14
	MinBuffer, MaxBuffer = 128, 65535
	MinMTU, MaxMTU       = 576, 9000
	MaxQueues            = 255
	MaxSecret            = 23        // memif: 24 bytes, NUL-terminated
	MaxBridge            = 1<<24 - 1 // VPP: bridge domain ids are 1..2^24-1
	maxSocketPath        = 107       // memif_socket_filename_details: string[108]
	maxIfName            = 63        // sw_interface_details: string[64]
	abstractPrefix       = "abstract:"
)

// Role is skiff's side of the memif; VPP takes the other one.
type Role uint8

const (
	// RoleServer: skiff listens on the socket (memif master) and VPP
	// connects as the slave.
	RoleServer Role = iota + 1
	// RoleClient: VPP listens (master) and skiff connects as the slave.
	RoleClient
)

// ParseRole parses "server" or "client" (or the memif names "master" and
// "slave").
func ParseRole(s string) (Role, error) {
	switch s {
	case "server", "master":
		return RoleServer, nil
	case "client", "slave":
		return RoleClient, nil
	}
	return 0, fmt.Errorf("%q: want server or client", s)
}

func (r Role) String() string {
	switch r {
	case RoleServer:
		return "server"
	case RoleClient:
		return "client"
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// vpp is the role VPP's end takes.
func (r Role) vpp() memif.MemifRole {
	if r == RoleServer {
		return memif.MEMIF_ROLE_API_SLAVE
	}
	return memif.MEMIF_ROLE_API_MASTER
}

// skiffRole is skiff's role opposite VPP's role vr.
func skiffRole(vr memif.MemifRole) Role {
	if vr == memif.MEMIF_ROLE_API_SLAVE {
		return RoleServer
	}
	return RoleClient
}

// vppRoleName is "master" or "slave".
func vppRoleName(vr memif.MemifRole) string {
	if vr == memif.MEMIF_ROLE_API_SLAVE {
		return "slave"
	}
	return "master"
}

// AttachSpec says which memif to create in VPP and where to attach it.
// The memif fields must match skiff's memif port (the socket, the id, the
// secret and the queues; the roles opposite). Zero sizes mean the
// defaults.
type AttachSpec struct {
	Socket   string           // socket file: an absolute path or "abstract:NAME"
	ID       uint32           // memif interface id on that socket
	Role     Role             // skiff's role; VPP's memif takes the other
	Secret   string           // shared secret, up to 23 bytes; empty: none
	Queues   int              // queues each way (VPP honours them only as the slave, i.e. RoleServer)
	Ring     int              // ring size, a power of two
	Buffer   int              // buffer size in bytes
	ZeroCopy bool             // let VPP as the slave use zero-copy (skiff must then map VPP's buffer regions)
	MAC      net.HardwareAddr // MAC of VPP's memif; nil: VPP picks one
	MTU      int              // MTU of VPP's memif (L3, IPv4, IPv6, MPLS)
	Bridge   uint32           // bridge domain to join (created if missing), or 0
	Xconnect string           // VPP interface to cross-connect with, or ""
}

// FieldError is a problem with one field of a spec. Field is the field's
// lower-case name, which is also the skiff vpp flag setting it.
type FieldError struct {
	Field string
	Msg   string
}

func (e *FieldError) Error() string { return e.Field + " " + e.Msg }

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// withDefaults fills the zero sizes: zero Queues, Ring, Buffer and MTU
// mean the defaults above.
func (s AttachSpec) withDefaults() AttachSpec {
	if s.Queues == 0 {
		s.Queues = DefaultQueues
	}
	if s.Ring == 0 {
		s.Ring = DefaultRing
	}
	if s.Buffer == 0 {
		s.Buffer = DefaultBuffer
	}
	if s.MTU == 0 {
		s.MTU = DefaultMTU
	}
	return s
}

// Validate returns every problem of the spec (after the defaults), joined;
// each is a *FieldError.
func (s AttachSpec) Validate() error {
	s = s.withDefaults()
	var errs []error
	if err := ValidSocket(s.Socket); err != nil {
		errs = append(errs, err)
	}
	if s.Role != RoleServer && s.Role != RoleClient {
		errs = append(errs, fieldErr("role", "missing: server or client"))
	}
	if len(s.Secret) > MaxSecret || strings.IndexByte(s.Secret, 0) >= 0 {
		errs = append(errs, fieldErr("secret", "must be at most %d bytes, without NUL", MaxSecret))
	}
	if s.Queues < 1 || s.Queues > MaxQueues {
		errs = append(errs, fieldErr("queues", "%d out of range 1..%d", s.Queues, MaxQueues))
	}
	if s.Ring < MinRing || s.Ring > MaxRing || s.Ring&(s.Ring-1) != 0 {
		errs = append(errs, fieldErr("ring", "%d: want a power of two in %d..%d", s.Ring, MinRing, MaxRing))
	}
	if s.Buffer < MinBuffer || s.Buffer > MaxBuffer {
		errs = append(errs, fieldErr("buffer", "%d out of range %d..%d", s.Buffer, MinBuffer, MaxBuffer))
	}
	if s.MTU < MinMTU || s.MTU > MaxMTU {
		errs = append(errs, fieldErr("mtu", "%d out of range %d..%d", s.MTU, MinMTU, MaxMTU))
	}
	if s.MAC != nil {
		switch {
		case len(s.MAC) != 6:
			errs = append(errs, fieldErr("mac", "%v: want a 6-byte Ethernet address", s.MAC))
		case s.MAC[0]&1 != 0:
			errs = append(errs, fieldErr("mac", "%v is a multicast address", s.MAC))
		case bytes.Equal(s.MAC, make([]byte, 6)):
			errs = append(errs, fieldErr("mac", "%v: all zero (leave it out to let VPP pick one)", s.MAC))
		}
	}
	switch {
	case s.Bridge != 0 && s.Xconnect != "":
		errs = append(errs, fieldErr("bridge", "and xconnect are mutually exclusive"))
	case s.Bridge == 0 && s.Xconnect == "":
		errs = append(errs, fieldErr("bridge", "or xconnect: give one (a bridge domain id, or the VPP interface to cross-connect with)"))
	case s.Bridge > MaxBridge:
		errs = append(errs, fieldErr("bridge", "%d out of range 1..%d", s.Bridge, MaxBridge))
	case len(s.Xconnect) > maxIfName || strings.IndexByte(s.Xconnect, 0) >= 0:
		errs = append(errs, fieldErr("xconnect", "%q: not a VPP interface name (at most %d bytes)", s.Xconnect, maxIfName))
	}
	return errors.Join(errs...)
}

// ValidSocket checks a memif socket file name: an absolute path, or
// "abstract:NAME" (a Linux abstract socket; VPP understands the prefix).
// Relative paths are refused: VPP would put them in its own run-time
// directory, and the name would no longer match for detach. The error is
// a *FieldError for "socket".
func ValidSocket(s string) error {
	switch {
	case s == "":
		return fieldErr("socket", "missing: an absolute path or abstract:NAME")
	case len(s) > maxSocketPath:
		return fieldErr("socket", "%q longer than %d bytes", s, maxSocketPath)
	case strings.IndexByte(s, 0) >= 0:
		return fieldErr("socket", "%q contains a NUL byte", s)
	case strings.HasPrefix(s, abstractPrefix):
		if len(s) == len(abstractPrefix) {
			return fieldErr("socket", "%q: empty abstract name", s)
		}
	case !filepath.IsAbs(s):
		return fieldErr("socket", "%q: want an absolute path or abstract:NAME", s)
	}
	return nil
}

// cleanSocket is the form skiff registers and looks for: a cleaned path,
// or the abstract name unchanged.
func cleanSocket(s string) string {
	if strings.HasPrefix(s, abstractPrefix) || s == "" {
		return s
	}
	return filepath.Clean(s)
}
