package iam

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/iam/iamtest"
)

const (
	vllmRole    = "arn:aws:iam::123456789012:role/vllm-pod-role"
	boundaryARN = "arn:aws:iam::123456789012:policy/ml-boundary"
)

func managedARN(i int) string { return fmt.Sprintf("arn:aws:iam::123456789012:policy/ml/models-%d", i) }

func policyDoc(action, resource string) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Sid":"S","Effect":"Allow","Action":%q,"Resource":%q}]}`, action, resource)
}

// newServer serves the vLLM role with a boundary, five attached managed
// policies (three pages), three inline policies (two pages, one the seed
// policy) and points the SDK at it with test credentials.
func newServer(t testing.TB) *iamtest.Server {
	t.Helper()
	s := iamtest.NewServer()
	t.Cleanup(s.Close)
	role := iamtest.Role{ARN: vllmRole, Boundary: boundaryARN, Inline: map[string]string{
		"a-models": seedPolicy(t),
		"b-logs":   policyDoc("logs:PutLogEvents", "arn:aws:logs:us-west-2:123456789012:log-group:/vllm:*"),
		"c-ecr":    policyDoc("ecr:BatchGetImage", "arn:aws:ecr:us-west-2:123456789012:repository/vllm"),
	}}
	for i := range 5 {
		role.Attached = append(role.Attached, managedARN(i))
		// Version v2 is the default; v1 must never be read.
		s.AddPolicy(iamtest.ManagedPolicy{ARN: managedARN(i), DefaultVersion: "v2", Versions: map[string]string{
			"v1": policyDoc("s3:*", "*"),
			"v2": policyDoc("s3:GetObject", fmt.Sprintf("arn:aws:s3:::models-%d/*", i)),
		}})
	}
	s.AddRole(role)
	s.AddPolicy(iamtest.ManagedPolicy{ARN: boundaryARN, DefaultVersion: "v1", Versions: map[string]string{
		"v1": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","kms:Decrypt","secretsmanager:GetSecretValue","logs:*","ecr:*"],"Resource":"*"}]}`,
	}})
	iamtest.SetEnv(t, s.URL, true)
	return s
}

func testConfig() config.IAM {
	c := config.Default().IAM
	c.Timeout = metav1.Duration{Duration: 5 * time.Second}
	c.WaitTimeout = metav1.Duration{Duration: 20 * time.Second}
	return c
}

// fastRetries keeps the SDK's standard retryer (same retryable codes,
// throttling included) with millisecond backoff.
var fastRetries = WithClientOptions(func(o *awsiam.Options) {
	o.Retryer = retry.AddWithMaxBackoffDelay(retry.NewStandard(), 5*time.Millisecond)
})

func newFetcher(t testing.TB, c config.IAM, mode Mode, opts ...Option) *Fetcher {
	t.Helper()
	f, err := New(context.Background(), c, mode, append([]Option{fastRetries}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	if f.Disabled() != "" {
		t.Fatalf("fetcher disabled: %s", f.Disabled())
	}
	return f
}

func TestFetchRoleThroughTheQueryAPI(t *testing.T) {
	s := newServer(t)
	s.Throttle("GetRole", 1)
	s.Throttle("GetPolicyVersion", 1)
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	f := newFetcher(t, testConfig(), Wait, WithMetrics(m))
	r := f.Lookup(t.Context(), vllmRole)
	if r.Status != StatusOK {
		t.Fatalf("status %s: %s", r.Status, r.Reason)
	}
	var got []string
	for _, p := range r.Docs.Policies {
		got = append(got, fmt.Sprintf("%s %s%s %s %v", p.Kind, p.ARN, p.Name, p.Version, p.Document.Statement[0].Action))
	}
	want := []string{
		"managed arn:aws:iam::123456789012:policy/ml/models-0models-0 v2 [s3:GetObject]",
		"managed arn:aws:iam::123456789012:policy/ml/models-1models-1 v2 [s3:GetObject]",
		"managed arn:aws:iam::123456789012:policy/ml/models-2models-2 v2 [s3:GetObject]",
		"managed arn:aws:iam::123456789012:policy/ml/models-3models-3 v2 [s3:GetObject]",
		"managed arn:aws:iam::123456789012:policy/ml/models-4models-4 v2 [s3:GetObject]",
		"inline a-models  [s3:GetObject s3:ListBucket]",
		"inline b-logs  [logs:PutLogEvents]",
		"inline c-ecr  [ecr:BatchGetImage]",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("policies:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if b := r.Docs.Boundary; b == nil || b.Kind != KindBoundary || b.ARN != boundaryARN || len(b.Document.Statement[0].Action) != 5 {
		t.Errorf("boundary: %+v", b)
	}
	// The seed policy came back URL-encoded and is decoded.
	if got := r.Docs.Policies[5].Document.Statement[1].Resource; len(got) != 1 || got[0] != "arn:aws:kms:us-west-2:123456789012:key/model-encryption-key" {
		t.Errorf("seed policy resources: %v", got)
	}
	for action, want := range map[string]int64{
		"GetRole":                  2, // throttled once, then answered
		"ListAttachedRolePolicies": 3, // five policies, two per page
		"ListRolePolicies":         2, // three names, two per page
		"GetPolicy":                6, // five attached and the boundary
		"GetPolicyVersion":         7, // one throttled
		"GetRolePolicy":            3,
	} {
		if got := s.Calls(action); got != want {
			t.Errorf("%s: %d calls, want %d", action, got, want)
		}
	}
	if s.Rejected() != 0 {
		t.Errorf("%d requests rejected (unsigned or malformed)", s.Rejected())
	}
	if got := testutil.ToFloat64(m.Misses); got != 1 {
		t.Errorf("misses %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.Calls.WithLabelValues("GetPolicy")); got != 6 {
		t.Errorf("GetPolicy calls metric %v, want 6", got)
	}
	if got := testutil.CollectAndCount(m.Latency); got != 1 {
		t.Errorf("latency series %d, want 1", got)
	}

	// A second lookup is a hit: no call.
	before := s.Requests()
	if r := f.Lookup(t.Context(), vllmRole); r.Status != StatusOK {
		t.Fatal(r.Reason)
	}
	if s.Requests() != before {
		t.Errorf("a cached role was fetched again")
	}
	if got := testutil.ToFloat64(m.Hits); got != 1 {
		t.Errorf("hits %v, want 1", got)
	}
}

func TestFetchErrorsAreUnknownWithTheReason(t *testing.T) {
	for _, tc := range []struct {
		name   string
		role   string
		setup  func(*iamtest.Server)
		reason []string
		code   string
	}{
		{
			name:   "no such role",
			role:   "arn:aws:iam::123456789012:role/missing",
			reason: []string{"role not found", "GetRole missing", "NoSuchEntity", "The role with name missing cannot be found."},
			code:   "NoSuchEntity",
		},
		{
			name: "attached policy deleted",
			role: "arn:aws:iam::123456789012:role/dangling",
			setup: func(s *iamtest.Server) {
				s.AddRole(iamtest.Role{ARN: "arn:aws:iam::123456789012:role/dangling", Attached: []string{"arn:aws:iam::123456789012:policy/gone"}})
			},
			reason: []string{"managed policy arn:aws:iam::123456789012:policy/gone of dangling", "GetPolicy", "NoSuchEntity"},
			code:   "NoSuchEntity",
		},
		{
			name:   "role in another account",
			role:   "arn:aws:iam::210987654321:role/vllm-pod-role",
			reason: []string{"GetRole vllm-pod-role returned arn:aws:iam::123456789012:role/vllm-pod-role, not arn:aws:iam::210987654321:role/vllm-pod-role"},
			code:   "Other",
		},
		{
			name:   "throttled past every retry",
			role:   vllmRole,
			setup:  func(s *iamtest.Server) { s.Throttle("GetRole", 100) },
			reason: []string{"GetRole vllm-pod-role", "Throttling", "Rate exceeded"},
			code:   "Throttling",
		},
		{
			name:   "not a role ARN",
			role:   "arn:aws:iam::123456789012:user/alice",
			reason: []string{`"arn:aws:iam::123456789012:user/alice" is not an IAM role ARN`},
			code:   "Other",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t)
			if tc.setup != nil {
				tc.setup(s)
			}
			m := NewMetrics(prometheus.NewRegistry())
			f := newFetcher(t, testConfig(), Wait, WithMetrics(m))
			r := f.Lookup(t.Context(), tc.role)
			if r.Status != StatusUnknown {
				t.Fatalf("status %s, want unknown", r.Status)
			}
			for _, w := range tc.reason {
				if !strings.Contains(r.Reason, w) {
					t.Errorf("reason %q does not say %q", r.Reason, w)
				}
			}
			if got := testutil.ToFloat64(m.Errors.WithLabelValues(tc.code)); got != 1 {
				t.Errorf("errors{code=%s} = %v, want 1", tc.code, got)
			}
			// The failure is remembered for iam.errorTTL: no second fetch.
			before := s.Requests()
			if r := f.Lookup(t.Context(), tc.role); r.Status != StatusUnknown {
				t.Errorf("second lookup: %s", r.Status)
			}
			if s.Requests() != before {
				t.Errorf("a failed role was fetched again within errorTTL")
			}
		})
	}
}

func TestConcurrentAdmissionsShareOneFetch(t *testing.T) {
	s := newServer(t)
	// Slow enough that every lookup arrives while the fetch is running.
	s.SetDelay(20 * time.Millisecond)
	f := newFetcher(t, testConfig(), Admission)
	const n = 200
	var wg sync.WaitGroup
	var ok atomic.Int64
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			if r := f.Lookup(t.Context(), vllmRole); r.Status == StatusOK {
				ok.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	if ok.Load() != n {
		t.Errorf("%d of %d lookups answered ok", ok.Load(), n)
	}
	if got := s.Calls("GetRole"); got != 1 {
		t.Errorf("%d GetRole calls for %d concurrent admissions, want exactly 1 fetch", got, n)
	}
	if got := s.Calls("GetPolicyVersion"); got != 6 {
		t.Errorf("%d GetPolicyVersion calls, want 6 (one fetch)", got)
	}
}

func TestConcurrentCallsAreBounded(t *testing.T) {
	s := newServer(t)
	s.SetDelay(10 * time.Millisecond)
	c := testConfig()
	c.MaxConcurrentCalls = 2
	f := newFetcher(t, c, Wait)
	var wg sync.WaitGroup
	for _, role := range []string{vllmRole, vllmRole + "-b", vllmRole + "-c"} {
		if role != vllmRole {
			s.AddRole(iamtest.Role{ARN: role, Attached: []string{managedARN(0), managedARN(1), managedARN(2)}})
		}
		wg.Go(func() {
			if r := f.Lookup(t.Context(), role); r.Status != StatusOK {
				t.Errorf("%s: %s", role, r.Reason)
			}
		})
	}
	wg.Wait()
	if got := s.MaxInFlight(); got > 2 {
		t.Errorf("%d calls in flight at once, want at most iam.maxConcurrentCalls=2", got)
	}
}

func TestSlowEndpointAnswersWithinTheBound(t *testing.T) {
	s := newServer(t)
	// A role with one inline policy: its fetch is three rounds of calls.
	const role = "arn:aws:iam::123456789012:role/slow"
	s.AddRole(iamtest.Role{ARN: role, Inline: map[string]string{"models": seedPolicy(t)}})
	s.SetDelay(time.Second)
	c := testConfig()
	c.Timeout = metav1.Duration{Duration: 50 * time.Millisecond}
	f := newFetcher(t, c, Admission)

	begin := time.Now()
	r := f.Lookup(t.Context(), role)
	took := time.Since(begin)
	if r.Status != StatusUnknown || !strings.Contains(r.Reason, "IAM did not answer within 50ms; the documents are being fetched in the background") {
		t.Fatalf("got %s %q, want unknown after the bound", r.Status, r.Reason)
	}
	// Every call takes 1s: an answer in less than one call's time came
	// from the bound, not from IAM.
	if took >= time.Second {
		t.Errorf("the lookup took %s: it waited for IAM instead of the 50ms bound", took)
	}

	// The fetch went on in the background and fills the cache.
	deadline := time.Now().Add(20 * time.Second)
	for f.Lookup(t.Context(), role).Status != StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("the background fetch never filled the cache")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got := s.Calls("GetRole"); got != 1 {
		t.Errorf("%d GetRole calls, want 1 (the lookups after the bound joined the running fetch)", got)
	}
}

func TestRequestContextEndsTheWait(t *testing.T) {
	s := newServer(t)
	s.SetDelay(300 * time.Millisecond)
	f := newFetcher(t, testConfig(), Wait)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r := f.Lookup(ctx, vllmRole)
	if r.Status != StatusUnknown || !strings.Contains(r.Reason, "the request ended before IAM answered") {
		t.Fatalf("got %s %q", r.Status, r.Reason)
	}
}

func TestNoCredentialsMakesNoCall(t *testing.T) {
	s := iamtest.NewServer()
	defer s.Close()
	iamtest.SetEnv(t, s.URL, false)
	for _, tc := range []struct {
		name string
		imds bool
	}{{"default", false}, {"instance metadata turned on but disabled in the environment", true}} {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig()
			c.InstanceMetadata = tc.imds
			m := NewMetrics(prometheus.NewRegistry())
			f, err := New(t.Context(), c, Admission, WithMetrics(m))
			if err != nil {
				t.Fatal(err)
			}
			r := f.Lookup(t.Context(), vllmRole)
			if r.Status != StatusUnknown {
				t.Fatalf("status %s", r.Status)
			}
			if tc.imds {
				// The SDK goes to its instance-role provider, which the
				// environment disables: the lookup fails on credentials.
				if f.Disabled() != "" || !strings.Contains(r.Reason, "GetRole vllm-pod-role") {
					t.Errorf("disabled %q, reason %q", f.Disabled(), r.Reason)
				}
			} else {
				if !strings.Contains(r.Reason, "no AWS credentials are configured") || !strings.Contains(r.Reason, "made no IAM call") || f.Disabled() != r.Reason {
					t.Errorf("reason %q, disabled %q", r.Reason, f.Disabled())
				}
				if got := testutil.ToFloat64(m.Unknown.WithLabelValues("no-credentials")); got != 1 {
					t.Errorf("unknown{no-credentials} = %v", got)
				}
			}
			if s.Requests() != 0 {
				t.Errorf("%d requests reached the IAM endpoint without credentials", s.Requests())
			}
		})
	}
}

func TestBadSharedConfigIsExplained(t *testing.T) {
	s := iamtest.NewServer()
	defer s.Close()
	iamtest.SetEnv(t, s.URL, false)
	t.Setenv("AWS_PROFILE", "no-such-profile")
	f, err := New(t.Context(), testConfig(), Admission)
	if err != nil {
		t.Fatal(err)
	}
	r := f.Lookup(t.Context(), vllmRole)
	if r.Status != StatusUnknown || !strings.Contains(r.Reason, "the AWS configuration could not be loaded") || !strings.Contains(r.Reason, "no-such-profile") {
		t.Errorf("got %s %q", r.Status, r.Reason)
	}
	if s.Requests() != 0 {
		t.Errorf("%d requests", s.Requests())
	}
}

// clock is a settable clock for the cache.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) add(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.t = c.t.Add(d) }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRefreshInTheBackground(t *testing.T) {
	s := newServer(t)
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	c := testConfig() // cacheTTL 5m, errorTTL 30s
	f := newFetcher(t, c, Admission, WithClock(clk.now))
	if r := f.Lookup(t.Context(), vllmRole); r.Status != StatusOK {
		t.Fatal(r.Reason)
	}

	// Before half the TTL: a plain hit.
	clk.add(2 * time.Minute)
	f.Lookup(t.Context(), vllmRole)
	if got := s.Calls("GetRole"); got != 1 {
		t.Fatalf("GetRole %d before half the TTL", got)
	}

	// After half the TTL: answered from the cache, refreshed behind.
	clk.add(time.Minute)
	if r := f.Lookup(t.Context(), vllmRole); r.Status != StatusOK {
		t.Fatal(r.Reason)
	}
	refreshedAt := clk.now()
	waitFor(t, "the background refresh", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.entries[vllmRole].at.Equal(refreshedAt)
	})
	if got := s.Calls("GetRole"); got != 2 {
		t.Fatalf("GetRole %d after the refresh, want 2", got)
	}

	// A refresh that fails keeps the documents until they expire.
	s.Throttle("GetRole", 1000)
	clk.add(3 * time.Minute)
	if r := f.Lookup(t.Context(), vllmRole); r.Status != StatusOK {
		t.Fatalf("a failing refresh replaced good documents: %s", r.Reason)
	}
	waitFor(t, "the failed refresh", func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		e := f.entries[vllmRole]
		return !e.refreshing.Load() && e.next.Load() == clk.now().Add(c.ErrorTTL.Duration).UnixNano()
	})
	throttled := s.Calls("GetRole")
	// Within errorTTL no new refresh starts.
	f.Lookup(t.Context(), vllmRole)
	if got := s.Calls("GetRole"); got != throttled {
		t.Errorf("a refresh started again within errorTTL (%d -> %d calls)", throttled, got)
	}

	// Once expired, the documents are no longer used.
	clk.add(5 * time.Minute)
	if r := f.Lookup(t.Context(), vllmRole); r.Status != StatusUnknown || !strings.Contains(r.Reason, "Throttling") {
		t.Errorf("expired documents: got %s %q", r.Status, r.Reason)
	}
}

func TestCacheHoldsAtMostMaxRoles(t *testing.T) {
	s := newServer(t)
	c := testConfig()
	c.MaxRoles = 2
	f := newFetcher(t, c, Wait)
	for i := range 5 {
		role := fmt.Sprintf("arn:aws:iam::123456789012:role/r%d", i)
		s.AddRole(iamtest.Role{ARN: role})
		if r := f.Lookup(t.Context(), role); r.Status != StatusOK {
			t.Fatal(r.Reason)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.entries) != 2 {
		t.Errorf("%d roles cached, want iam.maxRoles=2", len(f.entries))
	}
	if _, ok := f.entries["arn:aws:iam::123456789012:role/r4"]; !ok {
		t.Error("the newest role was evicted")
	}
}

func TestNewValidatesTheConfiguration(t *testing.T) {
	c := config.IAM{ErrorTTL: metav1.Duration{Duration: -time.Second}}
	_, err := New(t.Context(), c, Admission)
	for _, w := range []string{"iam.timeout: 0s must be positive", "iam.waitTimeout", "iam.cacheTTL", "iam.errorTTL: -1s must not be negative", "iam.maxConcurrentCalls: 0 must be at least 1", "iam.maxRoles"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v does not say %q", err, w)
		}
	}
}

func TestOfflinePoliciesFile(t *testing.T) {
	s := iamtest.NewServer()
	defer s.Close()
	iamtest.SetEnv(t, s.URL, true)
	dir := t.TempDir()
	path := filepath.Join(dir, "policies.json")
	if err := os.WriteFile(path, []byte(`{"`+vllmRole+`": [{"name": "models", "document": `+seedPolicy(t)+`}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := New(t.Context(), testConfig(), Wait, WithOfflinePolicies(path))
	if err != nil {
		t.Fatal(err)
	}
	if r := f.Lookup(t.Context(), vllmRole); r.Status != StatusOK || r.Docs.Policies[0].Name != "models" {
		t.Errorf("got %+v", r)
	}
	r := f.Lookup(t.Context(), "arn:aws:iam::123456789012:role/other")
	if r.Status != StatusUnknown || !strings.Contains(r.Reason, "is not in the IAM policies file "+path) {
		t.Errorf("got %s %q", r.Status, r.Reason)
	}
	if s.Requests() != 0 {
		t.Errorf("offline lookups made %d IAM calls", s.Requests())
	}
	if _, err := New(t.Context(), testConfig(), Wait, WithOfflinePolicies(filepath.Join(dir, "nope.json"))); err == nil || !strings.Contains(err.Error(), "nope.json") {
		t.Errorf("missing file: %v", err)
	}
}

func TestConfigFileIAMSection(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tollgate.yaml")
	if err := os.WriteFile(path, []byte("iam:\n  timeout: 250ms\n  cacheTTL: 10m\n  maxConcurrentCalls: 8\n  region: cn-north-1\n  instanceMetadata: true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	got := c.IAM
	if got.Timeout.Duration != 250*time.Millisecond || got.CacheTTL.Duration != 10*time.Minute || got.MaxConcurrentCalls != 8 ||
		got.Region != "cn-north-1" || !got.InstanceMetadata || got.WaitTimeout.Duration != time.Minute || got.ErrorTTL.Duration != 30*time.Second || got.MaxRoles != 10000 {
		t.Errorf("iam section %+v", got)
	}
	if err := os.WriteFile(path, []byte("iam:\n  timeOut: 1s\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(path); err == nil || !strings.Contains(err.Error(), "timeOut") {
		t.Errorf("a misspelt field is accepted: %v", err)
	}
}

// countingSource fails every fetch and counts them.
type countingSource struct{ calls atomic.Int64 }

func (s *countingSource) Role(context.Context, string) (*RoleDocuments, error) {
	s.calls.Add(1)
	return nil, fmt.Errorf("%w: always", ErrRoleNotFound)
}

func TestErrorTTLZeroRetriesEveryLookup(t *testing.T) {
	src := &countingSource{}
	c := testConfig()
	c.ErrorTTL = metav1.Duration{}
	f, err := New(t.Context(), c, Wait, WithSource(src))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if r := f.Lookup(t.Context(), vllmRole); r.Status != StatusUnknown || r.Reason != "role not found: always" {
			t.Fatalf("got %s %q", r.Status, r.Reason)
		}
	}
	if got := src.calls.Load(); got != 3 {
		t.Errorf("%d fetches, want 3 with errorTTL 0", got)
	}
}
