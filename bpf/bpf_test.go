// SPDX-License-Identifier: Apache-2.0

//go:build (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm) && linux

package bpf

import (
	"fmt"
	"maps"
	"testing"

	"github.com/cilium/ebpf"
	"github.com/skiffnet/skiff/internal/nstest"
)

// Test helpers shared by the underlay and LAN tests. They run the
// programs in the kernel with BPF_PROG_TEST_RUN, which needs root.

const (
	xdpPass     = 2 // XDP_PASS
	xdpRedirect = 4 // XDP_REDIRECT

	testPort = 7777
)

func verdictName(v uint32) string {
	switch v {
	case xdpPass:
		return "XDP_PASS"
	case xdpRedirect:
		return "XDP_REDIRECT"
	}
	return fmt.Sprintf("verdict %d", v)
}

// xdpMD is struct xdp_md, the context a test run may take. The kernel
// wants DataEnd equal to the frame length and Data, DataMeta and
// EgressIfindex zero; IngressIfindex names a device in the calling
// thread's namespace, RxQueueIndex one of its receive queues.
type xdpMD struct {
	Data, DataEnd, DataMeta, IngressIfindex, RxQueueIndex, EgressIfindex uint32
}

func loaded(t testing.TB, load func() (*Program, error)) *Program {
	t.Helper()
	nstest.NeedRoot(t)
	p, err := load()
	if err != nil {
		t.Fatalf("%+v", err) // %+v prints a verifier log in full
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p
}

func underlayProgram(t testing.TB) *Program {
	return loaded(t, func() (*Program, error) { return LoadUnderlay(testPort) })
}

func lanProgram(t testing.TB, vlans ...uint16) *Program {
	return loaded(t, func() (*Program, error) { return LoadLAN(vlans) })
}

// withSocket puts a real AF_XDP socket into xsks[0]: one bound to queue 0
// of a veth in a namespace of its own (the kernel's XSKMAP takes only
// bound sockets).
func withSocket(t *testing.T, p *Program) {
	t.Helper()
	ns := nstest.New(t)
	nstest.Veth(t, ns, "a", ns, "b")
	a := ns.Link(t, "a").Attrs().Index
	var fd int
	err := ns.Do(func() error {
		var err error
		var closeXSK func()
		fd, closeXSK, err = bindXSK(a)
		if err == nil {
			t.Cleanup(closeXSK)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Register(0, fd); err != nil {
		t.Fatal(err)
	}
}

// counts returns p's counters by reason.
func counts(t testing.TB, p *Program) map[string]uint64 {
	t.Helper()
	cs, err := p.Counters()
	if err != nil {
		t.Fatal(err)
	}
	m := make(map[string]uint64, len(cs))
	for _, c := range cs {
		m[c.Reason] = c.N
	}
	return m
}

// run runs frame through p (with ctx unless nil) and returns the verdict
// and the counters that changed, by how much.
func run(t testing.TB, p *Program, frame []byte, ctx *xdpMD) (uint32, map[string]uint64) {
	t.Helper()
	before := counts(t, p)
	opts := &ebpf.RunOptions{Data: frame}
	if ctx != nil {
		c := *ctx
		c.DataEnd = uint32(len(frame))
		opts.Context = c
	}
	verdict, err := p.Prog().Run(opts)
	if err != nil {
		t.Fatalf("run %d-byte frame: %v", len(frame), err)
	}
	delta := map[string]uint64{}
	for r, n := range counts(t, p) {
		if n != before[r] {
			delta[r] = n - before[r]
		}
	}
	return verdict, delta
}

// expect runs frame and checks its verdict and that exactly reason was
// counted, once.
func expect(t testing.TB, p *Program, frame []byte, ctx *xdpMD, verdict uint32, reason string) {
	t.Helper()
	got, delta := run(t, p, frame, ctx)
	if got != verdict {
		t.Errorf("verdict %s, want %s", verdictName(got), verdictName(verdict))
	}
	if want := map[string]uint64{reason: 1}; !maps.Equal(delta, want) {
		t.Errorf("counted %v, want %v", delta, want)
	}
}
