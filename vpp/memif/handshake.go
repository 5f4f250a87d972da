// SPDX-License-Identifier: Apache-2.0

package memif

import (
	"errors"
	"fmt"
	"net"
	"time"

	"golang.org/x/sys/unix"
)

// recvMsg reads one control message and the fds that came with it.
func recvMsg(c *net.UnixConn) (Msg, []int, error) {
	var b [2 * MsgSize]byte
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := c.ReadMsgUnix(b[:], oob)
	var fds []int
	if oobn > 0 {
		if cms, perr := unix.ParseSocketControlMessage(oob[:oobn]); perr == nil {
			for _, cm := range cms {
				if r, perr := unix.ParseUnixRights(&cm); perr == nil {
					fds = append(fds, r...)
				}
			}
		}
	}
	if err != nil {
		return Msg{}, fds, err
	}
	if n == 0 {
		return Msg{}, fds, errPeerClosed
	}
	m, err := Decode(b[:n])
	return m, fds, err
}

var errPeerClosed = errors.New("peer closed the control socket")

// sendMsg writes m, with fd attached unless it is negative.
func sendMsg(c *net.UnixConn, m *Msg, fd int) error {
	var b [MsgSize]byte
	if err := m.Encode(&b); err != nil {
		return err
	}
	var oob []byte
	if fd >= 0 {
		oob = unix.UnixRights(fd)
	}
	_, _, err := c.WriteMsgUnix(b[:], oob, nil)
	if err != nil {
		return fmt.Errorf("sending %v: %w", m.Type, err)
	}
	return nil
}

func closeFds(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// expect reads the peer's answer to what we sent: want, or a disconnect
// (whose reason becomes the error), or anything else (an error).
func expect(c *net.UnixConn, want MsgType, after string) (Msg, error) {
	m, fds, err := recvMsg(c)
	closeFds(fds)
	if err != nil {
		return m, fmt.Errorf("waiting for %v after %s: %w", want, after, err)
	}
	if m.Type == MsgDisconnect {
		return m, fmt.Errorf("peer refused %s: %q (code %d)", after, m.Reason, m.Code)
	}
	if m.Type != want {
		return m, fmt.Errorf("peer answered %s with %v, want %v", after, m.Type, want)
	}
	return m, nil
}

// runClient connects, serves the connection until it ends, and does it
// again until Close.
func (f *Interface) runClient() {
	defer f.wg.Done()
	failures := 0
	for !f.closed.Load() {
		s, err := f.dial()
		if err != nil {
			f.st.HandshakeErrors.Add(1)
			f.setErr(err)
			if failures == 0 {
				f.cfg.Log.Warn("memif: cannot connect, retrying", "socket", f.cfg.Socket, "id", f.cfg.ID, "every", f.cfg.Reconnect, "err", err)
			}
			failures++
			select {
			case <-f.done:
				return
			case <-time.After(f.cfg.Reconnect):
			}
			continue
		}
		failures = 0
		if f.closed.Load() {
			s.teardown()
			return
		}
		f.run(s)
	}
}

// dial connects to the server and runs the client side of the handshake,
// one message per acknowledgement (the pace every server accepts).
func (f *Interface) dial() (*session, error) {
	c, err := net.DialUnix("unixpacket", nil, &net.UnixAddr{Name: f.cfg.Socket, Net: "unixpacket"})
	if err != nil {
		return nil, fmt.Errorf("memif: connecting to %s: %w", f.cfg.Socket, err)
	}
	f.track(c, true)
	defer f.track(c, false)
	s, err := f.clientHandshake(c)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("memif: %s id %d: %w", f.cfg.Socket, f.cfg.ID, err)
	}
	return s, nil
}

// track registers a connection in handshake, so Close can abort it.
func (f *Interface) track(c *net.UnixConn, on bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if on {
		f.conns[c] = struct{}{}
		if f.closed.Load() {
			c.Close()
		}
	} else {
		delete(f.conns, c)
	}
}

func (f *Interface) clientHandshake(c *net.UnixConn) (s *session, err error) {
	c.SetDeadline(time.Now().Add(handshakeTimeout))
	hello, err := expect(c, MsgHello, "connecting")
	if err != nil {
		return nil, err
	}
	if Version < hello.MinVersion || Version > hello.MaxVersion {
		return nil, fmt.Errorf("server %q speaks memif versions %#x..%#x, skiff speaks %#x", hello.Name, hello.MinVersion, hello.MaxVersion, Version)
	}
	cfg := f.cfg
	ns2m := min(cfg.Queues, int(hello.MaxS2M)+1)
	nm2s := min(cfg.Queues, int(hello.MaxM2S)+1)
	log2 := min(cfg.Log2Ring, hello.MaxLog2Ring)
	if log2 < MinLog2Ring {
		return nil, fmt.Errorf("server %q allows rings of 2^%d slots", hello.Name, hello.MaxLog2Ring)
	}
	nreg := 1
	if cfg.SeparateBuffers {
		nreg = 2
	}
	if nreg > int(hello.MaxRegion)+1 {
		return nil, fmt.Errorf("server %q takes %d regions, skiff needs %d", hello.Name, int(hello.MaxRegion)+1, nreg)
	}
	sess, err := newClientSession(cfg, ns2m, nm2s, log2)
	if err != nil {
		return nil, err
	}
	s = sess
	s.st = &f.st
	s.peer = hello.Name
	defer func() {
		if err != nil {
			sess.teardown() // sess.ctl is not set yet: the caller closes c
		}
	}()

	step := func(m *Msg, fd int, what string) error {
		if err := sendMsg(c, m, fd); err != nil {
			return err
		}
		_, err := expect(c, MsgAck, what)
		return err
	}
	if err := step(&Msg{Type: MsgInit, Version: Version, ID: cfg.ID, Mode: ModeEthernet, Secret: cfg.Secret, Name: cfg.Name}, -1, "init"); err != nil {
		return nil, err
	}
	for i, r := range s.regions {
		if err := step(&Msg{Type: MsgAddRegion, Index: uint16(i), Size: uint64(len(r.mem))}, r.fd, fmt.Sprintf("add-region %d", i)); err != nil {
			return nil, err
		}
	}
	for i, r := range s.tx { // S2M rings: ours to fill
		m := &Msg{Type: MsgAddRing, Flags: RingS2M, Index: uint16(i), Region: 0, Offset: ringOffset(i, 0, 0, log2), Log2: log2}
		if err := step(m, r.efd, fmt.Sprintf("add-ring s2m %d", i)); err != nil {
			return nil, err
		}
	}
	for i, r := range s.rx {
		m := &Msg{Type: MsgAddRing, Index: uint16(i), Region: 0, Offset: ringOffset(i, 1, ns2m, log2), Log2: log2}
		if err := step(m, r.efd, fmt.Sprintf("add-ring m2s %d", i)); err != nil {
			return nil, err
		}
	}
	if err := sendMsg(c, &Msg{Type: MsgConnect, Name: cfg.Name}, -1); err != nil {
		return nil, err
	}
	if _, err := expect(c, MsgConnected, "connect"); err != nil {
		return nil, err
	}
	c.SetDeadline(time.Time{})
	s.ctl = c
	return s, nil
}

// ringStride is the space a ring takes in region 0, kept 64-byte aligned.
func ringStride(log2 uint8) int { return (RingLen(log2) + ringAlign - 1) &^ (ringAlign - 1) }

// ringOffset is where ring i of a direction lies in region 0: the S2M
// rings first, then the M2S rings (m2s = 1, after ns2m S2M rings).
func ringOffset(i, m2s, ns2m int, log2 uint8) uint32 {
	return uint32((m2s*ns2m + i) * ringStride(log2))
}

// newClientSession lays out a client's memory: region 0 holds the S2M
// rings, the M2S rings, then (unless SeparateBuffers moves them to region
// 1) one buffer per slot of every ring, in ring order.
func newClientSession(cfg Config, ns2m, nm2s int, log2 uint8) (s *session, err error) {
	s = &session{client: true, log2: log2}
	defer func() {
		if err != nil {
			s.teardown()
		}
	}()
	nrings := ns2m + nm2s
	ringsLen := nrings * ringStride(log2)
	bufsLen := nrings << log2 * cfg.BufferSize
	bufRegion, bufBase := 0, (ringsLen+4095)&^4095
	if cfg.SeparateBuffers {
		bufRegion, bufBase = 1, 0
		r0, err := newRegion("skiff-memif-rings", ringsLen)
		if err != nil {
			return nil, err
		}
		s.regions = append(s.regions, r0)
		r1, err := newRegion("skiff-memif-buffers", bufsLen)
		if err != nil {
			return nil, err
		}
		s.regions = append(s.regions, r1)
	} else {
		r0, err := newRegion("skiff-memif", bufBase+bufsLen)
		if err != nil {
			return nil, err
		}
		s.regions = append(s.regions, r0)
	}
	if uint64(bufBase+bufsLen) > maxRegionSize {
		return nil, fmt.Errorf("buffers of %d bytes do not fit a region", bufsLen)
	}
	mem := s.regions[0].mem
	for i := range nrings {
		rg, err := NewRing(mem, i*ringStride(log2), log2)
		if err != nil {
			return nil, err
		}
		rg.Init()
		efd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
		if err != nil {
			return nil, fmt.Errorf("eventfd: %w", err)
		}
		r := &ring{Ring: rg, efd: efd, bufRegion: uint16(bufRegion), bufSize: uint32(cfg.BufferSize),
			bufOff: uint32(bufBase + i<<log2*cfg.BufferSize)}
		if i < ns2m {
			s.tx = append(s.tx, r)
		} else {
			s.rx = append(s.rx, r)
		}
	}
	return s, nil
}

// runServer accepts clients until Close; each is served by its own
// goroutine, and all but the one holding the id are refused.
func (f *Interface) runServer() {
	defer f.wg.Done()
	for {
		c, err := f.ln.AcceptUnix()
		if err != nil {
			if f.closed.Load() {
				return
			}
			f.cfg.Log.Warn("memif: accept", "socket", f.cfg.Socket, "err", err)
			time.Sleep(100 * time.Millisecond)
			continue
		}
		f.wg.Add(1)
		go f.serve(c)
	}
}

// serve runs the server side of one connection.
func (f *Interface) serve(c *net.UnixConn) {
	defer f.wg.Done()
	f.track(c, true)
	s, claimed, err := f.serverHandshake(c)
	f.track(c, false)
	if err != nil {
		if claimed {
			f.busy.Store(false)
		}
		f.st.HandshakeErrors.Add(1)
		if !f.closed.Load() {
			f.setErr(err)
			f.cfg.Log.Warn("memif: refused a client", "socket", f.cfg.Socket, "id", f.cfg.ID, "err", err)
		}
		c.Close()
		return
	}
	if f.closed.Load() {
		s.teardown()
		f.busy.Store(false)
		return
	}
	f.run(s)
}

// checkCookies checks every ring header the client offered.
func checkCookies(s2m, m2s []*ring) error {
	for i, r := range s2m {
		if r.Cookie() != Cookie {
			return refuse("wrong cookie on s2m ring %d", i)
		}
	}
	for i, r := range m2s {
		if r.Cookie() != Cookie {
			return refuse("wrong cookie on m2s ring %d", i)
		}
	}
	return nil
}

// refusal is a handshake failure the client is told about.
type refusal struct{ reason string }

func (r *refusal) Error() string { return r.reason }

func refuse(format string, args ...any) error { return &refusal{fmt.Sprintf(format, args...)} }

// serverHandshake sends hello and answers the client's messages in order
// until connect. It copes with clients that pipeline (VPP) and ones that
// wait for every ack (DPDK). A refused client gets a disconnect naming
// the fault.
func (f *Interface) serverHandshake(c *net.UnixConn) (s *session, claimed bool, err error) {
	cfg := f.cfg
	c.SetDeadline(time.Now().Add(handshakeTimeout))
	sess := &session{st: &f.st}
	s = sess
	defer func() {
		if err != nil {
			var r *refusal
			if errors.As(err, &r) {
				sendMsg(c, &Msg{Type: MsgDisconnect, Code: 1, Reason: r.reason}, -1)
			}
			sess.ctl = nil // the caller closes c
			sess.teardown()
			err = fmt.Errorf("memif: %s id %d: %w", cfg.Socket, cfg.ID, err)
		}
	}()
	hello := &Msg{Type: MsgHello, Name: cfg.Name, MinVersion: Version, MaxVersion: Version,
		MaxRegion: 255, MaxM2S: uint16(cfg.Queues - 1), MaxS2M: uint16(cfg.Queues - 1), MaxLog2Ring: MaxLog2Ring}
	if err := sendMsg(c, hello, -1); err != nil {
		return nil, false, err
	}
	var s2m, m2s []*ring
	for {
		m, fds, err := recvMsg(c)
		if err != nil {
			closeFds(fds)
			if errors.Is(err, ErrMsgSize) || errors.Is(err, ErrMsgType) {
				return nil, claimed, refuse("%v", err)
			}
			return nil, claimed, err
		}
		fd := -1
		if len(fds) > 0 {
			fd = fds[0]
			closeFds(fds[1:]) // one fd per message at most
		}
		dropFd := func() {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
		if !claimed && m.Type != MsgInit {
			dropFd()
			return nil, false, refuse("%v before init", m.Type)
		}
		switch m.Type {
		case MsgInit:
			dropFd()
			switch {
			case claimed:
				return nil, claimed, refuse("init twice")
			case m.Version != Version:
				return nil, false, refuse("incompatible version %#x (skiff speaks %#x)", m.Version, Version)
			case m.ID != cfg.ID:
				return nil, false, refuse("ID %d not found (this socket serves id %d)", m.ID, cfg.ID)
			case m.Mode != ModeEthernet:
				return nil, false, refuse("mode mismatch: only ethernet mode supported")
			case cfg.Secret != "" && m.Secret == "":
				return nil, false, refuse("secret required")
			case cfg.Secret != "" && m.Secret != cfg.Secret:
				return nil, false, refuse("incorrect secret")
			case !f.busy.CompareAndSwap(false, true):
				return nil, false, refuse("already connected")
			}
			claimed = true
			s.peer = m.Name
		case MsgAddRegion:
			if fd < 0 {
				return nil, claimed, refuse("add-region %d: missing memory region fd", m.Index)
			}
			if int(m.Index) != len(s.regions) {
				dropFd()
				return nil, claimed, refuse("add-region: unexpected region index %d (want %d)", m.Index, len(s.regions))
			}
			r, err := mapRegion(fd, m.Size)
			if err != nil {
				return nil, claimed, refuse("add-region %d: %v", m.Index, err)
			}
			s.regions = append(s.regions, r)
		case MsgAddRing:
			if fd < 0 {
				return nil, claimed, refuse("add-ring %d: missing ring interrupt fd", m.Index)
			}
			dir, list := "m2s", &m2s
			if m.Flags&RingS2M != 0 {
				dir, list = "s2m", &s2m
			}
			if int(m.Index) != len(*list) || len(*list) >= cfg.Queues {
				dropFd()
				return nil, claimed, refuse("add-ring %s: unexpected ring index %d (want %d, at most %d rings)", dir, m.Index, len(*list), cfg.Queues)
			}
			if int(m.Region) >= len(s.regions) {
				dropFd()
				return nil, claimed, refuse("add-ring %s %d: unknown region %d", dir, m.Index, m.Region)
			}
			rg, err := NewRing(s.regions[m.Region].mem, int(m.Offset), m.Log2)
			if err != nil {
				dropFd()
				return nil, claimed, refuse("add-ring %s %d: %v", dir, m.Index, err)
			}
			*list = append(*list, &ring{Ring: rg, efd: fd})
			// Keep the fd owned by the session from here on.
			if m.Flags&RingS2M != 0 {
				s.rx = s2m
			} else {
				s.tx = m2s
			}
			if s.log2 == 0 || m.Log2 < s.log2 {
				s.log2 = m.Log2
			}
		case MsgConnect:
			dropFd()
			switch {
			case len(s2m) == 0 || len(m2s) == 0:
				return nil, claimed, refuse("connect without rings (%d s2m, %d m2s)", len(s2m), len(m2s))
			}
			if err := shielded(func() error { return checkCookies(s2m, m2s) }); err != nil {
				if errors.Is(err, errMemFault) {
					f.st.MemFaults.Add(1)
				}
				return nil, claimed, refuse("%v", err)
			}
			if err := sendMsg(c, &Msg{Type: MsgConnected, Name: cfg.Name}, -1); err != nil {
				return nil, claimed, err
			}
			c.SetDeadline(time.Time{})
			s.ctl = c
			return s, claimed, nil
		default:
			dropFd()
			return nil, claimed, refuse("unexpected %v message during the handshake", m.Type)
		}
		if err := sendMsg(c, &Msg{Type: MsgAck}, -1); err != nil {
			return nil, claimed, err
		}
	}
}
