//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/net/html"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/tollgate-dev/tollgate/internal/audit"
	"github.com/tollgate-dev/tollgate/internal/controlplane"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
	"github.com/tollgate-dev/tollgate/internal/review"
)

var (
	policyReports        = schema.GroupVersionResource{Group: "wgpolicyk8s.io", Version: "v1alpha2", Resource: "policyreports"}
	clusterPolicyReports = schema.GroupVersionResource{Group: "wgpolicyk8s.io", Version: "v1alpha2", Resource: "clusterpolicyreports"}
	openReports          = schema.GroupVersionResource{Group: "openreports.io", Version: "v1alpha1", Resource: "reports"}
	clusterOpenReports   = schema.GroupVersionResource{Group: "openreports.io", Version: "v1alpha1", Resource: "clusterreports"}
)

// beforeTollgate creates objects as they were created before Tollgate was
// installed (or while its webhooks were down): with the webhook
// configurations out of the way. They are put back afterwards.
func beforeTollgate(tb testing.TB, create func() error) {
	tb.Helper()
	ctx := context.Background()
	ar := env.cs.AdmissionregistrationV1()
	for _, del := range []func() error{
		func() error {
			return ar.ValidatingWebhookConfigurations().Delete(ctx, "tollgate", metav1.DeleteOptions{})
		},
		func() error {
			return ar.MutatingWebhookConfigurations().Delete(ctx, "tollgate", metav1.DeleteOptions{})
		},
	} {
		if err := del(); err != nil && !apierrors.IsNotFound(err) {
			tb.Fatal(err)
		}
	}
	defer func() {
		if err := installWebhooks(admissionregistrationv1.Fail); err != nil {
			tb.Fatal(err)
		}
	}()
	// The API server drops the configurations from its watch: wait until a
	// privileged pod passes.
	probe := namespace(nil)
	if err := waitFor(30*time.Second, func() error {
		_, err := env.cs.CoreV1().Pods(probe).Create(ctx, privilegedPod("probe"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err
	}); err != nil {
		tb.Fatalf("webhooks still active: %v", err)
	}
	if err := create(); err != nil {
		tb.Fatal(err)
	}
}

// gpuPod is a restricted pod that requests a GPU and lacks the GPU
// toleration, as a pod created before Tollgate was installed does.
func gpuPod(name string) *corev1.Pod {
	p := restrictedPod(name)
	p.Spec.Containers[0].Resources.Limits = corev1.ResourceList{"nvidia.com/gpu": resource.MustParse("1")}
	return p
}

// legacyObjects creates, in ns, a GPU pod without its toleration, a
// privileged pod, a compliant pod and a Deployment with an unhardened
// template, all from before Tollgate.
func legacyObjects(tb testing.TB, ns string) {
	tb.Helper()
	ctx := context.Background()
	beforeTollgate(tb, func() error {
		for _, p := range []*corev1.Pod{gpuPod("vllm-0"), privilegedPod("root"), restrictedPod("ok")} {
			if _, err := env.cs.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
				return err
			}
		}
		dep := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: "triton"},
			Spec: appsv1.DeploymentSpec{
				Replicas: ptr.To[int32](2),
				Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "triton"}},
				Template: corev1.PodTemplateSpec{
					ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "triton"}},
					Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "triton", Image: "nvcr.io/nvidia/tritonserver:24.10-py3"}}},
				},
			},
		}
		_, err := env.cs.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{})
		return err
	})
}

func dynamicClient(tb testing.TB) dynamic.Interface {
	tb.Helper()
	d, err := dynamic.NewForConfig(env.cp.Config)
	if err != nil {
		tb.Fatal(err)
	}
	return d
}

// reportResults returns a report's results as "policy name" strings.
func reportResults(u *unstructured.Unstructured) []string {
	var out []string
	results, _, _ := unstructured.NestedSlice(u.Object, "results")
	for _, r := range results {
		m, _ := r.(map[string]any)
		res, _ := m["resources"].([]any)
		name := ""
		if len(res) > 0 {
			name, _ = res[0].(map[string]any)["name"].(string)
		}
		out = append(out, fmt.Sprintf("%s %s", m["policy"], name))
	}
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestBackgroundAuditWritesPolicyReports runs serve with the background
// audit over objects created before Tollgate, reads the PolicyReport back,
// watches it follow the cluster (updated in place, then deleted when the
// namespace has nothing left), and reads the audit metrics.
func TestBackgroundAuditWritesPolicyReports(t *testing.T) {
	ctx := context.Background()
	ns := namespace(nil)
	legacyObjects(t, ns)
	if _, err := env.cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "tollgate-system"}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	metricsAddr := freeAddr()
	tg, err := startTollgateWith("--cert-dir", env.cp.WebhookCertDir, "--port", strconv.Itoa(freePort()),
		"--leader-elect", "--audit-interval", "2s", "--metrics-bind-address", metricsAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer tg.stop()
	reports := dynamicClient(t).Resource(policyReports).Namespace(ns)

	var first *unstructured.Unstructured
	if err := waitFor(60*time.Second, func() error {
		u, err := reports.Get(ctx, audit.ReportName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		got := reportResults(u)
		for _, want := range []string{"drift.gpu-tolerations vllm-0", "pss.baseline.privileged root", "pss.restricted.runAsNonRoot triton"} {
			if !contains(got, want) {
				return fmt.Errorf("report results %v lack %q", got, want)
			}
		}
		first = u
		return nil
	}); err != nil {
		t.Fatalf("%v\n--- tollgate serve ---\n%s", err, tg.out.String())
	}
	summary, _, _ := unstructured.NestedMap(first.Object, "summary")
	if summary["pass"] != int64(1) || summary["fail"].(int64) < 1 {
		t.Errorf("summary %v: want pass 1 (the compliant pod) and the privileged pod's failures", summary)
	}
	if first.GetLabels()[audit.LabelManagedBy] != audit.ReportSource {
		t.Errorf("labels %v", first.GetLabels())
	}

	// The metrics describe the round that wrote the report (set once its
	// reports are written).
	if err := waitFor(10*time.Second, func() error {
		resp, err := http.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			return err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{`tollgate_audit_violations{policy="drift.gpu-tolerations",severity="medium"}`, "tollgate_audit_duration_seconds_count",
			`tollgate_audit_runs_total{result="success"}`, `tollgate_audit_objects{kind="Pod"}`, "tollgate_audit_report_max_bytes"} {
			if !strings.Contains(string(body), want) {
				return fmt.Errorf("metrics lack %s", want)
			}
		}
		return nil
	}); err != nil {
		t.Error(err)
	}

	// The privileged pod goes: the report is updated in place.
	if err := env.cs.CoreV1().Pods(ns).Delete(ctx, "root", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(30*time.Second, func() error {
		u, err := reports.Get(ctx, audit.ReportName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if contains(reportResults(u), "pss.baseline.privileged root") {
			return errors.New("the deleted pod is still reported")
		}
		if u.GetUID() != first.GetUID() {
			return fmt.Errorf("the report was recreated (uid %s -> %s), not updated", first.GetUID(), u.GetUID())
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	// Nothing audited is left in the namespace: its report is deleted.
	if err := env.cs.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := env.cs.AppsV1().Deployments(ns).Delete(ctx, "triton", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := waitFor(30*time.Second, func() error {
		_, err := reports.Get(ctx, audit.ReportName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("the report of an empty namespace is still there (%v)", err)
	}); err != nil {
		t.Fatal(err)
	}

	if strings.Contains(tg.out.String(), "forbidden") || strings.Contains(tg.out.String(), "background audit failed") {
		t.Errorf("the background audit failed:\n%s", tg.out.String())
	}
}

// runTollgate runs the built binary and returns stdout, stderr and the
// exit code.
func runTollgate(tb testing.TB, args ...string) (string, string, int) {
	tb.Helper()
	cmd := exec.Command(env.bin, args...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		tb.Fatal(err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// TestAuditCLIAgainstTheAPIServer audits a live namespace with `tollgate
// audit`, creates the PolicyReport and OpenReports objects it writes in the
// API server (whose CRDs validate them), validates its SARIF, and renders
// its HTML report in headless Chromium.
func TestAuditCLIAgainstTheAPIServer(t *testing.T) {
	ctx := context.Background()
	ns := namespace(nil)
	legacyObjects(t, ns)
	live := []string{"audit", "--kubeconfig", env.cp.Kubeconfig, "-n", ns}

	out, errOut, code := runTollgate(t, append(live, "-o", "json")...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Results []struct {
			Object     kubeobjects.Ref    `json:"object"`
			Violations []review.Violation `json:"violations"`
		} `json:"results"`
		Summary audit.Summary `json:"summary"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var found []string
	for _, r := range doc.Results {
		for _, v := range r.Violations {
			found = append(found, v.Policy+" "+r.Object.Name)
		}
	}
	for _, want := range []string{"drift.gpu-tolerations vllm-0", "pss.baseline.privileged root", "pss.restricted.runAsNonRoot triton"} {
		if !contains(found, want) {
			t.Errorf("findings %v lack %q", found, want)
		}
	}
	if doc.Summary.Objects != 4 {
		t.Errorf("%d objects audited, want 4 (three pods and the Deployment)", doc.Summary.Objects)
	}
	if _, _, code := runTollgate(t, append(live, "--fail-on", "critical")...); code != 1 {
		t.Errorf("--fail-on critical with a privileged pod: exit %d, want 1", code)
	}

	// PolicyReport and OpenReports objects are what their CRDs accept.
	d := dynamicClient(t)
	for _, tc := range []struct {
		format string
		gvr    schema.GroupVersionResource
	}{{"policyreport", policyReports}, {"openreports", openReports}} {
		out, errOut, code := runTollgate(t, append(live, "-o", tc.format)...)
		if code != 0 {
			t.Fatalf("%s: exit %d: %s", tc.format, code, errOut)
		}
		for _, text := range strings.Split(out, "\n---\n") {
			u := &unstructured.Unstructured{}
			if err := yaml.Unmarshal([]byte(text), &u.Object); err != nil {
				t.Fatalf("%s: %v\n%s", tc.format, err, text)
			}
			created, err := d.Resource(tc.gvr).Namespace(u.GetNamespace()).Create(ctx, u, metav1.CreateOptions{FieldValidation: "Strict"})
			if err != nil {
				t.Fatalf("%s: the API server refused %s %s/%s: %v", tc.format, u.GetKind(), u.GetNamespace(), u.GetName(), err)
			}
			results, _, _ := unstructured.NestedSlice(created.Object, "results")
			if len(results) != doc.Summary.Findings {
				t.Errorf("%s: %d results stored, %d findings", tc.format, len(results), doc.Summary.Findings)
			}
		}
	}
	// The cluster-scoped kinds, with a NodePool's finding.
	for _, api := range []audit.ReportAPI{audit.WGPolicy, audit.OpenReports} {
		b := audit.NewReportBuilder(api, audit.Meta{Now: time.Now()})
		b.Add(&audit.Result{Result: review.Result{
			Object:     kubeobjects.Ref{APIVersion: "karpenter.sh/v1", Kind: "NodePool", Name: "gpu"},
			Violations: []review.Violation{{Policy: "nodepool.gpu", Severity: "high", Action: engine.ActionDeny, Message: "GPU NodePool has no nvidia.com/gpu:NoSchedule taint", Path: "spec.template.spec.taints"}},
		}})
		o := b.Objects()[0]
		u, err := o.Unstructured()
		if err != nil {
			t.Fatal(err)
		}
		gvr := map[string]schema.GroupVersionResource{"ClusterPolicyReport": clusterPolicyReports, "ClusterReport": clusterOpenReports}[o.Kind]
		if _, err := d.Resource(gvr).Create(ctx, u, metav1.CreateOptions{FieldValidation: "Strict"}); err != nil {
			t.Fatalf("the API server refused %s: %v", o.Kind, err)
		}
		if err := d.Resource(gvr).Delete(ctx, u.GetName(), metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	// The CRDs do validate: a severity outside their enum is refused.
	bad := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "wgpolicyk8s.io/v1alpha2", "kind": "PolicyReport",
		"metadata": map[string]any{"name": "bad", "namespace": ns},
		"results":  []any{map[string]any{"policy": "p", "severity": "urgent", "result": "fail"}},
	}}
	if _, err := d.Resource(policyReports).Namespace(ns).Create(ctx, bad, metav1.CreateOptions{}); err == nil {
		t.Error("the PolicyReport CRD accepted severity urgent: the creations above prove nothing")
	}

	// SARIF of a live audit: valid, with logical locations only.
	sarif, errOut, code := runTollgate(t, append(live, "-o", "sarif")...)
	if code != 0 {
		t.Fatalf("sarif: exit %d: %s", code, errOut)
	}
	validateSARIF(t, sarif)

	// The HTML report in headless Chromium.
	page, errOut, code := runTollgate(t, append(live, "-o", "html")...)
	if code != 0 {
		t.Fatalf("html: exit %d: %s", code, errOut)
	}
	checkHTMLInChromium(t, page, doc.Summary)
}

func validateSARIF(t *testing.T, log string) {
	t.Helper()
	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(root, "internal", "audit", "testdata", "sarif-schema-2.1.0-rtm.5.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	schemaDoc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource("sarif.json", schemaDoc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("sarif.json")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(inst); err != nil {
		t.Errorf("the SARIF of a live audit is not valid SARIF 2.1.0: %v", err)
	}
}

// chromium runs Debian's Chromium headless with a fresh profile and no
// background network use, and returns its standard output.
func chromium(t *testing.T, args ...string) string {
	t.Helper()
	const bin = "/usr/bin/chromium"
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("Chromium is needed to render the HTML report (.ci/run installs it: apt-get install chromium): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir()}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, errOut.String())
	}
	return out.String()
}

// dom is a parsed page with the lookups the assertions need.
type dom struct{ root *html.Node }

func (d dom) walk(f func(*html.Node)) {
	var visit func(*html.Node)
	visit = func(n *html.Node) {
		f(n)
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			visit(c)
		}
	}
	visit(d.root)
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func text(n *html.Node) string {
	var b strings.Builder
	var visit func(*html.Node)
	visit = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			visit(c)
		}
	}
	visit(n)
	return strings.TrimSpace(b.String())
}

func (d dom) byID(id string) string {
	out := ""
	d.walk(func(n *html.Node) {
		if v, ok := attr(n, "id"); ok && v == id {
			out = text(n)
		}
	})
	return out
}

// rows returns the finding rows: policy and whether they are shown.
func (d dom) rows() (shown, hidden []string) {
	d.walk(func(n *html.Node) {
		if c, _ := attr(n, "class"); n.Data == "tr" && c == "finding" {
			p, _ := attr(n, "data-policy")
			if _, h := attr(n, "hidden"); h {
				hidden = append(hidden, p)
			} else {
				shown = append(shown, p)
			}
		}
	})
	return shown, hidden
}

// checkHTMLInChromium renders the report, checks the counts and findings
// in the DOM after its script ran, filters through the URL, and keeps a
// screenshot in out/ for CI.
func checkHTMLInChromium(t *testing.T, page string, sum audit.Summary) {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, "audit.html")
	if err := os.WriteFile(file, []byte(page), 0o644); err != nil {
		t.Fatal(err)
	}
	load := func(fragment string) dom {
		t.Helper()
		n, err := html.Parse(strings.NewReader(chromium(t, "--dump-dom", "file://"+file+fragment)))
		if err != nil {
			t.Fatal(err)
		}
		return dom{n}
	}
	d := load("")
	for id, want := range map[string]int{
		"count-objects": sum.Objects, "count-findings": sum.Findings, "count-denied": sum.Denied,
		"count-critical": sum.BySeverity["critical"], "count-drift": sum.ByFamily["drift"], "shown": sum.Findings,
	} {
		if got := d.byID(id); got != strconv.Itoa(want) {
			t.Errorf("#%s shows %q, want %d", id, got, want)
		}
	}
	shown, hidden := d.rows()
	if len(shown) != sum.Findings || len(hidden) != 0 {
		t.Errorf("%d rows shown and %d hidden, want all %d findings shown", len(shown), len(hidden), sum.Findings)
	}
	if !contains(shown, "drift.gpu-tolerations") || !contains(shown, "pss.baseline.privileged") {
		t.Errorf("rows %v lack the drift and privileged findings", shown)
	}
	if !strings.Contains(d.byID("policy-pss.baseline.privileged"), "How to fix:") {
		t.Error("the privileged policy's card has no remediation")
	}
	// The page's script filters by the URL's fragment.
	d = load("#family=drift")
	shown, hidden = d.rows()
	if len(shown) != sum.ByFamily["drift"] || len(hidden) != sum.Findings-sum.ByFamily["drift"] || d.byID("shown") != strconv.Itoa(sum.ByFamily["drift"]) {
		t.Errorf("filtered to drift: %d shown (%v), %d hidden, counter %q; want %d drift findings", len(shown), shown, len(hidden), d.byID("shown"), sum.ByFamily["drift"])
	}
	for _, p := range shown {
		if !strings.HasPrefix(p, "drift.") {
			t.Errorf("the drift filter shows %s", p)
		}
	}

	root, err := controlplane.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(root, "out", "audit-report.png")
	if err := os.MkdirAll(filepath.Dir(shot), 0o755); err != nil {
		t.Fatal(err)
	}
	chromium(t, "--window-size=1400,1800", "--hide-scrollbars", "--screenshot="+shot, "file://"+file)
	if info, err := os.Stat(shot); err != nil || info.Size() < 10_000 {
		t.Fatalf("screenshot %s: %v", shot, err)
	}
	t.Logf("HTML report screenshot: %s", shot)
}

// BenchmarkAuditScale audits 10,000 pods in 500 namespaces, created in the
// control plane as pods from before Tollgate (a third unhardened, a fifth
// GPU pods without the toleration, a tenth on Spot without a drain), with
// `tollgate audit -A` as a separate process, and reports its wall time,
// peak RSS and the largest PolicyReport it would write. Run it with
//
//	go test -tags e2e -run '^$' -bench AuditScale -benchtime 1x ./conformance/e2e/
func BenchmarkAuditScale(b *testing.B) {
	const namespaces, perNamespace = 500, 20
	ctx := context.Background()
	cfg := rest.CopyConfig(env.cp.Config)
	cfg.QPS, cfg.Burst = 1000, 2000
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	prefix := fmt.Sprintf("scale-%d", time.Now().UnixNano()%100000)
	beforeTollgate(b, func() error {
		work := make(chan int)
		errs := make(chan error, 1)
		var wg sync.WaitGroup
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range work {
					if err := scaleNamespace(ctx, cs, fmt.Sprintf("%s-%03d", prefix, i), perNamespace); err != nil {
						select {
						case errs <- err:
						default:
						}
					}
				}
			}()
		}
		for i := range namespaces {
			work <- i
		}
		close(work)
		wg.Wait()
		select {
		case err := <-errs:
			return err
		default:
			return nil
		}
	})
	b.Logf("created %d pods in %d namespaces in %s", namespaces*perNamespace, namespaces, time.Since(start).Round(time.Second))

	b.ReportAllocs()
	b.ResetTimer()
	var last auditRun
	for range b.N {
		last = auditProcess(b, "-A", "-o", "json")
	}
	b.StopTimer()
	var sum struct {
		Summary audit.Summary `json:"summary"`
	}
	if err := json.Unmarshal(last.out, &sum); err != nil {
		b.Fatal(err)
	}
	if sum.Summary.ByKind["Pod"] < namespaces*perNamespace {
		b.Fatalf("audited %d pods, want at least %d", sum.Summary.ByKind["Pod"], namespaces*perNamespace)
	}
	// The same audit of one namespace: what the process needs whatever
	// the size of the cluster.
	one := auditProcess(b, "-n", prefix+"-000", "-o", "json")
	page := auditProcess(b, "-A", "-o", "html")
	reports := auditProcess(b, "-A", "-o", "policyreport")
	largest, count := 0, 0
	for _, text := range strings.Split(string(reports.out), "\n---\n") {
		var o audit.ReportObject
		if err := yaml.Unmarshal([]byte(text), &o); err != nil {
			b.Fatal(err)
		}
		count++
		largest = max(largest, audit.ReportSize(&o))
	}
	b.ReportMetric(last.took.Seconds(), "s/audit")
	b.ReportMetric(float64(last.peakRSS)/(1<<20), "peak-RSS-MiB")
	b.ReportMetric(float64(sum.Summary.Objects), "objects")
	b.ReportMetric(float64(largest), "largest-report-bytes")
	b.ReportMetric(float64(one.peakRSS)/(1<<20), "peak-RSS-1ns-MiB")
	b.Logf("tollgate audit -A -o json: %d objects (%d pods), %d findings, %s, peak RSS %.1f MiB, %.1f MiB of JSON",
		sum.Summary.Objects, sum.Summary.ByKind["Pod"], sum.Summary.Findings, last.took.Round(time.Millisecond), float64(last.peakRSS)/(1<<20), float64(len(last.out))/(1<<20))
	b.Logf("tollgate audit -n %s-000 -o json (%d pods): %s, peak RSS %.1f MiB", prefix, perNamespace, one.took.Round(time.Millisecond), float64(one.peakRSS)/(1<<20))
	b.Logf("tollgate audit -A -o html: %.1f MiB page, %s, peak RSS %.1f MiB", float64(len(page.out))/(1<<20), page.took.Round(time.Millisecond), float64(page.peakRSS)/(1<<20))
	b.Logf("tollgate audit -A -o policyreport: %d reports, the largest %d bytes of JSON; %s, peak RSS %.1f MiB",
		count, largest, reports.took.Round(time.Millisecond), float64(reports.peakRSS)/(1<<20))
}

type auditRun struct {
	out     []byte
	took    time.Duration
	peakRSS int64 // bytes
}

// auditProcess runs `tollgate audit` against the control plane and
// measures it.
func auditProcess(b *testing.B, args ...string) auditRun {
	b.Helper()
	cmd := exec.Command(env.bin, append([]string{"audit", "--kubeconfig", env.cp.Kubeconfig}, args...)...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	start := time.Now()
	if err := cmd.Run(); err != nil {
		b.Fatalf("tollgate audit %v: %v\n%s", args, err, errOut.String())
	}
	took := time.Since(start)
	ru, _ := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	var rss int64
	if ru != nil {
		rss = ru.Maxrss * 1024 // kilobytes on Linux
	}
	return auditRun{out: out.Bytes(), took: took, peakRSS: rss}
}

// scaleNamespace creates a namespace and its pods for the scale benchmark.
func scaleNamespace(ctx context.Context, cs kubernetes.Interface, name string, pods int) error {
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	for j := range pods {
		var p *corev1.Pod
		switch {
		case j%3 == 0:
			p = privilegedPod(fmt.Sprintf("legacy-%02d", j))
			p.Spec.Containers[0].SecurityContext.Privileged = nil
		case j%5 == 1:
			p = gpuPod(fmt.Sprintf("gpu-%02d", j))
		case j%10 == 2:
			p = restrictedPod(fmt.Sprintf("spot-%02d", j))
			p.Spec.NodeSelector = map[string]string{"karpenter.sh/capacity-type": "spot"}
		default:
			p = restrictedPod(fmt.Sprintf("app-%02d", j))
		}
		if _, err := cs.CoreV1().Pods(name).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			return err
		}
	}
	return nil
}
