// SPDX-License-Identifier: Apache-2.0

package netns

import (
	"os"
	"testing"
)

// RequireRoot skips a test that needs root, or fails it when the CI
// environment variable is set: CI runs as root, and a root test skipped
// there would hide a broken suite.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("this test needs root, and CI must run as root")
	}
	t.Skip("needs root (network namespaces)")
}
