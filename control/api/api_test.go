// SPDX-License-Identifier: Apache-2.0

package api

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestServeAndAsk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "node.sock")
	s, err := Listen(path, func() *Status { return &Status{Node: NodeInfo{Name: "site-a", ID: 1}} }, nil)
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := Ask(ctx, path, Request{Op: "status"})
	if err != nil || r.Status == nil || r.Status.Node.Name != "site-a" {
		t.Fatalf("status: %+v %v", r, err)
	}
	if _, err := Ask(ctx, path, Request{Op: "reboot"}); err == nil || !strings.Contains(err.Error(), "unknown op") {
		t.Fatalf("unknown op: %v", err)
	}
	// A garbage request gets an error answer, not a hang.
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("{{{{\n"))
	buf := make([]byte, 200)
	n, _ := c.Read(buf)
	c.Close()
	if !strings.Contains(string(buf[:n]), "not JSON") {
		t.Fatalf("garbage request: %q", buf[:n])
	}
	// A second node on the same socket is refused.
	if _, err := Listen(path, nil, nil); err == nil || !strings.Contains(err.Error(), "another skiff node") {
		t.Fatalf("second listener: %v", err)
	}
	s.Close()
	if _, err := Ask(ctx, path, Request{Op: "status"}); err == nil {
		t.Fatal("socket still answers after Close")
	}
	// A stale socket file (no server) is replaced.
	ln, _ := net.Listen("unix", path)
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	s2, err := Listen(path, func() *Status { return &Status{} }, nil)
	if err != nil {
		t.Fatalf("stale socket: %v", err)
	}
	s2.Close()
}
