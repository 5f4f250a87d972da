// SPDX-License-Identifier: Apache-2.0

// Package bpf will hold skiff's XDP programs (C compiled by bpf2go, output
// committed) that steer underlay UDP and LAN frames into AF_XDP sockets.
// It arrives with the AF_XDP issue; nothing uses it yet.
package bpf
