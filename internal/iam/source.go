package iam

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"strings"
)

// Policy kinds.
const (
	KindManaged  = "managed"  // attached managed policy, named by ARN
	KindInline   = "inline"   // inline role policy, named by name
	KindBoundary = "boundary" // the role's permissions boundary
)

// Policy is one policy document that applies to a role.
type Policy struct {
	Kind string `json:"kind"`
	Name string `json:"name,omitempty"`
	ARN  string `json:"arn,omitempty"`
	// Version is a managed policy's default version id.
	Version  string    `json:"version,omitempty"`
	Document *Document `json:"document"`
}

// RoleDocuments are the documents that decide what a role may do: its
// attached managed policies and inline policies, and its permissions
// boundary when it has one.
type RoleDocuments struct {
	Role     string   `json:"role"`
	Policies []Policy `json:"policies"`
	Boundary *Policy  `json:"boundary,omitempty"`
}

// Source returns the documents of a role, named by ARN.
type Source interface {
	Role(ctx context.Context, roleARN string) (*RoleDocuments, error)
}

// ErrRoleNotFound is returned (wrapped) when a role does not exist or is
// not in a source.
var ErrRoleNotFound = errors.New("role not found")

var roleARNPattern = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov|aws-iso[a-z-]*):iam::(\d{12}):role/((?:[\x21-\x7e]+/)?)([\w+=,.@-]{1,64})$`)

// RoleName returns the name of the role an ARN names
// (arn:aws:iam::123456789012:role/path/name -> name), or an error saying
// what is wrong with the ARN.
func RoleName(roleARN string) (string, error) {
	m := roleARNPattern.FindStringSubmatch(roleARN)
	if m == nil {
		return "", fmt.Errorf("%q is not an IAM role ARN (want arn:aws:iam::<12-digit account>:role/[path/]name)", roleARN)
	}
	return m[4], nil
}

// Offline is a Source read from a file, for offline policy tests: a JSON
// object from role ARN to the list of its policies, each
// {"name": ..., "document": ...} for an inline policy,
// {"arn": ..., "document": ...} for a managed one, and
// {"arn": ..., "boundary": true, "document": ...} for the permissions
// boundary. A document is a JSON object or a string (as IAM returns it,
// possibly URL-encoded).
//
// The key "associations" is not a role: it holds EKS Pod Identity
// associations, {"namespace/serviceAccount": {"id", "roleArn",
// "targetRoleArn", "policy", "disableSessionTags"}}, with the session
// policy as a document, so that offline tests cover session policies and
// target roles (see OfflineAssociation).
type Offline struct {
	path         string
	roles        map[string]*RoleDocuments
	associations map[string]OfflineAssociation
}

// OfflineAssociation is an EKS Pod Identity association of the offline
// policies file, as DescribePodIdentityAssociation returns it.
type OfflineAssociation struct {
	ID                 string          `json:"id"`
	RoleARN            string          `json:"roleArn"`
	TargetRoleARN      string          `json:"targetRoleArn"`
	Policy             json.RawMessage `json:"policy"`
	DisableSessionTags bool            `json:"disableSessionTags"`
	// SessionPolicy is Policy as IAM accepts it (JSON text), "" when none.
	SessionPolicy string `json:"-"`
}

// Associations returns the file's Pod Identity associations, keyed
// "namespace/serviceAccount".
func (o *Offline) Associations() map[string]OfflineAssociation { return o.associations }

var _ Source = (*Offline)(nil)

type offlineEntry struct {
	Name     string          `json:"name"`
	ARN      string          `json:"arn"`
	Boundary bool            `json:"boundary"`
	Document json.RawMessage `json:"document"`
}

// LoadOffline reads an offline policies file. Errors name the file, the
// role and the entry at fault.
func LoadOffline(path string) (*Offline, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("IAM policies file: %w", err)
	}
	o, err := ParseOffline(b)
	if err != nil {
		return nil, fmt.Errorf("IAM policies file %s: %w", path, err)
	}
	o.path = path
	return o, nil
}

// ParseOffline decodes the offline policies format (see Offline).
func ParseOffline(b []byte) (*Offline, error) {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("want a JSON object from role ARN to a list of policies: %w", err)
	}
	o := &Offline{roles: map[string]*RoleDocuments{}}
	var errs []error
	if a, ok := raw["associations"]; ok {
		delete(raw, "associations")
		m, err := parseOfflineAssociations(a)
		if err != nil {
			errs = append(errs, fmt.Errorf("associations: %w", err))
		}
		o.associations = m
	}
	arns := make([]string, 0, len(raw))
	for k := range raw {
		arns = append(arns, k)
	}
	sort.Strings(arns)
	for _, arn := range arns {
		if _, err := RoleName(arn); err != nil {
			errs = append(errs, err)
			continue
		}
		dec := json.NewDecoder(bytes.NewReader(raw[arn]))
		dec.DisallowUnknownFields()
		var entries []offlineEntry
		if err := dec.Decode(&entries); err != nil {
			errs = append(errs, fmt.Errorf("%s: want a list of {name or arn, document}: %w", arn, err))
			continue
		}
		rd := &RoleDocuments{Role: arn, Policies: []Policy{}}
		for i, e := range entries {
			at := fmt.Sprintf("%s[%d]", arn, i)
			p, err := e.policy()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", at, err))
				continue
			}
			if p.Kind == KindBoundary {
				if rd.Boundary != nil {
					errs = append(errs, fmt.Errorf("%s: a role has one permissions boundary; %s is the other", at, rd.Boundary.ARN))
					continue
				}
				rd.Boundary = p
				continue
			}
			rd.Policies = append(rd.Policies, *p)
		}
		o.roles[arn] = rd
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return o, nil
}

func (e offlineEntry) policy() (*Policy, error) {
	p := &Policy{Name: e.Name, ARN: e.ARN}
	switch {
	case e.Boundary && e.ARN == "":
		return nil, errors.New("a permissions boundary is a managed policy: give its arn")
	case e.Boundary:
		p.Kind = KindBoundary
	case e.ARN != "" && e.Name != "":
		return nil, errors.New("give name (inline policy) or arn (managed policy), not both")
	case e.ARN != "":
		p.Kind = KindManaged
	case e.Name != "":
		p.Kind = KindInline
	default:
		return nil, errors.New("name (inline policy) or arn (managed policy) is missing")
	}
	if p.ARN != "" && !strings.HasPrefix(p.ARN, "arn:") {
		return nil, fmt.Errorf("arn %q is not an ARN", p.ARN)
	}
	if len(e.Document) == 0 {
		return nil, errors.New("document is missing")
	}
	d, err := ParseDocumentJSON(e.Document)
	if err != nil {
		return nil, fmt.Errorf("document: %w", err)
	}
	p.Document = d
	return p, nil
}

// Role returns the documents of a role in the file.
func (o *Offline) Role(_ context.Context, roleARN string) (*RoleDocuments, error) {
	if rd, ok := o.roles[roleARN]; ok {
		return rd, nil
	}
	where := "the offline IAM policies"
	if o.path != "" {
		where = "the IAM policies file " + o.path
	}
	return nil, fmt.Errorf("%w: %s is not in %s", ErrRoleNotFound, roleARN, where)
}

func parseOfflineAssociations(b json.RawMessage) (map[string]OfflineAssociation, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var m map[string]OfflineAssociation
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("want {\"namespace/serviceAccount\": {id, roleArn, targetRoleArn, policy, disableSessionTags}}: %w", err)
	}
	var errs []error
	for k, a := range m {
		if ns, sa, ok := strings.Cut(k, "/"); !ok || ns == "" || sa == "" {
			errs = append(errs, fmt.Errorf("%q is not namespace/serviceAccount", k))
			continue
		}
		if _, err := RoleName(a.RoleARN); err != nil {
			errs = append(errs, fmt.Errorf("%s: roleArn: %w", k, err))
		}
		if a.TargetRoleARN != "" {
			if _, err := RoleName(a.TargetRoleARN); err != nil {
				errs = append(errs, fmt.Errorf("%s: targetRoleArn: %w", k, err))
			}
		}
		if len(a.Policy) > 0 {
			if _, err := ParseDocumentJSON(a.Policy); err != nil {
				errs = append(errs, fmt.Errorf("%s: policy: %w", k, err))
			}
			// As EKS returns it: the document's JSON text.
			a.SessionPolicy = string(a.Policy)
			var text string
			if json.Unmarshal(a.Policy, &text) == nil {
				a.SessionPolicy = text
			}
		}
		m[k] = a
	}
	return m, errors.Join(errs...)
}
