// SPDX-License-Identifier: Apache-2.0

// Package vpp holds skiff's VPP integration: vpp/memif, a pure-Go memif
// implementation (its control messages and rings so far), and, with the
// VPP issue, vpp/api, which puts skiff into a VPP router over the binary
// API.
package vpp
