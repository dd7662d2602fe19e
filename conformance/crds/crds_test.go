package crds

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// nodePoolSHA256 is the digest of pkg/apis/crds/karpenter.sh_nodepools.yaml
// in sigs.k8s.io/karpenter v1.15.0: the vendored file must stay that file.
const nodePoolSHA256 = "fb236825a5685fe1af2782534e311c228a92fdf504457b0dd5d6b3327be520e9"

func TestNodePoolIsTheModulesFile(t *testing.T) {
	sum := sha256.Sum256(NodePool)
	if got := hex.EncodeToString(sum[:]); got != nodePoolSHA256 {
		t.Fatalf("%s has SHA-256 %s, not that of sigs.k8s.io/karpenter %s (%s); copy it again from the module instead of editing it", NodePoolFile, got, NodePoolVersion, nodePoolSHA256)
	}
}

// TestNodePoolSchemaHasWhatPoliciesRead guards the field names the nodepool
// policies read (rego/nodepool) against the API's schema.
func TestNodePoolSchemaHasWhatPoliciesRead(t *testing.T) {
	var crd struct {
		Spec struct {
			Group string `json:"group"`
			Names struct {
				Kind string `json:"kind"`
			} `json:"names"`
			Scope    string `json:"scope"`
			Versions []struct {
				Name    string `json:"name"`
				Served  bool   `json:"served"`
				Storage bool   `json:"storage"`
				Schema  struct {
					OpenAPIV3Schema map[string]any `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(NodePool, &crd); err != nil {
		t.Fatal(err)
	}
	if crd.Spec.Group != "karpenter.sh" || crd.Spec.Names.Kind != "NodePool" || crd.Spec.Scope != "Cluster" || len(crd.Spec.Versions) != 1 {
		t.Fatalf("not the cluster-scoped karpenter.sh NodePool CRD: %+v", crd.Spec.Names)
	}
	v := crd.Spec.Versions[0]
	if v.Name != "v1" || !v.Served || !v.Storage {
		t.Fatalf("version %s served=%v storage=%v, want v1 served and stored", v.Name, v.Served, v.Storage)
	}
	for _, path := range []string{
		"spec.template.metadata.labels",
		"spec.template.spec.requirements[].key",
		"spec.template.spec.requirements[].operator",
		"spec.template.spec.requirements[].values",
		"spec.template.spec.taints[].key",
		"spec.template.spec.taints[].value",
		"spec.template.spec.taints[].effect",
		"spec.template.spec.expireAfter",
		"spec.limits",
		"spec.replicas",
		"spec.disruption.consolidationPolicy",
		"spec.disruption.consolidateAfter",
		"spec.disruption.budgets[].nodes",
		"spec.disruption.budgets[].schedule",
		"spec.disruption.budgets[].duration",
		"spec.disruption.budgets[].reasons",
	} {
		if _, ok := lookup(v.Schema.OpenAPIV3Schema, path); !ok {
			t.Errorf("the NodePool schema has no %s", path)
		}
	}
	policy, _ := lookup(v.Schema.OpenAPIV3Schema, "spec.disruption.consolidationPolicy")
	if enum, _ := policy["enum"].([]any); !containsAll(enum, "WhenEmpty", "WhenEmptyOrUnderutilized") {
		t.Errorf("consolidationPolicy enum %v", enum)
	}
	op, _ := lookup(v.Schema.OpenAPIV3Schema, "spec.template.spec.requirements[].operator")
	if enum, _ := op["enum"].([]any); !containsAll(enum, "In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt", "Gte", "Lte") {
		t.Errorf("requirement operators %v: rego/nodepool/lib.rego handles exactly these", enum)
	}
}

// TestFiles keeps the directory to the CRDs this file checks: the demo and
// the end-to-end suite install every *.yaml here.
func TestFiles(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".yaml") {
			got = append(got, e.Name())
		}
	}
	want := []string{
		"ack-iam.services.k8s.aws_policies.yaml",
		"ack-iam.services.k8s.aws_roles.yaml",
		"ack-s3.services.k8s.aws_buckets.yaml",
		NodePoolFile,
		"karpenter.k8s.aws_ec2nodeclasses.yaml",
		"openreports.io_clusterreports.yaml",
		"openreports.io_reports.yaml",
		PolicyExceptionFile,
		"wgpolicyk8s.io_clusterpolicyreports.yaml",
		"wgpolicyk8s.io_policyreports.yaml",
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("CRD files %v, want %v", got, want)
	}
}

// TestACKStandIns checks the ACK stand-ins against what Tollgate's
// webhook configuration and IAM gatherer (internal/gather/iam.go) expect:
// group, kind, the version the examples use, and the fields read.
func TestACKStandIns(t *testing.T) {
	for _, tc := range []struct {
		file, group, kind, plural string
		fields                    []string
	}{
		{"ack-s3.services.k8s.aws_buckets.yaml", "s3.services.k8s.aws", "Bucket", "buckets", []string{
			"spec.name",
			"spec.encryption.rules[].applyServerSideEncryptionByDefault.sseAlgorithm",
			"spec.encryption.rules[].applyServerSideEncryptionByDefault.kmsMasterKeyID",
		}},
		{"ack-iam.services.k8s.aws_roles.yaml", "iam.services.k8s.aws", "Role", "roles", []string{
			"spec.name", "spec.assumeRolePolicyDocument", "spec.inlinePolicies", "spec.permissionsBoundary",
		}},
		{"ack-iam.services.k8s.aws_policies.yaml", "iam.services.k8s.aws", "Policy", "policies", []string{
			"spec.name", "spec.policyDocument",
		}},
	} {
		t.Run(tc.kind, func(t *testing.T) {
			b, err := os.ReadFile(tc.file)
			if err != nil {
				t.Fatal(err)
			}
			var crd apiextensionsv1.CustomResourceDefinition
			if err := yaml.UnmarshalStrict(b, &crd); err != nil {
				t.Fatalf("%s: %v", tc.file, err)
			}
			if crd.Name != tc.plural+"."+tc.group || crd.Spec.Group != tc.group || crd.Spec.Names.Kind != tc.kind || crd.Spec.Names.Plural != tc.plural || crd.Spec.Scope != apiextensionsv1.NamespaceScoped {
				t.Fatalf("%s is not the namespaced %s.%s CRD", tc.file, tc.plural, tc.group)
			}
			if len(crd.Spec.Versions) != 1 || crd.Spec.Versions[0].Name != "v1alpha1" || !crd.Spec.Versions[0].Served || !crd.Spec.Versions[0].Storage {
				t.Fatalf("%s: want one version, v1alpha1, served and stored", tc.file)
			}
			raw, err := json.Marshal(crd.Spec.Versions[0].Schema.OpenAPIV3Schema)
			if err != nil {
				t.Fatal(err)
			}
			var schema map[string]any
			if err := json.Unmarshal(raw, &schema); err != nil {
				t.Fatal(err)
			}
			for _, f := range tc.fields {
				if _, ok := lookup(schema, f); !ok {
					t.Errorf("%s: the schema has no %s", tc.file, f)
				}
			}
			spec, _ := lookup(schema, "spec")
			if spec["x-kubernetes-preserve-unknown-fields"] != true {
				t.Errorf("%s: spec must keep the fields the stand-in does not type", tc.file)
			}
		})
	}
}

// TestEC2NodeClassStandIn checks the EC2NodeClass stand-in against what
// Tollgate's webhook configuration and the nodeclass family expect: the
// cluster-scoped karpenter.k8s.aws/v1 kind with the fields the policies read.
func TestEC2NodeClassStandIn(t *testing.T) {
	const file = "karpenter.k8s.aws_ec2nodeclasses.yaml"
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(b, &crd); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	s := crd.Spec
	if crd.Name != "ec2nodeclasses.karpenter.k8s.aws" || s.Group != "karpenter.k8s.aws" || s.Names.Kind != "EC2NodeClass" || s.Names.Plural != "ec2nodeclasses" || s.Scope != apiextensionsv1.ClusterScoped {
		t.Fatalf("%s is not the cluster-scoped ec2nodeclasses.karpenter.k8s.aws CRD", file)
	}
	if len(s.Versions) != 1 || s.Versions[0].Name != "v1" || !s.Versions[0].Served || !s.Versions[0].Storage {
		t.Fatalf("%s: want one version, v1, served and stored", file)
	}
	raw, err := json.Marshal(s.Versions[0].Schema.OpenAPIV3Schema)
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{
		"spec.amiSelectorTerms[].alias", "spec.amiSelectorTerms[].id", "spec.amiSelectorTerms[].name", "spec.amiSelectorTerms[].tags",
		"spec.blockDeviceMappings[].deviceName", "spec.blockDeviceMappings[].ebs.encrypted",
		"spec.metadataOptions.httpTokens", "spec.metadataOptions.httpPutResponseHopLimit",
	} {
		if _, ok := lookup(schema, f); !ok {
			t.Errorf("%s: the schema has no %s", file, f)
		}
	}
	spec, _ := lookup(schema, "spec")
	if spec["x-kubernetes-preserve-unknown-fields"] != true {
		t.Errorf("%s: spec must keep the fields the stand-in does not type", file)
	}
}

// lookup walks an OpenAPI schema along a dotted path; [] steps into items.
func lookup(schema map[string]any, path string) (map[string]any, bool) {
	node := schema
	for _, part := range strings.Split(path, ".") {
		name, items := strings.CutSuffix(part, "[]")
		props, _ := node["properties"].(map[string]any)
		next, ok := props[name].(map[string]any)
		if !ok {
			return nil, false
		}
		node = next
		if items {
			if node, ok = node["items"].(map[string]any); !ok {
				return nil, false
			}
		}
	}
	return node, true
}

func containsAll(have []any, want ...string) bool {
	set := map[string]bool{}
	for _, h := range have {
		if s, ok := h.(string); ok {
			set[s] = true
		}
	}
	for _, w := range want {
		if !set[w] {
			return false
		}
	}
	return true
}

// TestPolicyExceptionCRDInChart: the chart installs the CRD the tests and
// the demo install, and it decodes as the namespaced tollgate.dev kind that
// internal/exception and internal/state read.
func TestPolicyExceptionCRDInChart(t *testing.T) {
	chartCopy, err := os.ReadFile("../../charts/tollgate/crds/" + PolicyExceptionFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(chartCopy) != string(PolicyException) {
		t.Fatalf("charts/tollgate/crds/%s differs from conformance/crds/%s: copy it", PolicyExceptionFile, PolicyExceptionFile)
	}
	var crd apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(PolicyException, &crd); err != nil {
		t.Fatal(err)
	}
	s := crd.Spec
	if s.Group != "tollgate.dev" || s.Names.Kind != "PolicyException" || s.Scope != apiextensionsv1.NamespaceScoped || len(s.Versions) != 1 || s.Versions[0].Name != "v1alpha1" {
		t.Fatalf("not the namespaced tollgate.dev/v1alpha1 PolicyException: %+v", s)
	}
	spec := s.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
	for _, f := range []string{"policies", "reason", "expiresAt"} {
		if !slices.Contains(spec.Required, f) {
			t.Errorf("spec.%s is not required", f)
		}
	}
	for _, f := range []string{"ticket", "match"} {
		if _, ok := spec.Properties[f]; !ok {
			t.Errorf("spec.%s is not in the schema", f)
		}
	}
}
