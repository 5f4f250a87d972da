// SPDX-License-Identifier: Apache-2.0

// Package wiretest gives tests of other packages real sessions: it runs the
// whole wire handshake between two nodes in memory.
package wiretest

import (
	"testing"
	"time"

	"github.com/skiffnet/skiff/dataplane/wire"
)

// Pair runs a handshake between node 1 (initiator, a) and node 2 (b) with a
// random PSK and random session ids, and returns both sessions, confirmed.
func Pair(tb testing.TB, suite wire.Suite) (a, b *wire.Session) {
	tb.Helper()
	return PairNodes(tb, suite, 1, 2)
}

// PairNodes is Pair between nodes x (initiator, a) and y (b).
func PairNodes(tb testing.TB, suite wire.Suite, x, y uint16) (a, b *wire.Session) {
	tb.Helper()
	psk, err := wire.GeneratePSK()
	if err != nil {
		tb.Fatal(err)
	}
	ida, err := wire.RandomSessionID()
	if err != nil {
		tb.Fatal(err)
	}
	idb, err := wire.RandomSessionID()
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	in, init, err := wire.Initiate(wire.HandshakeConfig{PSK: psk, Suite: suite, LocalNode: x, RemoteNode: y}, ida, now)
	if err != nil {
		tb.Fatal(err)
	}
	b, resp, _, err := wire.Respond(wire.HandshakeConfig{PSK: psk, Suite: suite, LocalNode: y, RemoteNode: x}, init, idb, 0, now)
	if err != nil {
		tb.Fatal(err)
	}
	if a, err = in.Finish(resp, now); err != nil {
		tb.Fatal(err)
	}
	return a, b
}

// Frame is an n-byte Ethernet frame from src to dst with ethertype 0x88B5
// (local experimental) and a payload that varies with seed, incompressible
// enough for LZ4 to skip.
func Frame(dst, src [6]byte, n int, seed byte) []byte {
	f := make([]byte, n)
	copy(f, dst[:])
	copy(f[6:], src[:])
	f[12], f[13] = 0x88, 0xb5
	for i := 14; i < n; i++ {
		f[i] = byte(i*7919>>3) ^ seed
	}
	return f
}
