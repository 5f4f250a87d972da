// SPDX-License-Identifier: Apache-2.0

//go:build race

package fib

// raceEnabled is set under the race detector, whose instrumentation can
// allocate; allocation tests skip and the stress test runs shorter.
const raceEnabled = true
