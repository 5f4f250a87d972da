// SPDX-License-Identifier: Apache-2.0

package memif

import (
	"errors"
	"runtime/debug"

	"github.com/skiffnet/skiff/dataplane/buf"
)

// A server maps the client's regions, and a client may shrink a region's
// file (or offer one it never sealed) under us: our next access to the
// lost pages raises SIGBUS, which would kill the whole daemon. Every
// access to a peer's memory therefore runs shielded: the goroutine's
// faults become panics (debug.SetPanicOnFault), which caught recovers and
// turns into a dead session, counted in Stats.MemFaults. The cost is two
// runtime calls and a deferred call per batch.

// errMemFault names the fault in the session's last error.
var errMemFault = errors.New("shared memory fault: the peer shrank or unmapped a region")

// caught restores the goroutine's fault setting and sets *faulted if a
// fault on memory panicked; any other panic goes on. It must be the
// deferred function itself (recover works only there):
//
//	defer caught(debug.SetPanicOnFault(true), &faulted)
func caught(old bool, faulted *bool) {
	debug.SetPanicOnFault(old)
	if e := recover(); e != nil {
		if _, ok := e.(interface{ Addr() uintptr }); !ok {
			panic(e)
		}
		*faulted = true
	}
}

// shielded runs fn, off the data path, and returns errMemFault if it
// faulted on memory.
func shielded(fn func() error) (err error) {
	faulted := false
	defer func() {
		if faulted {
			err = errMemFault
		}
	}()
	defer caught(debug.SetPanicOnFault(true), &faulted)
	return fn()
}

// recvShielded is recv; a fault returns 0 frames and true.
func (s *session) recvShielded(r *ring, pkts []*buf.Packet) (n int, faulted bool) {
	defer caught(debug.SetPanicOnFault(true), &faulted)
	return s.recv(r, pkts), false
}

// sendShielded is send; a fault returns 0 and true.
func (s *session) sendShielded(r *ring, pkts []*buf.Packet) (n int, faulted bool) {
	defer caught(debug.SetPanicOnFault(true), &faulted)
	return s.send(r, pkts), false
}

// fault takes s off the data path after an access to its memory faulted;
// the caller holds a ring's lock. The peer is told, and closing the
// control socket makes the connection's watcher tear s down.
func (f *Interface) fault(s *session) {
	f.st.MemFaults.Add(1)
	if s.dead.Swap(true) {
		return
	}
	s.faulted.Store(true)
	sendMsg(s.ctl, &Msg{Type: MsgDisconnect, Reason: errMemFault.Error()}, -1)
	s.ctl.Close()
}
