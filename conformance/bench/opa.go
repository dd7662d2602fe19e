package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/rego"
)

// OPAVersion is the OPA release Tollgate's Go SDK dependency and the
// `opa run --server` it is compared with come from (scripts/tools.sh).
const OPAVersion = "1.22.3"

// OPADecisionPath is the Data API path of the decision the OPA bundle
// defines: every active PSS check's violations, keyed by policy id.
const OPADecisionPath = "/v1/data/tollgate/bench/violations"

// WriteOPABundle writes the Rego that `opa run --server` serves: rego/lib and
// rego/pss as embedded in Tollgate (tests left out), data.json, and a
// decision that evaluates the checks Tollgate's PSS query holds at the
// given level and version, the way an OPA admission setup aggregates its
// policies under one rule.
func WriteOPABundle(dir string, pss *engine.Engine, level string, v engine.Version) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	err := fs.WalkDir(rego.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		keep := p == "data.json" || ((strings.HasPrefix(p, "lib/") || strings.HasPrefix(p, "pss/")) &&
			strings.HasSuffix(p, ".rego") && !engine.IsTestFile(p))
		if !keep {
			return nil
		}
		b, err := fs.ReadFile(rego.FS, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		return err
	}
	var b strings.Builder
	b.WriteString("# The decision the benchmark asks OPA for: the violations of every Pod\n")
	fmt.Fprintf(&b, "# Security Standards check active at level %s, version %s, as\n", level, v)
	b.WriteString("# Tollgate's prepared query evaluates them.\npackage tollgate.bench\n\nviolations := {\n")
	n := 0
	for _, p := range pss.Policies() {
		if p.PSS == nil || !pss.PSSActive(p, level, v) {
			continue
		}
		fmt.Fprintf(&b, "\t%q: %s.violation,\n", p.ID, p.Package)
		n++
	}
	b.WriteString("}\n")
	if n == 0 {
		return fmt.Errorf("no PSS check is active at level %s, version %s", level, v)
	}
	if err := os.MkdirAll(filepath.Join(dir, "bench"), 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "bench", "decision.rego"), []byte(b.String()), 0o644)
}

// OPABinary finds the pinned OPA CLI: $TOLLGATE_TOOLS_DIR/opa, else bin/opa
// (scripts/tools.sh builds it), and checks its version.
func OPABinary(root string) (string, error) {
	dir := os.Getenv("TOLLGATE_TOOLS_DIR")
	if dir == "" {
		dir = filepath.Join(root, "bin")
	}
	bin := filepath.Join(dir, "opa")
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		return "", fmt.Errorf("%s: %w (run scripts/tools.sh)", bin, err)
	}
	if !strings.Contains(string(out), "Version: "+OPAVersion) {
		return "", fmt.Errorf("%s is not OPA %s (run scripts/tools.sh)", bin, OPAVersion)
	}
	return bin, nil
}

// StartOPA runs `opa run --server` on addr over TLS with the bundle in dir.
func StartOPA(bin, dir, addr, certDir, logPath string) (*Proc, error) {
	return StartProc("opa run --server", logPath, bin, []string{"run", "--server",
		"--addr", addr,
		"--tls-cert-file", filepath.Join(certDir, "tls.crt"),
		"--tls-private-key-file", filepath.Join(certDir, "tls.key"),
		"--log-level", "error",
		dir,
	}, nil)
}

// OPABodies wraps input documents as Data API requests.
func OPABodies(inputs []json.RawMessage) ([][]byte, error) {
	out := make([][]byte, len(inputs))
	for i, in := range inputs {
		b, err := json.Marshal(map[string]json.RawMessage{"input": in})
		if err != nil {
			return nil, err
		}
		out[i] = b
	}
	return out, nil
}

// CheckOPA accepts a Data API answer with a result.
func CheckOPA(body []byte) error {
	var r struct {
		Result map[string]json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return err
	}
	if r.Result == nil {
		return errors.New("no result: the decision is undefined")
	}
	return nil
}

// CheckReview accepts an AdmissionReview with a response and its uid.
func CheckReview(body []byte) error {
	var r struct {
		Response *struct {
			UID string `json:"uid"`
		} `json:"response"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return err
	}
	if r.Response == nil || r.Response.UID == "" {
		return errors.New("no response uid")
	}
	return nil
}

// waitHTTP polls url with client until it answers 200, or the process
// exits, or d passes.
func waitHTTP(ctx context.Context, client *http.Client, method, url string, body []byte, p *Proc, d time.Duration) error {
	return waitFor(ctx, d, func() error {
		if done, err := p.Exited(); done {
			return permanent{fmt.Errorf("%s exited (%v):\n%s", p.Name, err, p.LogTail(30))}
		}
		req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(string(body)))
		if err != nil {
			return err
		}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s %s: HTTP %d", method, path.Base(url), resp.StatusCode)
		}
		return nil
	})
}
