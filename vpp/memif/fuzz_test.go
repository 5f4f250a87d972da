// SPDX-License-Identifier: Apache-2.0

package memif

import (
	"encoding/binary"
	"net"
	"os"
	"testing"

	"github.com/skiffnet/skiff/dataplane/buf"
	"golang.org/x/sys/unix"
)

// FuzzRingDescriptors plays a hostile peer's side of a ring: arbitrary
// descriptors (regions, offsets, lengths, chain flags) and an arbitrary
// head/tail, for a server receiving, a client receiving and a server
// transmitting into posted buffers. Nothing may panic or read or write
// outside the regions, frames handed out must be whole, and every slot
// read is accounted for.
func FuzzRingDescriptors(f *testing.F) {
	desc := func(flags, region uint16, length, off uint32) []byte {
		b := make([]byte, 16)
		binary.LittleEndian.PutUint16(b[0:], flags)
		binary.LittleEndian.PutUint16(b[2:], region)
		binary.LittleEndian.PutUint32(b[4:], length)
		binary.LittleEndian.PutUint32(b[8:], off)
		return b
	}
	seed := func(head uint16, ds ...[]byte) []byte {
		b := []byte{byte(head), byte(head >> 8)}
		for _, d := range ds {
			b = append(b, d...)
		}
		return b
	}
	f.Add(seed(1, desc(0, 0, 60, 4096)))
	f.Add(seed(3, desc(DescNext, 0, 2048, 4096), desc(DescNext, 1, 2048, 0), desc(0, 0, 100, 8192)))
	f.Add(seed(2, desc(0, 9, 10, 0), desc(0, 0, ^uint32(0), ^uint32(0))))
	f.Add(seed(16, desc(DescNext, 0, 10, 0)))
	f.Add(seed(0xffff, desc(0, 0, 1, 1)))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		const log2 = 4
		head := binary.LittleEndian.Uint16(data)
		data = data[2:]
		for _, role := range []string{"server-rx", "client-rx", "server-tx"} {
			var st Stats
			r0 := alignedMem(4096 + 16*2048)
			r1 := alignedMem(8192)
			rg, err := NewRing(r0, 0, log2)
			if err != nil {
				t.Fatal(err)
			}
			rg.Init()
			for i := 0; i < rg.Size() && 16*(i+1) <= len(data); i++ {
				d := data[16*i:]
				*rg.Slot(uint16(i)) = Desc{Flags: binary.LittleEndian.Uint16(d), Region: binary.LittleEndian.Uint16(d[2:]),
					Length: binary.LittleEndian.Uint32(d[4:]), Offset: binary.LittleEndian.Uint32(d[8:])}
			}
			s := &session{regions: []*region{{mem: r0, fd: -1}, {mem: r1, fd: -1}}, st: &st, client: role == "client-rx"}
			r := &ring{Ring: rg, efd: -1, bufSize: 2048, bufOff: 4096}
			pkts := make([]*buf.Packet, 8)
			for i := range pkts {
				pkts[i] = buf.New(buf.DefaultSize)
			}
			switch role {
			case "server-rx":
				rg.SetHead(head)
				n := s.recv(r, pkts)
				checkFrames(t, pkts[:n], r.pos, st.RxBadDesc.Load()+st.RxTooLong.Load())
			case "client-rx":
				rg.SetTail(head)
				n := s.recv(r, pkts)
				checkFrames(t, pkts[:n], r.pos, st.RxBadDesc.Load()+st.RxTooLong.Load())
				if r.pos != 0 && rg.Head() != r.pos+uint16(rg.Size()) {
					t.Fatalf("client re-posted up to %d, read up to %d", rg.Head(), r.pos)
				}
			case "server-tx":
				rg.SetHead(head)
				for i, p := range pkts {
					p.SetLen(60 + i*1100)
				}
				n := s.send(r, pkts)
				if n > len(pkts) || uint16(r.pos) > uint16(rg.Size()) && st.BadRing.Load() == 0 {
					t.Fatalf("sent %d, tail %d", n, r.pos)
				}
			}
		}
	})
}

func checkFrames(t *testing.T, pkts []*buf.Packet, read uint16, dropped uint64) {
	t.Helper()
	if int(read) > 1<<4 {
		t.Fatalf("read %d slots of a 16-slot ring", read)
	}
	if uint64(len(pkts))+dropped > uint64(read) {
		t.Fatalf("%d frames and %d drops from %d slots", len(pkts), dropped, read)
	}
	for _, p := range pkts {
		if p.Len() > buf.MaxFrame+buf.Tailroom {
			t.Fatalf("frame of %d bytes", p.Len())
		}
	}
}

// FuzzServerHandshake sends a server arbitrary control messages (without
// fds, so no region or ring can ever be added): it must refuse them
// without panicking, and never report a connection.
func FuzzServerHandshake(f *testing.F) {
	msg := func(m Msg) []byte {
		var b [MsgSize]byte
		m.Encode(&b)
		return b[:]
	}
	cat := func(ms ...[]byte) []byte {
		var b []byte
		for _, m := range ms {
			b = append(b, m...)
		}
		return b
	}
	f.Add(cat(msg(Msg{Type: MsgInit, Version: Version, Name: "x"}), msg(Msg{Type: MsgConnect})))
	f.Add(cat(msg(Msg{Type: MsgInit, Version: Version}), msg(Msg{Type: MsgAddRegion, Size: 4096})))
	f.Add(cat(msg(Msg{Type: MsgInit, Version: Version}), msg(Msg{Type: MsgAddRing, Log2: 10})))
	f.Add(cat(msg(Msg{Type: MsgAck}), msg(Msg{Type: MsgInit})))
	f.Add(cat(msg(Msg{Type: MsgInit, Version: 1})))
	f.Add([]byte{3, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		srv := fileConn(t, fds[0])
		cli := fileConn(t, fds[1])
		defer srv.Close()
		defer cli.Close()
		ifc := &Interface{cfg: Config{Socket: "@fuzz", Name: "skiff", Queues: 1}}
		done := make(chan error, 1)
		go func() {
			s, _, err := ifc.serverHandshake(srv)
			if s != nil && err == nil {
				s.teardown()
			}
			done <- err
		}()
		var hello [MsgSize]byte
		if _, err := cli.Read(hello[:]); err != nil {
			t.Fatal(err)
		}
		for len(data) > 0 {
			n := min(len(data), MsgSize)
			if _, err := cli.Write(data[:n]); err != nil {
				break // the server refused and closed
			}
			data = data[n:]
		}
		cli.Close()
		if err := <-done; err == nil {
			t.Fatal("a connection without regions or rings")
		}
	})
}

func fileConn(t *testing.T, fd int) *net.UnixConn {
	f := os.NewFile(uintptr(fd), "memif-fuzz")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	return c.(*net.UnixConn)
}
