package policytest

import (
	"bytes"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
	"gomodules.xyz/jsonpatch/v2"

	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/review"
)

// expect decodes an expect: block as a suite would.
func expect(t *testing.T, src string) Expect {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader([]byte(src)))
	dec.KnownFields(true)
	var e Expect
	if err := dec.Decode(&e); err != nil {
		t.Fatal(err)
	}
	if err := e.check(); err != nil {
		t.Fatal(err)
	}
	return e
}

// TestExpectCompare: each expectation passes on a result that meets it
// and fails, saying what differs, on one that does not.
func TestExpectCompare(t *testing.T) {
	res := &review.Result{
		Allowed: false,
		Violations: []review.Violation{
			{Policy: "pss.restricted.runAsNonRoot", Action: engine.ActionDeny, Message: "runAsNonRoot != true"},
			{Policy: "spot.drain", Action: engine.ActionWarn, Message: "no preStop hook"},
			{Policy: "spot.drain", Action: engine.ActionWarn, Message: "a second finding of the same policy"},
		},
		Warnings: []string{"spot.drain: no preStop hook"},
		Patch:    make([]jsonpatch.Operation, 2),
		Mutated:  []byte(`{"spec":{"replicas":2,"tolerations":[{"key":"nvidia.com/gpu","operator":"Exists"},{"key":"other"}],"resources":{"limits":{"cpu":"1"}}}}`),
	}
	for _, tc := range []struct {
		name, expect string
		fails        []string // substrings of the failures, in order; none: passes
	}{
		{"nothing expected", "{}", nil},
		{"verdict", "allowed: false", nil},
		{"wrong verdict", "allowed: true", []string{"allowed: expected true, got false"}},
		{"exact violations, each id once", "violations: [spot.drain, pss.restricted.runAsNonRoot]", nil},
		{"missing violation", "violations: [spot.drain]", []string{"violations: expected [spot.drain], got [pss.restricted.runAsNonRoot spot.drain]"}},
		{"no violations expected", "violations: []", []string{"violations: expected [], got"}},
		{"includes", "includes: ['pss.*', spot.drain]", nil},
		{"includes nothing matches", "includes: ['quota.*']", []string{`includes: no violation matches "quota.*"`}},
		{"excludes", "excludes: ['quota.*']", nil},
		{"excludes matched", "excludes: ['pss.*']", []string{`excludes: pss.restricted.runAsNonRoot matches "pss.*"`}},
		{"messages", "messages: ['^runAsNonRoot', 'preStop']", nil},
		{"message not found", "messages: ['^privileged']", []string{`messages: no violation message matches "^privileged"`}},
		{"warnings", "warnings: ['^spot\\.drain:']", nil},
		{"warning not found", "warnings: ['quota']", []string{`warnings: no warning matches "quota"`}},
		{"patch count", "patch: 2", nil},
		{"wrong patch count", "patch: 0", []string{"patch: expected 0 operations, got 2"}},
		{"mutated subset; a quantity as a number", "mutated: {spec: {replicas: 2, tolerations: [{key: nvidia.com/gpu}], resources: {limits: {cpu: 1}}}}", nil},
		{"mutated missing key", "mutated: {spec: {nodeSelector: {a: b}}}", []string{"mutated: spec.nodeSelector: missing"}},
		{"mutated no matching element", "mutated: {spec: {tolerations: [{key: spot}]}}", []string{"mutated: spec.tolerations[0]: no element of"}},
		{"mutated wrong value", "mutated: {spec: {replicas: 3}}", []string{"mutated: spec.replicas: expected 3, got 2"}},
		{"mutated wrong shape", "mutated: {spec: {replicas: {a: 1}}}", []string{"mutated: spec.replicas: expected an object, got 2"}},
		{"several failures", "allowed: true\npatch: 1", []string{"allowed:", "patch:"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := expect(t, tc.expect)
			got := e.compare(res)
			if len(got) != len(tc.fails) {
				t.Fatalf("failures %q, want %d matching %q", got, len(tc.fails), tc.fails)
			}
			for i, want := range tc.fails {
				if !strings.Contains(got[i], want) {
					t.Errorf("failure %q does not contain %q", got[i], want)
				}
			}
		})
	}
	// A mutated object that is not JSON is a failure, not a pass.
	bad := *res
	bad.Mutated = []byte("{")
	e := expect(t, "mutated: {a: 1}")
	if got := e.compare(&bad); len(got) != 1 || !strings.Contains(got[0], "does not decode") {
		t.Errorf("undecodable mutated object: %q", got)
	}
}
