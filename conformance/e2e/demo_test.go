//go:build e2e

package e2e

import (
	"context"
	"net"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/controlplane"
)

// TestDemo runs the README's first command as a newcomer would (the built
// binary, from the repository root, on the cold path: no control-plane
// binaries yet, so the demo builds them, with the Go build cache warm) and
// checks what the API server answered for every example as the demo
// prints it, that nothing else is printed (no controller-runtime logger
// trace), that it exits cleanly, and that its control plane is gone.
func TestDemo(t *testing.T) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, env.bin, "demo")
	cmd.Dir = root
	cmd.Env = hermeticEnv("TOLLGATE_CONTROLPLANE_DIR=" + t.TempDir())
	b, err := cmd.CombinedOutput()
	out := string(b)
	if err != nil {
		t.Fatalf("tollgate demo: %v\n%s", err, out)
	}
	for _, want := range []string{
		`ADMITTED  Namespace ai-inference`,
		`ADMITTED  Bucket ai-inference/agentic-ai-models`,
		`ADMITTED  Policy ai-inference/vllm-models`,
		`ADMITTED  Role ai-inference/vllm-pod-role`,
		// The API server's own refusal, then one line per finding.
		`DENIED    Bucket ai-training/training-scratch\n\s+admission webhook "ack.validate.tollgate.dev" denied the request: Tollgate denied Bucket ai-training/training-scratch:\n\s+s3.encryption: `,
		`DENIED    Role ai-training/nemo-training\n[^\n]+denied the request[^\n]+\n\s+iam.passrole-star: [^\n]+\n\s+iam.s3-resource-star: [^\n]+\n\s+iam.wildcard-action: `,
		// The stored pod against what the API server stores without
		// Tollgate: the MIG resource and the GPU toleration, nothing the
		// API server itself adds.
		`MUTATED   Pod tenant-a/tenant-a-inference\n\s+remove /spec/containers/0/resources/limits/nvidia.com~1gpu null\n\s+add /spec/containers/0/resources/limits/nvidia.com~1mig-3g.40gb "1"\n\s+remove /spec/containers/0/resources/requests/nvidia.com~1gpu null\n\s+add /spec/containers/0/resources/requests/nvidia.com~1mig-3g.40gb "1"\n\s+add /spec/tolerations/\d+ \{"effect":"NoSchedule","key":"nvidia.com/gpu","operator":"Exists"\}\n\s+ADMITTED`,
		`DENIED    NodePool gpu-inference-pool\n[^\n]+denied the request[^\n]+\n\s+nodepool.gpu: `,
		`ADMITTED  NodePool gpu-mig-pool`,
		`ADMITTED  NodePool gpu-training-pool`,
		// The Spot sweep asks for Spot capacity, and the one NodePool that
		// offered it was refused above: placement says so, from the API
		// server's warnings.
		`ADMITTED  Job ai-training/llama-8b-lr-sweep\n\s+warning: schedule.fit: no NodePool and no Node can host the pod, so it would stay Pending: NodePool "gpu-mig-pool": capacity types \[on-demand\] do not include spot`,
		`ADMITTED  Job ai-training/llama-8b-lr-sweep\n(\s+warning: [^\n]+\n)*\s+warning: spot.checkpoint: `,
		`DENIED    Pod ai-inference/vllm-unhardened\n[^\n]+denied the request[^\n]+\n\s+pss.restricted.allowPrivilegeEscalation: `,
		`MUTATED   Pod ai-inference/vllm-7d9f8c6b5-x2k4q\n[^\n]+AWS_ROLE_ARN`,
		`14 admitted, 2 mutated, 4 denied, 0 skipped`,
		`\[7/7\] audit of what is now running\n\s+Audited 10 objects`,
		`Stopped Tollgate and the control plane.`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("the demo's output has no match for %q", want)
		}
	}
	// The vLLM replica can reach only On-Demand NodePools (the Spot-capable
	// gpu-inference-pool was refused), so placement gives it no drain.
	if regexp.MustCompile(`MUTATED   Pod ai-inference/vllm-7d9f8c6b5-x2k4q\n(\s+(add|replace) [^\n]+\n)*\s+add /spec/containers/0/lifecycle`).MatchString(out) {
		t.Errorf("the vLLM replica got a drain though no NodePool it can reach allows Spot")
	}
	// Every line is the demo's own: a step, an object, or indented detail.
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if !regexp.MustCompile(`^(\[\d/7\] |      |building |built |Stopped Tollgate)`).MatchString(l) {
			t.Errorf("the demo printed a line of its own libraries: %q", l)
		}
	}
	if strings.Contains(out, "log.SetLogger") || strings.Contains(out, "goroutine ") {
		t.Errorf("the demo printed controller-runtime's logger trace")
	}
	m := regexp.MustCompile(`up in \S+ at https://(127\.0\.0\.1:\d+)/`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no API server address in the demo's output:\n%s", out)
	}
	if c, err := net.DialTimeout("tcp", m[1], time.Second); err == nil {
		c.Close()
		t.Errorf("the demo's API server at %s still answers after it exited", m[1])
	}
	if t.Failed() {
		t.Logf("output:\n%s", strings.TrimSpace(out))
	}
}
