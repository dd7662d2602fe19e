package podidentity

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eks"
)

// fakeEKS serves ListPodIdentityAssociations (two pages) and
// DescribePodIdentityAssociation for cluster "ml" on a loopback server.
type fakeEKS struct {
	mu       sync.Mutex
	calls    map[string]int
	fail     bool
	roles    map[string]string // association id -> role
	assocs   [][3]string       // id, namespace, service account
	pageSize int
}

func (f *fakeEKS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	const prefix = "/clusters/ml/pod-identity-associations"
	if !strings.HasPrefix(r.URL.Path, prefix) || r.Method != http.MethodGet {
		http.Error(w, `{"message":"unexpected call"}`, http.StatusBadRequest)
		return
	}
	id := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, prefix), "/")
	op := "Describe"
	if id == "" {
		op = "List"
	}
	f.calls[op]++
	if f.fail {
		w.Header().Set("X-Amzn-ErrorType", "ServerException")
		http.Error(w, `{"message":"boom"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if op == "List" {
		start := 0
		if tok := r.URL.Query().Get("nextToken"); tok != "" {
			start = f.pageSize
		}
		end := min(start+f.pageSize, len(f.assocs))
		var items []map[string]string
		for _, a := range f.assocs[start:end] {
			items = append(items, map[string]string{"associationId": a[0], "namespace": a[1], "serviceAccount": a[2], "clusterName": "ml"})
		}
		out := map[string]any{"associations": items}
		if end < len(f.assocs) {
			out["nextToken"] = "page2"
		}
		_ = json.NewEncoder(w).Encode(out)
		return
	}
	for _, a := range f.assocs {
		if a[0] == id {
			d := map[string]string{"associationId": id, "namespace": a[1], "serviceAccount": a[2], "roleArn": f.roles[id], "clusterName": "ml"}
			if id == "a-3" {
				d["targetRoleArn"] = "arn:aws:iam::210987654321:role/models"
			}
			_ = json.NewEncoder(w).Encode(map[string]any{"association": d})
			return
		}
	}
	w.Header().Set("X-Amzn-ErrorType", "ResourceNotFoundException")
	http.Error(w, `{"message":"no such association"}`, http.StatusNotFound)
}

func (f *fakeEKS) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

func newFake(t *testing.T) (*fakeEKS, *eks.Client) {
	t.Helper()
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	f := &fakeEKS{
		calls:    map[string]int{},
		pageSize: 2,
		assocs:   [][3]string{{"a-1", "ai", "vllm"}, {"a-2", "ai", "agents"}, {"a-3", "train", "nemo"}},
		roles: map[string]string{
			"a-1": "arn:aws:iam::123456789012:role/vllm",
			"a-2": "arn:aws:iam::123456789012:role/agents",
			"a-3": "arn:aws:iam::123456789012:role/nemo",
		},
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	client := eks.NewFromConfig(aws.Config{Region: "us-west-2", Credentials: aws.AnonymousCredentials{}, Retryer: func() aws.Retryer { return aws.NopRetryer{} }},
		func(o *eks.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	return f, client
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

func TestEKSAssociations(t *testing.T) {
	fake, client := newFake(t)
	clk := &clock{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	src := NewEKS(client, EKSOptions{ClusterName: "ml", RefreshInterval: 5 * time.Minute, Timeout: 5 * time.Second, Now: clk.Now})
	ctx := context.Background()

	a, found, err := src.Association(ctx, "ai", "vllm")
	if err != nil || !found || a.RoleARN != "arn:aws:iam::123456789012:role/vllm" || a.ID != "a-1" || a.Source != SourceEKS {
		t.Fatalf("first lookup: %+v %v %v", a, found, err)
	}
	if fake.count("List") != 2 || fake.count("Describe") != 3 {
		t.Errorf("first read: %d list pages, %d descriptions; want 2 and 3", fake.count("List"), fake.count("Describe"))
	}
	a, found, _ = src.Association(ctx, "train", "nemo")
	if !found || a.TargetRoleARN != "arn:aws:iam::210987654321:role/models" {
		t.Errorf("cross-account association: %+v %v", a, found)
	}
	if _, found, err := src.Association(ctx, "ai", "nobody"); found || err != nil {
		t.Errorf("unknown ServiceAccount: found %v, %v", found, err)
	}
	if fake.count("List") != 2 {
		t.Errorf("lookups within the refresh interval called the API again (%d list calls)", fake.count("List"))
	}

	// Stale: the lookup answers from memory and one read runs behind it.
	fake.mu.Lock()
	fake.roles["a-1"] = "arn:aws:iam::123456789012:role/vllm-v2"
	fake.mu.Unlock()
	clk.Add(6 * time.Minute)
	if a, _, _ := src.Association(ctx, "ai", "vllm"); a.RoleARN != "arn:aws:iam::123456789012:role/vllm" {
		t.Errorf("a stale lookup must not wait for the refresh: %s", a.RoleARN)
	}
	<-src.read()
	if a, _, _ := src.Association(ctx, "ai", "vllm"); a.RoleARN != "arn:aws:iam::123456789012:role/vllm-v2" {
		t.Errorf("after the refresh: %s", a.RoleARN)
	}

	// A failing refresh keeps the last answer.
	fake.mu.Lock()
	fake.fail = true
	fake.mu.Unlock()
	clk.Add(6 * time.Minute)
	if _, _, err := src.Association(ctx, "ai", "vllm"); err != nil {
		t.Fatalf("a failing background refresh must not fail the lookup: %v", err)
	}
	if r := <-src.read(); r.Err == nil || !strings.Contains(r.Err.Error(), "reading the Pod Identity associations of EKS cluster ml") {
		t.Errorf("refresh error %v", r.Err)
	}
	if a, found, err := src.Association(ctx, "ai", "vllm"); err != nil || !found || a.RoleARN != "arn:aws:iam::123456789012:role/vllm-v2" {
		t.Errorf("stale answer after a failed refresh: %+v %v %v", a, found, err)
	}
}

func TestEKSFirstReadFails(t *testing.T) {
	fake, client := newFake(t)
	fake.fail = true
	clk := &clock{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)}
	src := NewEKS(client, EKSOptions{ClusterName: "ml", RefreshInterval: time.Minute, Timeout: 5 * time.Second, Now: clk.Now})
	ctx := context.Background()
	_, _, err := src.Association(ctx, "ai", "vllm")
	if err == nil || !strings.Contains(err.Error(), "ListPodIdentityAssociations") {
		t.Fatalf("error %v, want the failed ListPodIdentityAssociations", err)
	}
	calls := fake.count("List")
	if _, _, err := src.Association(ctx, "ai", "vllm"); err == nil || fake.count("List") != calls {
		t.Errorf("within the retry delay the last error is returned without a call (%d calls, %v)", fake.count("List")-calls, err)
	}
	fake.mu.Lock()
	fake.fail = false
	fake.mu.Unlock()
	clk.Add(31 * time.Second)
	if _, found, err := src.Association(ctx, "ai", "vllm"); err != nil || !found {
		t.Errorf("after the retry delay: %v %v", found, err)
	}
}

func TestEKSLookupBoundedByContext(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-block }))
	defer srv.Close()
	defer close(block)
	client := eks.NewFromConfig(aws.Config{Region: "us-west-2", Credentials: aws.AnonymousCredentials{}, Retryer: func() aws.Retryer { return aws.NopRetryer{} }},
		func(o *eks.Options) { o.BaseEndpoint = aws.String(srv.URL) })
	src := NewEKS(client, EKSOptions{ClusterName: "ml", RefreshInterval: time.Minute, Timeout: time.Minute})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, err := src.Association(ctx, "ai", "vllm"); err == nil || !strings.Contains(err.Error(), "not read yet: context deadline exceeded") {
		t.Errorf("error %v, want the caller's deadline", err)
	}
}

func TestNewEKSClient(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	c, err := NewEKSClient(context.Background(), "eu-west-1", false)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Options().Region; got != "eu-west-1" {
		t.Errorf("region %q", got)
	}
}
