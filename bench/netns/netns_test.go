// SPDX-License-Identifier: Apache-2.0

package netns

import (
	"strings"
	"testing"
	"time"
)

func TestLab(t *testing.T) {
	RequireRoot(t)
	l, err := New()
	if err != nil {
		t.Fatal(err)
	}
	a, err := l.NS("a")
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.NS("b")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Link(a, "v0", b, "v0"); err != nil {
		t.Fatal(err)
	}
	if err := a.Addr("v0", "198.18.0.1/30"); err != nil {
		t.Fatal(err)
	}
	if err := b.Addr("v0", "198.18.0.2/30"); err != nil {
		t.Fatal(err)
	}
	p, err := b.Start(nil, "sleep", "60")
	if err != nil {
		t.Fatal(err)
	}
	// ip netns exec needs a moment to enter the namespace.
	for i := 0; len(b.Pids()) == 0; i++ {
		if i == 100 {
			t.Fatal("no process in b")
		}
		time.Sleep(20 * time.Millisecond)
	}
	out, err := a.Run("ip", "-o", "addr", "show", "dev", "v0")
	if err != nil || !strings.Contains(string(out), "198.18.0.1/30") {
		t.Fatalf("address: %s %v", out, err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(5 * time.Second); err == nil {
		t.Fatal("sleep was not killed")
	}
	list, _ := run("ip", "netns", "list")
	if strings.Contains(string(list), l.Prefix) {
		t.Fatalf("namespaces left: %s", list)
	}
}
