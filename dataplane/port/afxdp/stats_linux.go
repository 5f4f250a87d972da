// SPDX-License-Identifier: Apache-2.0

package afxdp

import "github.com/skiffnet/skiff/bpf"

// Stats are a port's counters since it was opened, summed over its queues.
type Stats struct {
	Mode   string // how the sockets are bound: copy or zero-copy, need-wakeup, multi-buffer
	Queues int    // sockets, one per NIC queue

	RxFrames   uint64 // frames returned by ReadBatch (underlay: datagrams)
	RxBytes    uint64 // their bytes
	RxOversize uint64 // frames longer than the caller's packet, dropped
	TxFrames   uint64 // frames queued on the tx rings
	TxBytes    uint64 // their bytes
	TxFull     uint64 // frames dropped because the device gave no chunk back in time
	TxErrors   uint64 // frames too long for the port, or refused
	// TxBadOffload counts super-frames whose offload header does not
	// describe them, dropped (LAN).
	TxBadOffload uint64
	BadDescs     uint64 // descriptors for chunks the kernel did not hold: ignored
	Kicks        uint64 // sendto calls that made the kernel transmit
	Wakeups      uint64 // fill-ring need-wakeup calls

	// From the kernel (XDP_STATISTICS).
	KernelRxDropped   uint64 `json:",omitempty"`
	KernelRxRingFull  uint64 `json:",omitempty"`
	KernelFillEmpty   uint64 `json:",omitempty"`
	KernelInvalidDesc uint64 `json:",omitempty"`

	// The XDP program's verdicts by reason (redirected, passed to the
	// kernel and why).
	XDP map[string]uint64 `json:",omitempty"`

	Underlay *UnderlayStats `json:",omitempty"`
}

func (st *Stats) add(s *socket) {
	st.Mode = s.mode()
	st.Queues++
	c := &s.stats
	st.RxFrames += c.rxFrames.Load()
	st.RxBytes += c.rxBytes.Load()
	st.RxOversize += c.rxOversize.Load()
	st.TxFrames += c.txFrames.Load()
	st.TxBytes += c.txBytes.Load()
	st.TxFull += c.txFull.Load()
	st.TxErrors += c.txErrors.Load()
	st.BadDescs += c.badDescs.Load()
	st.Kicks += c.kicks.Load()
	st.Wakeups += c.wakeups.Load()
	if k, err := s.kernelStats(); err == nil {
		st.KernelRxDropped += k.Rx_dropped
		st.KernelRxRingFull += k.Rx_ring_full
		st.KernelFillEmpty += k.Rx_fill_ring_empty_descs
		st.KernelInvalidDesc += k.Rx_invalid_descs + k.Tx_invalid_descs
	}
}

// programCounters reads the program's per-reason counters, keyed
// "verdict/reason" (redirect/redirected, pass/other_port, ...).
func programCounters(p *bpf.Program) map[string]uint64 {
	if p == nil {
		return nil
	}
	cs, err := p.Counters()
	if err != nil {
		return nil
	}
	m := make(map[string]uint64, len(cs))
	for _, c := range cs {
		m[c.Verdict+"/"+c.Reason] = c.N
	}
	return m
}
