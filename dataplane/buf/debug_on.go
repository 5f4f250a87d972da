// SPDX-License-Identifier: Apache-2.0

//go:build dpdebug

package buf

// poison overwrites a released buffer so a use after Put reads garbage that
// tests notice, not plausible data.
func poison(b []byte) {
	for i := range b {
		b[i] = 0xAA
	}
}
