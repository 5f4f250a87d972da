// SPDX-License-Identifier: Apache-2.0

// Package suite is skiff bench: it builds two sites in network namespaces
// joined by a veth underlay, runs each configuration asked for (rows) and
// the anchors (bare veth, the kernel's vxlan device, wireguard-go) one after
// the other in the same run, measures each with skiff's own traffic
// generator (skiff traffic), and reports medians and spreads as a table,
// JSON and an SVG chart.
//
//	site-a: 10.99.0.1/24 on tunnel dev --ul0 198.18.0.1/30 ==veth== 198.18.0.2/30 ul0-- tunnel dev 10.99.0.2/24 :site-b
//	        skiff traffic -c / -u -c / -e -c                                 skiff traffic -l / -u -l / -e -l
//
// Per row and repeat, in a fresh topology: the round-trip time p50/p99 of
// light probe traffic (first, on the idle tunnel); TCP with 1 and 4
// streams (Gbit/s at the receiver; CPU seconds of the tunnel processes
// per GB around the 1-stream run); frames/s delivered at < 0.1 % loss for
// 64-, 1400- (and, when the inner MTU allows, 9000-) byte Ethernet frames,
// found by Search (an unpaced blast for the upper bound, then paced
// trials); the peak RSS of the tunnel processes. UDP segmentation offload
// is off on the sending end's device, so that every frame crosses the
// tunnel on its own. Repeats are interleaved (row 1 repeat 1, row 2 repeat
// 1, ..., row 1 repeat 2, ...) so that slow drifts of the machine spread
// over all rows instead of biasing one.
//
// memif rows (local=memif, and the testpmd-memif anchor) measure
// differently, see memif.go: dpdk-testpmd, standing in for a VPP router,
// fills site-a's memif for a fixed window per frame size; the report gives
// the frames/s arriving at site-b and the frames per CPU-second of site-a's
// skiff. They are skipped where dpdk-testpmd is not installed.
//
// The pure parts (row specs, statistics, the rate search, the JSON, table
// and SVG reports) do not need root; Run does.
package suite
