package config

import (
	"flag"
	"os"
	"testing"

	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite docs/config-defaults.yaml")

// TestDefaultsDocumented keeps docs/config-defaults.yaml (the configuration
// file with every default, which docs/configuration.md points operators to)
// equal to what Tollgate actually uses, and checks that it loads.
func TestDefaultsDocumented(t *testing.T) {
	b, err := yaml.Marshal(Default())
	if err != nil {
		t.Fatal(err)
	}
	got := append([]byte("# Every setting of Tollgate's configuration file with its default value.\n# Generated from internal/config (go test ./internal/config -update); do not edit.\n"), b...)
	const path = "../../docs/config-defaults.yaml"
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("%s is out of date: run go test ./internal/config -update", path)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatalf("the documented defaults do not load: %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}
