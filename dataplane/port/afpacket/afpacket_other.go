// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package afpacket

import (
	"errors"
	"fmt"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/port"
)

// Port is an AF_PACKET port; AF_PACKET exists only on Linux.
type Port struct{}

var _ port.Port = (*Port)(nil)

// Open returns an error wrapping errors.ErrUnsupported.
func Open(c Config) (*Port, error) {
	return nil, fmt.Errorf("afpacket: %s: %w", c.Name, errors.ErrUnsupported)
}

// Name returns "".
func (p *Port) Name() string { return "" }

// BatchSize implements port.Port.
func (p *Port) BatchSize() int { return port.DefaultBatchSize }

// Stats returns zero counters.
func (p *Port) Stats() Stats { return Stats{} }

// ReadBatch implements port.Port.
func (p *Port) ReadBatch([]*buf.Packet) (int, error) { return 0, errors.ErrUnsupported }

// WriteBatch implements port.Port.
func (p *Port) WriteBatch([]*buf.Packet) (int, error) { return 0, errors.ErrUnsupported }

// Close implements port.Port.
func (p *Port) Close() error { return nil }
