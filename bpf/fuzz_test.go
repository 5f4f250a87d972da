// SPDX-License-Identifier: Apache-2.0

//go:build (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm) && linux

package bpf

import (
	"testing"

	"github.com/skiffnet/skiff/internal/nstest"
	"github.com/vishvananda/netns"
)

// FuzzUnderlay runs skiff_underlay on arbitrary frames, with a socket in
// the map, against classifyRef: the verdict is REDIRECT exactly when the
// reference calls the frame ours, PASS otherwise, and the one reason
// counted is the reference's.
func FuzzUnderlay(f *testing.F) {
	for _, tc := range underlayCases() {
		f.Add(tc.frame)
	}
	f.Add(udp4(testPort, tag{tpidAD, 1}, tag{tpidAD, 2}))
	f.Add(cat(ether(etIPv6, tag{tpidQ, 5}), ipv6(60, 0)))

	// Once per fuzzing process: the program, and an AF_XDP socket bound
	// to the loopback device of a namespace that nobody else sees (it
	// lives as long as the socket).
	p := loaded(f, func() (*Program, error) { return LoadUnderlay(testPort) })
	var fd int
	err := nstest.OnThread(func() error {
		h, err := netns.New()
		if err != nil {
			return err
		}
		h.Close()
		var closeXSK func()
		fd, closeXSK, err = bindXSK(1)
		if err == nil {
			f.Cleanup(closeXSK)
		}
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	if err := p.Register(0, fd); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) < 14 { // the kernel's minimum for a test run
			return
		}
		if len(frame) > 2048 { // keep it in the first buffer
			frame = frame[:2048]
		}
		verdict, delta := run(t, p, frame, nil)
		want := classifyRef(frame, testPort)
		wantVerdict := uint32(xdpPass)
		if want == "redirected" {
			wantVerdict = xdpRedirect
		}
		if verdict != wantVerdict || delta[want] != 1 || len(delta) != 1 {
			t.Fatalf("%x: %s, counted %v; reference: %s", frame, verdictName(verdict), delta, want)
		}
	})
}
