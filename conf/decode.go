// SPDX-License-Identifier: Apache-2.0

package conf

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Error is one problem in a config file.
type Error struct {
	File string // the name given to Parse, or the base name of Load's path
	Line int    // 1-based line of the offending key or value
	Path string // key path, such as "peers[0].paths[1].remote"; "" for the whole file
	Err  error
}

func (e *Error) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("%s:%d: %v", e.File, e.Line, e.Err)
	}
	return fmt.Sprintf("%s:%d: %s: %v", e.File, e.Line, e.Path, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// maxErrors bounds the problems reported for one file.
const maxErrors = 50

// decoder walks a YAML node tree against the schema, collecting errors.
type decoder struct {
	file string // for errors
	dir  string // base of relative paths
	errs []*Error

	// lines maps the key path of every key and list item seen to its line.
	lines map[string]int
}

// lineOf returns the line of the key path, or of its closest ancestor that
// is in the file.
func (d *decoder) lineOf(path string) int {
	for {
		if l, ok := d.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return d.lines[""]
		}
		path = path[:i]
	}
}

func (d *decoder) fail(line int, path string, err error) {
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Path: path, Err: err})
}

func (d *decoder) failf(line int, path, format string, args ...any) {
	d.fail(line, path, fmt.Errorf(format, args...))
}

// err returns the collected errors in line order, or nil.
func (d *decoder) err() error {
	if len(d.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(d.errs, func(a, b *Error) int { return cmp.Compare(a.Line, b.Line) })
	errs := make([]error, 0, min(len(d.errs), maxErrors)+1)
	for i, e := range d.errs {
		if i == maxErrors {
			errs = append(errs, fmt.Errorf("%s: %d more errors", d.file, len(d.errs)-maxErrors))
			break
		}
		errs = append(errs, e)
	}
	return errors.Join(errs...)
}

var digits = regexp.MustCompile(`^[-+]?[0-9]+$`)

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// document parses data as a single YAML document and returns its root
// node, or nil after recording an error.
func (d *decoder) document(data []byte) *yaml.Node {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	err := dec.Decode(&doc)
	if err == io.EOF {
		d.failf(1, "", "empty file (want at least \"version: 1\")")
		return nil
	}
	if err != nil {
		line, msg := 1, err.Error()
		if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
			line, _ = strconv.Atoi(m[1])
			msg = m[2]
		} else {
			msg = strings.TrimPrefix(msg, "yaml: ")
		}
		d.failf(line, "", "yaml syntax: %s", msg)
		return nil
	}
	var next yaml.Node
	if err := dec.Decode(&next); err != io.EOF {
		line := 1
		if err == nil {
			line = next.Line
		}
		d.failf(line, "", "more than one YAML document (want one)")
		return nil
	}
	if len(doc.Content) == 0 {
		d.failf(1, "", "empty file (want at least \"version: 1\")")
		return nil
	}
	root := resolve(doc.Content[0])
	if root == nil {
		d.failf(doc.Content[0].Line, "", "empty document (want at least \"version: 1\")")
		return nil
	}
	return root
}

// resolve follows aliases and maps null values to nil.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 16; i++ {
		n = n.Alias
	}
	if n == nil || n.Kind == yaml.AliasNode || n.Kind == 0 {
		return nil
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return nil
	}
	return n
}

// kind names a node's kind for errors.
func kind(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!int", "!!float":
			return "the number " + n.Value
		case "!!bool":
			return "the boolean " + n.Value
		case "!!str":
			return strconv.Quote(n.Value)
		}
		return "the " + strings.TrimPrefix(n.ShortTag(), "!!") + " " + strconv.Quote(n.Value)
	}
	return "something else"
}

// field is a key's value in a mapping: val is nil when the key is absent or
// its value null; line is the key's line, or the mapping's when absent.
type field struct {
	val  *yaml.Node
	line int
	path string
}

func (f field) set() bool { return f.val != nil }

// mapping checks that n (at line, path) is a mapping of the allowed keys,
// each at most once, and returns a getter of the fields. A nil n is an
// empty mapping. Unknown keys are reported here.
func (d *decoder) mapping(n *yaml.Node, line int, path string, allowed ...string) func(key string) field {
	type kv struct{ key, val *yaml.Node }
	got := map[string]kv{}
	get := func(key string) field {
		if !slices.Contains(allowed, key) {
			panic("conf: schema asks for undeclared key " + key)
		}
		if e, ok := got[key]; ok {
			return field{resolve(e.val), e.key.Line, join(path, key)}
		}
		return field{nil, line, join(path, key)}
	}
	if n == nil {
		return get
	}
	if n.Kind != yaml.MappingNode {
		d.failf(n.Line, path, "want a mapping, got %s", kind(n))
		return get
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if rk := resolve(k); rk == nil || rk.Kind != yaml.ScalarNode {
			d.failf(k.Line, path, "keys must be plain names")
			continue
		}
		name := resolve(k).Value
		kpath := join(path, name)
		if prev, ok := got[name]; ok {
			d.failf(k.Line, kpath, "duplicate key (first on line %d)", prev.key.Line)
			continue
		}
		if !slices.Contains(allowed, name) {
			d.failf(k.Line, kpath, "unknown key (want one of %s)", strings.Join(allowed, ", "))
			continue
		}
		got[name] = kv{k, v}
		d.lines[kpath] = k.Line
	}
	return get
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// list returns the items of a list field; a nil field is an empty list.
func (d *decoder) list(f field) []field {
	if !f.set() {
		return nil
	}
	if f.val.Kind != yaml.SequenceNode {
		d.failf(f.line, f.path, "want a list, got %s", kind(f.val))
		return nil
	}
	items := make([]field, len(f.val.Content))
	for i, n := range f.val.Content {
		items[i] = field{resolve(n), n.Line, fmt.Sprintf("%s[%d]", f.path, i)}
		d.lines[items[i].path] = n.Line
	}
	return items
}

// scalar returns the text of a scalar field; ok is false if it is unset or
// (after reporting) not a scalar.
func (d *decoder) scalar(f field) (string, bool) {
	if !f.set() {
		return "", false
	}
	if f.val.Kind != yaml.ScalarNode {
		d.failf(f.line, f.path, "want a single value, got %s", kind(f.val))
		return "", false
	}
	return f.val.Value, true
}

// text decodes a string (a number's text is accepted as a string); ok is
// false if the field is unset or, after reporting, not a string.
func (d *decoder) text(f field) (string, bool) {
	s, ok := d.scalar(f)
	if !ok {
		return "", false
	}
	if tag := f.val.ShortTag(); tag != "!!str" && tag != "!!int" && tag != "!!float" {
		d.failf(f.line, f.path, "want a string, got %s", kind(f.val))
		return "", false
	}
	return s, true
}

// nonEmpty decodes a string that must not be empty if given.
func (d *decoder) nonEmpty(f field) (string, bool) {
	s, ok := d.text(f)
	if ok && s == "" {
		d.failf(f.line, f.path, "empty (leave the key out instead)")
		return "", false
	}
	return s, ok
}

// boolean decodes true or false.
func (d *decoder) boolean(f field, def bool) bool {
	if _, ok := d.scalar(f); !ok {
		return def
	}
	var b bool
	if f.val.ShortTag() != "!!bool" || f.val.Decode(&b) != nil {
		d.failf(f.line, f.path, "want true or false, got %s", kind(f.val))
		return def
	}
	return b
}

// integer decodes an integer in lo..hi.
func (d *decoder) integer(f field, def, lo, hi int64) int64 {
	s, ok := d.scalar(f)
	if !ok {
		return def
	}
	if f.val.ShortTag() != "!!int" {
		if digits.MatchString(s) { // too big for YAML's int
			d.failf(f.line, f.path, "%s out of range %d..%d", s, lo, hi)
		} else {
			d.failf(f.line, f.path, "want an integer, got %s", kind(f.val))
		}
		return def
	}
	var v int64
	if err := f.val.Decode(&v); err != nil || v < lo || v > hi {
		d.failf(f.line, f.path, "%s out of range %d..%d", s, lo, hi)
		return def
	}
	return v
}

// duration decodes a Go duration string in lo..hi; span is the range as the
// user wrote it, for errors ("100ms..60s").
func (d *decoder) duration(f field, def, lo, hi time.Duration, span string) time.Duration {
	s, ok := d.scalar(f)
	if !ok {
		return def
	}
	v, err := time.ParseDuration(s)
	if f.val.ShortTag() != "!!str" || err != nil {
		d.failf(f.line, f.path, "want a duration such as \"3s\" or \"250ms\", got %s", kind(f.val))
		return def
	}
	if v < lo || v > hi {
		d.failf(f.line, f.path, "%s out of range %s", s, span)
		return def
	}
	return v
}

// choice decodes one of names, returning its index, or -1.
func (d *decoder) choice(f field, names ...string) int {
	s, ok := d.scalar(f)
	if !ok {
		return -1
	}
	if i := slices.Index(names, s); i >= 0 && f.val.ShortTag() == "!!str" {
		return i
	}
	d.failf(f.line, f.path, "unknown value %s (want one of %s)", kind(f.val), strings.Join(names, ", "))
	return -1
}

// addrPort decodes an address and port, such as 192.0.2.1:4800 or
// [2001:db8::1]:4800, with IPv4-mapped IPv6 addresses unmapped.
func (d *decoder) addrPort(f field) (netip.AddrPort, bool) {
	s, ok := d.scalar(f)
	if !ok {
		return netip.AddrPort{}, false
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil || f.val.ShortTag() != "!!str" {
		d.failf(f.line, f.path, "want an address and port such as 192.0.2.1:4800 or [2001:db8::1]:4800, got %s", kind(f.val))
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}
