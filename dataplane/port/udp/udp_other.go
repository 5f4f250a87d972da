// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package udp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"

	"github.com/skiffnet/skiff/dataplane/buf"
)

// Port is a UDP underlay port. It exists only on Linux.
type Port struct{}

// Listen returns an error: the UDP port needs Linux.
func Listen(c Config) (*Port, error) {
	return nil, fmt.Errorf("udp: listen %v: %w on %s", c.Addr, errors.ErrUnsupported, runtime.GOOS)
}

func (p *Port) ReadBatch([]*buf.Packet) (int, error)  { return 0, net.ErrClosed }
func (p *Port) WriteBatch([]*buf.Packet) (int, error) { return 0, net.ErrClosed }
func (p *Port) BatchSize() int                        { return 0 }
func (p *Port) Close() error                          { return nil }
func (p *Port) LocalAddr() netip.AddrPort             { return netip.AddrPort{} }
func (p *Port) Stats() Stats                          { return Stats{} }
