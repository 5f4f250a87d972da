// SPDX-License-Identifier: Apache-2.0

// Package api is the local control socket between a running skiff node and
// the CLI: a unix stream socket, one JSON request and one JSON response per
// connection.
//
//	skiff status --> {"op":"status"}\n --> node --> Status as JSON --> table or --json
package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/skiffnet/skiff/control/mesh"
	"github.com/skiffnet/skiff/control/peer"
)

// Request is what the CLI asks.
type Request struct {
	Op string `json:"op"` // "status"
}

// Response carries the answer or an error.
type Response struct {
	Error  string  `json:"error,omitempty"`
	Status *Status `json:"status,omitempty"`
}

// Status is a node's state as skiff status shows it.
type Status struct {
	Node     NodeInfo          `json:"node"`
	Local    PortInfo          `json:"local"`
	Underlay []PortInfo        `json:"underlay"`
	Peers    []peer.Status     `json:"peers"`
	Tx       Direction         `json:"tx"` // local port -> underlay
	Rx       Direction         `json:"rx"` // underlay -> local port
	Control  map[string]uint64 `json:"control_drops"`
	Mesh     *MeshStatus       `json:"mesh,omitempty"`
}

// MeshStatus is a mesh node's view of the mesh.
type MeshStatus struct {
	Mode       string      `json:"mode"`
	Nodes      []MeshNode  `json:"nodes"`       // every other node, by id
	FIBEntries int         `json:"fib_entries"` // MAC addresses learned
	Detail     mesh.Status `json:"detail"`      // links, routes and counters of the solver
}

// MeshNode is one other node of the mesh: what skiff peers and skiff
// route print.
type MeshNode struct {
	ID          uint16   `json:"id"`
	Name        string   `json:"name"`
	State       string   `json:"state"`  // the session: up, handshaking, down
	Linked      bool     `json:"linked"` // has direct paths
	Reachable   bool     `json:"reachable"`
	NextHop     uint16   `json:"next_hop"` // 0: none
	NextHopName string   `json:"next_hop_name"`
	LatencyMs   float64  `json:"latency_ms"` // one-way along the route; -1: unknown
	Cost        int      `json:"cost"`       // hops; -1: unknown
	Loss        float64  `json:"loss"`       // on the direct link, inbound
	Source      string   `json:"source"`     // where the route comes from: static, solved, controller N, direct
	ProxyCIDRs  []string `json:"proxy_cidrs"`
}

// NodeInfo describes the node.
type NodeInfo struct {
	Name      string        `json:"name"`
	ID        uint16        `json:"id"`
	Version   string        `json:"version"`
	Uptime    peer.Duration `json:"uptime"`
	Suite     string        `json:"suite"`
	LZ4       bool          `json:"lz4"`
	MTUPolicy string        `json:"mtu_policy"`
	PieceSize int           `json:"piece_size"` // most frame bytes per datagram
	MSS       [2]uint16     `json:"mss"`        // clamp for IPv4, IPv6; 0 = off
}

// PortInfo describes a port and its device counters.
type PortInfo struct {
	Type  string `json:"type"`
	Name  string `json:"name"`
	Stats any    `json:"stats,omitempty"`
}

// Direction is one direction of the dataplane's counters.
type Direction struct {
	Packets    uint64            `json:"packets_in"`
	Bytes      uint64            `json:"bytes_in"`
	Out        uint64            `json:"packets_out"`
	OutBytes   uint64            `json:"bytes_out"`
	Control    uint64            `json:"control"`
	LZ4        uint64            `json:"lz4"`
	Fragments  uint64            `json:"fragments"`
	Relayed    uint64            `json:"relayed,omitempty"` // rx, mesh: datagrams forwarded toward another node
	Flooded    uint64            `json:"flooded,omitempty"` // tx, mesh: frames flooded to every node
	Drops      map[string]uint64 `json:"drops"`
	DropsTotal uint64            `json:"drops_total"`
}

// DefaultDir is where nodes put their sockets by default.
const DefaultDir = "/run/skiff"

// Server serves the control socket.
type Server struct {
	path   string
	ln     net.Listener
	status func() *Status
	log    *slog.Logger

	mu     sync.Mutex // guards closed and wg.Add against Close's wg.Wait
	closed bool
	wg     sync.WaitGroup
}

// Listen creates the socket at path (and its directory), refusing if
// another node is serving it. A stale socket file is replaced.
func Listen(path string, status func() *Status, log *slog.Logger) (*Server, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if c, err := net.DialTimeout("unix", path, 200*time.Millisecond); err == nil {
		c.Close()
		return nil, fmt.Errorf("control socket %s: another skiff node is serving it", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("control socket: remove stale %s: %w", path, err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return &Server{path: path, ln: ln, status: status, log: log}, nil
}

// Path is the socket's path.
func (s *Server) Path() string { return s.path }

// Serve answers requests until Close.
func (s *Server) Serve() {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			c.Close()
			return
		}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			s.handle(c)
		}()
	}
}

func (s *Server) handle(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	var req Request
	line, err := bufio.NewReader(io.LimitReader(c, 4096)).ReadBytes('\n')
	var resp Response
	switch {
	case err != nil && !errors.Is(err, io.EOF):
		resp.Error = "read request: " + err.Error()
	case json.Unmarshal(line, &req) != nil:
		resp.Error = "request is not JSON"
	case req.Op == "status":
		resp.Status = s.status()
	default:
		resp.Error = fmt.Sprintf("unknown op %q", req.Op)
	}
	if err := json.NewEncoder(c).Encode(&resp); err != nil {
		s.log.Debug("control socket: write", "err", err)
	}
}

// Close stops serving and removes the socket file.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	err := s.ln.Close()
	s.wg.Wait()
	os.Remove(s.path)
	return err
}

// Ask sends one request to the node serving path and returns its answer.
func Ask(ctx context.Context, path string, req Request) (*Response, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return nil, fmt.Errorf("no skiff node at %s: %w", path, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	b, _ := json.Marshal(req)
	if _, err := c.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	var resp Response
	if err := json.NewDecoder(c).Decode(&resp); err != nil {
		return nil, fmt.Errorf("control socket %s: bad answer: %w", path, err)
	}
	if resp.Error != "" {
		return &resp, fmt.Errorf("node: %s", resp.Error)
	}
	return &resp, nil
}
