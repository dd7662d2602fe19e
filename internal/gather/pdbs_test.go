package gather

import (
	"slices"
	"testing"
)

func TestPDBs(t *testing.T) {
	st := staticState(t, cluster)
	for _, tc := range []struct {
		name, object, want string
		warnings           []string
	}{
		{"selected by a matching and an empty selector; never by a missing one", `apiVersion: v1
kind: Pod
metadata: {name: vllm-0, namespace: plain, labels: {app: vllm}}
spec: {containers: [{name: c, image: i}]}
`, `[{"name":"everything","maxUnavailable":"50%"},{"name":"vllm","minAvailable":1}]`,
			[]string{`PodDisruptionBudget plain/bad: spec.selector: "Matches" is not a valid label selector operator`}},
		{"templates by their pod labels", `apiVersion: apps/v1
kind: StatefulSet
metadata: {name: web, namespace: plain}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: i}]}
`, `[{"name":"everything","maxUnavailable":"50%"}]`,
			[]string{`PodDisruptionBudget plain/bad: spec.selector: "Matches" is not a valid label selector operator`}},
		{"none in the namespace is an empty list", `apiVersion: v1
kind: Pod
metadata: {name: p, namespace: scoped, labels: {app: vllm}}
spec: {containers: [{name: c, image: i}]}
`, `[]`, nil},
		{"NodePools have none", `apiVersion: karpenter.sh/v1
kind: NodePool
metadata: {name: np}
spec: {template: {spec: {requirements: [], nodeClassRef: {group: g, kind: k, name: n}}}}
`, `null`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := gathering(t, st, tc.object)
			if got := gathered(t, &PDBs{}, g); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			if !slices.Equal(g.Warnings, tc.warnings) {
				t.Errorf("warnings %q, want %q", g.Warnings, tc.warnings)
			}
		})
	}
}
