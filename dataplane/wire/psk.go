// SPDX-License-Identifier: Apache-2.0

package wire

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// PSKSize is the length of a pre-shared key.
const PSKSize = 32

// PSK is the network's pre-shared key. It authenticates every handshake;
// session keys come from the handshake, never from the PSK alone.
type PSK [PSKSize]byte

// Argon2id parameters for PSKFromPassphrase. They follow OWASP's password
// storage recommendation (m = 19 MiB, t = 2, p = 1) so that deriving the key
// keeps a small node's peak memory low, while a guess still costs an attacker
// 19 MiB and two passes. The salt is fixed because both ends must derive the
// same key from the same passphrase with nothing else shared: it separates
// skiff's keys from other uses of the passphrase, not one network from
// another. Use a long passphrase (or a random key from skiff keygen).
const (
	Argon2Time    = 2
	Argon2MemKiB  = 19 * 1024
	Argon2Threads = 1
	Argon2Salt    = "skiff v1 pre-shared key"
)

// PSKFromPassphrase derives the PSK from a passphrase with Argon2id.
// An empty passphrase is an error.
func PSKFromPassphrase(passphrase string) (PSK, error) {
	if passphrase == "" {
		return PSK{}, fmt.Errorf("empty passphrase")
	}
	var k PSK
	copy(k[:], argon2.IDKey([]byte(passphrase), []byte(Argon2Salt), Argon2Time, Argon2MemKiB, Argon2Threads, PSKSize))
	return k, nil
}

// ParsePSK decodes a base64 (standard alphabet, padded) 32-byte key as
// printed by skiff keygen. Surrounding white space is ignored.
func ParsePSK(s string) (PSK, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return PSK{}, fmt.Errorf("key is not valid base64: %w", err)
	}
	if len(b) != PSKSize {
		return PSK{}, fmt.Errorf("key is %d bytes, want %d", len(b), PSKSize)
	}
	var k PSK
	copy(k[:], b)
	return k, nil
}

// GeneratePSK returns a random key.
func GeneratePSK() (PSK, error) {
	var k PSK
	if _, err := rand.Read(k[:]); err != nil {
		return PSK{}, fmt.Errorf("generate key: %w", err)
	}
	return k, nil
}

// String returns the key in base64, the form ParsePSK reads.
func (k PSK) String() string { return base64.StdEncoding.EncodeToString(k[:]) }
