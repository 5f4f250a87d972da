// SPDX-License-Identifier: Apache-2.0

package traffic

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
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
	h := sha256.New()
	io.Copy(h, io.LimitReader(Stream(42), n))
	if hex.EncodeToString(h.Sum(nil)) != sent.SHA256 {
		t.Fatal("digest is not the stream's")
	}
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
}
