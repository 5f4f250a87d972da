// SPDX-License-Identifier: Apache-2.0

package wire

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"strings"

	"golang.org/x/crypto/chacha20poly1305"
)

// Suite is the AEAD that protects data and control packets of a session.
// Its number is carried in every header.
type Suite uint8

const (
	SuiteNone             Suite = 0 // no encryption, no integrity, no replay protection: benchmarks and trusted links
	SuiteAES128GCM        Suite = 1
	SuiteAES192GCM        Suite = 2
	SuiteAES256GCM        Suite = 3
	SuiteChaCha20Poly1305 Suite = 4 // for CPUs without AES instructions

	numSuites = 5
)

var suiteNames = [numSuites]string{
	SuiteNone:             "none",
	SuiteAES128GCM:        "aes-128-gcm",
	SuiteAES192GCM:        "aes-192-gcm",
	SuiteAES256GCM:        "aes-256-gcm",
	SuiteChaCha20Poly1305: "chacha20-poly1305",
}

// Suites lists every suite, in wire-number order.
var Suites = []Suite{SuiteNone, SuiteAES128GCM, SuiteAES192GCM, SuiteAES256GCM, SuiteChaCha20Poly1305}

// SuiteNames is the list of accepted suite names, for help and error texts.
func SuiteNames() string { return strings.Join(suiteNames[:], ", ") }

// ParseSuite returns the suite with the given name.
func ParseSuite(name string) (Suite, error) {
	for i, n := range suiteNames {
		if n == name {
			return Suite(i), nil
		}
	}
	return 0, fmt.Errorf("unknown suite %q (want one of %s)", name, SuiteNames())
}

// Valid reports whether s is a known suite.
func (s Suite) Valid() bool { return s < numSuites }

// String returns the suite's name.
func (s Suite) String() string {
	if s.Valid() {
		return suiteNames[s]
	}
	return fmt.Sprintf("suite(%d)", uint8(s))
}

// KeyLen is the length of the suite's key in bytes (0 for none).
func (s Suite) KeyLen() int {
	switch s {
	case SuiteAES128GCM:
		return 16
	case SuiteAES192GCM:
		return 24
	case SuiteAES256GCM, SuiteChaCha20Poly1305:
		return 32
	}
	return 0
}

// Overhead is the number of bytes the suite appends to a sealed payload
// (the authentication tag).
func (s Suite) Overhead() int {
	if s == SuiteNone || !s.Valid() {
		return 0
	}
	return TagSize
}

const (
	// TagSize is the AEAD tag length of every encrypting suite.
	TagSize = 16
	// NonceSize is the AEAD nonce length of every encrypting suite.
	NonceSize = 12
)

// newAEAD returns the suite's AEAD keyed with key (len == KeyLen), or nil for
// SuiteNone.
func newAEAD(s Suite, key []byte) (cipher.AEAD, error) {
	if len(key) != s.KeyLen() {
		return nil, fmt.Errorf("wire: %v key is %d bytes, want %d", s, len(key), s.KeyLen())
	}
	switch s {
	case SuiteNone:
		return nil, nil
	case SuiteAES128GCM, SuiteAES192GCM, SuiteAES256GCM:
		b, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("wire: %v: %w", s, err)
		}
		return cipher.NewGCM(b)
	case SuiteChaCha20Poly1305:
		return chacha20poly1305.New(key)
	}
	return nil, fmt.Errorf("wire: unknown suite %d", uint8(s))
}
