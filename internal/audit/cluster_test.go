package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/rest"
	clienttesting "k8s.io/client-go/testing"
)

var podKind = Kind{GroupVersionResource: schema.GroupVersionResource{Version: "v1", Resource: "pods"}, Kind: "Pod", Namespaced: true}

func TestItem(t *testing.T) {
	rsKind := Kind{GroupVersionResource: schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}, Kind: "ReplicaSet", Namespaced: true}
	jobKind := Kind{GroupVersionResource: schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}, Kind: "Job", Namespaced: true}
	for _, tc := range []struct {
		name string
		kind Kind
		raw  string
		keep bool
		err  bool
	}{
		{"running pod without apiVersion", podKind, `{"metadata":{"name":"a","namespace":"n","uid":"u1"},"spec":{"containers":[{"name":"c","image":"i"}]},"status":{"phase":"Running"}}`, true, false},
		{"succeeded pod", podKind, `{"metadata":{"name":"a"},"spec":{"containers":[]},"status":{"phase":"Succeeded"}}`, false, false},
		{"failed pod", podKind, `{"metadata":{"name":"a"},"spec":{"containers":[]},"status":{"phase":"Failed"}}`, false, false},
		{"ReplicaSet of a Deployment", rsKind, `{"metadata":{"name":"rs","ownerReferences":[{"apiVersion":"apps/v1","kind":"Deployment","name":"d","uid":"u","controller":true}]},"spec":{"selector":{},"template":{"spec":{"containers":[]}}}}`, false, false},
		{"bare ReplicaSet", rsKind, `{"metadata":{"name":"rs"},"spec":{"selector":{},"template":{"spec":{"containers":[]}}}}`, true, false},
		{"Job of a CronJob", jobKind, `{"metadata":{"name":"j","ownerReferences":[{"apiVersion":"batch/v1","kind":"CronJob","name":"c","uid":"u","controller":true}]},"spec":{"template":{"spec":{"containers":[]}}}}`, false, false},
		{"undecodable pod", podKind, `{"metadata":{"name":"bad","namespace":"n"},"spec":{"containers":"oops"}}`, true, true},
	} {
		it, keep := item(tc.kind, json.RawMessage(tc.raw))
		if keep != tc.keep {
			t.Errorf("%s: keep %v, want %v", tc.name, keep, tc.keep)
			continue
		}
		if !keep {
			continue
		}
		if (it.Err != nil) != tc.err {
			t.Errorf("%s: err %v", tc.name, it.Err)
		}
		if it.Object == nil || it.Object.GVK.Kind != tc.kind.Kind {
			t.Errorf("%s: object %+v", tc.name, it.Object)
		}
		if tc.name == "running pod without apiVersion" && (it.UID != "u1" || it.Object.Pod() == nil || it.Object.Namespace != "n") {
			t.Errorf("%s: uid %q, pod %v", tc.name, it.UID, it.Object.Pod())
		}
	}
}

// fakeAPI serves pod lists in pages of two, as the API server does with
// limit and continue, and records the requests.
type fakeAPI struct {
	mu       sync.Mutex
	requests []string
	pods     map[string][]string // namespace -> pod names
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests = append(f.requests, r.URL.RequestURI())
	f.mu.Unlock()
	var names []string
	switch {
	case r.URL.Path == "/api/v1/pods":
		for _, ns := range []string{"a", "b"} {
			names = append(names, f.pods[ns]...)
		}
	case strings.HasPrefix(r.URL.Path, "/api/v1/namespaces/") && strings.HasSuffix(r.URL.Path, "/pods"):
		names = f.pods[strings.Split(r.URL.Path, "/")[4]]
	default:
		http.NotFound(w, r)
		return
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	start, _ := strconv.Atoi(r.URL.Query().Get("continue"))
	end := min(start+limit, len(names))
	page := map[string]any{"kind": "PodList", "apiVersion": "v1", "metadata": map[string]any{}}
	if end < len(names) {
		page["metadata"] = map[string]any{"continue": strconv.Itoa(end), "remainingItemCount": len(names) - end}
	}
	var items []any
	for _, n := range names[start:end] {
		ns, name, _ := strings.Cut(n, "/")
		items = append(items, map[string]any{
			"metadata": map[string]any{"name": name, "namespace": ns, "uid": "uid-" + name},
			"spec":     map[string]any{"containers": []any{map[string]any{"name": "c", "image": "i"}}},
			"status":   map[string]any{"phase": "Running"},
		})
	}
	page["items"] = items
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(page)
}

func TestClusterPages(t *testing.T) {
	api := &fakeAPI{pods: map[string][]string{"a": {"a/p1", "a/p2", "a/p3"}, "b": {"b/p4", "b/p5"}}}
	srv := httptest.NewServer(api)
	defer srv.Close()
	rc, err := NewRESTClient(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	nodePools := Kind{GroupVersionResource: schema.GroupVersionResource{Group: "karpenter.sh", Version: "v1", Resource: "nodepools"}, Kind: "NodePool"}
	for _, tc := range []struct {
		name       string
		namespaces []string
		want       []string // chunks: names, then remaining
		requests   []string
	}{
		{"all namespaces", nil, []string{"p1,p2 3", "p3,p4 1", "p5 0"}, []string{
			"/api/v1/pods?limit=2", "/api/v1/pods?continue=2&limit=2", "/api/v1/pods?continue=4&limit=2",
			"/apis/karpenter.sh/v1/nodepools?limit=2",
		}},
		// Cluster-scoped kinds are audited with every namespace only.
		{"one namespace", []string{"b"}, []string{"p4,p5 0"}, []string{"/api/v1/namespaces/b/pods?limit=2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api.requests = nil
			c := &Cluster{Client: rc, Kinds: []Kind{podKind, nodePools}, Namespaces: tc.namespaces, ChunkSize: 2}
			var got []string
			err := c.Each(context.Background(), func(ch *Chunk) error {
				var names []string
				for _, it := range ch.Items {
					names = append(names, it.Object.Name)
				}
				got = append(got, fmt.Sprintf("%s %d", strings.Join(names, ","), ch.Remaining))
				return nil
			})
			// The fake serves no NodePools, as if their CRD went away
			// since discovery: the kind is skipped.
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("chunks %q, want %q", got, tc.want)
			}
			if !slices.Equal(api.requests, tc.requests) {
				t.Errorf("requests %q, want %q", api.requests, tc.requests)
			}
		})
	}
}

func TestDiscoverKinds(t *testing.T) {
	d := &fakediscovery.FakeDiscovery{Fake: &clienttesting.Fake{}}
	d.Resources = []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{{Name: "pods", Kind: "Pod", Namespaced: true}, {Name: "pods/log", Kind: "Pod"}}},
		{GroupVersion: "apps/v1", APIResources: []metav1.APIResource{{Name: "deployments", Kind: "Deployment", Namespaced: true}, {Name: "replicasets", Kind: "ReplicaSet", Namespaced: true}}},
		{GroupVersion: "batch/v1", APIResources: []metav1.APIResource{{Name: "jobs", Kind: "Job", Namespaced: true}}},
		{GroupVersion: "karpenter.sh/v1", APIResources: []metav1.APIResource{{Name: "nodepools", Kind: "NodePool"}}},
		{GroupVersion: "karpenter.k8s.aws/v1", APIResources: []metav1.APIResource{{Name: "ec2nodeclasses", Kind: "EC2NodeClass"}}},
		{GroupVersion: "iam.services.k8s.aws/v1alpha1", APIResources: []metav1.APIResource{{Name: "roles", Kind: "Role", Namespaced: true}}},
	}
	kinds, err := DiscoverKinds(d)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, k := range kinds {
		got = append(got, fmt.Sprintf("%s %s %v", k.GroupVersion(), k.Resource, k.Namespaced))
	}
	want := []string{"v1 pods true", "apps/v1 deployments true", "apps/v1 replicasets true", "batch/v1 jobs true", "karpenter.sh/v1 nodepools false", "karpenter.k8s.aws/v1 ec2nodeclasses false", "iam.services.k8s.aws/v1alpha1 roles true"}
	if !slices.Equal(got, want) {
		t.Errorf("kinds %q, want %q", got, want)
	}
}
