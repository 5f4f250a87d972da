// SPDX-License-Identifier: Apache-2.0

//go:build (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm) && linux

package bpf

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// bindXSK opens an AF_XDP socket in the calling thread's network
// namespace, bound in copy mode to queue 0 of ifindex: enough for an
// XSKMAP to take it. It has a UMEM and rings but never reads a frame.
// closeXSK closes the socket, then unmaps its UMEM.
func bindXSK(ifindex int) (fd int, closeXSK func(), err error) {
	const frames, frameSize = 16, 4096
	fd, err = unix.Socket(unix.AF_XDP, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, nil, fmt.Errorf("af_xdp socket: %w", err)
	}
	// The UMEM must be page-aligned, hence mmap.
	umem, err := unix.Mmap(-1, 0, frames*frameSize, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		unix.Close(fd)
		return -1, nil, fmt.Errorf("umem: %w", err)
	}
	closeXSK = func() {
		unix.Close(fd)
		unix.Munmap(umem)
	}
	defer func() {
		if err != nil {
			closeXSK()
		}
	}()
	reg := unix.XDPUmemReg{Addr: uint64(uintptr(unsafe.Pointer(&umem[0]))), Len: uint64(len(umem)), Size: frameSize}
	if _, _, e := unix.Syscall6(unix.SYS_SETSOCKOPT, uintptr(fd), unix.SOL_XDP, unix.XDP_UMEM_REG,
		uintptr(unsafe.Pointer(&reg)), unsafe.Sizeof(reg), 0); e != 0 {
		return -1, nil, fmt.Errorf("xdp_umem_reg: %w", e)
	}
	for _, ring := range []int{unix.XDP_UMEM_FILL_RING, unix.XDP_UMEM_COMPLETION_RING, unix.XDP_RX_RING} {
		if err := unix.SetsockoptInt(fd, unix.SOL_XDP, ring, frames); err != nil {
			return -1, nil, fmt.Errorf("xdp ring %d: %w", ring, err)
		}
	}
	if err := unix.Bind(fd, &unix.SockaddrXDP{Flags: unix.XDP_COPY, Ifindex: uint32(ifindex), QueueID: 0}); err != nil {
		return -1, nil, fmt.Errorf("bind af_xdp to ifindex %d queue 0: %w", ifindex, err)
	}
	return fd, closeXSK, nil
}
