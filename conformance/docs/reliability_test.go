// Package docs checks that the project's documentation names tests that
// exist, so that a renamed or deleted test cannot leave a claim behind.
package docs

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// ref is a test reference in docs/reliability.md: `pkg TestName/sub`, or a
// bare `TestName` of the e2e suite.
var ref = regexp.MustCompile("`(?:([a-z][a-z0-9/]*) )?((?:Test|Fuzz)[A-Za-z0-9]+|logsHoldNoSecrets)(/[^`]+)?`")

func TestReliabilityReferencesExist(t *testing.T) {
	root := filepath.Join("..", "..")
	doc, err := os.ReadFile(filepath.Join(root, "docs", "reliability.md"))
	if err != nil {
		t.Fatal(err)
	}
	matches := ref.FindAllStringSubmatch(string(doc), -1)
	if len(matches) < 40 {
		t.Fatalf("only %d test references found; has the table format changed?", len(matches))
	}
	sources := map[string]string{}
	read := func(pkg string) string {
		if s, ok := sources[pkg]; ok {
			return s
		}
		files, _ := filepath.Glob(filepath.Join(root, pkg, "*_test.go"))
		var b strings.Builder
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(data)
		}
		sources[pkg] = b.String()
		return sources[pkg]
	}
	for _, m := range matches {
		pkg, name, sub := m[1], m[2], strings.TrimPrefix(m[3], "/")
		if pkg == "" {
			pkg = "conformance/e2e"
		}
		src := read(pkg)
		if src == "" {
			t.Errorf("%s: package %s has no tests", m[0], pkg)
			continue
		}
		if !strings.Contains(src, "func "+name+"(") {
			t.Errorf("%s: no func %s in %s", m[0], name, pkg)
			continue
		}
		// A subtest is named by a string literal; go test turns its
		// spaces into underscores.
		if sub != "" && !strings.Contains(src, `"`+strings.ReplaceAll(sub, "_", " ")) {
			t.Errorf("%s: no subtest %q in %s", m[0], sub, pkg)
		}
	}
}

// TestREADMESuiteExample: the PolicyTest suite the README shows is the
// shipped example that CI runs, word for word.
func TestREADMESuiteExample(t *testing.T) {
	root := filepath.Join("..", "..")
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(readme), "<!-- policytest-example -->\n```yaml\n")
	if !ok {
		t.Fatal("README.md has no policytest-example block")
	}
	block, _, ok := strings.Cut(after, "```\n")
	if !ok {
		t.Fatal("the policytest-example block is not closed")
	}
	want, err := os.ReadFile(filepath.Join(root, "examples", "policytest", "gpu-inference.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if block != string(want) {
		t.Error("the README's PolicyTest example differs from examples/policytest/gpu-inference.yaml")
	}
}
