package effective_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"

	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/iam"
	"github.com/tollgate-dev/tollgate/internal/iam/effective"
)

// TestCanaryGrantsAreEffective: the engine's canary corpus carries the
// effective grants of its IAM document as a literal (the engine cannot
// import this package); they are what Evaluate computes.
func TestCanaryGrantsAreEffective(t *testing.T) {
	for _, c := range engine.DefaultCanary() {
		if c.Name != "IAM Role" {
			continue
		}
		v, err := ast.JSON(c.Input)
		if err != nil {
			t.Fatal(err)
		}
		st := v.(map[string]any)["state"].(map[string]any)["iam"].(map[string]any)
		// The canary holds the document normalised (empty NotAction and
		// NotResource lists); the parser takes it as written.
		doc := st["policies"].([]any)[0].(map[string]any)["document"].(map[string]any)
		for _, s := range doc["Statement"].([]any) {
			for k, v := range s.(map[string]any) {
				if l, ok := v.([]any); ok && len(l) == 0 {
					delete(s.(map[string]any), k)
				}
			}
		}
		raw, _ := json.Marshal(doc)
		d, err := iam.ParseDocumentJSON(raw)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(effective.Evaluate([]iam.Policy{{Kind: "inline", Name: "s3", Document: d}}, nil, effective.Session{}))
		got, _ := json.Marshal(st["grants"])
		var w, g any
		_ = json.Unmarshal(want, &w)
		_ = json.Unmarshal(got, &g)
		if !reflect.DeepEqual(w, g) {
			t.Errorf("canary grants\n%s\nwant\n%s", got, want)
		}
		return
	}
	t.Fatal("no IAM Role canary case")
}
