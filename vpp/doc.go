// SPDX-License-Identifier: Apache-2.0

// Package vpp will hold skiff's VPP integration: vpp/memif, a pure-Go memif
// implementation, and vpp/api, which puts skiff into a VPP router over the
// binary API. It arrives with the VPP issue; nothing uses it yet.
package vpp
