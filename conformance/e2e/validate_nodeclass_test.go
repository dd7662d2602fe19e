//go:build e2e

package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"github.com/tollgate-dev/tollgate/internal/controlplane"
)

var ec2NodeClassGVR = schema.GroupVersionResource{Group: "karpenter.k8s.aws", Version: "v1", Resource: "ec2nodeclasses"}

// TestEC2NodeClasses sends EC2NodeClasses through the API server (the
// stand-in CRD of conformance/crds, whose schema and metadataOptions default
// run first) to Tollgate's nodeclasses webhook.
func TestEC2NodeClasses(t *testing.T) {
	root, _ := controlplane.RepoRoot()
	dir := filepath.Join(root, "conformance", "suites", "nodeclass", "nodeclasses")
	w := &warnings{}
	cfg := rest.CopyConfig(env.cp.Config)
	cfg.WarningHandler = w
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const base = `apiVersion: karpenter.k8s.aws/v1
kind: EC2NodeClass
metadata: {name: gpu}
spec:
  role: KarpenterNodeRole-agentic-ai
  amiSelectorTerms: [{alias: al2023@v20240807}]
  subnetSelectorTerms: [{tags: {karpenter.sh/discovery: agentic-ai}}]
  securityGroupSelectorTerms: [{tags: {karpenter.sh/discovery: agentic-ai}}]
`
	for _, tc := range []struct {
		name, file, doc string
		// want: "created", "schema" (refused by the CRD), or a policy id
		// Tollgate denies with.
		want    string
		warning string
	}{
		{name: "pinned", file: "gpu-inference-pinned.yaml", want: "created"},
		{name: "seed MIG", file: "seed-gpu-mig-nodeclass.yaml", want: "created", warning: "nodeclass.ami: EC2NodeClass gpu-mig-nodeclass selects the AMI alias al2023@latest"},
		{name: "seed training", file: "seed-gpu-training-nodeclass.yaml", want: "created", warning: "nodeclass.ami: EC2NodeClass gpu-training-nodeclass selects the AMI alias al2023@latest"},
		// The CRD's default fills metadataOptions in before Tollgate sees it.
		{name: "defaults", doc: base, want: "created"},
		{name: "unencrypted", doc: base + "  blockDeviceMappings: [{deviceName: /dev/xvda, ebs: {volumeSize: 200Gi, volumeType: gp3}}]\n", want: "nodeclass.ebs-encryption"},
		{name: "IMDSv1", doc: base + "  metadataOptions: {httpTokens: optional}\n", want: "nodeclass.imds"},
		{name: "two hops", doc: base + "  metadataOptions: {httpTokens: required, httpPutResponseHopLimit: 2}\n", want: "nodeclass.imds"},
		{name: "hop limit out of range", doc: base + "  metadataOptions: {httpPutResponseHopLimit: 65}\n", want: "schema"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := []byte(tc.doc)
			if tc.file != "" {
				if b, err = os.ReadFile(filepath.Join(dir, tc.file)); err != nil {
					t.Fatal(err)
				}
			}
			var u unstructured.Unstructured
			if err := yaml.Unmarshal(b, &u.Object); err != nil {
				t.Fatal(err)
			}
			w.msgs = nil
			_, err := dyn.Resource(ec2NodeClassGVR).Create(context.Background(), &u, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
			switch tc.want {
			case "created":
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
			case "schema":
				if err == nil || strings.Contains(err.Error(), "tollgate.dev") {
					t.Fatalf("want a refusal by the CRD's schema, got %v", err)
				}
			default:
				if err == nil || !strings.Contains(err.Error(), `admission webhook "nodeclasses.validate.tollgate.dev" denied`) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("want a denial by %s, got %v", tc.want, err)
				}
			}
			if tc.warning != "" && !strings.Contains(w.String(), tc.warning) {
				t.Errorf("no %s warning: %q", tc.warning, w)
			}
		})
	}
}
