// SPDX-License-Identifier: Apache-2.0

package impair

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

var commandTests = []struct {
	line string
	want Command
	err  string // substring of the error; "" means no error
}{
	{"drop 0.05", Command{Kind: CmdSet, Param: "drop", Prob: 0.05}, ""},
	{"  drop   5%  ", Command{Kind: CmdSet, Param: "drop", Prob: 0.05}, ""},
	{"delay 80ms", Command{Kind: CmdSet, Param: "delay", Dur: 80 * time.Millisecond}, ""},
	{"jitter 5ms", Command{Kind: CmdSet, Param: "jitter", Dur: 5 * time.Millisecond}, ""},
	{"reorder 0.01", Command{Kind: CmdSet, Param: "reorder", Prob: 0.01}, ""},
	{"reorder-by 3ms", Command{Kind: CmdSet, Param: "reorder-by", Dur: 3 * time.Millisecond}, ""},
	{"dup 0.02", Command{Kind: CmdSet, Param: "dup", Prob: 0.02}, ""},
	{"dup 1", Command{Kind: CmdSet, Param: "dup", Prob: 1}, ""},
	{"delay 0", Command{Kind: CmdSet, Param: "delay"}, ""},
	{"to-target delay 80ms", Command{Kind: CmdSet, Dir: ToTarget, Param: "delay", Dur: 80 * time.Millisecond}, ""},
	{"from-target drop 0.1", Command{Kind: CmdSet, Dir: FromTarget, Param: "drop", Prob: 0.1}, ""},
	{"stats", Command{Kind: CmdStats}, ""},
	{"", Command{Kind: CmdNone}, ""},
	{"   \t", Command{Kind: CmdNone}, ""},
	{"# a comment", Command{Kind: CmdNone}, ""},

	{"drop", Command{}, "want drop VALUE"},
	{"drop 0.1 0.2", Command{}, "want drop VALUE"},
	{"drop 1.5", Command{}, "out of range"},
	{"drop -0.1", Command{}, "out of range"},
	{"drop 101%", Command{}, "out of range"},
	{"drop NaN", Command{}, "out of range"},
	{"drop inf", Command{}, "out of range"},
	{"drop x", Command{}, "bad probability"},
	{"delay 80", Command{}, "bad duration"},
	{"delay -1ms", Command{}, "out of range"},
	{"delay 2h", Command{}, "out of range"},
	{"jitter fast", Command{}, "bad duration"},
	{"loss 0.1", Command{}, "unknown command"},
	{"to-target", Command{}, "missing parameter"},
	{"to-target stats", Command{}, "stats takes no"},
	{"stats now", Command{}, "stats takes no"},
	{"to-target from-target drop 0.1", Command{}, "unknown command"},
	{"DROP 0.1", Command{}, "unknown command"},
}

func TestParseCommand(t *testing.T) {
	for _, tt := range commandTests {
		got, err := ParseCommand(tt.line)
		if tt.err == "" {
			if err != nil || got != tt.want {
				t.Errorf("ParseCommand(%q) = %+v, %v; want %+v", tt.line, got, err, tt.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.err) || got != (Command{}) {
			t.Errorf("ParseCommand(%q) = %+v, %v; want an error with %q", tt.line, got, err, tt.err)
		}
		if tt.err == "out of range" && !errors.Is(err, ErrRange) {
			t.Errorf("ParseCommand(%q): %v is not ErrRange", tt.line, err)
		}
	}
}

func TestCommandApply(t *testing.T) {
	to, from := Params{Drop: 0.5}, Params{Delay: time.Second}
	steps := []struct {
		line     string
		to, from Params
	}{
		{"delay 80ms", Params{Drop: 0.5, Delay: 80 * time.Millisecond}, Params{Delay: 80 * time.Millisecond}},
		{"to-target jitter 5ms", Params{Drop: 0.5, Delay: 80 * time.Millisecond, Jitter: 5 * time.Millisecond}, Params{Delay: 80 * time.Millisecond}},
		{"from-target drop 10%", Params{Drop: 0.5, Delay: 80 * time.Millisecond, Jitter: 5 * time.Millisecond}, Params{Drop: 0.1, Delay: 80 * time.Millisecond}},
		{"reorder 0.01", Params{Drop: 0.5, Delay: 80 * time.Millisecond, Jitter: 5 * time.Millisecond, Reorder: 0.01}, Params{Drop: 0.1, Delay: 80 * time.Millisecond, Reorder: 0.01}},
		{"from-target reorder-by 1ms", Params{Drop: 0.5, Delay: 80 * time.Millisecond, Jitter: 5 * time.Millisecond, Reorder: 0.01}, Params{Drop: 0.1, Delay: 80 * time.Millisecond, Reorder: 0.01, ReorderBy: time.Millisecond}},
		{"dup 0.02", Params{Drop: 0.5, Delay: 80 * time.Millisecond, Jitter: 5 * time.Millisecond, Reorder: 0.01, Duplicate: 0.02}, Params{Drop: 0.1, Delay: 80 * time.Millisecond, Reorder: 0.01, ReorderBy: time.Millisecond, Duplicate: 0.02}},
		{"to-target drop 0", Params{Delay: 80 * time.Millisecond, Jitter: 5 * time.Millisecond, Reorder: 0.01, Duplicate: 0.02}, Params{Drop: 0.1, Delay: 80 * time.Millisecond, Reorder: 0.01, ReorderBy: time.Millisecond, Duplicate: 0.02}},
		{"stats", Params{Delay: 80 * time.Millisecond, Jitter: 5 * time.Millisecond, Reorder: 0.01, Duplicate: 0.02}, Params{Drop: 0.1, Delay: 80 * time.Millisecond, Reorder: 0.01, ReorderBy: time.Millisecond, Duplicate: 0.02}},
	}
	for _, s := range steps {
		c, err := ParseCommand(s.line)
		if err != nil {
			t.Fatal(err)
		}
		to, from = c.Apply(to, from)
		if to != s.to || from != s.from {
			t.Fatalf("after %q:\n to-target   %v\n from-target %v\nwant\n to-target   %v\n from-target %v", s.line, to, from, s.to, s.from)
		}
	}
}

// FuzzImpairCommand: ParseCommand never panics, returns an error xor a
// command, and a parameter it accepts is in range and round-trips through
// Apply.
func FuzzImpairCommand(f *testing.F) {
	for _, tt := range commandTests {
		f.Add(tt.line)
	}
	f.Add("from-target reorder-by 1h")
	f.Add("drop 0x1p-3")
	f.Fuzz(func(t *testing.T, line string) {
		c, err := ParseCommand(line)
		if (err == nil) == (c == Command{}) {
			t.Fatalf("ParseCommand(%q) = %+v, %v: want an error xor a command", line, c, err)
		}
		if err != nil {
			return
		}
		switch c.Kind {
		case CmdNone, CmdStats:
			if c != (Command{Kind: c.Kind}) {
				t.Fatalf("ParseCommand(%q) = %+v: fields set", line, c)
			}
		case CmdSet:
			if c.Prob < 0 || c.Prob > 1 || math.IsNaN(c.Prob) || c.Dur < 0 || c.Dur > MaxDelay {
				t.Fatalf("ParseCommand(%q) = %+v: out of range", line, c)
			}
			to, from := c.Apply(Params{}, Params{})
			if err := to.Validate(); err != nil {
				t.Fatal(err)
			}
			if err := from.Validate(); err != nil {
				t.Fatal(err)
			}
			if c.Dir != FromTarget && to == (Params{}) && (c.Prob != 0 || c.Dur != 0) {
				t.Fatalf("ParseCommand(%q) = %+v: Apply changed nothing", line, c)
			}
		default:
			t.Fatalf("ParseCommand(%q) = %+v: bad kind", line, c)
		}
	})
}
