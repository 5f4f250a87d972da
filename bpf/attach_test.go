// SPDX-License-Identifier: Apache-2.0

//go:build (386 || amd64 || arm || arm64 || loong64 || mips64le || mipsle || ppc64le || riscv64 || wasm) && linux

package bpf

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/skiffnet/skiff/internal/nstest"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// Attach in native mode on a veth, see the program count a frame sent
// over the wire, and see Close detach it. Loopback has no native XDP.
func TestAttach(t *testing.T) {
	p := underlayProgram(t)
	ns := nstest.New(t)
	nstest.Veth(t, ns, "a", ns, "b")
	ns.Quiet(t, "a") // no IPv6 chatter to count
	ns.Quiet(t, "b")
	a, b := ns.Link(t, "a").Attrs().Index, ns.Link(t, "b").Attrs().Index
	info, err := p.Prog().Info()
	if err != nil {
		t.Fatal(err)
	}
	id, _ := info.ID()
	attached := func() uint32 {
		t.Helper()
		xdp := ns.Link(t, "a").Attrs().Xdp
		if xdp == nil || !xdp.Attached {
			return 0
		}
		return xdp.ProgId
	}

	frame := udp4(testPort + 1) // counted other_port
	err = ns.Do(func() error {
		if _, err := p.Attach(1); !errors.Is(err, ErrNoNativeXDP) {
			t.Errorf("Attach(lo): %v, want ErrNoNativeXDP", err)
		}
		l, err := p.Attach(a)
		if err != nil {
			return err
		}
		if got := attached(); got != uint32(id) {
			t.Errorf("a has XDP program %d, want %d", got, id)
		}
		before := counts(t, p)["other_port"]
		sendAndSee(t, b, a, frame)
		if n := counts(t, p)["other_port"]; n != before+1 {
			t.Errorf("attached: other_port went from %d to %d, want +1", before, n)
		}

		if err := l.Close(); err != nil {
			return err
		}
		if got := attached(); got != 0 {
			t.Errorf("after Close, a still has XDP program %d", got)
		}
		before = counts(t, p)["other_port"]
		sendAndSee(t, b, a, frame)
		if n := counts(t, p)["other_port"]; n != before {
			t.Errorf("detached: other_port went from %d to %d", before, n)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// sendAndSee sends frame out of device from and waits until a packet
// socket on device to has received it: by then XDP on to has seen it.
func sendAndSee(t *testing.T, from, to int, frame []byte) {
	t.Helper()
	const ethPAll = unix.ETH_P_ALL<<8&0xff00 | unix.ETH_P_ALL>>8 // htons
	rx, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, ethPAll)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(rx)
	if err := unix.Bind(rx, &unix.SockaddrLinklayer{Protocol: ethPAll, Ifindex: to}); err != nil {
		t.Fatal(err)
	}
	tv := unix.NsecToTimeval(int64(100 * time.Millisecond))
	if err := unix.SetsockoptTimeval(rx, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		t.Fatal(err)
	}
	tx, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(tx)
	if err := unix.Sendto(tx, frame, 0, &unix.SockaddrLinklayer{Ifindex: from}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		n, _, err := unix.Recvfrom(rx, buf, 0)
		if err == nil && bytes.Equal(buf[:n], frame) {
			return
		}
	}
	t.Fatalf("the frame sent on ifindex %d did not arrive on ifindex %d", from, to)
}

// Above about 3.5 KB of MTU a veth takes only multi-buffer programs
// natively; generic mode takes ours at any MTU.
func TestAttachJumbo(t *testing.T) {
	p := underlayProgram(t)
	ns := nstest.New(t)
	nstest.Veth(t, ns, "a", ns, "b")
	for _, name := range []string{"a", "b"} {
		if err := ns.NL.LinkSetMTU(ns.Link(t, name), 9000); err != nil {
			t.Fatal(err)
		}
	}
	a := ns.Link(t, "a").Attrs().Index
	err := ns.Do(func() error {
		// Multi-buffer programs attach natively at jumbo MTUs.
		l, err := p.Attach(a)
		if err != nil {
			t.Fatalf("Attach at MTU 9000: %v", err)
		}
		if xdp := ns.Link(t, "a").Attrs().Xdp; xdp == nil || xdp.AttachMode != nl.XDP_ATTACHED_DRV {
			t.Errorf("a's XDP: %+v, want attached in driver mode", xdp)
		}
		if err := l.Close(); err != nil {
			return err
		}
		l, err = p.AttachGeneric(a)
		if err != nil {
			return err
		}
		if xdp := ns.Link(t, "a").Attrs().Xdp; xdp == nil || xdp.AttachMode != nl.XDP_ATTACHED_SKB {
			t.Errorf("a's XDP: %+v, want attached in generic (skb) mode", xdp)
		}
		if err := l.Close(); err != nil {
			return err
		}
		if xdp := ns.Link(t, "a").Attrs().Xdp; xdp != nil && xdp.Attached {
			t.Errorf("after Close, a's XDP: %+v", xdp)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
