// SPDX-License-Identifier: Apache-2.0

// Package e2e holds skiff's end-to-end tests: real skiff binaries in
// network namespaces that the tests create and remove, joined by veth
// underlays, carrying ping and TCP transfers checked by SHA-256. They need
// root; without it they skip, except when CI is set, where they fail.
//
//	host ns --lan veth--> site ns [skiff] --underlay veth(s)--> site ns [skiff] --lan veth--> host ns
package e2e
