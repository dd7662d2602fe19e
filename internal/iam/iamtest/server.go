// Package iamtest is a loopback IAM endpoint for tests: an httptest server
// that speaks the IAM Query API (form-encoded POST, Version 2010-05-08) and
// answers with XML the way the real service does: URL-encoded policy
// documents, Marker/IsTruncated pagination, ErrorResponse bodies with
// NoSuchEntity (404) and Throttling (400). Point the SDK at it with
// AWS_ENDPOINT_URL_IAM (SetEnv).
package iamtest

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// AccessKeyID is the access key SetEnv configures; the server refuses
// requests not signed with it.
const AccessKeyID = "AKIDTOLLGATETEST"

// Role is a role the server knows.
type Role struct {
	ARN string
	// Boundary is the ARN of the permissions boundary policy, or "".
	Boundary string
	// Attached are the ARNs of attached managed policies.
	Attached []string
	// Inline maps inline policy names to their JSON documents.
	Inline map[string]string
}

// ManagedPolicy is a managed policy the server knows.
type ManagedPolicy struct {
	ARN            string
	DefaultVersion string
	// Versions maps version ids to JSON documents.
	Versions map[string]string
}

// Server is a fake IAM endpoint. Configure it before the first request.
type Server struct {
	*httptest.Server
	// PageSize is how many items a List call returns per page when the
	// request does not set MaxItems. Default 2, so that pagination runs.
	PageSize int

	mu       sync.Mutex
	roles    map[string]Role // by name
	policies map[string]ManagedPolicy
	throttle map[string]int
	delay    time.Duration
	calls    map[string]*atomic.Int64
	total    atomic.Int64
	rejected atomic.Int64
	inFlight atomic.Int64
	maxIn    atomic.Int64
	conns    atomic.Int64
}

// NewServer starts a server; close it with Close.
func NewServer() *Server {
	s := &Server{
		PageSize: 2,
		roles:    map[string]Role{},
		policies: map[string]ManagedPolicy{},
		throttle: map[string]int{},
		calls:    map[string]*atomic.Int64{},
	}
	for _, a := range []string{"GetRole", "ListAttachedRolePolicies", "GetPolicy", "GetPolicyVersion", "ListRolePolicies", "GetRolePolicy"} {
		s.calls[a] = &atomic.Int64{}
	}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(s.serve))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.conns.Add(1)
		case http.StateClosed, http.StateHijacked:
			s.conns.Add(-1)
		}
	}
	s.Start()
	return s
}

// AddRole registers a role under the name its ARN ends with.
func (s *Server) AddRole(r Role) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.roles[r.ARN[strings.LastIndex(r.ARN, "/")+1:]] = r
}

// AddPolicy registers a managed policy.
func (s *Server) AddPolicy(p ManagedPolicy) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.policies[p.ARN] = p
}

// Throttle makes the next n calls of action fail with Throttling.
func (s *Server) Throttle(action string, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.throttle[action] = n
}

// SetDelay makes every answer wait d (or until the client gives up).
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Calls returns how many requests of an action arrived (throttled ones
// included).
func (s *Server) Calls(action string) int64 {
	if c, ok := s.calls[action]; ok {
		return c.Load()
	}
	return 0
}

// OpenConns returns how many client connections are open (idle included).
func (s *Server) OpenConns() int64 { return s.conns.Load() }

// Requests returns how many requests arrived, of any kind.
func (s *Server) Requests() int64 { return s.total.Load() }

// MaxInFlight returns the most API requests that were in progress at once.
func (s *Server) MaxInFlight() int64 { return s.maxIn.Load() }

// Rejected returns how many requests were refused for a missing or wrong
// signature or an unknown action.
func (s *Server) Rejected() int64 { return s.rejected.Load() }

// SetEnv points the AWS SDK at endpoint for the rest of the test, with
// instance metadata disabled, no shared config or credentials files, no
// profile, web identity or container credentials, and, when withCredentials
// is set, the static test credentials (AccessKeyID) in the environment.
func SetEnv(t testing.TB, endpoint string, withCredentials bool) {
	t.Helper()
	dir := t.TempDir()
	for _, k := range []string{
		"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
		"AWS_ENDPOINT_URL", "AWS_ACCESS_KEY", "AWS_SECRET_KEY",
	} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ENDPOINT_URL_IAM", endpoint)
	t.Setenv("AWS_REGION", "us-east-1")
	if withCredentials {
		t.Setenv("AWS_ACCESS_KEY_ID", AccessKeyID)
		t.Setenv("AWS_SECRET_ACCESS_KEY", "tollgate-test-secret")
	} else {
		t.Setenv("AWS_ACCESS_KEY_ID", "")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	}
}

const xmlns = "https://iam.amazonaws.com/doc/2010-05-08/"

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.total.Add(1)
	if err := r.ParseForm(); err != nil || r.Method != http.MethodPost || r.PostForm.Get("Version") != "2010-05-08" {
		s.rejected.Add(1)
		s.fail(w, http.StatusBadRequest, "MalformedQueryString", "want a form-encoded POST with Version=2010-05-08", "")
		return
	}
	if !strings.Contains(r.Header.Get("Authorization"), "Credential="+AccessKeyID+"/") {
		s.rejected.Add(1)
		s.fail(w, http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.", "")
		return
	}
	action := r.PostForm.Get("Action")
	counter, ok := s.calls[action]
	if !ok {
		s.rejected.Add(1)
		s.fail(w, http.StatusBadRequest, "InvalidAction", "Could not find operation "+action, "")
		return
	}
	counter.Add(1)
	n := s.inFlight.Add(1)
	defer s.inFlight.Add(-1)
	for m := s.maxIn.Load(); n > m && !s.maxIn.CompareAndSwap(m, n); m = s.maxIn.Load() {
	}

	s.mu.Lock()
	delay := s.delay
	throttled := s.throttle[action] > 0
	if throttled {
		s.throttle[action]--
	}
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if throttled {
		s.fail(w, http.StatusBadRequest, "Throttling", "Rate exceeded", "")
		return
	}
	f := r.PostForm
	s.mu.Lock()
	defer s.mu.Unlock()
	switch action {
	case "GetRole":
		role, ok := s.roles[f.Get("RoleName")]
		if !ok {
			s.noRole(w, f.Get("RoleName"))
			return
		}
		var b strings.Builder
		fmt.Fprintf(&b, "<Role><Path>%s</Path><Arn>%s</Arn><RoleName>%s</RoleName>", esc(rolePath(role.ARN)), esc(role.ARN), esc(f.Get("RoleName")))
		fmt.Fprintf(&b, "<AssumeRolePolicyDocument>%s</AssumeRolePolicyDocument>", esc(encode(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"pods.eks.amazonaws.com"},"Action":["sts:AssumeRole","sts:TagSession"]}]}`)))
		b.WriteString("<CreateDate>2024-05-08T23:34:01Z</CreateDate><RoleId>AROADBQP57FF2AEXAMPLE</RoleId><MaxSessionDuration>3600</MaxSessionDuration>")
		if role.Boundary != "" {
			fmt.Fprintf(&b, "<PermissionsBoundary><PermissionsBoundaryType>Policy</PermissionsBoundaryType><PermissionsBoundaryArn>%s</PermissionsBoundaryArn></PermissionsBoundary>", esc(role.Boundary))
		}
		b.WriteString("</Role>")
		s.ok(w, action, b.String())
	case "ListAttachedRolePolicies":
		role, ok := s.roles[f.Get("RoleName")]
		if !ok {
			s.noRole(w, f.Get("RoleName"))
			return
		}
		page, marker, err := s.page(f, len(role.Attached))
		if err != nil {
			s.fail(w, http.StatusBadRequest, "InvalidInput", err.Error(), "")
			return
		}
		var b strings.Builder
		b.WriteString("<AttachedPolicies>")
		for _, arn := range role.Attached[page[0]:page[1]] {
			fmt.Fprintf(&b, "<member><PolicyName>%s</PolicyName><PolicyArn>%s</PolicyArn></member>", esc(arn[strings.LastIndex(arn, "/")+1:]), esc(arn))
		}
		b.WriteString("</AttachedPolicies>")
		b.WriteString(marker)
		s.ok(w, action, b.String())
	case "ListRolePolicies":
		role, ok := s.roles[f.Get("RoleName")]
		if !ok {
			s.noRole(w, f.Get("RoleName"))
			return
		}
		names := make([]string, 0, len(role.Inline))
		for n := range role.Inline {
			names = append(names, n)
		}
		sort.Strings(names)
		page, marker, err := s.page(f, len(names))
		if err != nil {
			s.fail(w, http.StatusBadRequest, "InvalidInput", err.Error(), "")
			return
		}
		var b strings.Builder
		b.WriteString("<PolicyNames>")
		for _, n := range names[page[0]:page[1]] {
			fmt.Fprintf(&b, "<member>%s</member>", esc(n))
		}
		b.WriteString("</PolicyNames>")
		b.WriteString(marker)
		s.ok(w, action, b.String())
	case "GetRolePolicy":
		role, ok := s.roles[f.Get("RoleName")]
		if !ok {
			s.noRole(w, f.Get("RoleName"))
			return
		}
		doc, ok := role.Inline[f.Get("PolicyName")]
		if !ok {
			s.fail(w, http.StatusNotFound, "NoSuchEntity", fmt.Sprintf("The role policy with name %s cannot be found.", f.Get("PolicyName")), "Sender")
			return
		}
		s.ok(w, action, fmt.Sprintf("<RoleName>%s</RoleName><PolicyName>%s</PolicyName><PolicyDocument>%s</PolicyDocument>", esc(f.Get("RoleName")), esc(f.Get("PolicyName")), esc(encode(doc))))
	case "GetPolicy":
		p, ok := s.policies[f.Get("PolicyArn")]
		if !ok {
			s.noPolicy(w, f.Get("PolicyArn"))
			return
		}
		name := p.ARN[strings.LastIndex(p.ARN, "/")+1:]
		s.ok(w, action, fmt.Sprintf("<Policy><PolicyName>%s</PolicyName><DefaultVersionId>%s</DefaultVersionId><PolicyId>ANPAJ2UCCR6DPCEXAMPLE</PolicyId><Path>/</Path><Arn>%s</Arn><AttachmentCount>1</AttachmentCount><IsAttachable>true</IsAttachable><CreateDate>2024-06-15T15:50:47Z</CreateDate><UpdateDate>2024-06-15T15:50:47Z</UpdateDate></Policy>", esc(name), esc(p.DefaultVersion), esc(p.ARN)))
	case "GetPolicyVersion":
		p, ok := s.policies[f.Get("PolicyArn")]
		if !ok {
			s.noPolicy(w, f.Get("PolicyArn"))
			return
		}
		v := f.Get("VersionId")
		doc, ok := p.Versions[v]
		if !ok {
			s.fail(w, http.StatusNotFound, "NoSuchEntity", fmt.Sprintf("Policy %s version %s does not exist or is not attachable.", p.ARN, v), "Sender")
			return
		}
		s.ok(w, action, fmt.Sprintf("<PolicyVersion><Document>%s</Document><VersionId>%s</VersionId><IsDefaultVersion>%t</IsDefaultVersion><CreateDate>2024-06-15T15:50:47Z</CreateDate></PolicyVersion>", esc(encode(doc)), esc(v), v == p.DefaultVersion))
	}
}

// page reads Marker and MaxItems and returns the [start, end) slice of n
// items and the IsTruncated/Marker elements.
func (s *Server) page(f url.Values, n int) ([2]int, string, error) {
	size := s.PageSize
	if m := f.Get("MaxItems"); m != "" {
		v, err := strconv.Atoi(m)
		if err != nil || v < 1 {
			return [2]int{}, "", fmt.Errorf("MaxItems %q", m)
		}
		size = v
	}
	start := 0
	if m := f.Get("Marker"); m != "" {
		v, err := strconv.Atoi(strings.TrimPrefix(m, "page-"))
		if err != nil || v < 0 || v > n {
			return [2]int{}, "", fmt.Errorf("invalid Marker %q", m)
		}
		start = v
	}
	end := min(start+size, n)
	if end < n {
		return [2]int{start, end}, fmt.Sprintf("<IsTruncated>true</IsTruncated><Marker>page-%d</Marker>", end), nil
	}
	return [2]int{start, end}, "<IsTruncated>false</IsTruncated>", nil
}

func (s *Server) ok(w http.ResponseWriter, action, result string) {
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<%sResponse xmlns="%s">
  <%sResult>%s</%sResult>
  <ResponseMetadata>
    <RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId>
  </ResponseMetadata>
</%sResponse>
`, action, xmlns, action, result, action, action)
}

func (s *Server) noRole(w http.ResponseWriter, name string) {
	s.fail(w, http.StatusNotFound, "NoSuchEntity", fmt.Sprintf("The role with name %s cannot be found.", name), "Sender")
}

func (s *Server) noPolicy(w http.ResponseWriter, arn string) {
	s.fail(w, http.StatusNotFound, "NoSuchEntity", fmt.Sprintf("Policy %s does not exist or is not attachable.", arn), "Sender")
}

func (s *Server) fail(w http.ResponseWriter, status int, code, msg, typ string) {
	if typ == "" {
		typ = "Sender"
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<ErrorResponse xmlns="%s">
  <Error>
    <Type>%s</Type>
    <Code>%s</Code>
    <Message>%s</Message>
  </Error>
  <RequestId>7a62c49f-347e-4fc4-9331-6e8eEXAMPLE</RequestId>
</ErrorResponse>
`, xmlns, typ, code, esc(msg))
}

// encode URL-encodes a document as IAM does (RFC 3986: spaces as %20).
func encode(doc string) string {
	return strings.ReplaceAll(url.QueryEscape(doc), "+", "%20")
}

func esc(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func rolePath(arn string) string {
	_, rest, _ := strings.Cut(arn, ":role")
	return rest[:strings.LastIndex(rest, "/")+1]
}
