// SPDX-License-Identifier: Apache-2.0

package wire

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/flynn/noise"
	"golang.org/x/crypto/hkdf"
)

// The handshake is Noise NNpsk0 (X25519, ChaChaPoly, BLAKE2s) with prologue
// "skiff v1": two messages, each a skiff header followed by the Noise
// message.
//
//	initiation (type 3): header{Session: 0, Counter: 0} ||
//	    e (32) || AEAD(psk-derived key, payload: header copy (28, TTL 0) ||
//	                   initiator session id (4) || timestamp (8, Unix ns)) (40+16)
//	response   (type 4): header{Session: initiator's id, Counter: 0} ||
//	    e (32) || AEAD(payload: header copy (28, TTL 0) || responder session id (4)) (32+16)
//
// Both sides prove knowledge of the PSK; the ephemeral-ephemeral DH makes
// every session's keys new. The header copy inside the authenticated payload
// binds every header byte but TTL. The timestamp lets a responder refuse an
// initiation that is not newer than the last one it accepted from that node,
// so a recorded initiation cannot be replayed while the responder runs; if
// the responder restarted, a replayed initiation yields only an unconfirmed
// session that nobody can use (see Session.Confirmed).
const (
	InitLen = HeaderLen + 32 + initPayloadLen + 16
	RespLen = HeaderLen + 32 + respPayloadLen + 16

	initPayloadLen = HeaderLen + 4 + 8
	respPayloadLen = HeaderLen + 4
)

var (
	noiseSuite    = noise.NewCipherSuite(noise.DH25519, noise.CipherChaChaPoly, noise.HashBLAKE2s)
	noisePrologue = []byte("skiff v1")
)

// Errors of the handshake. A failed handshake message is always dropped;
// these say why, for counters and logs.
var (
	ErrHandshakeLen     = errors.New("handshake: wrong message length")
	ErrHandshakeAuth    = errors.New("handshake: authentication failed (different PSK?)")
	ErrHandshakeHeader  = errors.New("handshake: header does not match its authenticated copy")
	ErrHandshakeReplay  = errors.New("handshake: initiation not newer than the last accepted")
	ErrHandshakeSuite   = errors.New("handshake: peer proposes a different suite")
	ErrHandshakeNode    = errors.New("handshake: node ids do not match this pair")
	ErrHandshakeSession = errors.New("handshake: response for another initiation")
)

// HandshakeConfig is what both sides of a pair must agree on.
type HandshakeConfig struct {
	PSK        PSK
	Suite      Suite
	LocalNode  uint16
	RemoteNode uint16
}

// Initiation is the initiator's state between sending the initiation and
// receiving the response. It keeps the ephemeral key's seed and the
// initiation's payload rather than a live Noise state: every Finish attempt
// replays the first message into a fresh state, so a forged response (even
// one that makes the Noise library fail half-way, such as a low-order
// ephemeral key) cannot spoil the initiation for the genuine response.
type Initiation struct {
	cfg     HandshakeConfig
	seed    [32]byte // the ephemeral private key
	payload [initPayloadLen]byte
	localID uint32
	Sent    time.Time
}

// LocalID is the session id this initiation asked the peer to use.
func (in *Initiation) LocalID() uint32 { return in.localID }

func newHandshakeState(cfg HandshakeConfig, initiator bool, rng io.Reader) (*noise.HandshakeState, error) {
	return noise.NewHandshakeState(noise.Config{
		CipherSuite:           noiseSuite,
		Random:                rng,
		Pattern:               noise.HandshakeNN,
		Initiator:             initiator,
		Prologue:              noisePrologue,
		PresharedKey:          cfg.PSK[:],
		PresharedKeyPlacement: 0,
	})
}

// Initiate starts a handshake with cfg.RemoteNode, asking it to address
// datagrams to us with localID. It returns the state to finish it with and
// the datagram to send.
func Initiate(cfg HandshakeConfig, localID uint32, now time.Time) (*Initiation, []byte, error) {
	return initiate(cfg, localID, now, nil)
}

func initiate(cfg HandshakeConfig, localID uint32, now time.Time, rng io.Reader) (*Initiation, []byte, error) {
	if rng == nil {
		rng = rand.Reader
	}
	in := &Initiation{cfg: cfg, localID: localID, Sent: now}
	if _, err := io.ReadFull(rng, in.seed[:]); err != nil {
		return nil, nil, fmt.Errorf("handshake: ephemeral key: %w", err)
	}
	h := Header{Type: TypeHandshakeInit, TTL: DefaultTTL, Suite: cfg.Suite, Src: cfg.LocalNode, Dst: cfg.RemoteNode}
	msg := make([]byte, HeaderLen, InitLen)
	h.Put(msg)
	additionalData((*[HeaderLen]byte)(in.payload[:HeaderLen]), msg)
	binary.BigEndian.PutUint32(in.payload[HeaderLen:], localID)
	binary.BigEndian.PutUint64(in.payload[HeaderLen+4:], uint64(now.UnixNano()))
	_, msg, err := in.state(msg)
	if err != nil {
		return nil, nil, err
	}
	return in, msg, nil
}

// state builds the initiator's Noise state after the first message from
// the stored seed and payload, appending that message to msg.
func (in *Initiation) state(msg []byte) (*noise.HandshakeState, []byte, error) {
	hs, err := newHandshakeState(in.cfg, true, bytes.NewReader(in.seed[:]))
	if err != nil {
		return nil, nil, fmt.Errorf("handshake: %w", err)
	}
	msg, _, _, err = hs.WriteMessage(msg, in.payload[:])
	if err != nil {
		return nil, nil, fmt.Errorf("handshake: %w", err)
	}
	return hs, msg, nil
}

// InitiationInfo is what a responder learns from a valid initiation.
type InitiationInfo struct {
	Timestamp uint64 // initiator's clock, Unix ns; accept only increasing values per node
	RemoteID  uint32 // the initiator's session id
}

// Respond answers an initiation msg from cfg.RemoteNode (the caller picked
// cfg by the header's source node). It refuses initiations whose timestamp is
// not greater than minTimestamp (the last one accepted from that node).
// It returns the new, unconfirmed session, the response datagram, and what
// it learnt.
func Respond(cfg HandshakeConfig, msg []byte, localID uint32, minTimestamp uint64, now time.Time) (*Session, []byte, InitiationInfo, error) {
	return respond(cfg, msg, localID, minTimestamp, now, nil)
}

func respond(cfg HandshakeConfig, msg []byte, localID uint32, minTimestamp uint64, now time.Time, rng io.Reader) (*Session, []byte, InitiationInfo, error) {
	var info InitiationInfo
	var h Header
	if err := h.Decode(msg); err != nil {
		return nil, nil, info, err
	}
	if h.Type != TypeHandshakeInit || len(msg) != InitLen {
		return nil, nil, info, ErrHandshakeLen
	}
	hs, err := newHandshakeState(cfg, false, rng)
	if err != nil {
		return nil, nil, info, fmt.Errorf("handshake: %w", err)
	}
	var payload [initPayloadLen]byte
	p, _, _, err := hs.ReadMessage(payload[:0], msg[HeaderLen:])
	if err != nil || len(p) != initPayloadLen {
		return nil, nil, info, ErrHandshakeAuth
	}
	if err := checkHeaderCopy(msg, p); err != nil {
		return nil, nil, info, err
	}
	// The header is authentic from here on.
	if h.Src != cfg.RemoteNode || h.Dst != cfg.LocalNode {
		return nil, nil, info, ErrHandshakeNode
	}
	if h.Suite != cfg.Suite {
		return nil, nil, info, ErrHandshakeSuite
	}
	info.RemoteID = binary.BigEndian.Uint32(p[HeaderLen:])
	info.Timestamp = binary.BigEndian.Uint64(p[HeaderLen+4:])
	if info.Timestamp <= minTimestamp {
		return nil, nil, info, ErrHandshakeReplay
	}

	rh := Header{Type: TypeHandshakeResp, TTL: DefaultTTL, Suite: cfg.Suite, Src: cfg.LocalNode, Dst: cfg.RemoteNode, Session: info.RemoteID}
	resp := make([]byte, HeaderLen, RespLen)
	rh.Put(resp)
	var rp [respPayloadLen]byte
	additionalData((*[HeaderLen]byte)(rp[:HeaderLen]), resp)
	binary.BigEndian.PutUint32(rp[HeaderLen:], localID)
	resp, cs1, cs2, err := hs.WriteMessage(resp, rp[:])
	if err != nil {
		return nil, nil, info, fmt.Errorf("handshake: %w", err)
	}
	s, err := newSession(cfg, false, localID, info.RemoteID, cs2.UnsafeKey(), cs1.UnsafeKey(), now)
	if err != nil {
		return nil, nil, info, err
	}
	return s, resp, info, nil
}

// Finish completes the handshake with the peer's response and returns the
// session, confirmed (the response proved the peer holds the keys).
func (in *Initiation) Finish(msg []byte, now time.Time) (*Session, error) {
	var h Header
	if err := h.Decode(msg); err != nil {
		return nil, err
	}
	if h.Type != TypeHandshakeResp || len(msg) != RespLen {
		return nil, ErrHandshakeLen
	}
	if h.Session != in.localID {
		return nil, ErrHandshakeSession
	}
	hs, _, err := in.state(make([]byte, 0, InitLen))
	if err != nil {
		return nil, err
	}
	var payload [respPayloadLen]byte
	p, cs1, cs2, err := hs.ReadMessage(payload[:0], msg[HeaderLen:])
	if err != nil || len(p) != respPayloadLen || cs1 == nil {
		return nil, ErrHandshakeAuth
	}
	if err := checkHeaderCopy(msg, p); err != nil {
		return nil, err
	}
	if h.Src != in.cfg.RemoteNode || h.Dst != in.cfg.LocalNode {
		return nil, ErrHandshakeNode
	}
	if h.Suite != in.cfg.Suite {
		return nil, ErrHandshakeSuite
	}
	remoteID := binary.BigEndian.Uint32(p[HeaderLen:])
	return newSession(in.cfg, true, in.localID, remoteID, cs1.UnsafeKey(), cs2.UnsafeKey(), now)
}

func checkHeaderCopy(msg, payload []byte) error {
	var ad [HeaderLen]byte
	additionalData(&ad, msg)
	if !bytes.Equal(ad[:], payload[:HeaderLen]) {
		return ErrHandshakeHeader
	}
	return nil
}

// newSession derives the suite's keys from the handshake's two 32-byte
// transport keys with HKDF-SHA256 (info names the suite and direction, so
// keys of different suites are never the same bytes).
func newSession(cfg HandshakeConfig, initiator bool, localID, remoteID uint32, sendKey, recvKey [32]byte, now time.Time) (*Session, error) {
	s := &Session{
		Suite:      cfg.Suite,
		LocalID:    localID,
		RemoteID:   remoteID,
		LocalNode:  cfg.LocalNode,
		RemoteNode: cfg.RemoteNode,
		Initiator:  initiator,
		Created:    now,
	}
	dir := [2]string{"responder to initiator", "initiator to responder"}
	sendDir, recvDir := dir[0], dir[1]
	if initiator {
		sendDir, recvDir = dir[1], dir[0]
	}
	var err error
	if s.send, err = newAEAD(cfg.Suite, deriveKey(cfg.Suite, sendKey, sendDir)); err != nil {
		return nil, err
	}
	if s.recv, err = newAEAD(cfg.Suite, deriveKey(cfg.Suite, recvKey, recvDir)); err != nil {
		return nil, err
	}
	s.confirmed.Store(initiator)
	return s, nil
}

func deriveKey(suite Suite, secret [32]byte, dir string) []byte {
	k := make([]byte, suite.KeyLen())
	if len(k) == 0 {
		return k
	}
	r := hkdf.Expand(sha256.New, secret[:], []byte("skiff v1 "+suite.String()+" "+dir))
	if _, err := io.ReadFull(r, k); err != nil {
		panic(err) // HKDF-SHA256 can produce 8160 bytes; we ask for at most 32
	}
	return k
}

// RandomSessionID returns a random non-zero session id.
func RandomSessionID() (uint32, error) {
	var b [4]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, fmt.Errorf("session id: %w", err)
		}
		if id := binary.BigEndian.Uint32(b[:]); id != 0 {
			return id, nil
		}
	}
}
