package gather_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/gather"
	"github.com/tollgate-dev/tollgate/internal/iam"
	"github.com/tollgate-dev/tollgate/internal/iam/iamtest"
	"github.com/tollgate-dev/tollgate/internal/podidentity"
	"github.com/tollgate-dev/tollgate/internal/podidentity/ekstest"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
	"github.com/tollgate-dev/tollgate/internal/wiring"
)

// TestPodIdentitySessionsFromTheEKSAPI serves Pod Identity associations
// from a loopback EKS endpoint and the roles from a loopback IAM endpoint,
// both to the real AWS SDK (AWS_ENDPOINT_URL_EKS, AWS_ENDPOINT_URL_IAM),
// and checks what the iam rules decide of each association's session:
// its session policy, its target role in the same account (read through
// the same IAM client) or in another one, and disableSessionTags.
func TestPodIdentitySessionsFromTheEKSAPI(t *testing.T) {
	const (
		acct      = "arn:aws:iam::123456789012:role/"
		wide      = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}`
		narrow    = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::agentic-ai-models/*"}]}`
		otherOnly = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/kubernetes-namespace":"other-team"}}}]}`
	)
	is := iamtest.NewServer()
	defer is.Close()
	iamtest.SetEnv(t, is.URL, true)
	is.AddRole(iamtest.Role{ARN: acct + "wide", Inline: map[string]string{"all-s3": wide}})
	is.AddRole(iamtest.Role{ARN: acct + "narrow", Inline: map[string]string{"models": narrow}})
	is.AddRole(iamtest.Role{ARN: acct + "other-team", Inline: map[string]string{"abac": otherOnly}})
	// hop is the association's first role when it chains into a target:
	// the IAM endpoint does not know it, so reading it would make the
	// pod's verdict iam.unknown.

	es := ekstest.NewServer("ml")
	defer es.Close()
	t.Setenv("AWS_ENDPOINT_URL_EKS", es.URL)
	es.Add(
		ekstest.Association{ID: "a-1", Namespace: "ai", ServiceAccount: "narrow-session", RoleARN: acct + "wide", Policy: narrow, DisableSessionTags: true},
		ekstest.Association{ID: "a-2", Namespace: "ai", ServiceAccount: "wide-session", RoleARN: acct + "wide", Policy: wide, DisableSessionTags: true},
		ekstest.Association{ID: "a-3", Namespace: "ai", ServiceAccount: "wide-role-narrow-target", RoleARN: acct + "hop", TargetRoleARN: acct + "narrow"},
		ekstest.Association{ID: "a-4", Namespace: "ai", ServiceAccount: "narrow-target-session", RoleARN: acct + "hop", TargetRoleARN: acct + "wide", Policy: narrow, DisableSessionTags: true},
		ekstest.Association{ID: "a-5", Namespace: "ai", ServiceAccount: "wide-target", RoleARN: acct + "hop", TargetRoleARN: acct + "wide"},
		ekstest.Association{ID: "a-6", Namespace: "ai", ServiceAccount: "cross-account", RoleARN: acct + "hop", TargetRoleARN: "arn:aws:iam::210987654321:role/models"},
		ekstest.Association{ID: "a-7", Namespace: "ai", ServiceAccount: "tagged", RoleARN: acct + "other-team"},
		ekstest.Association{ID: "a-8", Namespace: "ai", ServiceAccount: "untagged", RoleARN: acct + "other-team", DisableSessionTags: true},
		// AWS refuses a session policy with session tags enabled; an answer
		// that says otherwise gets no session tags.
		ekstest.Association{ID: "a-9", Namespace: "ai", ServiceAccount: "policy-and-tags", RoleARN: acct + "other-team", Policy: wide},
	)
	client, err := podidentity.NewEKSClient(t.Context(), "", false)
	if err != nil {
		t.Fatal(err)
	}
	src := podidentity.NewEKS(client, podidentity.EKSOptions{ClusterName: "ml", RefreshInterval: time.Hour, Timeout: 5 * time.Second})
	f, err := iam.New(t.Context(), config.Default().IAM, iam.Admission)
	if err != nil {
		t.Fatal(err)
	}
	st := state.NewStatic()
	r := podIdentityReviewer(t, st, f, src)

	for _, tc := range []struct {
		sa      string
		allowed bool // by the iam rules
		// policies are the iam findings expected; each message contains
		// every one of contains.
		policies []string
		contains []string
	}{
		{sa: "narrow-session", allowed: true},
		{sa: "wide-session", policies: []string{"iam.s3-resource-star", "iam.s3-write-unencrypted", "iam.wildcard-action"},
			contains: []string{"role " + acct + "wide (via Pod Identity association a-2, session policy)", "s3:* on *"}},
		{sa: "wide-role-narrow-target", allowed: true},
		{sa: "narrow-target-session", allowed: true},
		{sa: "wide-target", policies: []string{"iam.s3-resource-star", "iam.s3-write-unencrypted", "iam.wildcard-action"},
			contains: []string{"role " + acct + "wide (via Pod Identity association a-5, target role of " + acct + "hop)"}},
		{sa: "cross-account", allowed: true, policies: []string{"iam.unknown"},
			contains: []string{"target role arn:aws:iam::210987654321:role/models is in account 210987654321, not the cluster's account 123456789012"}},
		// The session tags EKS Pod Identity adds settle the condition: the
		// pod is not in other-team, the grant never applies to it.
		{sa: "tagged", allowed: true},
		// Without session tags aws:PrincipalTag reads the role's tags,
		// which Tollgate does not read: the grant counts in full.
		{sa: "untagged", policies: []string{"iam.s3-resource-star", "iam.s3-write-unencrypted", "iam.wildcard-action"},
			contains: []string{"aws:PrincipalTag/kubernetes-namespace"}},
		{sa: "policy-and-tags", policies: []string{"iam.s3-resource-star", "iam.s3-write-unencrypted", "iam.wildcard-action"},
			contains: []string{"(via Pod Identity association a-9, session policy)", "aws:PrincipalTag/kubernetes-namespace"}},
	} {
		t.Run(tc.sa, func(t *testing.T) {
			pod := &corev1.Pod{
				TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
				ObjectMeta: metav1.ObjectMeta{Name: tc.sa + "-0", Namespace: "ai"},
				Spec:       corev1.PodSpec{ServiceAccountName: tc.sa, Containers: []corev1.Container{{Name: "app", Image: "vllm/vllm-openai:v0.6.3"}}},
			}
			res, err := r.Review(t.Context(), &review.Request{Object: objectOf(t, pod), Operation: "CREATE"})
			if err != nil {
				t.Fatal(err)
			}
			got := iamViolations(res)
			// Allowed as far as the iam rules go: the pod fixture is not
			// meant to pass the other families.
			allowed := true
			var ids []string
			for _, v := range got {
				allowed = allowed && v.Action != engine.ActionDeny
				ids = append(ids, v.Policy)
				for _, s := range tc.contains {
					if !strings.Contains(v.Message, s) {
						t.Errorf("%s: message %q does not contain %q", v.Policy, v.Message, s)
					}
				}
			}
			if !slices.Equal(ids, tc.policies) || allowed != tc.allowed {
				t.Errorf("allowed %v with %v, want %v with %v:\n%s", allowed, ids, tc.allowed, tc.policies, dump(got))
			}
		})
	}
	if is.Calls("GetRole") != 3 || is.Rejected() != 0 {
		t.Errorf("GetRole called %d times for 3 roles (the hop role is never read), %d rejected", is.Calls("GetRole"), is.Rejected())
	}
	if list, describe := es.Calls(); list != 5 || describe != 9 || es.Rejected() != 0 {
		t.Errorf("EKS: %d List pages and %d descriptions (want 5 and 9, read once), %d rejected", list, describe, es.Rejected())
	}
}

func dump(vs []review.Violation) string {
	var b strings.Builder
	for _, v := range vs {
		fmt.Fprintf(&b, "  %s %s: %s\n", v.Policy, v.Action, v.Message)
	}
	return b.String()
}

// podIdentityReviewer is newReviewer with the pods' roles resolved through
// associations.
func podIdentityReviewer(t testing.TB, st state.Reader, f *iam.Fetcher, assocs podidentity.Associations) *review.Reviewer {
	t.Helper()
	cfg := config.Default()
	e, err := wiring.NewEngine(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := &gather.IAM{Fetcher: f, Resolver: gather.PodIdentityResolver{Associations: assocs}}
	r, err := review.New(engine.NewHolder(e), cfg, st, review.WithGatherers(g))
	if err != nil {
		t.Fatal(err)
	}
	return r
}
