package policydocs

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/wiring"
)

// operatorPolicy is an operator bundle's policy with the given example.
func operatorPolicy(example string) string {
	return `# METADATA
# title: No latest tag
# description: Images name a version.
# custom:
#   id: acme.latest
#   severity: low
#   action: warn
#   targets: [pod]
#   remediation: Pin the image.
#   example: |
` + indent(example, "#     ") + `
package acme.latest

violation contains {"msg": sprintf("container %q uses :latest", [c.name]), "path": "spec.containers"} if {
	some c in input.pod.spec.containers
	endswith(c.image, ":latest")
}
`
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i := range lines {
		lines[i] = prefix + lines[i]
	}
	return strings.Join(lines, "\n")
}

func generate(t *testing.T, example string) (string, error) {
	t.Helper()
	var bundles []string
	if example != "" {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "latest.rego"), []byte(operatorPolicy(example)), 0o644); err != nil {
			t.Fatal(err)
		}
		bundles = []string{dir}
	}
	e, err := wiring.NewEngine(context.Background(), config.Default(), bundles)
	if err != nil {
		t.Fatal(err)
	}
	return Generate(context.Background(), e)
}

// TestGenerate: every embedded policy has a section with its example's
// message; an operator policy's example is evaluated the same way.
func TestGenerate(t *testing.T) {
	doc, err := generate(t, "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: app, image: nginx:latest}]\n")
	if err != nil {
		t.Fatal(err)
	}
	e, err := wiring.NewEngine(context.Background(), config.Default(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range e.Policies() {
		if !strings.Contains(doc, "\n### "+p.ID+"\n") {
			t.Errorf("no section for %s", p.ID)
		}
	}
	for _, want := range []string{
		"### acme.latest\n\n**No latest tag**",
		"| low | warn | pod |",
		"Message: `container \"app\" uses :latest`",
		"[acme.latest](#acmelatest)",
	} {
		if !strings.Contains(doc, want) {
			t.Errorf("the reference lacks %q", want)
		}
	}
}

// TestGenerateRefusesBadExamples: the reference cannot claim an example
// violates a policy when it does not, or show an example Tollgate cannot
// review.
func TestGenerateRefusesBadExamples(t *testing.T) {
	for _, tc := range []struct {
		name, example, want string
	}{
		{"example that does not violate", "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers: [{name: app, image: nginx:1.27}]\n", "the example of acme.latest does not violate it"},
		{"example with nothing to review", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n", "example of acme.latest holds no object Tollgate reviews"},
		{"example that does not parse", "kind: Pod\nmetadata: [\n", "example of acme.latest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := generate(t, tc.example)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
}
