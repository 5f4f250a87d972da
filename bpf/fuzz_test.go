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

	p := loaded(f, func() (*Program, error) { return LoadUnderlay(testPort) })
	registerFuzzSocket(f, p)
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

// registerFuzzSocket puts an AF_XDP socket into p's slot 0, once per
// fuzzing process: one bound to the loopback device of a namespace that
// nobody else sees (it lives as long as the socket).
func registerFuzzSocket(f *testing.F, p *Program) {
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
}

// FuzzLAN runs skiff_lan with a VLAN filter (10 and 4094) on arbitrary
// frames, against a reference: redirected exactly when the outer tag
// (802.1Q or 802.1ad) carries a listed id; frames too short for their tag
// are truncated; everything else is vlan_filtered. One reason is counted.
func FuzzLAN(f *testing.F) {
	f.Add(ether(etIPv6, tag{tpidQ, 10}))
	f.Add(ether(etIPv6, tag{tpidAD, 4094}, tag{tpidQ, 5}))
	f.Add(ether(etIPv6, tag{tpidQ, 11}))
	f.Add(ether(etIPv6))
	f.Add(ether(tpidQ))
	p := loaded(f, func() (*Program, error) { return LoadLAN([]uint16{10, 4094}) })
	registerFuzzSocket(f, p)
	f.Fuzz(func(t *testing.T, frame []byte) {
		if len(frame) < 14 { // the kernel's minimum for a test run
			return
		}
		if len(frame) > 2048 {
			frame = frame[:2048]
		}
		want := "vlan_filtered"
		if tpid := uint16(frame[12])<<8 | uint16(frame[13]); tpid == tpidQ || tpid == tpidAD {
			if len(frame) < 18 {
				want = "truncated"
			} else if vid := (uint16(frame[14])<<8 | uint16(frame[15])) & 0xfff; vid == 10 || vid == 4094 {
				want = "redirected"
			}
		}
		verdict, delta := run(t, p, frame, nil)
		wantVerdict := uint32(xdpPass)
		if want == "redirected" {
			wantVerdict = xdpRedirect
		}
		if verdict != wantVerdict || delta[want] != 1 || len(delta) != 1 {
			t.Fatalf("%x: %s, counted %v; reference: %s", frame, verdictName(verdict), delta, want)
		}
	})
}
