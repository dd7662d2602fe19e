package image

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Module is a Go module linked into the binary: `go list -deps -f
// '{{.Module.Path}} {{.Module.Version}} {{.Module.Dir}}'` prints one a line.
type Module struct {
	Path, Version, Dir string
}

// ParseModules reads "path version dir" lines; blank lines and duplicates
// (go list prints a module once per package) are skipped.
func ParseModules(b []byte) ([]Module, error) {
	seen := map[string]bool{}
	var mods []Module
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || seen[line] {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			return nil, fmt.Errorf("modules: line %d %q: want path, version and directory", n, line)
		}
		seen[line] = true
		mods = append(mods, Module{Path: f[0], Version: f[1], Dir: f[2]})
	}
	slices.SortFunc(mods, func(a, b Module) int { return strings.Compare(a.Path, b.Path) })
	return mods, sc.Err()
}

// legalFile reports whether a file at a module's root carries its terms:
// LICENSE, LICENCE, COPYING, NOTICE and PATENTS, alone or followed by an
// extension or a qualifier (LICENSE.txt, LICENSE-APACHE), but not Go
// source that happens to start so (license.go).
func legalFile(name string) bool {
	u := strings.ToUpper(name)
	if strings.HasSuffix(u, ".GO") {
		return false
	}
	for _, p := range []string{"LICENSE", "LICENCE", "COPYING", "NOTICE", "PATENTS"} {
		if rest, ok := strings.CutPrefix(u, p); ok && (rest == "" || strings.ContainsRune(".-_", rune(rest[0]))) {
			return true
		}
	}
	return false
}

// ThirdPartyDocs returns the licence, notice and patent files at the root
// of each module, keyed tollgate/third_party/<module path>/<file>, to ship
// with the binary: the Apache License's section 4 and the MIT and BSD
// licences ask that a redistributed binary carry them. It also returns
// the modules that have none, which the caller reports.
func ThirdPartyDocs(mods []Module) (map[string][]byte, []string, error) {
	docs := map[string][]byte{}
	var none []string
	for _, m := range mods {
		entries, err := os.ReadDir(m.Dir)
		if err != nil {
			return nil, nil, fmt.Errorf("module %s@%s: %w", m.Path, m.Version, err)
		}
		found := 0
		for _, e := range entries {
			if !e.Type().IsRegular() || !legalFile(e.Name()) {
				continue
			}
			b, err := os.ReadFile(filepath.Join(m.Dir, e.Name()))
			if err != nil {
				return nil, nil, err
			}
			docs["tollgate/third_party/"+m.Path+"/"+e.Name()] = b
			found++
		}
		if found == 0 {
			none = append(none, m.Path+"@"+m.Version)
		}
	}
	return docs, none, nil
}
