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
// binary, from the repository root) and checks what it reports for every
// example, that it exits cleanly, and that its control plane is gone.
func TestDemo(t *testing.T) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, env.bin, "demo")
	cmd.Dir = root
	cmd.Env = hermeticEnv()
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
		`DENIED    Bucket ai-training/training-scratch\n\s+s3.encryption: `,
		`DENIED    Role ai-training/nemo-training\n\s+iam.passrole-star: [^\n]+\n\s+iam.s3-resource-star: [^\n]+\n\s+iam.wildcard-action: `,
		`MUTATED   Pod tenant-a/tenant-a-inference\n[^\n]+nvidia.com~1gpu`,
		`DENIED    NodePool gpu-inference-pool\n\s+nodepool.gpu: `,
		`ADMITTED  NodePool gpu-mig-pool`,
		`ADMITTED  NodePool gpu-training-pool`,
		`ADMITTED  Job ai-training/llama-8b-lr-sweep\n\s+warning: spot.checkpoint: `,
		`DENIED    Pod ai-inference/vllm-unhardened\n\s+pss.restricted.allowPrivilegeEscalation: `,
		`MUTATED   Pod ai-inference/vllm-7d9f8c6b5-x2k4q\n[^\n]+AWS_ROLE_ARN`,
		`14 admitted, 2 mutated, 4 denied, 0 skipped`,
		`\[6/6\] audit of what is now running\n\s+Audited 10 objects`,
		`Stopped Tollgate and the control plane.`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("the demo's output has no match for %q", want)
		}
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
