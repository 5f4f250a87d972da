// SPDX-License-Identifier: Apache-2.0

package bpf

import "errors"

// MaxQueues is how many receive queues a program serves: its XSKMAP has
// one socket slot per queue, 0 to MaxQueues-1.
const MaxQueues = 64

// Verdicts a Counter can have.
const (
	VerdictRedirect = "redirect" // to the queue's AF_XDP socket
	VerdictPass     = "pass"     // on to the kernel's stack
)

// Counter is how many frames one reason sent one way, summed over CPUs.
type Counter struct {
	Reason  string // e.g. "redirected", "other_port"
	Verdict string // VerdictRedirect or VerdictPass
	N       uint64
}

// ErrNoNativeXDP is wrapped by Attach when the device's driver has no
// native XDP, or none at the device's MTU; the caller can fall back to
// AttachGeneric.
var ErrNoNativeXDP = errors.New("driver has no native XDP")
