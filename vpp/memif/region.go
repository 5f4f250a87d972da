// SPDX-License-Identifier: Apache-2.0

package memif

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// A region is one shared-memory area: a memfd the client creates and
// passes in add-region, mapped by both sides.
type region struct {
	mem []byte
	fd  int // the client keeps its memfd until teardown; the server closes it after mapping (-1)
}

// newRegion creates a sealed memfd of size bytes (rounded up to a page)
// and maps it. Sealing against shrinking means the peer cannot truncate
// the file under our feet and turn our accesses into SIGBUS.
func newRegion(name string, size int) (*region, error) {
	pg := unix.Getpagesize()
	size = (size + pg - 1) &^ (pg - 1)
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memif: memfd_create: %w", err)
	}
	if err := unix.Ftruncate(fd, int64(size)); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("memif: region of %d bytes: ftruncate: %w", size, err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, sealRegions); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("memif: sealing the region: %w", err)
	}
	mem, err := unix.Mmap(fd, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("memif: mapping a region of %d bytes: %w", size, err)
	}
	return &region{mem: mem, fd: fd}, nil
}

// mapRegion maps a region the peer sent: fd of at least size bytes. The fd
// is closed in every case (the mapping keeps the memory).
func mapRegion(fd int, size uint64) (*region, error) {
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return nil, fmt.Errorf("fstat: %w", err)
	}
	// A hugetlbfs fd may report a size rounded up to its page; a file
	// shorter than announced would fault on access.
	if st.Size < 0 || uint64(st.Size) < size {
		return nil, fmt.Errorf("region file has %d bytes, fewer than the %d announced", st.Size, size)
	}
	if size > maxRegionSize {
		return nil, fmt.Errorf("region of %d bytes is larger than %d", size, uint64(maxRegionSize))
	}
	mem, err := unix.Mmap(fd, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap of %d bytes: %w", size, err)
	}
	return &region{mem: mem, fd: -1}, nil
}

// sealRegions are the seals a client's regions get: F_SEAL_SHRINK, or
// none in tests that play a peer shrinking its region under the server.
var sealRegions = unix.F_SEAL_SHRINK

// maxRegionSize bounds one mapped region: descriptor offsets are 32-bit.
const maxRegionSize = 1 << 32

func (r *region) close() {
	if r.mem != nil {
		unix.Munmap(r.mem)
		r.mem = nil
	}
	if r.fd >= 0 {
		unix.Close(r.fd)
		r.fd = -1
	}
}
