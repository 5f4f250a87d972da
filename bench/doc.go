// SPDX-License-Identifier: Apache-2.0

// Package bench holds skiff's benchmark tooling: the micro-benchmark table
// (bench/microtable, behind make bench-micro) and, with the benchmark issue,
// the network-namespace harness, traffic generator, impairment relay and
// reports behind skiff bench.
package bench
