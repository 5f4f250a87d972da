// SPDX-License-Identifier: Apache-2.0

//go:build !((386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm) && linux)

package bpf

import (
	"errors"
	"fmt"
	"io"

	"github.com/cilium/ebpf"
)

// Program is one of skiff's XDP programs; XDP exists only on Linux, and
// the committed objects only for little-endian CPUs.
type Program struct{}

// LoadUnderlay returns an error wrapping errors.ErrUnsupported.
func LoadUnderlay(udpPort uint16) (*Program, error) {
	return nil, fmt.Errorf("bpf: load underlay: %w", errors.ErrUnsupported)
}

// LoadLAN returns an error wrapping errors.ErrUnsupported.
func LoadLAN(vlans []uint16) (*Program, error) {
	return nil, fmt.Errorf("bpf: load lan: %w", errors.ErrUnsupported)
}

func (p *Program) Attach(ifindex int) (io.Closer, error)        { return nil, errors.ErrUnsupported }
func (p *Program) AttachGeneric(ifindex int) (io.Closer, error) { return nil, errors.ErrUnsupported }
func (p *Program) Register(queue int, fd int) error             { return errors.ErrUnsupported }
func (p *Program) Unregister(queue int) error                   { return errors.ErrUnsupported }
func (p *Program) Counters() ([]Counter, error)                 { return nil, errors.ErrUnsupported }
func (p *Program) Prog() *ebpf.Program                          { return nil }
func (p *Program) Close() error                                 { return nil }
