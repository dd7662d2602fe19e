// Package ekstest is a loopback EKS endpoint for tests: an httptest server
// that speaks the part of the EKS REST API the association source calls
// (ListPodIdentityAssociations with nextToken pagination, then
// DescribePodIdentityAssociation) the way the real service answers: JSON
// bodies, X-Amzn-ErrorType on errors. Point the SDK at it with
// AWS_ENDPOINT_URL_EKS.
package ekstest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/tollgate-dev/tollgate/internal/iam/iamtest"
)

// Association is an association the server knows, as
// DescribePodIdentityAssociation returns it.
type Association struct {
	ID             string `json:"associationId"`
	Namespace      string `json:"namespace"`
	ServiceAccount string `json:"serviceAccount"`
	RoleARN        string `json:"roleArn"`
	TargetRoleARN  string `json:"targetRoleArn,omitempty"`
	// Policy is the session policy (a JSON document as a string).
	Policy             string `json:"policy,omitempty"`
	DisableSessionTags bool   `json:"disableSessionTags"`
}

// Server is a fake EKS endpoint for one cluster. Add associations before
// the first request.
type Server struct {
	*httptest.Server
	Cluster string
	// PageSize is how many associations a List page holds. Default 2.
	PageSize int

	mu       sync.Mutex
	assocs   []Association
	list     atomic.Int64
	describe atomic.Int64
	rejected atomic.Int64
}

// NewServer starts a server for cluster; close it with Close.
func NewServer(cluster string) *Server {
	s := &Server{Cluster: cluster, PageSize: 2}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Add registers associations.
func (s *Server) Add(as ...Association) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.assocs = append(s.assocs, as...)
}

// Calls returns how many List pages and Describe calls arrived.
func (s *Server) Calls() (list, describe int64) { return s.list.Load(), s.describe.Load() }

// Rejected returns how many requests were refused (unsigned, wrong
// cluster, unknown path).
func (s *Server) Rejected() int64 { return s.rejected.Load() }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	// Signed with iamtest's test credentials, as the IAM endpoint wants.
	if !strings.Contains(r.Header.Get("Authorization"), "Credential="+iamtest.AccessKeyID+"/") {
		s.rejected.Add(1)
		fail(w, http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid.")
		return
	}
	prefix := "/clusters/" + s.Cluster + "/pod-identity-associations"
	if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, prefix) {
		s.rejected.Add(1)
		fail(w, http.StatusNotFound, "ResourceNotFoundException", "No cluster found for name or no such operation: "+r.URL.Path)
		return
	}
	id := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, prefix), "/")
	s.mu.Lock()
	assocs := append([]Association(nil), s.assocs...)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if id == "" {
		s.list.Add(1)
		start, _ := strconv.Atoi(r.URL.Query().Get("nextToken"))
		end := min(start+s.PageSize, len(assocs))
		items := []map[string]string{}
		for _, a := range assocs[min(start, end):end] {
			items = append(items, map[string]string{"associationId": a.ID, "namespace": a.Namespace, "serviceAccount": a.ServiceAccount, "clusterName": s.Cluster})
		}
		out := map[string]any{"associations": items}
		if end < len(assocs) {
			out["nextToken"] = strconv.Itoa(end)
		}
		_ = json.NewEncoder(w).Encode(out)
		return
	}
	s.describe.Add(1)
	for _, a := range assocs {
		if a.ID == id {
			_ = json.NewEncoder(w).Encode(map[string]any{"association": struct {
				Association
				ClusterName string `json:"clusterName"`
			}{a, s.Cluster}})
			return
		}
	}
	fail(w, http.StatusNotFound, "ResourceNotFoundException", "No Pod Identity Association found for id: "+id)
}

func fail(w http.ResponseWriter, code int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}
