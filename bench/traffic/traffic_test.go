// SPDX-License-Identifier: Apache-2.0

package traffic

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSendServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := make(chan Result, 1)
	go func() {
		r, err := Serve(ctx, ln)
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	const n = 10<<20 + 123
	sent, err := Send(ctx, ln.Addr().String(), n, 42)
	if err != nil {
		t.Fatal(err)
	}
	recv := <-got
	if sent.Bytes != n || recv.Bytes != n || sent.SHA256 != recv.SHA256 {
		t.Fatalf("sent %v\nreceived %v", sent, recv)
	}
	// The digest is the digest of the seeded stream.
	if streamDigest(42, n) != sent.SHA256 {
		t.Fatal("digest is not the stream's")
	}
	for _, r := range []Result{sent, recv} {
		if r.Mode != ModeTCP || r.Streams != 1 || r.Peer == "" || r.Seconds <= 0 || r.Gbps <= 0 {
			t.Errorf("result %+v", r)
		}
	}
	if sent.Peer != ln.Addr().String() {
		t.Errorf("sender's peer %q, want %q", sent.Peer, ln.Addr())
	}
}

func streamDigest(seed uint64, n int64) string {
	h := sha256.New()
	io.Copy(h, io.LimitReader(Stream(seed), n))
	return hex.EncodeToString(h.Sum(nil))
}

func TestSendGivesUp(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	if _, err := Send(ctx, addr, 10, 1); err == nil {
		t.Fatal("send to nobody succeeded")
	}
	if _, err := SendTCP(ctx, addr, SendOptions{Duration: time.Second, Streams: 3}); err == nil {
		t.Fatal("parallel send to nobody succeeded")
	}
}

// countingListener counts the bytes read from each accepted connection.
type countingListener struct {
	net.Listener
	mu     sync.Mutex
	counts []*atomic.Int64
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	n := new(atomic.Int64)
	l.mu.Lock()
	l.counts = append(l.counts, n)
	l.mu.Unlock()
	return &countingConn{Conn: c, n: n}, nil
}

func (l *countingListener) perStream() []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var s []int64
	for _, n := range l.counts {
		s = append(s, n.Load())
	}
	return s
}

type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c *countingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.n.Add(int64(n))
	return n, err
}

// transfer runs ServeTCP with streams and SendTCP with opts over loopback
// and returns both results and the bytes of each received stream.
func transfer(t *testing.T, network, addr string, streams int, opts SendOptions) (sent, recv Result, per []int64) {
	t.Helper()
	ln0, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("no %s loopback: %v", network, err)
	}
	ln := &countingListener{Listener: ln0}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := make(chan Result, 1)
	go func() {
		r, err := ServeTCP(ctx, ln, streams)
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	sent, err = SendTCP(ctx, ln.Addr().String(), opts)
	if err != nil {
		t.Fatal(err)
	}
	recv = <-got
	return sent, recv, ln.perStream()
}

func TestTCPParallelDuration(t *testing.T) {
	start := time.Now()
	sent, recv, per := transfer(t, "tcp", "127.0.0.1:0", 4, SendOptions{Duration: time.Second, Streams: 4, Seed: 3})
	if d := time.Since(start); d < time.Second || d > 10*time.Second {
		t.Errorf("a 1s transfer took %v", d)
	}
	t.Logf("sent %v\nreceived %v\nper stream %v", sent, recv, per)
	if sent.Bytes == 0 || sent.Bytes != recv.Bytes {
		t.Fatalf("sent %d bytes, received %d", sent.Bytes, recv.Bytes)
	}
	if len(per) != 4 || slices.Contains(per, 0) {
		t.Errorf("bytes per stream %v: want data on 4 streams", per)
	}
	var sum int64
	for _, n := range per {
		sum += n
	}
	if sum != recv.Bytes {
		t.Errorf("streams carried %d bytes, the receiver reports %d", sum, recv.Bytes)
	}
	for _, r := range []Result{sent, recv} {
		if r.Mode != ModeTCP || r.Streams != 4 || r.SHA256 != "" || r.Seconds < 0.5 || r.Gbps <= 0 {
			t.Errorf("result %+v", r)
		}
	}
	if recv.Peer != "127.0.0.1" {
		t.Errorf("receiver's peer %q, want the sender's host", recv.Peer)
	}
}

func TestTCPParallelBytes(t *testing.T) {
	const n = 3<<20 + 2
	sent, recv, per := transfer(t, "tcp", "127.0.0.1:0", 3, SendOptions{Bytes: n, Streams: 3})
	if sent.Bytes != n || recv.Bytes != n || recv.Streams != 3 {
		t.Fatalf("sent %v\nreceived %v", sent, recv)
	}
	slices.Sort(per)
	if want := []int64{n / 3, n/3 + 1, n/3 + 1}; !slices.Equal(per, want) {
		t.Errorf("bytes per stream %v, want %v", per, want)
	}
}

// One stream for a duration (a benchmark): a repeated block, not hashed
// by the sender, so generating the bytes costs nothing; the receiver's
// digest is still the digest of what arrived.
func TestTCPSingleDuration(t *testing.T) {
	sent, recv, _ := transfer(t, "tcp", "[::1]:0", 1, SendOptions{Duration: 300 * time.Millisecond, Seed: 9})
	if sent.Bytes == 0 || sent.Bytes != recv.Bytes || sent.SHA256 != "" || recv.SHA256 == "" {
		t.Fatalf("sent %v\nreceived %v", sent, recv)
	}
}

func TestServeTCPTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	// One of two streams connects, sends and stays open.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("hello"))
	if _, err := ServeTCP(ctx, ln, 2); err == nil {
		t.Fatal("ServeTCP without its streams succeeded")
	}
}
