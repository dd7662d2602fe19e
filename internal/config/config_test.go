package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/engine"
)

func write(t *testing.T, s string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tollgate.yaml")
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoad(t *testing.T) {
	c, err := Load(write(t, "pss: {level: baseline, version: v1.30}\nactions: {spot: warn, quota.gpu: audit}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.PSS.Level != "baseline" || c.PSS.Version != "v1.30" || c.Actions["spot"] != engine.ActionWarn || c.TemplateAction != engine.ActionWarn {
		t.Errorf("loaded %+v", c)
	}
	if !c.NamespaceExempt("kube-system") || c.NamespaceExempt("ai-inference") {
		t.Error("default exempt namespaces")
	}
	if d, err := Load(""); err != nil || d.PSS.Level != "restricted" {
		t.Errorf("no file: %+v %v", d, err)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"pss: {levle: baseline}\n", `unknown field "pss.levle"`}, //nolint:misspell // the misspelled key is the case
		{"pss: {level: strict}\n", `pss.level "strict"`},
		{"pss: {version: 1.x}\n", "pss.version"},
		{"actions: {pss: block}\n", `actions[pss]: unknown action "block"`},
		{"templateAction: never\n", "templateAction"},
		{": :\n", "config"},
		{"params: {spot: {taints: []}}\n", "params.spot.taints: set mutators.drain.spotTaints instead"},
	} {
		_, err := Load(write(t, tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestCheckPolicyNames(t *testing.T) {
	ps := []*engine.Policy{{ID: "pss.restricted.runAsNonRoot", Family: "pss"}}
	c := Default()
	c.Actions = map[string]engine.Action{"pss": engine.ActionWarn, "pss.restricted.runAsNonRoot": engine.ActionOff}
	if err := c.CheckPolicyNames(ps); err != nil {
		t.Error(err)
	}
	c.Actions["pss.restricted.runAsNonroot"] = engine.ActionOff
	if err := c.CheckPolicyNames(ps); err == nil || !strings.Contains(err.Error(), "pss.restricted.runAsNonroot") {
		t.Errorf("misspelt id: %v", err)
	}
}

// The spot policies judge Spot taints from the drain mutator's setting.
func TestPolicyParamsShareSpotTaints(t *testing.T) {
	c, err := Load(write(t, "params: {spot: {noticeSeconds: 90}}\nmutators: {drain: {spotTaints: [{key: example.com/spot, value: \"true\", effect: NoExecute}]}}\n"))
	if err != nil {
		t.Fatal(err)
	}
	p := c.PolicyParams()
	spot := p["spot"].(map[string]any)
	want := []any{map[string]any{"key": "example.com/spot", "value": "true", "effect": "NoExecute"}}
	if !reflect.DeepEqual(spot["taints"], want) || fmt.Sprint(spot["noticeSeconds"]) != "90" {
		t.Errorf("params.spot = %v", spot)
	}
	if _, ok := c.Params["spot"].(map[string]any)["taints"]; ok {
		t.Error("PolicyParams changed the configuration")
	}
}
