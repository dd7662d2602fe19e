package exception

import (
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

const dcgm = `
apiVersion: tollgate.dev/v1alpha1
kind: PolicyException
metadata: {name: dcgm-host, namespace: gpu-monitoring}
spec:
  policies: [pss.baseline.privileged, pss.baseline.host*]
  match:
    kinds: [Pod, DaemonSet]
    names: [dcgm-exporter-*]
    selector: {matchLabels: {app: dcgm-exporter}}
  reason: DCGM exporter reads GPU counters through the host
  ticket: PLAT-1234
  expiresAt: "2027-03-01T00:00:00Z"
`

func parse(t *testing.T, doc string) *Exception {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
		t.Fatal(err)
	}
	e, err := Parse(m)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestFind(t *testing.T) {
	e := parse(t, dcgm)
	home := parse(t, strings.NewReplacer("gpu-monitoring", "tollgate-system", "[Pod, DaemonSet]", "[NodePool]", "names: [dcgm-exporter-*]", "names: [gpu-*]", "selector: {matchLabels: {app: dcgm-exporter}}", "selector: {}").Replace(dcgm))
	d := Decider{Home: "tollgate-system", MaxDuration: 180 * 24 * time.Hour}
	pod := Subject{Kind: "Pod", Namespace: "gpu-monitoring", Name: "dcgm-exporter-x7k2p", Labels: map[string]string{"app": "dcgm-exporter"}}
	before := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		policy string
		s      Subject
		now    time.Time
		want   *Exception
	}{
		{"valid", "pss.baseline.privileged", pod, before, e},
		{"glob", "pss.baseline.hostNamespaces", pod, before, e},
		{"policy not named", "pss.restricted.runAsNonRoot", pod, before, nil},
		{"expired", "pss.baseline.privileged", pod, e.ExpiresAt, nil},
		{"expired later", "pss.baseline.privileged", pod, e.ExpiresAt.Add(time.Hour), nil},
		{"longer than maxDuration from now", "pss.baseline.privileged", pod, e.ExpiresAt.Add(-181 * 24 * time.Hour), nil},
		{"name miss", "pss.baseline.privileged", Subject{Kind: "Pod", Namespace: "gpu-monitoring", Name: "other", Labels: pod.Labels}, before, nil},
		{"generateName of a controller's pod", "pss.baseline.privileged", Subject{Kind: "Pod", Namespace: "gpu-monitoring", Name: "dcgm-exporter-", Labels: pod.Labels}, before, e},
		{"selector miss", "pss.baseline.privileged", Subject{Kind: "Pod", Namespace: "gpu-monitoring", Name: pod.Name, Labels: map[string]string{"app": "x"}}, before, nil},
		{"template labels", "pss.baseline.privileged", Subject{Kind: "DaemonSet", Namespace: "gpu-monitoring", Name: "dcgm-exporter-ds", TemplateLabels: pod.Labels}, before, e},
		{"kind miss", "pss.baseline.privileged", Subject{Kind: "Deployment", Namespace: "gpu-monitoring", Name: pod.Name, Labels: pod.Labels}, before, nil},
		{"namespace miss", "pss.baseline.privileged", Subject{Kind: "Pod", Namespace: "default", Name: pod.Name, Labels: pod.Labels}, before, nil},
		{"cluster-scoped from home", "pss.baseline.privileged", Subject{Kind: "NodePool", Name: "gpu-a"}, before, home},
		{"cluster-scoped not from elsewhere", "pss.baseline.privileged", Subject{Kind: "NodePool", Name: "dcgm-exporter-1"}, before, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := d.Find(tc.policy, tc.s, []*Exception{e, home}, tc.now); got != tc.want {
				t.Errorf("Find = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestWarning(t *testing.T) {
	want := "excepted by PolicyException gpu-monitoring/dcgm-host until 2027-03-01 (PLAT-1234)"
	if got := parse(t, dcgm).Warning(); got != want {
		t.Errorf("Warning = %q, want %q", got, want)
	}
}

func TestParseRefuses(t *testing.T) {
	for _, tc := range []struct{ name, old, new, want string }{
		{"no reason", "reason: DCGM exporter reads GPU counters through the host", "", "spec.reason is required"},
		{"no expiry", `expiresAt: "2027-03-01T00:00:00Z"`, "", "spec.expiresAt is required"},
		{"bad expiry", `"2027-03-01T00:00:00Z"`, `"next spring"`, "not an RFC 3339 time"},
		{"blanket", "[pss.baseline.privileged, pss.baseline.host*]", `["*"]`, "excepts every policy"},
		{"double blanket", "[pss.baseline.privileged, pss.baseline.host*]", `["**"]`, "excepts every policy"},
		{"bad glob", "pss.baseline.host*]", "\"pss.baseline.host[s]\"]", "only '*' is a wildcard"},
		{"bad selector", "{matchLabels: {app: dcgm-exporter}}", "{matchExpressions: [{key: app, operator: Has}]}", "spec.match.selector"},
		{"no policies", "policies: [pss.baseline.privileged, pss.baseline.host*]", "policies: []", "spec.policies is required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var m map[string]any
			if err := yaml.Unmarshal([]byte(strings.Replace(dcgm, tc.old, tc.new, 1)), &m); err != nil {
				t.Fatal(err)
			}
			_, err := Parse(m)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		g, s string
		want bool
	}{
		{"pss.*", "pss.baseline.privileged", true},
		{"pss.baseline.*", "pss.restricted.runAsNonRoot", false},
		{"*.privileged", "pss.baseline.privileged", true},
		{"pss.*.host*", "pss.baseline.hostPorts", true},
		{"pss.*.host*", "pss.baseline.privileged", false},
		{"spot.grace", "spot.grace", true},
		{"spot.grace", "spot.gracex", false},
		{"a*a", "a", false},
		{"a*a", "aa", true},
	} {
		if got := Match(tc.g, tc.s); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.g, tc.s, got, tc.want)
		}
	}
}
