// SPDX-License-Identifier: Apache-2.0

package traffic

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"time"
)

// ModeTCP is the mode of a TCP Result.
const ModeTCP = "tcp"

// chunk is the size of one read or write of a TCP stream.
const chunk = 256 << 10

// Result describes one TCP transfer, as either end saw it: the aggregate of
// all its streams.
type Result struct {
	Mode    string  `json:"mode"` // ModeTCP
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
	Gbps    float64 `json:"gbps"`
	Streams int     `json:"streams"`
	// SHA256 is the digest of the stream's bytes, hex; only with one
	// stream.
	SHA256 string `json:"sha256,omitempty"`
	// Peer is the address of the other end: the sender's -c address, or
	// the receiver's first accepted connection.
	Peer string `json:"peer,omitempty"`
}

func (r Result) String() string {
	s := fmt.Sprintf("%d bytes in %.2fs = %.3f Gbit/s", r.Bytes, r.Seconds, r.Gbps)
	if r.Streams > 1 {
		s += fmt.Sprintf(" over %d streams", r.Streams)
	}
	if r.SHA256 != "" {
		s += ", sha256 " + r.SHA256
	}
	return s
}

func result(n int64, streams int, sum hash.Hash, d time.Duration, peer string) Result {
	r := Result{Mode: ModeTCP, Bytes: n, Streams: streams, Seconds: d.Seconds(), Peer: peer}
	if sum != nil {
		r.SHA256 = hex.EncodeToString(sum.Sum(nil))
	}
	if d > 0 {
		r.Gbps = float64(n) * 8 / d.Seconds() / 1e9
	}
	return r
}

// ServeTCP accepts streams connections on ln (at least 1), reads each to
// the end and reports what arrived: the bytes of all streams, from the
// first byte of any stream to the last byte of all, and with one stream its
// SHA-256. It closes each connection once it has read it to the end, which
// tells the sender that everything arrived. ln stays open.
func ServeTCP(ctx context.Context, ln net.Listener, streams int) (Result, error) {
	return serveTCP(ctx, ln, streams, true)
}

// ServeTCPNoHash is ServeTCP without the SHA-256: for benchmarks, where
// hashing would cost the receiver a core at a few Gbit/s on CPUs without
// SHA instructions and take it from the tunnel being measured.
func ServeTCPNoHash(ctx context.Context, ln net.Listener, streams int) (Result, error) {
	return serveTCP(ctx, ln, streams, false)
}

func serveTCP(ctx context.Context, ln net.Listener, streams int, hashing bool) (Result, error) {
	streams = max(streams, 1)
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()

	type stream struct {
		n           int64
		first, last time.Time
		err         error
	}
	var (
		st   = make([]stream, streams)
		wg   sync.WaitGroup
		mu   sync.Mutex
		open []net.Conn
		peer string
		h    hash.Hash
	)
	if streams == 1 && hashing {
		h = sha256.New()
	}
	closeAll := func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range open {
			c.Close()
		}
	}
	stopConns := context.AfterFunc(ctx, closeAll)
	defer stopConns()

	var acceptErr error
	for i := range st {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			acceptErr = fmt.Errorf("accept stream %d of %d: %w", i+1, streams, err)
			closeAll()
			break
		}
		mu.Lock()
		open = append(open, c)
		mu.Unlock()
		if ctx.Err() != nil {
			c.Close() // the AfterFunc may have run before the append
		}
		if i == 0 {
			peer = c.RemoteAddr().String()
			if streams > 1 {
				if host, _, err := net.SplitHostPort(peer); err == nil {
					peer = host
				}
			}
		}
		wg.Add(1)
		go func(s *stream) {
			defer wg.Done()
			defer c.Close()
			b := make([]byte, chunk)
			for {
				n, err := c.Read(b)
				if n > 0 {
					now := time.Now()
					if s.n == 0 {
						s.first = now
					}
					s.last = now
					s.n += int64(n)
					if h != nil {
						h.Write(b[:n])
					}
				}
				if err == io.EOF {
					return
				}
				if err != nil {
					if ctx.Err() != nil {
						err = ctx.Err()
					}
					s.err = err
					return
				}
			}
		}(&st[i])
	}
	wg.Wait()

	var total int64
	var first, last time.Time
	var err error = acceptErr
	for i, s := range st {
		total += s.n
		if s.n > 0 {
			if first.IsZero() || s.first.Before(first) {
				first = s.first
			}
			if s.last.After(last) {
				last = s.last
			}
		}
		if s.err != nil && err == nil {
			err = fmt.Errorf("receive stream %d after %d bytes: %w", i+1, s.n, s.err)
		}
	}
	return result(total, streams, h, last.Sub(first), peer), err
}

// Serve accepts one connection on ln, reads it to the end and reports what
// arrived: ServeTCP with one stream.
func Serve(ctx context.Context, ln net.Listener) (Result, error) {
	return ServeTCP(ctx, ln, 1)
}

// SendOptions says what SendTCP sends.
type SendOptions struct {
	// Bytes is the total to send, split evenly over the streams (the first
	// streams take the remainder). Used when Duration is 0.
	Bytes int64
	// Duration, if not 0, makes each stream send as much as it can for
	// this long instead of Bytes.
	Duration time.Duration
	// Streams is the number of parallel connections; 0 means 1.
	Streams int
	// Seed makes the pseudo-random bytes: with one stream and Bytes they
	// are Stream(Seed), hashed into Result.SHA256; with more streams, or
	// with Duration (a benchmark), every stream repeats one block of it,
	// which costs nothing to make, and nothing is hashed.
	Seed uint64
}

// SendTCP connects opts.Streams times to addr (retrying until ctx is done,
// so it may start before the tunnel is up), sends on all connections at
// once, closes them for writing and waits until the receiver has closed
// them, which it does once it has read everything. The result's seconds
// run from the first write to the receiver's last close.
func SendTCP(ctx context.Context, addr string, opts SendOptions) (Result, error) {
	streams := max(opts.Streams, 1)
	conns := make([]net.Conn, 0, streams)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	var mu sync.Mutex
	stop := context.AfterFunc(ctx, func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	defer stop()
	for range streams {
		c, err := dial(ctx, addr)
		if err != nil {
			return result(0, streams, nil, 0, addr), err
		}
		mu.Lock()
		conns = append(conns, c)
		mu.Unlock()
	}

	var h hash.Hash
	var block []byte
	if streams == 1 && opts.Duration == 0 {
		h = sha256.New()
	} else {
		block = make([]byte, chunk)
		Stream(opts.Seed).Read(block)
	}
	sent := make([]int64, streams)
	errs := make([]error, streams)
	start := time.Now()
	var deadline time.Time
	if opts.Duration > 0 {
		deadline = start.Add(opts.Duration)
	}
	var wg sync.WaitGroup
	for i, c := range conns {
		limit := int64(-1) // until the deadline
		if deadline.IsZero() {
			limit = opts.Bytes / int64(streams)
			if int64(i) < opts.Bytes%int64(streams) {
				limit++
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var src io.Reader
			b := block
			if h != nil {
				src = Stream(opts.Seed)
				b = make([]byte, chunk)
			}
			sent[i], errs[i] = sendStream(c, src, b, h, limit, deadline)
		}()
	}
	wg.Wait()
	dur := time.Since(start)

	var total int64
	var err error
	for i := range sent {
		total += sent[i]
		if errs[i] != nil && err == nil {
			err = errs[i]
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			err = fmt.Errorf("send stream %d after %d bytes: %w", i+1, sent[i], err)
		}
	}
	if err == nil && deadline.IsZero() && total != opts.Bytes {
		err = errors.New("short send")
	}
	return result(total, streams, h, dur, addr), err
}

// Send connects to addr, sends n pseudo-random bytes made from seed on one
// connection and reports what it sent: SendTCP with one stream.
func Send(ctx context.Context, addr string, n int64, seed uint64) (Result, error) {
	return SendTCP(ctx, addr, SendOptions{Bytes: n, Streams: 1, Seed: seed})
}

// dial connects to addr, retrying until ctx is done.
func dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		c, err := d.DialContext(cctx, "tcp", addr)
		cancel()
		if err == nil {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("connect %s: %w", addr, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// sendStream writes limit bytes (-1: until deadline) to c: from src through
// b, or b over and over when src is nil; h, if not nil, hashes what was
// written. Then it closes c for writing and waits for the receiver to
// close.
func sendStream(c net.Conn, src io.Reader, b []byte, h hash.Hash, limit int64, deadline time.Time) (int64, error) {
	if !deadline.IsZero() {
		c.SetWriteDeadline(deadline)
	}
	var sent int64
	for limit < 0 || sent < limit {
		p := b
		if limit >= 0 {
			p = p[:min(int64(len(p)), limit-sent)]
		}
		if src != nil {
			io.ReadFull(src, p) // ChaCha8 never fails
		}
		n, err := c.Write(p)
		if h != nil {
			h.Write(p[:n])
		}
		sent += int64(n)
		if err != nil {
			if limit < 0 && errors.Is(err, os.ErrDeadlineExceeded) {
				break // time is up
			}
			return sent, err
		}
	}
	if tc, ok := c.(*net.TCPConn); ok {
		if err := tc.CloseWrite(); err != nil {
			return sent, err
		}
	}
	// Wait for the receiver to close: it has read everything.
	_, err := io.Copy(io.Discard, c)
	return sent, err
}

// Stream returns the endless pseudo-random byte stream of seed.
func Stream(seed uint64) io.Reader {
	var s [32]byte
	for i := 0; i < 8; i++ {
		s[i] = byte(seed >> (8 * i))
	}
	return rand.NewChaCha8(s)
}
