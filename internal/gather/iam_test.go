package gather_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/gather"
	"github.com/tollgate-dev/tollgate/internal/iam"
	"github.com/tollgate-dev/tollgate/internal/iam/iamtest"
	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
	"github.com/tollgate-dev/tollgate/internal/manifest"
	"github.com/tollgate-dev/tollgate/internal/podidentity"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
	"github.com/tollgate-dev/tollgate/internal/wiring"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/iam")

const policiesFile = "testdata/iam/policies.json"

// finding is what the golden files record of a violation.
type finding struct {
	Policy  string `json:"policy"`
	Action  string `json:"action"`
	Message string `json:"message"`
	Path    string `json:"path,omitempty"`
}

type outcome struct {
	Object     string    `json:"object"`
	Allowed    bool      `json:"allowed"`
	Violations []finding `json:"violations"`
}

// newReviewer builds the review path over the embedded bundle with only the
// IAM gatherer, so that the golden files hold what the iam and s3 policies
// decide whatever the other families do.
func newReviewer(t testing.TB, st state.Reader, f *iam.Fetcher) *review.Reviewer {
	t.Helper()
	cfg := config.Default()
	e, err := wiring.NewEngine(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := &gather.IAM{Fetcher: f, Resolver: gather.PodIdentityResolver{}}
	r, err := review.New(engine.NewHolder(e), cfg, st, review.WithGatherers(g))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// reviewFile reviews every object of a manifest file that is not cluster
// state, with the file's Namespaces and ServiceAccounts as the state, and
// keeps the iam and s3 findings.
func reviewFile(t *testing.T, path string, f *iam.Fetcher) []outcome {
	t.Helper()
	docs, err := manifest.Load([]string{path}, manifest.Options{Strict: true})
	if err != nil {
		t.Fatal(err)
	}
	st := state.NewStatic()
	for _, d := range docs {
		if state.IsState(d.Object) {
			st.Add(d.Object)
		}
	}
	r := newReviewer(t, st, f)
	var out []outcome
	for _, d := range docs {
		if state.IsState(d.Object) {
			continue
		}
		res, err := r.Review(t.Context(), &review.Request{Object: d.Object, Operation: "CREATE"})
		if err != nil {
			t.Fatalf("%s: %v", d.Location(), err)
		}
		o := outcome{Object: res.Object.String(), Allowed: res.Allowed, Violations: []finding{}}
		for _, v := range res.Violations {
			if family, _, _ := strings.Cut(v.Policy, "."); family == "iam" || family == "s3" {
				o.Violations = append(o.Violations, finding{Policy: v.Policy, Action: string(v.Action), Message: v.Message, Path: v.Path})
			}
		}
		out = append(out, o)
	}
	return out
}

func offlineFetcher(t *testing.T) *iam.Fetcher {
	t.Helper()
	f, err := iam.New(t.Context(), config.Default().IAM, iam.Wait, iam.WithOfflinePolicies(policiesFile))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestIAMFixtures evaluates testdata/iam/<name>.yaml against the offline
// policies and compares with <name>.golden.json (go test -update rewrites
// them). A fixture without a golden file, or a golden file without a
// fixture, fails.
func TestIAMFixtures(t *testing.T) {
	// No AWS credentials: nothing may reach AWS even if a fixture named a
	// role the offline file lacks.
	iamtest.SetEnv(t, "http://127.0.0.1:9", false)
	fixtures, err := filepath.Glob("testdata/iam/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	goldens, err := filepath.Glob("testdata/iam/*.golden.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(fixtures) == 0 {
		t.Fatal("no fixtures in testdata/iam")
	}
	for _, g := range goldens {
		if !slices.Contains(fixtures, strings.TrimSuffix(g, ".golden.json")+".yaml") && !*update {
			t.Errorf("%s has no fixture", g)
		}
	}
	f := offlineFetcher(t)
	for _, fx := range fixtures {
		t.Run(filepath.Base(fx), func(t *testing.T) {
			got, err := json.MarshalIndent(reviewFile(t, fx, f), "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			golden := strings.TrimSuffix(fx, ".yaml") + ".golden.json"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test ./internal/gather -run TestIAMFixtures -update creates it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs (go test ./internal/gather -run TestIAMFixtures -update to accept):\n%s", golden, got)
			}
		})
	}
}

// TestIAMFixtureVerdicts pins what the golden files must say, so that a
// wrong -update cannot bless a regression: the seed policy passes, every
// bad variant is found by the rule meant for it.
func TestIAMFixtureVerdicts(t *testing.T) {
	iamtest.SetEnv(t, "http://127.0.0.1:9", false)
	want := map[string][]string{
		"Pod ai-inference/seed":                nil,
		"Pod ai-inference/star-action":         {"iam.kms-key-star", "iam.passrole-star", "iam.s3-resource-star", "iam.s3-write-unencrypted", "iam.secrets-scope", "iam.wildcard-action"},
		"Pod ai-inference/s3-wildcard":         {"iam.s3-write-unencrypted", "iam.wildcard-action"},
		"Pod ai-inference/kms-wildcard":        {"iam.wildcard-action"},
		"Pod ai-inference/s3-get-star":         {"iam.s3-resource-star"},
		"Pod ai-inference/s3-every-bucket":     {"iam.s3-resource-star"},
		"Pod ai-inference/kms-decrypt-star":    {"iam.kms-key-star"},
		"Pod ai-inference/kms-every-key":       {"iam.kms-key-star"},
		"Pod ai-inference/passrole-star":       {"iam.passrole-star"},
		"Pod ai-inference/put-unencrypted":     {"iam.s3-write-unencrypted"},
		"Pod ai-inference/put-sse-kms":         nil,
		"Pod ai-inference/secrets-star":        {"iam.secrets-scope"},
		"Pod ai-inference/not-action":          {"iam.kms-key-star", "iam.s3-resource-star", "iam.s3-write-unencrypted", "iam.secrets-scope", "iam.wildcard-action"},
		"Pod ai-inference/managed-wide":        {"iam.s3-resource-star", "iam.s3-write-unencrypted", "iam.wildcard-action"},
		"Pod ai-inference/boundary-limits":     nil,
		"Pod ai-inference/deny-removes":        nil,
		"Pod ai-inference/unknown-role":        {"iam.unknown"},
		"Pod ai-inference/invalid-arn":         {"iam.unknown"},
		"Pod ai-inference/no-role":             nil,
		"Policy ai-inference/vllm-models":      nil,
		"Policy ai-inference/models-admin":     {"iam.kms-key-star", "iam.s3-resource-star", "iam.s3-write-unencrypted", "iam.wildcard-action"},
		"Role ai-training/training-launcher":   {"iam.passrole-star", "iam.secrets-scope"},
		"Role ai-training/typo":                {"iam.unknown"},
		"Bucket ai-platform/agentic-ai-models": nil,
		"Bucket ai-platform/scratch":           {"s3.encryption"},
		"Bucket ai-platform/datasets":          {"s3.encryption"},
	}
	f := offlineFetcher(t)
	seen := map[string]bool{}
	for _, fx := range []string{"testdata/iam/pods.yaml", "testdata/iam/ack.yaml"} {
		for _, o := range reviewFile(t, fx, f) {
			seen[o.Object] = true
			var ids []string
			for _, v := range o.Violations {
				if !slices.Contains(ids, v.Policy) {
					ids = append(ids, v.Policy)
				}
			}
			slices.Sort(ids)
			w, ok := want[o.Object]
			if !ok {
				t.Errorf("%s: no expected verdict", o.Object)
				continue
			}
			if !slices.Equal(ids, w) {
				t.Errorf("%s: policies %v, want %v", o.Object, ids, w)
			}
			denied := slices.ContainsFunc(o.Violations, func(v finding) bool { return v.Action == "deny" })
			if o.Allowed == denied {
				t.Errorf("%s: allowed=%t with violations %v", o.Object, o.Allowed, o.Violations)
			}
		}
	}
	for k := range want {
		if !seen[k] {
			t.Errorf("%s was not evaluated", k)
		}
	}
}

// seedServer serves vllm-pod-role with the seed policy inline and
// AmazonS3FullAccess attached.
func seedServer(t *testing.T) *iamtest.Server {
	t.Helper()
	seed, err := os.ReadFile("../iam/testdata/vllm-pod-role.json")
	if err != nil {
		t.Fatal(err)
	}
	s := iamtest.NewServer()
	t.Cleanup(s.Close)
	const s3Full = "arn:aws:iam::aws:policy/AmazonS3FullAccess"
	s.AddPolicy(iamtest.ManagedPolicy{ARN: s3Full, DefaultVersion: "v2", Versions: map[string]string{
		"v2": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","s3-object-lambda:*"],"Resource":"*"}]}`,
	}})
	s.AddRole(iamtest.Role{ARN: "arn:aws:iam::123456789012:role/vllm-pod-role", Attached: []string{s3Full}, Inline: map[string]string{"vllm-models": string(seed)}})
	return s
}

func seedPodState(t *testing.T) (*state.Static, *review.Request) {
	t.Helper()
	st := state.NewStatic()
	st.Add(objectOf(t, &corev1.ServiceAccount{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ServiceAccount"},
		ObjectMeta: metav1.ObjectMeta{Name: "vllm-sa", Namespace: "ai-inference", Annotations: map[string]string{gather.AnnotationRoleARN: "arn:aws:iam::123456789012:role/vllm-pod-role"}},
	}))
	pod := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: "vllm-0", Namespace: "ai-inference"},
		Spec:       corev1.PodSpec{ServiceAccountName: "vllm-sa", Containers: []corev1.Container{{Name: "vllm", Image: "vllm/vllm-openai:v0.6.3"}}},
	}
	return st, &review.Request{Object: objectOf(t, pod), Operation: "CREATE"}
}

func objectOf(t testing.TB, v any) *kubeobjects.Object {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	o, err := kubeobjects.Decode(raw, true)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func iamViolations(res *review.Result) []review.Violation {
	var out []review.Violation
	for _, v := range res.Violations {
		if strings.HasPrefix(v.Policy, "iam.") {
			out = append(out, v)
		}
	}
	return out
}

func TestPodRoleFromTheIAMAPI(t *testing.T) {
	s := seedServer(t)
	iamtest.SetEnv(t, s.URL, true)
	f, err := iam.New(t.Context(), config.Default().IAM, iam.Admission)
	if err != nil {
		t.Fatal(err)
	}
	st, req := seedPodState(t)
	res, err := newReviewer(t, st, f).Review(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "role arn:aws:iam::123456789012:role/vllm-pod-role: managed policy arn:aws:iam::aws:policy/AmazonS3FullAccess, statement 0: allows "
	want := []review.Violation{
		{Policy: "iam.s3-resource-star", Severity: "high", Action: engine.ActionDeny, Message: prefix + "s3:* on *; S3 object and bucket actions must name the buckets they act on", Path: "spec.serviceAccountName"},
		{Policy: "iam.s3-write-unencrypted", Severity: "medium", Action: engine.ActionWarn, Message: prefix + "s3:* on *; writes reach every bucket, model buckets included, and the statement does not require SSE-KMS (condition StringEquals s3:x-amz-server-side-encryption: aws:kms)", Path: "spec.serviceAccountName"},
		{Policy: "iam.wildcard-action", Severity: "critical", Action: engine.ActionDeny, Message: prefix + "s3:* on *; name the actions the workload needs", Path: "spec.serviceAccountName"},
	}
	got := iamViolations(res)
	if !slices.Equal(got, want) {
		t.Errorf("violations:\n%+v\nwant:\n%+v", got, want)
	}
	if res.Allowed {
		t.Error("a pod whose role allows s3:* on * was admitted")
	}
	if s.Calls("GetRole") != 1 || s.Rejected() != 0 {
		t.Errorf("GetRole calls %d, rejected %d", s.Calls("GetRole"), s.Rejected())
	}
}

func TestPodRoleWithoutCredentials(t *testing.T) {
	s := seedServer(t)
	iamtest.SetEnv(t, s.URL, false)
	f, err := iam.New(t.Context(), config.Default().IAM, iam.Admission)
	if err != nil {
		t.Fatal(err)
	}
	st, req := seedPodState(t)
	res, err := newReviewer(t, st, f).Review(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	got := iamViolations(res)
	if len(got) != 1 || got[0].Policy != "iam.unknown" || got[0].Action != engine.ActionWarn ||
		!strings.HasPrefix(got[0].Message, "role arn:aws:iam::123456789012:role/vllm-pod-role (from ServiceAccount ai-inference/vllm-sa annotation eks.amazonaws.com/role-arn): the IAM policy documents are unknown, so the iam rules did not run: no AWS credentials are configured") {
		t.Fatalf("violations %+v", got)
	}
	if !slices.Contains(res.Warnings, "iam.unknown: "+got[0].Message) {
		t.Errorf("the client is not warned: %v", res.Warnings)
	}
	if s.Requests() != 0 {
		t.Errorf("%d requests reached the IAM endpoint without credentials", s.Requests())
	}
}

func TestWiringAddsTheIAMGatherer(t *testing.T) {
	iamtest.SetEnv(t, "http://127.0.0.1:9", false)
	cfg := config.Default()
	e, err := wiring.NewEngine(t.Context(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, req := seedPodState(t)
	r, err := wiring.NewReviewer(engine.NewHolder(e), cfg, st, wiring.Deps{IAM: offlineFetcher(t)})
	if err != nil {
		t.Fatal(err)
	}
	req.Mutate = true
	res, err := r.Review(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if got := iamViolations(res); len(got) != 0 {
		t.Errorf("the seed policy from the offline file reported %+v", got)
	}
	// Without a fetcher the pod is unknown, not unchecked.
	r, err = wiring.NewReviewer(engine.NewHolder(e), cfg, st, wiring.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	res, err = r.Review(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if got := iamViolations(res); len(got) != 1 || !strings.HasSuffix(got[0].Message, "this command does not read IAM documents") {
		t.Errorf("violations %+v", got)
	}
}

// TestRoleResolverPrecedence: the role checked is the role the credentials
// mutator injects (podidentity.Lookup): an association wins over the
// annotations, and a pod annotation over its ServiceAccount's.
func TestRoleResolverPrecedence(t *testing.T) {
	const podRole, saRole, assocRole = "arn:aws:iam::123456789012:role/from-pod", "arn:aws:iam::123456789012:role/from-sa", "arn:aws:iam::123456789012:role/from-association"
	r := gather.PodIdentityResolver{Associations: podidentity.Static{"ai-inference/assoc-sa": assocRole, "tenant-a/default": assocRole}}
	annotated := func(arn string) map[string]string { return map[string]string{gather.AnnotationRoleARN: arn} }
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "vllm-sa", Namespace: "ai-inference", Annotations: annotated(saRole)}}
	assocSA := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "assoc-sa", Namespace: "ai-inference", Annotations: annotated(saRole)}}
	for _, tc := range []struct {
		name       string
		pod        corev1.Pod
		sa         *corev1.ServiceAccount
		arn, where string
	}{
		{"pod annotation over ServiceAccount annotation", corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ai-inference", Annotations: annotated(podRole)}, Spec: corev1.PodSpec{ServiceAccountName: "vllm-sa"}}, sa, podRole, "pod annotation eks.amazonaws.com/role-arn"},
		{"ServiceAccount annotation", corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ai-inference"}, Spec: corev1.PodSpec{ServiceAccountName: "vllm-sa"}}, sa, saRole, "ServiceAccount ai-inference/vllm-sa annotation eks.amazonaws.com/role-arn"},
		{"association over annotations", corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "ai-inference", Annotations: annotated(podRole)}, Spec: corev1.PodSpec{ServiceAccountName: "assoc-sa"}}, assocSA, assocRole, "Pod Identity association ai-inference/assoc-sa"},
		{"association of the default ServiceAccount, which does not exist", corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "tenant-a"}}, nil, assocRole, "Pod Identity association tenant-a/default"},
		{"no role", corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "team-b"}}, nil, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			arn, where, err := r.RoleFor(t.Context(), &tc.pod, tc.sa)
			if err != nil || arn != tc.arn || where != tc.where {
				t.Errorf("got %q, %q, %v; want %q, %q", arn, where, err, tc.arn, tc.where)
			}
		})
	}
}

// unreadable fails every ServiceAccount read, as a cache that has not
// synced or a live read that timed out does.
type unreadable struct{ state.Reader }

func (unreadable) ServiceAccount(context.Context, string, string) (*corev1.ServiceAccount, error) {
	return nil, errors.New("timed out waiting for the ServiceAccount")
}

func TestUnreadableServiceAccountIsUnknown(t *testing.T) {
	iamtest.SetEnv(t, "http://127.0.0.1:9", false)
	st, req := seedPodState(t)
	res, err := newReviewer(t, unreadable{st}, offlineFetcher(t)).Review(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	got := iamViolations(res)
	want := "the IAM policy documents are unknown, so the iam rules did not run: the pod's ServiceAccount ai-inference/vllm-sa could not be read: timed out waiting for the ServiceAccount"
	if len(got) != 1 || got[0].Policy != "iam.unknown" || got[0].Message != want || got[0].Path != "spec.serviceAccountName" {
		t.Errorf("violations %+v", got)
	}
}
