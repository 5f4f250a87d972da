// SPDX-License-Identifier: Apache-2.0

// Package vpp holds skiff's VPP integration: vpp/memif, a pure-Go memif
// 2.0 implementation in both roles (the local port dataplane/port/memif
// sits on it), and vpp/vppapi, which creates VPP's end of the memif and
// puts it into a bridge domain or cross-connect over VPP's binary API
// (skiff vpp attach|detach|show).
package vpp
