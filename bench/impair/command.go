// SPDX-License-Identifier: Apache-2.0

package impair

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// CommandKind is what a command line asks for.
type CommandKind int

// Command kinds. The zero CommandKind is no command.
const (
	CmdNone  CommandKind = iota + 1 // a blank line or a # comment
	CmdSet                          // set one parameter
	CmdStats                        // print the stats
)

// Dir is the direction a command applies to.
type Dir int

// Directions.
const (
	Both       Dir = iota // both directions (no prefix)
	ToTarget              // "to-target ..."
	FromTarget            // "from-target ..."
)

// Command is one line of a relay's control protocol (skiff impair's
// standard input):
//
//	drop P         reorder P       dup P         P: 0..1, or a percentage like 5%
//	delay D        jitter D        reorder-by D  D: a Go duration like 80ms
//	stats
//
// A parameter line may start with to-target or from-target to set one
// direction only; without, it sets both. Blank lines and lines starting
// with # are CmdNone.
type Command struct {
	Kind  CommandKind
	Dir   Dir
	Param string        // CmdSet: drop, delay, jitter, reorder, reorder-by or dup
	Prob  float64       // for drop, reorder, dup
	Dur   time.Duration // for delay, jitter, reorder-by
}

// ParseCommand parses one command line. It returns a command with a
// nonzero Kind, or an error (never both).
func ParseCommand(line string) (Command, error) {
	f := strings.Fields(line)
	if len(f) == 0 || strings.HasPrefix(f[0], "#") {
		return Command{Kind: CmdNone}, nil
	}
	c := Command{Kind: CmdSet}
	switch f[0] {
	case "to-target":
		c.Dir, f = ToTarget, f[1:]
	case "from-target":
		c.Dir, f = FromTarget, f[1:]
	}
	if len(f) == 0 {
		return Command{}, fmt.Errorf("%q: missing parameter after the direction", line)
	}
	if f[0] == "stats" {
		if c.Dir != Both || len(f) != 1 {
			return Command{}, fmt.Errorf("%q: stats takes no direction or value", line)
		}
		return Command{Kind: CmdStats}, nil
	}
	c.Param = f[0]
	var parse func(string) error
	switch c.Param {
	case "drop", "reorder", "dup":
		parse = func(s string) (err error) { c.Prob, err = ParseProb(s); return err }
	case "delay", "jitter", "reorder-by":
		parse = func(s string) (err error) { c.Dur, err = ParseDelay(s); return err }
	default:
		return Command{}, fmt.Errorf("%q: unknown command %q (want drop, delay, jitter, reorder, reorder-by, dup or stats)", line, c.Param)
	}
	if len(f) != 2 {
		return Command{}, fmt.Errorf("%q: want %s VALUE", line, c.Param)
	}
	err := parse(f[1])
	if err != nil {
		return Command{}, fmt.Errorf("%q: %s: %w", line, c.Param, err)
	}
	return c, nil
}

// Apply returns the parameters of both directions after a CmdSet command;
// other commands return them unchanged.
func (c Command) Apply(to, from Params) (Params, Params) {
	if c.Kind != CmdSet {
		return to, from
	}
	if c.Dir != FromTarget {
		c.set(&to)
	}
	if c.Dir != ToTarget {
		c.set(&from)
	}
	return to, from
}

func (c Command) set(p *Params) {
	switch c.Param {
	case "drop":
		p.Drop = c.Prob
	case "reorder":
		p.Reorder = c.Prob
	case "dup":
		p.Duplicate = c.Prob
	case "delay":
		p.Delay = c.Dur
	case "jitter":
		p.Jitter = c.Dur
	case "reorder-by":
		p.ReorderBy = c.Dur
	}
}

// ErrRange is a value out of its range.
var ErrRange = errors.New("out of range")

// ParseProb parses a probability: a number 0..1, or a percentage 0%..100%.
func ParseProb(s string) (float64, error) {
	num, pct := strings.CutSuffix(s, "%")
	v, err := strconv.ParseFloat(num, 64)
	if ne := (*strconv.NumError)(nil); errors.As(err, &ne) {
		err = ne.Err // without the function and the input
	}
	if err != nil {
		return 0, fmt.Errorf("bad probability %q: %w", s, err)
	}
	if pct {
		v /= 100
	}
	if math.IsNaN(v) || v < 0 || v > 1 {
		return 0, fmt.Errorf("probability %q: %w 0..1", s, ErrRange)
	}
	return v, nil
}

// ParseDelay parses a duration 0..MaxDelay, e.g. "80ms" (or "0").
func ParseDelay(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q: %w", s, err)
	}
	if d < 0 || d > MaxDelay {
		return 0, fmt.Errorf("duration %q: %w 0..%v", s, ErrRange, MaxDelay)
	}
	return d, nil
}
