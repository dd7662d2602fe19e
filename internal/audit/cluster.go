package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"

	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
)

// Kind is a kind of object a cluster audit lists.
type Kind struct {
	schema.GroupVersionResource
	Kind       string
	Namespaced bool
}

// auditedKinds are the kinds an audit lists, in order, by group and
// resource; the version is the one the API server prefers (ACK and
// Karpenter version their APIs on their own).
var auditedKinds = []struct {
	group, resource, kind string
	versions              []string // accepted versions, preferred first; empty: any
}{
	{"", "pods", "Pod", []string{"v1"}},
	{"apps", "deployments", "Deployment", []string{"v1"}},
	{"apps", "statefulsets", "StatefulSet", []string{"v1"}},
	{"apps", "daemonsets", "DaemonSet", []string{"v1"}},
	{"apps", "replicasets", "ReplicaSet", []string{"v1"}},
	{"batch", "jobs", "Job", []string{"v1"}},
	{"batch", "cronjobs", "CronJob", []string{"v1"}},
	{"karpenter.sh", "nodepools", "NodePool", []string{"v1"}},
	{"karpenter.k8s.aws", "ec2nodeclasses", "EC2NodeClass", []string{"v1"}},
	{"s3.services.k8s.aws", "buckets", "Bucket", nil},
	{"iam.services.k8s.aws", "roles", "Role", nil},
	{"iam.services.k8s.aws", "policies", "Policy", nil},
	{"tollgate.dev", "policyexceptions", "PolicyException", []string{"v1alpha1"}},
}

// DiscoverKinds returns the kinds Tollgate reviews that the API server
// serves: the core and workload kinds always, NodePools and ACK resources
// when their CRDs are installed.
func DiscoverKinds(d discovery.DiscoveryInterface) ([]Kind, error) {
	groups, err := d.ServerGroups()
	if err != nil {
		return nil, fmt.Errorf("discovering API groups: %w", err)
	}
	preferred := map[string][]string{}
	for _, g := range groups.Groups {
		vs := []string{g.PreferredVersion.Version}
		for _, v := range g.Versions {
			if v.Version != g.PreferredVersion.Version {
				vs = append(vs, v.Version)
			}
		}
		preferred[g.Name] = vs
	}
	var out []Kind
	served := map[string]*metav1.APIResourceList{}
	for _, k := range auditedKinds {
		version := ""
		for _, v := range preferred[k.group] {
			if len(k.versions) == 0 || v == k.versions[0] {
				version = v
				break
			}
		}
		if version == "" {
			continue
		}
		gv := schema.GroupVersion{Group: k.group, Version: version}.String()
		rl, ok := served[gv]
		if !ok {
			rl, err = d.ServerResourcesForGroupVersion(gv)
			if apierrors.IsNotFound(err) {
				served[gv] = nil
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("discovering %s: %w", gv, err)
			}
			served[gv] = rl
		}
		if rl == nil {
			continue
		}
		for _, r := range rl.APIResources {
			if r.Name == k.resource && r.Kind == k.kind {
				out = append(out, Kind{
					GroupVersionResource: schema.GroupVersionResource{Group: k.group, Version: version, Resource: k.resource},
					Kind:                 k.kind, Namespaced: r.Namespaced,
				})
			}
		}
	}
	return out, nil
}

// Cluster is a source that lists objects from the API server kind by kind,
// in chunks (limit and continue), so that memory does not grow with the
// size of the cluster. Items are decoded straight from the list's JSON.
type Cluster struct {
	// Client is an unversioned REST client (NewRESTClient).
	Client rest.Interface
	Kinds  []Kind
	// Namespaces limits the audit to these namespaces; empty audits every
	// namespace and the cluster-scoped kinds (NodePools).
	Namespaces []string
	// ChunkSize is the limit of each list request (default 500).
	ChunkSize int64
}

// NewRESTClient returns the unversioned REST client a Cluster lists with.
// It raises client-go's default rate limit (5 requests a second), which an
// audit of a large cluster would spend waiting; the API server's priority
// and fairness still applies.
func NewRESTClient(cfg *rest.Config) (rest.Interface, error) {
	c := rest.CopyConfig(cfg)
	c.NegotiatedSerializer = scheme.Codecs.WithoutConversion()
	if c.QPS == 0 {
		c.QPS, c.Burst = 50, 100
	}
	return rest.UnversionedRESTClientFor(c)
}

// listPage is the part of a list response the audit reads.
type listPage struct {
	Metadata struct {
		Continue           string `json:"continue"`
		RemainingItemCount *int64 `json:"remainingItemCount"`
	} `json:"metadata"`
	Items []json.RawMessage `json:"items"`
}

// Each implements Source.
func (c *Cluster) Each(ctx context.Context, fn func(*Chunk) error) error {
	for _, k := range c.Kinds {
		scopes := []string{""}
		if k.Namespaced && len(c.Namespaces) > 0 {
			scopes = c.Namespaces
		} else if !k.Namespaced && len(c.Namespaces) > 0 {
			continue
		}
		for _, ns := range scopes {
			if err := c.list(ctx, k, ns, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *Cluster) list(ctx context.Context, k Kind, ns string, fn func(*Chunk) error) error {
	limit := c.ChunkSize
	if limit <= 0 {
		limit = defaultChunkSize
	}
	p := "/apis/" + k.Group + "/" + k.Version
	if k.Group == "" {
		p = "/api/" + k.Version
	}
	if ns != "" {
		p = path.Join(p, "namespaces", ns)
	}
	p = path.Join(p, k.Resource)
	cont := ""
	for {
		req := c.Client.Get().AbsPath(p).Param("limit", strconv.FormatInt(limit, 10))
		if cont != "" {
			req = req.Param("continue", cont)
		}
		b, err := req.DoRaw(ctx)
		if apierrors.IsResourceExpired(err) {
			// The continue token outlived etcd's compaction: the list
			// cannot resume consistently, and starting over would audit
			// objects twice.
			return fmt.Errorf("listing %s: the list expired before the audit read it all (%w); audit again, or with a larger --chunk-size", k.Resource, err)
		}
		if apierrors.IsNotFound(err) && cont == "" {
			// The kind's CRD, or the namespace, went away since discovery.
			return nil
		}
		if err != nil {
			return fmt.Errorf("listing %s: %w", k.Resource, err)
		}
		var page listPage
		if err := json.Unmarshal(b, &page); err != nil {
			return fmt.Errorf("listing %s: %w", k.Resource, err)
		}
		chunk := &Chunk{Kind: k.Resource, Remaining: -1}
		if page.Metadata.RemainingItemCount != nil {
			chunk.Remaining = int(*page.Metadata.RemainingItemCount)
		} else if page.Metadata.Continue == "" {
			chunk.Remaining = 0
		}
		for _, raw := range page.Items {
			if it, keep := item(k, raw); keep {
				chunk.Items = append(chunk.Items, it)
			}
		}
		if err := fn(chunk); err != nil {
			return err
		}
		if cont = page.Metadata.Continue; cont == "" {
			return nil
		}
	}
}

// item decodes one listed object. Terminated pods, ReplicaSets owned by a
// Deployment and Jobs owned by a CronJob are left out: the first no longer
// run, and the others are audited through their owner's template (old
// ReplicaSets keep the templates of earlier rollouts). An object that
// cannot be decoded is an item with Err set, counted by the runner.
func item(k Kind, raw json.RawMessage) (Item, bool) {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Metadata   struct {
			Name            string                  `json:"name"`
			Namespace       string                  `json:"namespace"`
			UID             string                  `json:"uid"`
			OwnerReferences []metav1.OwnerReference `json:"ownerReferences"`
		} `json:"metadata"`
		Status struct {
			Phase string `json:"phase"`
		} `json:"status"`
	}
	failed := func(err error) (Item, bool) {
		o := &kubeobjects.Object{GVK: k.GroupVersion().WithKind(k.Kind), Name: head.Metadata.Name, Namespace: head.Metadata.Namespace}
		return Item{Object: o, UID: head.Metadata.UID, Err: err}, true
	}
	if err := json.Unmarshal(raw, &head); err != nil {
		return failed(err)
	}
	switch k.Kind {
	case "Pod":
		if head.Status.Phase == "Succeeded" || head.Status.Phase == "Failed" {
			return Item{}, false
		}
	case "ReplicaSet", "Job":
		owner := map[string]string{"ReplicaSet": "Deployment", "Job": "CronJob"}[k.Kind]
		for _, o := range head.Metadata.OwnerReferences {
			if o.Controller != nil && *o.Controller && o.Kind == owner {
				return Item{}, false
			}
		}
	}
	// The API server leaves apiVersion and kind out of the items of
	// built-in lists; kubeobjects.Decode needs them. Prepending keeps the
	// item's bytes otherwise as listed.
	if head.APIVersion == "" && head.Kind == "" && len(raw) > 1 && raw[0] == '{' {
		prefix := fmt.Sprintf(`{"apiVersion":%q,"kind":%q`, k.GroupVersion().String(), k.Kind)
		if len(bytes.TrimSpace(raw[1:])) > 1 {
			prefix += ","
		}
		raw = append([]byte(prefix), raw[1:]...)
	}
	o, err := kubeobjects.Decode(raw, false)
	if errors.Is(err, kubeobjects.ErrUnknownKind) {
		return Item{Object: o, NotReviewed: true}, true
	}
	if err != nil {
		return failed(err)
	}
	return Item{Object: o, UID: head.Metadata.UID}, true
}
