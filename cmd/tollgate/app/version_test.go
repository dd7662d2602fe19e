package app

import (
	"encoding/json"
	"os"
	"runtime/debug"
	"strings"
	"testing"
)

// TestVersionJSON: every field is there and the process's identity is
// reported. The library versions come from the module build information,
// which `go test` binaries do not carry: they are checked here when it is
// there, and always on the image's binary (conformance/e2e TestContainer).
func TestVersionJSON(t *testing.T) {
	out, errOut, code := run(t, "", "version", "-o", "json")
	if code != ExitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, k := range []string{"version", "goVersion", "platform", "opa", "controllerRuntime", "clientGo", "kubernetesAPI"} {
		if _, ok := v[k].(string); !ok {
			t.Errorf("no %s: %s", k, out)
		}
	}
	for _, k := range []string{"version", "goVersion", "platform"} {
		if s, _ := v[k].(string); s == "" {
			t.Errorf("%s is empty: %s", k, out)
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok && len(bi.Deps) > 0 {
		if s, _ := v["opa"].(string); !strings.HasPrefix(s, "v1.") {
			t.Errorf("opa %q, want the OPA v1 module's version", s)
		}
	}
	p, _ := v["process"].(map[string]any)
	if uid, _ := p["uid"].(float64); int(uid) != os.Getuid() {
		t.Errorf("process.uid %v, want %d", p["uid"], os.Getuid())
	}
}

func TestVersionText(t *testing.T) {
	out, _, code := run(t, "", "version")
	if code != ExitOK {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"tollgate ", "\n  commit:", "\n  OPA:", "\n  controller-runtime:", "\n  client-go:", "\n  k8s.io/api:", "\n  process:            uid "} {
		if !strings.Contains(out, want) {
			t.Errorf("version lacks %q:\n%s", want, out)
		}
	}
	if _, errOut, code := run(t, "", "version", "-o", "yaml"); code != ExitUsage || !strings.Contains(errOut, `unknown output "yaml"`) {
		t.Errorf("-o yaml: exit %d, %q", code, errOut)
	}
}
