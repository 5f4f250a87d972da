// SPDX-License-Identifier: Apache-2.0

package traffic

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/skiffnet/skiff/dataplane/port/udp"
)

// Modes of the echo results.
const (
	ModeEcho = "echo"
	ModeRTT  = "rtt"
)

// ProbeWait is how long EchoProbe waits for answers after its last probe.
const ProbeWait = time.Second

// EchoResult is what the echo server reflected.
type EchoResult struct {
	Mode   string `json:"mode"` // ModeEcho
	Echoed int64  `json:"echoed"`
	Bytes  int64  `json:"bytes"`
}

func (r EchoResult) String() string {
	return fmt.Sprintf("echo: echoed %d datagrams, %d bytes", r.Echoed, r.Bytes)
}

// EchoServe sends every datagram arriving on p back to its source,
// unchanged, until ctx is done (a normal end, not an error). It closes p.
// It allocates nothing per datagram: the batch read is the batch written.
func EchoServe(ctx context.Context, p *udp.Port) (EchoResult, error) {
	defer p.Close()
	stop := context.AfterFunc(ctx, func() { p.Close() })
	defer stop()
	res := EchoResult{Mode: ModeEcho}
	pkts := newPackets(batchSize, maxRecv)
	for {
		n, err := p.ReadBatch(pkts)
		if err == nil {
			// Addr is the source: the destination of the answer.
			n, err = p.WriteBatch(pkts[:n])
			res.Echoed += int64(n)
			for _, pk := range pkts[:n] {
				res.Bytes += int64(pk.Len())
			}
		}
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return res, nil
			}
			return res, err
		}
	}
}

// ProbeOptions says what EchoProbe sends.
type ProbeOptions struct {
	Count    int           // probes; 0 means 1000
	Interval time.Duration // between probes; 0 means 1ms
	Size     int           // UDP payload, ProbeLen to MaxDatagram; less means ProbeLen
}

// RTTResult are the round-trip times of the probes that came back, in
// microseconds.
type RTTResult struct {
	Mode    string  `json:"mode"` // ModeRTT
	Samples int     `json:"samples"`
	Lost    int     `json:"lost"` // probes sent - Samples
	P50     float64 `json:"p50_us"`
	P90     float64 `json:"p90_us"`
	P99     float64 `json:"p99_us"`
	Max     float64 `json:"max_us"`
	Min     float64 `json:"min_us"`
}

func (r RTTResult) String() string {
	return fmt.Sprintf("rtt: %d of %d probes answered (%d lost), µs min %.1f p50 %.1f p90 %.1f p99 %.1f max %.1f",
		r.Samples, r.Samples+r.Lost, r.Lost, r.Min, r.P50, r.P90, r.P99, r.Max)
}

// EchoProbe sends opts.Count probes opts.Interval apart to the echo server
// at addr (host:port), each with its sequence number and monotonic send
// time, and waits up to ProbeWait after the last for the answers. A probe
// answered twice counts once; an answer of an unknown run or sequence is
// ignored. When ctx is done it stops sending, waits no more and reports
// what it has: the unsent probes count as lost.
func EchoProbe(ctx context.Context, addr string, opts ProbeOptions) (RTTResult, error) {
	res := RTTResult{Mode: ModeRTT}
	count := opts.Count
	if count <= 0 {
		count = 1000
	}
	interval := opts.Interval
	if interval <= 0 {
		interval = time.Millisecond
	}
	size := max(opts.Size, ProbeLen)
	if size > MaxDatagram {
		return res, fmt.Errorf("probe size %d above %d", size, MaxDatagram)
	}
	p, dst, err := dialUDP(addr)
	if err != nil {
		return res, err
	}
	defer p.Close()

	run := newRunID()
	base := time.Now()
	rtts := make([]time.Duration, count) // 0: no answer yet
	allIn := make(chan struct{})
	readDone := make(chan error, 1)
	go func() {
		pkts := newPackets(batchSize, maxRecv)
		got := 0
		for {
			n, err := p.ReadBatch(pkts)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					err = nil
				}
				readDone <- err
				return
			}
			now := time.Since(base)
			for _, pk := range pkts[:n] {
				b := pk.Data()
				h, ok := parseHeader(b)
				if !ok || h.magic != MagicProbe || h.run != run || h.seq >= uint64(count) || len(b) < ProbeLen || rtts[h.seq] != 0 {
					continue
				}
				sent := time.Duration(binary.BigEndian.Uint64(b[HeaderLen:ProbeLen]))
				rtts[h.seq] = max(now-sent, 1)
				if got++; got == count {
					close(allIn)
				}
			}
		}
	}()

	probe := newPackets(1, size)
	probe[0].SetLen(size)
	probe[0].Addr = dst
	b := probe[0].Data()
	sl := newSleeper(ctx)
	undo := preciseThread()
	sent := 0
	for i := 0; i < count && ctx.Err() == nil; i++ {
		sl.until(base.Add(time.Duration(i) * interval))
		putHeader(b, header{magic: MagicProbe, run: run, seq: uint64(i)})
		binary.BigEndian.PutUint64(b[HeaderLen:ProbeLen], uint64(time.Since(base)))
		if _, err = p.WriteBatch(probe); err != nil {
			break
		}
		sent++
	}
	undo()
	if err == nil {
		wait := time.NewTimer(ProbeWait)
		select {
		case <-allIn:
		case <-wait.C:
		case <-ctx.Done():
		}
		wait.Stop()
	}
	p.Close()
	if rerr := <-readDone; err == nil {
		err = rerr
	}
	if err == nil && p.Stats().TxTooBig > 0 {
		err = fmt.Errorf("probes of %d bytes refused: above the path MTU", size)
	}

	samples := make([]time.Duration, 0, count)
	for _, d := range rtts {
		if d != 0 {
			samples = append(samples, d)
		}
	}
	slices.Sort(samples)
	res.Samples = len(samples)
	res.Lost = count - len(samples)
	if len(samples) > 0 {
		us := func(d time.Duration) float64 { return float64(d) / 1e3 }
		res.Min, res.Max = us(samples[0]), us(samples[len(samples)-1])
		res.P50, res.P90, res.P99 = us(percentile(samples, 50)), us(percentile(samples, 90)), us(percentile(samples, 99))
	}
	return res, err
}

// percentile returns the nearest-rank p-th percentile of sorted s.
func percentile(s []time.Duration, p int) time.Duration {
	i := (len(s)*p + 99) / 100 // ceil(len * p / 100)
	return s[max(i-1, 0)]
}
