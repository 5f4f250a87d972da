// SPDX-License-Identifier: Apache-2.0

//go:build (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm) && linux

package bpf

import (
	"errors"
	"fmt"
	"io"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/cilium/ebpf/rlimit"
	"golang.org/x/sys/unix"
)

// reason names one value of a program's reason enum.
type reason struct {
	name    string
	verdict string
}

// The names of enum underlay_reason (underlay.c), indexed by its values.
var underlayReasons = [underlayUnderlayReasonUNDERLAY_NREASONS]reason{
	underlayUnderlayReasonUNDERLAY_REDIRECTED:     {"redirected", VerdictRedirect},
	underlayUnderlayReasonUNDERLAY_NO_SOCKET:      {"no_socket", VerdictPass},
	underlayUnderlayReasonUNDERLAY_NOT_IP:         {"not_ip", VerdictPass},
	underlayUnderlayReasonUNDERLAY_NOT_UDP:        {"not_udp", VerdictPass},
	underlayUnderlayReasonUNDERLAY_OTHER_PORT:     {"other_port", VerdictPass},
	underlayUnderlayReasonUNDERLAY_IP_FRAGMENT:    {"ip_fragment", VerdictPass},
	underlayUnderlayReasonUNDERLAY_IPV6EXT_HEADER: {"ipv6_ext_header", VerdictPass},
	underlayUnderlayReasonUNDERLAY_TRUNCATED:      {"truncated", VerdictPass},
}

// The names of enum lan_reason (lan.c), indexed by its values.
var lanReasons = [lanLanReasonLAN_NREASONS]reason{
	lanLanReasonLAN_REDIRECTED:    {"redirected", VerdictRedirect},
	lanLanReasonLAN_NO_SOCKET:     {"no_socket", VerdictPass},
	lanLanReasonLAN_VLAN_FILTERED: {"vlan_filtered", VerdictPass},
	lanLanReasonLAN_TRUNCATED:     {"truncated", VerdictPass},
}

// Program is one of skiff's XDP programs loaded into the kernel, with its
// socket map and counters. Its methods but Close may be called
// concurrently.
type Program struct {
	name     string // "underlay" or "lan", for errors
	prog     *ebpf.Program
	xsks     *ebpf.Map
	counters *ebpf.Map
	reasons  []reason
	objs     io.Closer
}

// LoadUnderlay loads skiff_underlay, which redirects UDP datagrams to
// udpPort to the sockets and passes every other frame to the kernel.
func LoadUnderlay(udpPort uint16) (*Program, error) {
	if udpPort == 0 {
		return nil, errors.New("bpf: underlay: udp port 0")
	}
	spec, err := loadUnderlay()
	if err != nil {
		return nil, fmt.Errorf("bpf: %w", err)
	}
	var specs underlaySpecs
	if err := spec.Assign(&specs); err != nil {
		return nil, fmt.Errorf("bpf: underlay: %w", err)
	}
	if err := specs.UdpPort.Set(udpPort); err != nil {
		return nil, fmt.Errorf("bpf: underlay: set udp_port: %w", err)
	}
	var objs underlayObjects
	if err := load(spec, &objs); err != nil {
		return nil, fmt.Errorf("bpf: load underlay: %w", err)
	}
	return &Program{
		name:     "underlay",
		prog:     objs.SkiffUnderlay,
		xsks:     objs.Xsks,
		counters: objs.Counters,
		reasons:  underlayReasons[:],
		objs:     &objs,
	}, nil
}

// LoadLAN loads skiff_lan, which redirects every frame to the sockets or,
// when vlans is not empty, only frames whose outer 802.1Q/802.1ad tag has
// one of these VLAN ids (1 to 4094); untagged and other frames pass to the
// kernel.
func LoadLAN(vlans []uint16) (*Program, error) {
	for _, id := range vlans {
		if id < 1 || id > 4094 {
			return nil, fmt.Errorf("bpf: lan: vlan id %d not in 1..4094", id)
		}
	}
	spec, err := loadLan()
	if err != nil {
		return nil, fmt.Errorf("bpf: %w", err)
	}
	var specs lanSpecs
	if err := spec.Assign(&specs); err != nil {
		return nil, fmt.Errorf("bpf: lan: %w", err)
	}
	if len(vlans) > 0 {
		if err := specs.VlanFilter.Set(uint8(1)); err != nil {
			return nil, fmt.Errorf("bpf: lan: set vlan_filter: %w", err)
		}
	}
	var objs lanObjects
	if err := load(spec, &objs); err != nil {
		return nil, fmt.Errorf("bpf: load lan: %w", err)
	}
	for _, id := range vlans {
		if err := objs.Vlans.Put(uint32(id), uint8(1)); err != nil {
			objs.Close()
			return nil, fmt.Errorf("bpf: lan: list vlan %d: %w", id, err)
		}
	}
	return &Program{
		name:     "lan",
		prog:     objs.SkiffLan,
		xsks:     objs.Xsks,
		counters: objs.Counters,
		reasons:  lanReasons[:],
		objs:     &objs,
	}, nil
}

// load loads a collection into objs. Verifier errors stay reachable with
// errors.As(err, new(*ebpf.VerifierError)).
func load(spec *ebpf.CollectionSpec, objs any) error {
	// Only kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK.
	if err := rlimit.RemoveMemlock(); err != nil {
		return err
	}
	return spec.LoadAndAssign(objs, nil)
}

// Attach attaches the program to the device ifindex (in the calling
// thread's network namespace) in native (driver) mode. The error wraps
// ErrNoNativeXDP when the driver has none, or none for frames as large as
// the device's MTU allows (a driver without multi-buffer XDP above about
// 3.5 KB). Closing the returned link detaches the program.
func (p *Program) Attach(ifindex int) (io.Closer, error) {
	l, err := link.AttachXDP(link.XDPOptions{Program: p.prog, Interface: ifindex, Flags: link.XDPDriverMode})
	switch {
	case errors.Is(err, unix.EOPNOTSUPP):
		return nil, fmt.Errorf("bpf: attach %s to ifindex %d: %w: %w", p.name, ifindex, ErrNoNativeXDP, err)
	case errors.Is(err, unix.ERANGE): // the MTU needs multi-buffer XDP the driver lacks
		return nil, fmt.Errorf("bpf: attach %s to ifindex %d: %w at this MTU: %w", p.name, ifindex, ErrNoNativeXDP, err)
	case err != nil:
		return nil, fmt.Errorf("bpf: attach %s to ifindex %d: %w", p.name, ifindex, err)
	}
	return l, nil
}

// AttachGeneric attaches the program to the device ifindex in generic
// (skb) mode, which every device has, at any MTU, but which runs after the
// kernel has built an skb. Closing the returned link detaches the program.
func (p *Program) AttachGeneric(ifindex int) (io.Closer, error) {
	l, err := link.AttachXDP(link.XDPOptions{Program: p.prog, Interface: ifindex, Flags: link.XDPGenericMode})
	if err != nil {
		return nil, fmt.Errorf("bpf: attach %s (generic) to ifindex %d: %w", p.name, ifindex, err)
	}
	return l, nil
}

// Register puts the AF_XDP socket fd, bound to the device's receive queue
// queue, into the program's socket map: frames the program redirects on
// that queue go to it. The kernel takes only a bound socket.
func (p *Program) Register(queue int, fd int) error {
	if queue < 0 || queue >= MaxQueues {
		return fmt.Errorf("bpf: %s: register queue %d: not in 0..%d", p.name, queue, MaxQueues-1)
	}
	if fd < 0 {
		return fmt.Errorf("bpf: %s: register queue %d: bad fd %d", p.name, queue, fd)
	}
	if err := p.xsks.Update(uint32(queue), uint32(fd), ebpf.UpdateAny); err != nil {
		return fmt.Errorf("bpf: %s: register queue %d: %w", p.name, queue, err)
	}
	return nil
}

// Unregister empties the queue's slot: its frames pass to the kernel
// again. An empty slot is not an error.
func (p *Program) Unregister(queue int) error {
	if queue < 0 || queue >= MaxQueues {
		return fmt.Errorf("bpf: %s: unregister queue %d: not in 0..%d", p.name, queue, MaxQueues-1)
	}
	err := p.xsks.Delete(uint32(queue))
	if err != nil && !errors.Is(err, ebpf.ErrKeyNotExist) {
		return fmt.Errorf("bpf: %s: unregister queue %d: %w", p.name, queue, err)
	}
	return nil
}

// Counters returns the program's per-reason totals, summed over CPUs, in
// the order of its reason enum.
func (p *Program) Counters() ([]Counter, error) {
	cs := make([]Counter, len(p.reasons))
	var perCPU []uint64
	for i, r := range p.reasons {
		if err := p.counters.Lookup(uint32(i), &perCPU); err != nil {
			return nil, fmt.Errorf("bpf: %s: counter %s: %w", p.name, r.name, err)
		}
		cs[i] = Counter{Reason: r.name, Verdict: r.verdict}
		for _, n := range perCPU {
			cs[i].N += n
		}
	}
	return cs, nil
}

// Prog returns the loaded program, e.g. for Program.Run in tests. It is
// closed by Close.
func (p *Program) Prog() *ebpf.Program { return p.prog }

// Close unloads the program and its maps. A link from Attach keeps the
// program attached until the link is closed too.
func (p *Program) Close() error {
	if err := p.objs.Close(); err != nil {
		return fmt.Errorf("bpf: close %s: %w", p.name, err)
	}
	return nil
}
