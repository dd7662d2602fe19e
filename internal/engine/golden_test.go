package engine_test

import (
	"context"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/engine"
)

var update = flag.Bool("update", false, "rewrite testdata/pss_findings.golden from the embedded policies")

// TestPSSFindingsGolden pins the message and path of every pss finding on
// generated pods (random violations, repeated names and ports, every level
// and a pre-1.19 version), so that rewriting a check for speed cannot change
// what it reports. The upstream conformance suite checks verdicts; this
// checks the words.
func TestPSSFindingsGolden(t *testing.T) {
	e := embeddedEngine(t)
	r := rand.New(rand.NewPCG(17, 2))
	var sb strings.Builder
	for i := range 40 {
		p := randomPod(r)
		for _, at := range []struct {
			level   string
			version int
		}{{"baseline", 18}, {"baseline", 37}, {"restricted", 37}} {
			sel := engine.Selector{Target: engine.TargetPod, Level: at.level, Version: engine.Version(at.version)}
			fs, err := e.Evaluate(context.Background(), sel, podInput(t, p, at.level, at.version))
			if err != nil {
				t.Fatalf("pod %d: %v", i, err)
			}
			var lines []string
			for _, f := range fs {
				if f.Policy.Family == "pss" && e.PSSActive(f.Policy, at.level, sel.Version) {
					lines = append(lines, fmt.Sprintf("  %s @ %s: %s\n", f.Policy.ID, f.Path, f.Message))
				}
			}
			slices.Sort(lines)
			fmt.Fprintf(&sb, "pod %d %s v1.%d\n%s", i, at.level, at.version, strings.Join(lines, ""))
		}
	}
	file := filepath.Join("testdata", "pss_findings.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(sb.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/engine -run PSSFindingsGolden -update)", err)
	}
	if got := sb.String(); got != string(want) {
		gl, wl := strings.Split(got, "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("%s:%d differs:\ngot  %s\nwant %s", file, i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("%s: %d lines, want %d", file, len(gl), len(wl))
	}
}
