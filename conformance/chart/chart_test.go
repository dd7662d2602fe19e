//go:build e2e

package chart

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	cmv1 "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"sigs.k8s.io/yaml"

	"github.com/tollgate-dev/tollgate/cmd/tollgate/app"
	"github.com/tollgate-dev/tollgate/internal/webhookconfig"
)

const chartDir = "../../charts/tollgate"

var valueSets = []string{"default", "self-signed", "audit-only", "ha-off"}

func tool(t *testing.T, name string) string {
	t.Helper()
	dir := os.Getenv("TOLLGATE_TOOLS_DIR")
	if dir == "" {
		dir = "../../bin"
	}
	p, err := filepath.Abs(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s not found (run scripts/tools.sh): %v", name, err)
	}
	return p
}

// render runs helm template with a value set (and extra --set flags).
func render(t *testing.T, valueSet string, extra ...string) (string, error) {
	t.Helper()
	args := append([]string{"template", "tollgate", chartDir, "--namespace", "tollgate-system", "--kube-version", "1.37.2",
		"-f", filepath.Join("testdata", "values-"+valueSet+".yaml")}, extra...)
	var out, errOut bytes.Buffer
	cmd := exec.Command(tool(t, "helm"), args...)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if err != nil {
		return errOut.String(), err
	}
	return out.String(), nil
}

func mustRender(t *testing.T, valueSet string) string {
	t.Helper()
	out, err := render(t, valueSet)
	if err != nil {
		t.Fatalf("helm template (%s): %v\n%s", valueSet, err, out)
	}
	return out
}

// docs splits a rendered manifest into kind -> documents.
func docs(t *testing.T, manifest string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, d := range strings.Split(manifest, "\n---") {
		var head struct {
			Kind string `json:"kind"`
		}
		if err := yaml.Unmarshal([]byte(d), &head); err != nil {
			t.Fatalf("rendered YAML does not parse: %v\n%s", err, d)
		}
		if head.Kind != "" {
			out[head.Kind] = append(out[head.Kind], d)
		}
	}
	return out
}

func decode(t *testing.T, doc string, into any) {
	t.Helper()
	if err := yaml.UnmarshalStrict([]byte(doc), into); err != nil {
		t.Fatalf("%v\n%s", err, doc)
	}
}

func TestLint(t *testing.T) {
	for _, vs := range valueSets {
		cmd := exec.Command(tool(t, "helm"), "lint", chartDir, "--strict", "--kube-version", "1.37.2", "-f", filepath.Join("testdata", "values-"+vs+".yaml"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("helm lint (%s): %v\n%s", vs, err, out)
		}
	}
}

// TestSchemasStrict validates every rendered object against strict schemas
// generated offline from the Kubernetes v1.37.2 OpenAPI document and the
// cert-manager v1.21.2 CRDs.
func TestSchemasStrict(t *testing.T) {
	dir := t.TempDir()
	swagger := moduleDir(t, "../../conformance/controlplane", "k8s.io/kubernetes") + "/api/openapi-spec/swagger.json"
	n, err := GenerateFromSwagger(swagger, dir)
	if err != nil || n < 100 {
		t.Fatalf("generated %d Kubernetes schemas: %v", n, err)
	}
	crds, _ := filepath.Glob(moduleDir(t, ".", "github.com/cert-manager/cert-manager") + "/deploy/crds/*.yaml")
	m, err := GenerateFromCRDs(crds, dir)
	if err != nil || m < 4 {
		t.Fatalf("generated %d cert-manager schemas: %v", m, err)
	}
	// The schemas must reject what the API server rejects.
	broken := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replicas: two\n  selector: {}\n  template:\n    spec: {bogus: 1, containers: []}\n"
	cmd := exec.Command(tool(t, "kubeconform"), "-strict", "-summary", "-schema-location", dir+"/{{ .ResourceKind }}{{ .KindSuffix }}.json", "-")
	cmd.Stdin = strings.NewReader(broken)
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "Invalid: 1") {
		t.Fatalf("a Deployment with a string replicas and an unknown field passed the schemas: %s", out)
	}
	for _, vs := range valueSets {
		manifest := mustRender(t, vs)
		cmd := exec.Command(tool(t, "kubeconform"), "-strict", "-summary", "-exit-on-error",
			"-schema-location", dir+"/{{ .ResourceKind }}{{ .KindSuffix }}.json", "-")
		cmd.Stdin = strings.NewReader(manifest)
		out, err := cmd.CombinedOutput()
		t.Logf("%s: %s", vs, strings.TrimSpace(string(out)))
		if err != nil || !strings.Contains(string(out), "Invalid: 0, Errors: 0, Skipped: 0") {
			t.Errorf("kubeconform (%s): %v\n%s", vs, err, out)
		}
	}
}

func moduleDir(t *testing.T, from, module string) string {
	t.Helper()
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module)
	cmd.Dir = from
	out, err := cmd.Output()
	if err != nil || len(bytes.TrimSpace(out)) == 0 {
		t.Fatalf("locating %s: %v", module, err)
	}
	return strings.TrimSpace(string(out))
}

// TestWebhooksMatchGo: the chart renders exactly what internal/webhookconfig
// builds (which demo and the e2e suite install).
func TestWebhooksMatchGo(t *testing.T) {
	for _, vs := range []string{"default", "self-signed", "audit-only"} {
		d := docs(t, mustRender(t, vs))
		var v admissionregistrationv1.ValidatingWebhookConfiguration
		decode(t, d["ValidatingWebhookConfiguration"][0], &v)
		var m admissionregistrationv1.MutatingWebhookConfiguration
		decode(t, d["MutatingWebhookConfiguration"][0], &m)
		o := webhookconfig.Defaults()
		if vs == "audit-only" {
			o.ValidatingFailurePolicy = admissionregistrationv1.Ignore
		}
		wantV, wantM := webhookconfig.Validating(o), webhookconfig.Mutating(o)
		if !equality.Semantic.DeepEqual(v.Webhooks, wantV.Webhooks) {
			t.Errorf("%s: validating webhooks differ from internal/webhookconfig:\nchart: %s\ngo:    %s", vs, js(v.Webhooks), js(wantV.Webhooks))
		}
		if !equality.Semantic.DeepEqual(m.Webhooks, wantM.Webhooks) {
			t.Errorf("%s: mutating webhooks differ from internal/webhookconfig:\nchart: %s\ngo:    %s", vs, js(m.Webhooks), js(wantM.Webhooks))
		}
		_, injected := v.Annotations["cert-manager.io/inject-ca-from"]
		if injected != (vs != "self-signed") {
			t.Errorf("%s: cert-manager.io/inject-ca-from present=%v", vs, injected)
		}
	}
}

func js(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestSchemaRejectsTypos(t *testing.T) {
	for _, set := range []string{"replicas=3", "certificates.mode=selfsigned", "webhooks.validating.timeoutSeconds=60", "config.pss.level=strict", "config.actions.pss=block"} {
		out, err := render(t, "default", "--set", set)
		if err == nil || !strings.Contains(out, "values don't meet the specifications of the schema") {
			t.Errorf("--set %s: rendered without a schema error (%v):\n%.300s", set, err, out)
		}
	}
}

// TestCertManagerObjects checks the Certificate with cert-manager's own API
// types: it covers the Service names and lands in the Secret the pods mount.
func TestCertManagerObjects(t *testing.T) {
	d := docs(t, mustRender(t, "default"))
	var serving *cmv1.Certificate
	for _, doc := range d["Certificate"] {
		var c cmv1.Certificate
		decode(t, doc, &c)
		if !c.Spec.IsCA {
			serving = &c
		}
	}
	if serving == nil {
		t.Fatal("no serving Certificate")
	}
	for _, name := range []string{"tollgate.tollgate-system.svc", "tollgate.tollgate-system.svc.cluster.local"} {
		if !strings.Contains(strings.Join(serving.Spec.DNSNames, ","), name) {
			t.Errorf("serving Certificate lacks DNS name %s: %v", name, serving.Spec.DNSNames)
		}
	}
	if serving.Spec.IssuerRef.Name != "tollgate-ca" || len(d["Issuer"]) != 2 {
		t.Errorf("issuer %+v, %d Issuers", serving.Spec.IssuerRef, len(d["Issuer"]))
	}
	var dep appsv1.Deployment
	decode(t, d["Deployment"][0], &dep)
	var mounted string
	for _, v := range dep.Spec.Template.Spec.Volumes {
		if v.Name == "certs" && v.Secret != nil {
			mounted = v.Secret.SecretName
		}
	}
	if mounted != serving.Spec.SecretName {
		t.Errorf("pods mount Secret %q, the Certificate writes %q", mounted, serving.Spec.SecretName)
	}
	// A named issuer replaces the chart's own CA.
	out, err := render(t, "default", "--set", "certificates.certManager.issuerRef.name=corp-ca", "--set", "certificates.certManager.issuerRef.kind=ClusterIssuer")
	if err != nil {
		t.Fatal(out)
	}
	d = docs(t, out)
	var c cmv1.Certificate
	decode(t, d["Certificate"][0], &c)
	if len(d["Issuer"]) != 0 || c.Spec.IssuerRef.Name != "corp-ca" || c.Spec.IssuerRef.Kind != "ClusterIssuer" {
		t.Errorf("named issuer: %d Issuers rendered, issuerRef %+v", len(d["Issuer"]), c.Spec.IssuerRef)
	}
}

// TestRBACAllowList compares every rule the chart grants with an allow-list,
// so that a new permission needs a conscious change of testdata/rbac-*.yaml.
func TestRBACAllowList(t *testing.T) {
	for _, vs := range []string{"default", "self-signed"} {
		d := docs(t, mustRender(t, vs))
		got := map[string][]rbacv1.PolicyRule{}
		for _, kind := range []string{"ClusterRole", "Role"} {
			for _, doc := range d[kind] {
				var r rbacv1.ClusterRole
				decode(t, doc, &r)
				got[kind] = append(got[kind], r.Rules...)
			}
		}
		path := filepath.Join("testdata", "rbac-"+vs+".yaml")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][]rbacv1.PolicyRule{}
		if err := yaml.UnmarshalStrict(b, &want); err != nil {
			t.Fatal(err)
		}
		if !equality.Semantic.DeepEqual(got, want) {
			t.Errorf("%s: RBAC differs from %s; if the new permission is intended, update the allow-list:\n%s", vs, path, yamlOf(got))
		}
	}
}

func yamlOf(v any) string {
	b, _ := yaml.Marshal(v)
	return string(b)
}

// TestOwnDeploymentIsRestricted: Tollgate's own Deployment passes its own
// restricted Pod Security Standards check.
func TestOwnDeploymentIsRestricted(t *testing.T) {
	for _, vs := range valueSets {
		d := docs(t, mustRender(t, vs))
		f := filepath.Join(t.TempDir(), "deployment.yaml")
		if err := os.WriteFile(f, []byte(d["Deployment"][0]), 0o644); err != nil {
			t.Fatal(err)
		}
		var out, errOut bytes.Buffer
		err := app.Run([]string{"eval", "-f", f, "-o", "json"}, app.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
		if err != nil {
			t.Fatalf("%s: eval: %v\n%s", vs, err, errOut.String())
		}
		if strings.Contains(out.String(), `"policy": "pss.`) {
			t.Errorf("%s: Tollgate's own Deployment violates the Pod Security Standards:\n%s", vs, out.String())
		}
	}
}
