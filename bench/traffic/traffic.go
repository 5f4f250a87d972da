// SPDX-License-Identifier: Apache-2.0

// Package traffic is skiff's own traffic tool: a TCP sender of seeded
// pseudo-random bytes and a receiver, each reporting the byte count, the
// SHA-256 of the stream and the throughput, so a transfer through a tunnel
// is checked end to end without iperf3.
//
//	send: ChaCha8(seed) --TCP--> tunnel --TCP--> serve: count, SHA-256
package traffic

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"time"
)

// Result describes one transfer, as either end saw it.
type Result struct {
	Bytes   int64   `json:"bytes"`
	SHA256  string  `json:"sha256"`
	Seconds float64 `json:"seconds"`
	Gbps    float64 `json:"gbps"`
	Peer    string  `json:"peer"`
}

func (r Result) String() string {
	return fmt.Sprintf("%d bytes in %.2fs = %.3f Gbit/s, sha256 %s", r.Bytes, r.Seconds, r.Gbps, r.SHA256)
}

func result(n int64, sum []byte, d time.Duration, peer string) Result {
	r := Result{Bytes: n, SHA256: hex.EncodeToString(sum), Seconds: d.Seconds(), Peer: peer}
	if d > 0 {
		r.Gbps = float64(n) * 8 / d.Seconds() / 1e9
	}
	return r
}

// Serve accepts one connection on ln, reads it to the end and reports what
// arrived.
func Serve(ctx context.Context, ln net.Listener) (Result, error) {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	c, err := ln.Accept()
	if err != nil {
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		return Result{}, fmt.Errorf("accept: %w", err)
	}
	defer c.Close()
	stopConn := context.AfterFunc(ctx, func() { c.Close() })
	defer stopConn()
	h := sha256.New()
	start := time.Now()
	n, err := io.CopyBuffer(h, c, make([]byte, 256<<10))
	d := time.Since(start)
	if err != nil {
		return result(n, h.Sum(nil), d, c.RemoteAddr().String()), fmt.Errorf("receive after %d bytes: %w", n, err)
	}
	return result(n, h.Sum(nil), d, c.RemoteAddr().String()), nil
}

// Send connects to addr (retrying until ctx is done, so it may start
// before the tunnel is up), sends n pseudo-random bytes made from seed,
// closes, and reports what it sent.
func Send(ctx context.Context, addr string, n int64, seed uint64) (Result, error) {
	var c net.Conn
	var d net.Dialer
	for {
		var err error
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		c, err = d.DialContext(cctx, "tcp", addr)
		cancel()
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return Result{}, fmt.Errorf("connect %s: %w", addr, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	h := sha256.New()
	src := io.TeeReader(io.LimitReader(Stream(seed), n), h)
	start := time.Now()
	sent, err := io.CopyBuffer(c, src, make([]byte, 256<<10))
	if err == nil {
		if tc, ok := c.(*net.TCPConn); ok {
			err = tc.CloseWrite()
		}
	}
	if err == nil {
		// Wait for the receiver to close: it has read everything.
		_, err = io.Copy(io.Discard, c)
	}
	dur := time.Since(start)
	if err != nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if err != nil {
		return result(sent, h.Sum(nil), dur, addr), fmt.Errorf("send after %d bytes: %w", sent, err)
	}
	if sent != n {
		return result(sent, h.Sum(nil), dur, addr), errors.New("short send")
	}
	return result(sent, h.Sum(nil), dur, addr), nil
}

// Stream returns the endless pseudo-random byte stream of seed.
func Stream(seed uint64) io.Reader {
	var s [32]byte
	for i := 0; i < 8; i++ {
		s[i] = byte(seed >> (8 * i))
	}
	return rand.NewChaCha8(s)
}
