// SPDX-License-Identifier: Apache-2.0

//go:build race

package afpacket

// raceEnabled is set under the race detector, whose instrumentation can
// allocate; allocation tests skip.
const raceEnabled = true
