// SPDX-License-Identifier: Apache-2.0

package wire

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Limits of one session. A session is replaced by a new handshake long
// before either is reached in practice (rekey on time); they bound the damage
// if that does not happen.
const (
	// RejectAfterMessages: a session never sends or accepts a counter at or
	// beyond this.
	RejectAfterMessages = 1 << 60
	// RekeyAfterMessages: past this many sent messages a new handshake is due.
	RekeyAfterMessages = 1 << 48
)

// Errors of Open and of allocating counters.
var (
	ErrAuth    = errors.New("wire: message authentication failed")
	ErrReplay  = errors.New("wire: replayed or too old counter")
	ErrExpired = errors.New("wire: session counter exhausted")
)

// Session is one direction pair of keys between two nodes, made by a
// handshake. Sealing is safe for concurrent use (counters are atomic);
// opening is safe for concurrent use (the replay window has a lock).
type Session struct {
	Suite      Suite
	LocalID    uint32 // id the peer puts in datagrams to us
	RemoteID   uint32 // id we put in datagrams to the peer
	LocalNode  uint16
	RemoteNode uint16
	Initiator  bool      // this side started the handshake
	Created    time.Time // when the handshake completed here

	send, recv cipher.AEAD
	sendCtr    atomic.Uint64
	confirmed  atomic.Bool

	mu     sync.Mutex
	replay Replay
}

// Scratch is per-worker space for nonces and additional data, so sealing and
// opening through the cipher.AEAD interface allocate nothing. Not safe for
// concurrent use; one per goroutine.
type Scratch struct {
	nonce [NonceSize]byte
	ad    [HeaderLen]byte
}

// NextCounters reserves n consecutive counters and returns the first.
func (s *Session) NextCounters(n int) (uint64, error) {
	c := s.sendCtr.Add(uint64(n)) - uint64(n)
	if c+uint64(n) > RejectAfterMessages {
		return 0, ErrExpired
	}
	return c, nil
}

// Sent is the number of counters handed out.
func (s *Session) Sent() uint64 { return s.sendCtr.Load() }

// Confirmed reports whether the peer has proven it holds the session's keys:
// always true for the initiator; for the responder, once a datagram on the
// session has authenticated. A responder sends on a session only once it is
// confirmed, so a replayed initiation cannot redirect its traffic.
func (s *Session) Confirmed() bool { return s.confirmed.Load() }

// NeedsRekey reports whether a new handshake is due.
func (s *Session) NeedsRekey(now time.Time, after time.Duration) bool {
	return now.Sub(s.Created) >= after || s.sendCtr.Load() >= RekeyAfterMessages
}

// Seal encrypts payload in place. hdr is the encoded header (HeaderLen
// bytes, counter included) that precedes it on the wire; payload must have
// Suite.Overhead() bytes of spare capacity for the tag. It returns the
// sealed payload (tag included).
func (s *Session) Seal(sc *Scratch, hdr, payload []byte, ctr uint64) []byte {
	if s.send == nil {
		return payload
	}
	binary.BigEndian.PutUint64(sc.nonce[4:], ctr)
	additionalData(&sc.ad, hdr)
	return s.send.Seal(payload[:0], sc.nonce[:], payload, sc.ad[:])
}

// Open checks ctr against the replay window, authenticates hdr and
// ciphertext and decrypts in place. It returns the plaintext, which aliases
// ciphertext. Only a datagram that authenticates moves the window.
//
// Suite none authenticates nothing, so it has no replay window either: a
// window that unauthenticated datagrams could move would only let anyone
// who sees one datagram block the session (by sending a huge counter).
func (s *Session) Open(sc *Scratch, hdr, ciphertext []byte, ctr uint64) ([]byte, error) {
	if ctr >= RejectAfterMessages {
		return nil, ErrReplay
	}
	if s.recv == nil {
		if !s.confirmed.Load() {
			s.confirmed.Store(true)
		}
		return ciphertext, nil
	}
	s.mu.Lock()
	ok := s.replay.Check(ctr)
	s.mu.Unlock()
	if !ok {
		return nil, ErrReplay
	}
	binary.BigEndian.PutUint64(sc.nonce[4:], ctr)
	additionalData(&sc.ad, hdr)
	pt, err := s.recv.Open(ciphertext[:0], sc.nonce[:], ciphertext, sc.ad[:])
	if err != nil {
		return nil, ErrAuth
	}
	s.mu.Lock()
	ok = s.replay.Accept(ctr)
	s.mu.Unlock()
	if !ok {
		return nil, ErrReplay
	}
	if !s.confirmed.Load() {
		s.confirmed.Store(true)
	}
	return pt, nil
}
