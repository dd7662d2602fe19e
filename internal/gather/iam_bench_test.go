package gather_test

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/gather"
	"github.com/tollgate-dev/tollgate/internal/iam"
	"github.com/tollgate-dev/tollgate/internal/iam/iamtest"
	"github.com/tollgate-dev/tollgate/internal/podidentity"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
)

// BenchmarkIAMAdmission measures the review of a pod whose role's documents
// come from a loopback IAM endpoint through the SDK: warm (cached role),
// cold (a new role every admission, so each waits for its fetch), and cold
// against an IAM endpoint slower than the admission bound (iam.timeout set
// to 20ms, every call taking 1s), where each admission answers iam.unknown
// at the bound. It reports the admission latency percentiles, the role
// fetches (GetRole calls) and the unknown answers per admission.
// warm-session is warm with the role reached through a Pod Identity
// association that carries a session policy (the grants are cached per
// role documents and session policy).
//
//	go test ./internal/gather -run '^$' -bench IAMAdmission -benchtime 2000x
func BenchmarkIAMAdmission(b *testing.B) {
	seed, err := os.ReadFile("../iam/testdata/vllm-pod-role.json")
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct {
		name    string
		cold    bool
		delay   time.Duration
		session bool
	}{
		{"warm", false, 0, false},
		{"warm-session", false, 0, true},
		{"cold", true, 0, false},
		{"cold-slow-iam", true, time.Second, false},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := iamtest.NewServer()
			defer s.Close()
			iamtest.SetEnv(b, s.URL, true)
			const s3Read = "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"
			s.AddPolicy(iamtest.ManagedPolicy{ARN: s3Read, DefaultVersion: "v3", Versions: map[string]string{
				"v3": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":"arn:aws:s3:::agentic-ai-models*"}]}`,
			}})
			roles := 1
			if bc.cold {
				roles = b.N
			}
			reqs := make([]*review.Request, roles)
			assocs := podidentity.Fixed{}
			for i := range roles {
				arn := fmt.Sprintf("arn:aws:iam::123456789012:role/vllm-%d", i)
				s.AddRole(iamtest.Role{ARN: arn, Attached: []string{s3Read}, Inline: map[string]string{"vllm-models": string(seed)}})
				pod := &corev1.Pod{
					TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
					ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("vllm-%d", i), Namespace: "ai-inference",
						Annotations: map[string]string{gather.AnnotationRoleARN: arn}},
					Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "vllm", Image: "vllm/vllm-openai:v0.6.3"}}},
				}
				if bc.session {
					sa := fmt.Sprintf("vllm-%d", i)
					pod.Annotations, pod.Spec.ServiceAccountName = nil, sa
					assocs["ai-inference/"+sa] = podidentity.Association{
						Namespace: "ai-inference", ServiceAccount: sa, RoleARN: arn, ID: fmt.Sprintf("a-%d", i), Source: podidentity.SourceEKS,
						SessionPolicy:      `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::agentic-ai-models/*"}]}`,
						DisableSessionTags: true,
					}
				}
				reqs[i] = &review.Request{Operation: "CREATE", Object: objectOf(b, pod)}
			}
			c := config.Default().IAM
			if bc.delay > 0 {
				c.Timeout = metav1.Duration{Duration: 20 * time.Millisecond}
			}
			f, err := iam.New(b.Context(), c, iam.Admission)
			if err != nil {
				b.Fatal(err)
			}
			r := newReviewer(b, state.NewStatic(), f)
			if bc.session {
				r = podIdentityReviewer(b, state.NewStatic(), f, assocs)
			}
			if !bc.cold {
				if _, err := r.Review(b.Context(), reqs[0]); err != nil {
					b.Fatal(err)
				}
			}
			s.SetDelay(bc.delay)
			before := s.Calls("GetRole")
			lat := make([]time.Duration, b.N)
			unknown := 0
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				start := time.Now()
				res, err := r.Review(b.Context(), reqs[i%roles])
				lat[i] = time.Since(start)
				if err != nil {
					b.Fatal(err)
				}
				if slices.ContainsFunc(res.Violations, func(v review.Violation) bool { return v.Policy == "iam.unknown" }) {
					unknown++
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			b.ReportMetric(float64(s.Calls("GetRole")-before)/float64(b.N), "fetches/op")
			b.ReportMetric(float64(unknown)/float64(b.N), "unknown/op")
		})
	}
}
