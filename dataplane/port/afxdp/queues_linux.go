// SPDX-License-Identifier: Apache-2.0

package afxdp

import (
	"fmt"

	"github.com/skiffnet/skiff/bpf"
	"github.com/vishvananda/netlink"
)

// openQueues opens a socket on each of the NIC's queues that gets one
// (want of them from queue 0, or with want 0 every queue in use), hands
// each to add as soon as it is open (so the caller closes it on a later
// error) and registers it with prog.
func openQueues(link netlink.Link, want int, copyOnly bool, prog *bpf.Program, add func(*socket)) error {
	for q := range queueCount(link, want) {
		s, err := openSocket(socketConfig{ifindex: link.Attrs().Index, queue: q, copyOnly: copyOnly})
		if err != nil && q > 0 && want == 0 {
			return nil // the NIC has fewer queues in use than it could have (veth)
		}
		if err != nil {
			return err
		}
		add(s)
		if err := prog.Register(q, s.fd); err != nil {
			return fmt.Errorf("queue %d: %w", q, err)
		}
	}
	return nil
}

// queueCount is how many queues may get a socket: want, or all the
// receive queues the NIC has, at most bpf.MaxQueues.
func queueCount(link netlink.Link, want int) int {
	n := link.Attrs().NumRxQueues
	if n < 1 {
		n = 1
	}
	if want > 0 && want < n {
		n = want
	}
	return min(n, bpf.MaxQueues)
}
