// SPDX-License-Identifier: Apache-2.0

//go:build !linux

package tap

import (
	"errors"
	"fmt"

	"github.com/skiffnet/skiff/dataplane/buf"
	"github.com/skiffnet/skiff/dataplane/port"
)

// Port is a TAP port; this package supports only Linux.
type Port struct{}

var _ port.Port = (*Port)(nil)

// Open validates c and returns an error wrapping errors.ErrUnsupported.
func Open(c Config) (*Port, error) {
	if _, err := c.normalize(); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("tap: %s: %w", c.Name, errors.ErrUnsupported)
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
