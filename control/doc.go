// SPDX-License-Identifier: Apache-2.0

// Package control will hold skiff's control plane: peers and sessions
// (handshakes, keepalive, path failover, roaming), latency probes and route
// solving, subnet proxy and the TCP proxy, and the local control socket. It
// builds the immutable pipeline.Snapshot the dataplane runs on. It arrives
// with the tunnel issue; nothing uses it yet.
package control
