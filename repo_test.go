// SPDX-License-Identifier: Apache-2.0

// Repository-wide checks: formatting, license headers, package docs, and
// the dependency direction of DESIGN.md (cmd -> control -> engine ->
// pipeline -> stage -> wire/packet/buf).
package skiff_test

import (
	"bytes"
	"go/format"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/skiffnet/skiff/"

type goFile struct {
	path    string // slash-separated, relative to the repo root
	dir     string
	test    bool
	src     []byte
	imports []string
	pkgDoc  bool
}

func goFiles(t *testing.T) []goFile {
	t.Helper()
	var files []goFile
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != "." && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, src, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		gf := goFile{path: filepath.ToSlash(path), dir: filepath.ToSlash(filepath.Dir(path)), test: strings.HasSuffix(path, "_test.go"), src: src, pkgDoc: f.Doc != nil}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			gf.imports = append(gf.imports, p)
		}
		files = append(files, gf)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func generated(src []byte) bool {
	return bytes.Contains(src, []byte("Code generated")) && bytes.Contains(src, []byte("DO NOT EDIT"))
}

func TestGofmt(t *testing.T) {
	for _, f := range goFiles(t) {
		out, err := format.Source(f.src)
		if err != nil {
			t.Errorf("%s: %v", f.path, err)
			continue
		}
		if !bytes.Equal(out, f.src) {
			t.Errorf("%s is not gofmt-formatted (run gofmt -w)", f.path)
		}
	}
}

func TestLicenseHeader(t *testing.T) {
	for _, f := range goFiles(t) {
		if generated(f.src) {
			continue
		}
		if !bytes.HasPrefix(f.src, []byte("// SPDX-License-Identifier: Apache-2.0\n")) {
			t.Errorf("%s: first line must be the SPDX license identifier", f.path)
		}
	}
}

func TestPackageDocs(t *testing.T) {
	documented := map[string]bool{}
	dirs := map[string]bool{}
	for _, f := range goFiles(t) {
		if f.test || f.dir == "." {
			continue
		}
		dirs[f.dir] = true
		if f.pkgDoc {
			documented[f.dir] = true
		}
	}
	for d := range dirs {
		if !documented[d] {
			t.Errorf("package %s has no package doc comment saying its job", d)
		}
	}
}

// allowed lists, per package (prefix of its directory), the skiff packages
// its non-test files may import. Packages not listed may import anything
// but cmd.
var allowed = []struct {
	dir     string
	imports []string
}{
	{"dataplane/packet", nil},
	{"dataplane/buf", nil},
	{"dataplane/wire", []string{"dataplane/buf", "dataplane/packet", "dataplane/wire"}}, // wiretest imports wire
	{"dataplane/stage", []string{"dataplane/buf", "dataplane/packet", "dataplane/wire"}},
	{"dataplane/pipeline", []string{"dataplane/buf", "dataplane/packet", "dataplane/wire", "dataplane/stage", "dataplane/fib"}},
	{"dataplane/fib", nil},
	{"dataplane/port", []string{"dataplane/buf", "dataplane/packet", "dataplane/port", "bpf", "vpp/memif"}},
	{"dataplane/engine", []string{"dataplane/buf", "dataplane/packet", "dataplane/wire", "dataplane/stage", "dataplane/pipeline", "dataplane/port", "dataplane/fib"}},
	{"conf", []string{"dataplane/wire", "dataplane/stage"}},
}

// pure packages: no logging, no processes.
var pure = []string{"dataplane/packet", "dataplane/buf", "dataplane/wire", "dataplane/stage", "dataplane/pipeline", "dataplane/fib", "control/route", "control/probe"}

func TestImportDirection(t *testing.T) {
	for _, f := range goFiles(t) {
		for _, imp := range f.imports {
			own, isOwn := strings.CutPrefix(imp, module)
			if isOwn && (own == "cmd" || strings.HasPrefix(own, "cmd/")) {
				t.Errorf("%s imports %s: nothing imports cmd", f.path, imp)
			}
			if !f.test && strings.Contains(imp, "gopacket") && !strings.HasPrefix(f.dir, "bench") {
				t.Errorf("%s imports %s: gopacket only in tests and bench", f.path, imp)
			}
			if f.test {
				continue
			}
			for _, p := range pure {
				if strings.HasPrefix(f.dir, p) && (imp == "log" || imp == "log/slog" || imp == "os/exec") {
					t.Errorf("%s imports %s: %s is a pure package", f.path, imp, p)
				}
			}
			if !isOwn {
				continue
			}
			for _, a := range allowed {
				if f.dir != a.dir && !strings.HasPrefix(f.dir, a.dir+"/") {
					continue
				}
				if !slices.ContainsFunc(a.imports, func(ok string) bool { return own == ok || strings.HasPrefix(own, ok+"/") }) {
					t.Errorf("%s imports %s: %s may import only %v", f.path, imp, a.dir, a.imports)
				}
			}
		}
	}
}
