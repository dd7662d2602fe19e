//go:build e2e

package chart

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestNetworkPolicy: off by default; on, it admits the webhook and probe
// ports from anywhere and the metrics port only from the peers listed, and
// every port it names is a port of the Deployment's container.
func TestNetworkPolicy(t *testing.T) {
	if d := docs(t, mustRender(t, "default")); len(d["NetworkPolicy"]) != 0 {
		t.Fatalf("a NetworkPolicy by default: %v", d["NetworkPolicy"])
	}
	out, err := render(t, "default", "--set", "networkPolicy.enabled=true",
		"--set-json", `networkPolicy.metricsFrom=[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"monitoring"}}}]`)
	if err != nil {
		t.Fatalf("helm template: %v\n%s", err, out)
	}
	d := docs(t, out)
	if len(d["NetworkPolicy"]) != 1 {
		t.Fatalf("%d NetworkPolicies, want 1", len(d["NetworkPolicy"]))
	}
	var np networkingv1.NetworkPolicy
	decode(t, d["NetworkPolicy"][0], &np)
	var dep appsv1.Deployment
	decode(t, d["Deployment"][0], &dep)
	ports := map[string]bool{}
	for _, p := range dep.Spec.Template.Spec.Containers[0].Ports {
		ports[p.Name] = true
	}
	open := map[string]string{}
	for _, rule := range np.Spec.Ingress {
		for _, p := range rule.Ports {
			if p.Port == nil || p.Port.Type != intstr.String || !ports[p.Port.StrVal] {
				t.Errorf("rule port %v is not a named port of the container (%v)", p.Port, ports)
				continue
			}
			from := "anywhere"
			if len(rule.From) > 0 {
				from = rule.From[0].String()
			}
			open[p.Port.StrVal] = from
		}
	}
	if open["webhook"] != "anywhere" || open["probes"] != "anywhere" {
		t.Errorf("webhook and probes must be open to the API server and kubelet: %v", open)
	}
	if !strings.Contains(open["metrics"], "monitoring") {
		t.Errorf("metrics open to %q, want only the monitoring namespace", open["metrics"])
	}
}
