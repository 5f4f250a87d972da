// SPDX-License-Identifier: Apache-2.0

package wire

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"
	"time"
)

var testPSK = PSK{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32}

// pair runs a whole handshake between node 1 (initiator) and node 2.
func pair(t testing.TB, suite Suite, now time.Time) (a, b *Session) {
	t.Helper()
	ca := HandshakeConfig{PSK: testPSK, Suite: suite, LocalNode: 1, RemoteNode: 2}
	cb := HandshakeConfig{PSK: testPSK, Suite: suite, LocalNode: 2, RemoteNode: 1}
	in, init, err := Initiate(ca, 111, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(init) != InitLen {
		t.Fatalf("initiation is %d bytes, want %d", len(init), InitLen)
	}
	b, resp, info, err := Respond(cb, init, 222, 0, now)
	if err != nil {
		t.Fatal(err)
	}
	if info.RemoteID != 111 || info.Timestamp != uint64(now.UnixNano()) {
		t.Fatalf("info %+v", info)
	}
	if len(resp) != RespLen {
		t.Fatalf("response is %d bytes, want %d", len(resp), RespLen)
	}
	a, err = in.Finish(resp, now)
	if err != nil {
		t.Fatal(err)
	}
	return a, b
}

// seal builds a data datagram from a to its peer.
func seal(t testing.TB, s *Session, payload []byte) []byte {
	t.Helper()
	ctr, err := s.NextCounters(1)
	if err != nil {
		t.Fatal(err)
	}
	h := Header{Type: TypeData, TTL: 9, Suite: s.Suite, Src: s.LocalNode, Dst: s.RemoteNode, Session: s.RemoteID, Counter: ctr}
	d := make([]byte, HeaderLen+len(payload), HeaderLen+len(payload)+TagSize)
	h.Put(d)
	copy(d[HeaderLen:], payload)
	var sc Scratch
	ct := s.Seal(&sc, d[:HeaderLen], d[HeaderLen:], ctr)
	return d[:HeaderLen+len(ct)]
}

func open(s *Session, d []byte) ([]byte, error) {
	var h Header
	if err := h.Decode(d); err != nil {
		return nil, err
	}
	if h.Session != s.LocalID {
		return nil, errors.New("wrong session")
	}
	c := append([]byte(nil), d...)
	var sc Scratch
	return s.Open(&sc, c[:HeaderLen], c[HeaderLen:], h.Counter)
}

func TestHandshakeAllSuites(t *testing.T) {
	now := time.Unix(1700000000, 0)
	for _, suite := range Suites {
		t.Run(suite.String(), func(t *testing.T) {
			a, b := pair(t, suite, now)
			if !a.Confirmed() || b.Confirmed() {
				t.Fatal("initiator must be confirmed, responder not yet")
			}
			if a.RemoteID != 222 || b.RemoteID != 111 || a.LocalID != 111 || b.LocalID != 222 {
				t.Fatalf("ids a %d/%d b %d/%d", a.LocalID, a.RemoteID, b.LocalID, b.RemoteID)
			}
			msg := []byte("an ethernet frame, more or less")
			d := seal(t, a, msg)
			if suite != SuiteNone && bytes.Contains(d, msg) {
				t.Fatal("plaintext visible")
			}
			got, err := open(b, d)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("a->b: %q %v", got, err)
			}
			if !b.Confirmed() {
				t.Fatal("responder confirmed after first packet")
			}
			_, err = open(b, d)
			switch {
			case suite == SuiteNone && err != nil:
				t.Fatalf("suite none has no replay window: %v", err)
			case suite != SuiteNone && !errors.Is(err, ErrReplay):
				t.Fatalf("replay: %v", err)
			}
			got, err = open(a, seal(t, b, msg))
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("b->a: %q %v", got, err)
			}
		})
	}
}

// Every header byte but TTL is authenticated; every ciphertext byte too.
func TestTamper(t *testing.T) {
	now := time.Unix(1700000000, 0)
	for _, suite := range Suites[1:] {
		a, b := pair(t, suite, now)
		for i := 0; i < HeaderLen+40+TagSize; i++ {
			d := seal(t, a, make([]byte, 40))
			d[i] ^= 0x01
			_, err := open(b, d)
			if i == offTTL {
				if err != nil {
					t.Fatalf("%v: TTL change must pass: %v", suite, err)
				}
				continue
			}
			if err == nil {
				t.Fatalf("%v: flipping byte %d went unnoticed", suite, i)
			}
		}
		// Truncated tag.
		d := seal(t, a, make([]byte, 40))
		if _, err := open(b, d[:len(d)-1]); err == nil {
			t.Fatalf("%v: truncated datagram accepted", suite)
		}
	}
}

func TestWrongPSK(t *testing.T) {
	now := time.Unix(1700000000, 0)
	ca := HandshakeConfig{PSK: testPSK, Suite: SuiteAES256GCM, LocalNode: 1, RemoteNode: 2}
	cb := ca
	cb.LocalNode, cb.RemoteNode = 2, 1
	cb.PSK[0] ^= 1
	_, init, err := Initiate(ca, 1, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := Respond(cb, init, 2, 0, now); !errors.Is(err, ErrHandshakeAuth) {
		t.Fatalf("wrong psk: %v", err)
	}
}

func TestHandshakeChecks(t *testing.T) {
	now := time.Unix(1700000000, 0)
	ca := HandshakeConfig{PSK: testPSK, Suite: SuiteAES256GCM, LocalNode: 1, RemoteNode: 2}
	cb := HandshakeConfig{PSK: testPSK, Suite: SuiteAES256GCM, LocalNode: 2, RemoteNode: 1}
	_, init, _ := Initiate(ca, 1, now)

	other := cb
	other.Suite = SuiteChaCha20Poly1305
	if _, _, _, err := Respond(other, init, 2, 0, now); !errors.Is(err, ErrHandshakeSuite) {
		t.Fatalf("suite mismatch: %v", err)
	}
	other = cb
	other.RemoteNode = 3
	if _, _, _, err := Respond(other, init, 2, 0, now); !errors.Is(err, ErrHandshakeNode) {
		t.Fatalf("node mismatch: %v", err)
	}
	// A changed header byte (here the destination, rewritten by an
	// attacker to reach another node) fails against the authenticated copy.
	bad := append([]byte(nil), init...)
	bad[offDst+1] = 9
	other = cb
	other.LocalNode = 9
	if _, _, _, err := Respond(other, bad, 2, 0, now); !errors.Is(err, ErrHandshakeHeader) {
		t.Fatalf("rewritten header: %v", err)
	}
	// TTL may change.
	ttl := append([]byte(nil), init...)
	ttl[offTTL] = 3
	if _, _, _, err := Respond(cb, ttl, 2, 0, now); err != nil {
		t.Fatalf("ttl: %v", err)
	}
	if _, _, _, err := Respond(cb, init[:len(init)-1], 2, 0, now); !errors.Is(err, ErrHandshakeLen) {
		t.Fatalf("short: %v", err)
	}
}

// A response for another initiation, or a forged one, does not finish the
// handshake, and does not spoil the initiation for the real response.
func TestFinishChecks(t *testing.T) {
	now := time.Unix(1700000000, 0)
	ca := HandshakeConfig{PSK: testPSK, Suite: SuiteAES128GCM, LocalNode: 1, RemoteNode: 2}
	cb := HandshakeConfig{PSK: testPSK, Suite: SuiteAES128GCM, LocalNode: 2, RemoteNode: 1}
	in, init, _ := Initiate(ca, 5, now)
	_, resp, _, err := Respond(cb, init, 6, 0, now)
	if err != nil {
		t.Fatal(err)
	}
	forged := append([]byte(nil), resp...)
	forged[len(forged)-1] ^= 1
	if _, err := in.Finish(forged, now); !errors.Is(err, ErrHandshakeAuth) {
		t.Fatalf("forged: %v", err)
	}
	wrongID := append([]byte(nil), resp...)
	wrongID[offSession+3] ^= 1
	if _, err := in.Finish(wrongID, now); !errors.Is(err, ErrHandshakeSession) {
		t.Fatalf("wrong session: %v", err)
	}
	if _, err := in.Finish(resp, now); err != nil {
		t.Fatalf("real response after forgeries: %v", err)
	}
}

// A forged response with a low-order ephemeral key makes the Noise library
// fail in the middle of reading it; the genuine response must still finish
// the handshake afterwards.
func TestForgedLowOrderResponse(t *testing.T) {
	now := time.Unix(1700000000, 0)
	ca := HandshakeConfig{PSK: testPSK, Suite: SuiteAES256GCM, LocalNode: 1, RemoteNode: 2}
	cb := HandshakeConfig{PSK: testPSK, Suite: SuiteAES256GCM, LocalNode: 2, RemoteNode: 1}
	in, init, _ := Initiate(ca, 7, now)
	_, resp, _, err := Respond(cb, init, 8, 0, now)
	if err != nil {
		t.Fatal(err)
	}
	forged := append([]byte(nil), resp...)
	clear(forged[HeaderLen : HeaderLen+32]) // the all-zero point
	if _, err := in.Finish(forged, now); err == nil {
		t.Fatal("forged response accepted")
	}
	if _, err := in.Finish(resp, now); err != nil {
		t.Fatalf("genuine response after a low-order forgery: %v", err)
	}
}

// Restarts: a node that restarts runs a new handshake and gets new keys, so
// (a) nonces never repeat under a key even though counters restart at 0, and
// (b) datagrams recorded from the earlier run are refused.
func TestRestartRefusesOldRun(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	a1, b1 := pair(t, SuiteAES256GCM, t0)
	old := seal(t, a1, []byte("from the first run"))
	if _, err := open(b1, old); err != nil {
		t.Fatal(err)
	}

	// Both sides restart (fresh state) and handshake again with the same
	// session ids the first run used: only the keys differ.
	a2, b2 := pair(t, SuiteAES256GCM, t0.Add(time.Second))
	if a2.LocalID != a1.LocalID || b2.LocalID != b1.LocalID {
		t.Fatal("test wants equal ids to isolate the keys")
	}
	// Same counter (0), same ids, same plaintext: different ciphertext,
	// i.e. different key.
	a3, _ := pair(t, SuiteAES256GCM, t0.Add(2*time.Second))
	c2, c3 := seal(t, a2, []byte("same")), seal(t, a3, []byte("same"))
	if bytes.Equal(c2[HeaderLen:], c3[HeaderLen:]) {
		t.Fatal("two runs produced the same ciphertext for counter 0: key reused")
	}
	if _, err := open(b2, old); !errors.Is(err, ErrAuth) {
		t.Fatalf("datagram from the earlier run: %v, want ErrAuth", err)
	}
}

// The responder refuses an initiation that is not newer than the last one it
// accepted from that node: a recorded initiation cannot be replayed.
func TestInitiationReplay(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	ca := HandshakeConfig{PSK: testPSK, Suite: SuiteAES256GCM, LocalNode: 1, RemoteNode: 2}
	cb := HandshakeConfig{PSK: testPSK, Suite: SuiteAES256GCM, LocalNode: 2, RemoteNode: 1}
	_, init, _ := Initiate(ca, 1, t0)
	_, _, info, err := Respond(cb, init, 2, 0, t0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := Respond(cb, init, 3, info.Timestamp, t0); !errors.Is(err, ErrHandshakeReplay) {
		t.Fatalf("replayed initiation: %v", err)
	}
	_, newer, _ := Initiate(ca, 1, t0.Add(time.Millisecond))
	if _, _, _, err := Respond(cb, newer, 3, info.Timestamp, t0); err != nil {
		t.Fatalf("newer initiation: %v", err)
	}
}

func TestCounterLimits(t *testing.T) {
	a, _ := pair(t, SuiteAES128GCM, time.Unix(1700000000, 0))
	first, err := a.NextCounters(3)
	if err != nil || first != 0 {
		t.Fatal(first, err)
	}
	if c, _ := a.NextCounters(1); c != 3 {
		t.Fatalf("next counter %d, want 3", c)
	}
	a.sendCtr.Store(RejectAfterMessages - 1)
	if _, err := a.NextCounters(1); err != nil {
		t.Fatal("last counter must be usable")
	}
	if _, err := a.NextCounters(1); !errors.Is(err, ErrExpired) {
		t.Fatalf("exhausted: %v", err)
	}
	if !a.NeedsRekey(a.Created, time.Hour) {
		t.Fatal("rekey due after many messages")
	}
	b, _ := pair(t, SuiteAES128GCM, time.Unix(1700000000, 0))
	if b.NeedsRekey(b.Created.Add(time.Minute), 2*time.Minute) || !b.NeedsRekey(b.Created.Add(2*time.Minute), 2*time.Minute) {
		t.Fatal("rekey on time")
	}
}

func TestSealOpenAllocs(t *testing.T) {
	a, b := pair(t, SuiteAES256GCM, time.Unix(1700000000, 0))
	var sa, sb Scratch
	d := make([]byte, HeaderLen+1400+TagSize)
	n := testing.AllocsPerRun(1000, func() {
		ctr, _ := a.NextCounters(1)
		h := Header{Type: TypeData, Suite: a.Suite, Src: 1, Dst: 2, Session: a.RemoteID, Counter: ctr}
		h.Put(d)
		ct := a.Seal(&sa, d[:HeaderLen], d[HeaderLen:HeaderLen+1400], ctr)
		if _, err := b.Open(&sb, d[:HeaderLen], ct, ctr); err != nil {
			t.Fatal(err)
		}
	})
	if n != 0 {
		t.Fatalf("allocs = %v", n)
	}
}

// FuzzHandshake feeds arbitrary bytes to both ends of the handshake: no
// panic, and nothing but a genuine message yields a session.
func FuzzHandshake(f *testing.F) {
	now := time.Unix(1700000000, 0)
	ca := HandshakeConfig{PSK: testPSK, Suite: SuiteAES256GCM, LocalNode: 1, RemoteNode: 2}
	cb := HandshakeConfig{PSK: testPSK, Suite: SuiteAES256GCM, LocalNode: 2, RemoteNode: 1}
	// A fixed random source makes the seed initiation the same in the
	// coordinator and in every fuzz worker process.
	_, init, _ := initiate(ca, 1, now, rand.NewChaCha8([32]byte{7}))
	_, resp, _, _ := Respond(cb, init, 2, 0, now)
	f.Add(init)
	f.Add(resp)
	f.Add(init[:HeaderLen])
	f.Fuzz(func(t *testing.T, msg []byte) {
		if _, _, _, err := Respond(cb, msg, 2, 0, now); err == nil {
			if !bytes.Equal(msg[:offTTL], init[:offTTL]) || !bytes.Equal(msg[offTTL+1:], init[offTTL+1:]) {
				t.Fatal("forged initiation accepted")
			}
		}
		fresh, _, _ := Initiate(ca, 1, now)
		if _, err := fresh.Finish(msg, now); err == nil {
			t.Fatal("response to another initiation accepted")
		}
	})
}

func TestPSK(t *testing.T) {
	k, err := GeneratePSK()
	if err != nil {
		t.Fatal(err)
	}
	p, err := ParsePSK(" " + k.String() + "\n")
	if err != nil || p != k {
		t.Fatalf("round trip: %v", err)
	}
	for _, bad := range []string{"", "not base64!", "AAAA", k.String() + "AAAA"} {
		if _, err := ParsePSK(bad); err == nil {
			t.Fatalf("ParsePSK(%q) accepted", bad)
		}
	}
	a, err := PSKFromPassphrase("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := PSKFromPassphrase("correct horse battery staple")
	c, _ := PSKFromPassphrase("correct horse battery stapler")
	if a != b || a == c {
		t.Fatal("passphrase derivation must be deterministic and sensitive")
	}
	if _, err := PSKFromPassphrase(""); err == nil {
		t.Fatal("empty passphrase accepted")
	}
	for _, s := range Suites {
		if p, err := ParseSuite(s.String()); err != nil || p != s {
			t.Fatalf("suite %v round trip", s)
		}
	}
	if _, err := ParseSuite("aes-512-gcm"); err == nil {
		t.Fatal("bad suite accepted")
	}
}
