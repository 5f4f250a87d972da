// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/skiffnet/skiff/conf"
	"github.com/skiffnet/skiff/dataplane/wire"
)

// runArgs runs the command line and returns the exit code and the output.
func runArgs(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestExampleChecks(t *testing.T) {
	code, out, errOut := runArgs(t, "example")
	if code != 0 || out != conf.Example || errOut != "" {
		t.Fatalf("skiff example = %d, stderr %q", code, errOut)
	}
	path := filepath.Join(t.TempDir(), "example.yaml")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runArgs(t, "check", "-c", path)
	if want := path + ": ok (node site-a id 1, 1 peer)\n"; code != 0 || out != want || errOut != "" {
		t.Errorf("skiff check example = %d, %q, stderr %q; want 0, %q", code, out, errOut, want)
	}
}

func TestCheckExamples(t *testing.T) {
	files, err := filepath.Glob("../../conf/examples/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no examples: %v", err)
	}
	okLine := regexp.MustCompile(`^.+: ok \(node [A-Za-z0-9._-]+ id \d+, \d+ peers?\)\n$`)
	for _, f := range files {
		code, out, errOut := runArgs(t, "check", "-c", f)
		if code != 0 || !okLine.MatchString(out) || !strings.HasPrefix(out, f+": ") || errOut != "" {
			t.Errorf("skiff check -c %s = %d, %q, stderr %q", f, code, out, errOut)
		}
	}
}

func TestCheckBad(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "site-a.yaml")
	bad := strings.Replace(conf.Example, "  mtu: 1500\n  # What to do", "  mtu: 99999\n  # What to do", 1)
	bad = strings.Replace(bad, "suite: aes-256-gcm", "suite: aes-512-gcm", 1)
	if bad == conf.Example {
		t.Fatal("the example changed: update this test")
	}
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	lineOf := func(s string) int {
		return strings.Count(bad[:strings.Index(bad, s)], "\n") + 1
	}
	code, out, errOut := runArgs(t, "check", "-c", path)
	if code != 1 || out != "" {
		t.Errorf("skiff check bad = %d, stdout %q; want 1 and nothing", code, out)
	}
	for _, want := range []string{
		"site-a.yaml:" + strconv.Itoa(lineOf("suite: aes-512")) + `: suite: unknown suite "aes-512-gcm"`,
		"site-a.yaml:" + strconv.Itoa(lineOf("mtu: 99999")) + ": underlay.mtu: 99999 out of range 576..65535",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr does not contain %q:\n%s", want, errOut)
		}
	}
	if n := strings.Count(errOut, "\n"); n != 2 {
		t.Errorf("%d lines on stderr, want one per problem (2):\n%s", n, errOut)
	}

	code, _, errOut = runArgs(t, "check", "-c", filepath.Join(dir, "missing.yaml"))
	if code != 1 || !strings.Contains(errOut, "missing.yaml") {
		t.Errorf("skiff check missing file = %d, stderr %q", code, errOut)
	}
}

func TestKeygen(t *testing.T) {
	code, out, errOut := runArgs(t, "keygen")
	if code != 0 || errOut != "" || !strings.HasSuffix(out, "\n") || strings.Count(out, "\n") != 1 {
		t.Fatalf("skiff keygen = %d, %q, stderr %q", code, out, errOut)
	}
	k, err := wire.ParsePSK(out)
	if err != nil || k.String()+"\n" != out {
		t.Errorf("keygen output %q: %v", out, err)
	}
	_, out2, _ := runArgs(t, "keygen")
	if out2 == out {
		t.Error("two keys are equal")
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runArgs(t, "version")
	want := regexp.MustCompile(`^skiff \S+ \(` + regexp.QuoteMeta(runtime.Version()) + `, ` + runtime.GOOS + `/` + runtime.GOARCH + `\)\n$`)
	if code != 0 || !want.MatchString(out) {
		t.Errorf("skiff version = %d, %q", code, out)
	}
	old := version
	defer func() { version = old }()
	version = "v1.2.3"
	if _, out, _ := runArgs(t, "version"); !strings.HasPrefix(out, "skiff v1.2.3 (go") {
		t.Errorf("skiff version with version set = %q", out)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string // in stderr
	}{
		{"no command", nil, "no command"},
		{"unknown command", []string{"frobnicate"}, `unknown command "frobnicate"`},
		{"unknown flag", []string{"check", "-x"}, "flag provided but not defined: -x"},
		{"check without -c", []string{"check"}, "missing -c FILE"},
		{"check with an argument", []string{"check", "-c", "a.yaml", "b.yaml"}, `unexpected argument "b.yaml"`},
		{"keygen with an argument", []string{"keygen", "now"}, `unexpected argument "now"`},
		{"help for an unknown command", []string{"help", "frobnicate"}, `unknown command "frobnicate"`},
		{"help with two commands", []string{"help", "check", "keygen"}, "too many arguments"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runArgs(t, tt.args...)
			if code != 2 || !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, "usage: skiff") {
				t.Errorf("skiff %q = %d, stdout %q, stderr %q; want 2 and %q with usage", tt.args, code, out, errOut, tt.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		code, out, errOut := runArgs(t, args...)
		if code != 0 || errOut != "" {
			t.Errorf("skiff %q = %d, stderr %q", args, code, errOut)
		}
		for _, c := range commands() {
			if !regexp.MustCompile(`(?m)^  ` + c.name + ` +` + regexp.QuoteMeta(c.summary) + `$`).MatchString(out) {
				t.Errorf("skiff %q does not list %s:\n%s", args, c.name, out)
			}
		}
	}
	code, out, _ := runArgs(t, "help", "check")
	if code != 0 || !strings.Contains(out, "usage: skiff check -c FILE") || !strings.Contains(out, "-c FILE") || !strings.Contains(out, "the config FILE to check") {
		t.Errorf("skiff help check = %d, %q", code, out)
	}
	// Every command has help, and -h on a command is not an error.
	for _, c := range commands() {
		if code, out, _ := runArgs(t, "help", c.name); code != 0 || !strings.Contains(out, "usage: skiff "+c.name) {
			t.Errorf("skiff help %s = %d, %q", c.name, code, out)
		}
		if code, _, errOut := runArgs(t, c.name, "-h"); code != 0 || !strings.Contains(errOut, "usage: skiff "+c.name) {
			t.Errorf("skiff %s -h = %d, stderr %q", c.name, code, errOut)
		}
	}
}
