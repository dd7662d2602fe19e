package iam

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/smithy-go"
	"golang.org/x/sync/errgroup"
)

// API is the part of the IAM client Tollgate uses; *iam.Client implements it.
type API interface {
	GetRole(ctx context.Context, in *awsiam.GetRoleInput, optFns ...func(*awsiam.Options)) (*awsiam.GetRoleOutput, error)
	ListAttachedRolePolicies(ctx context.Context, in *awsiam.ListAttachedRolePoliciesInput, optFns ...func(*awsiam.Options)) (*awsiam.ListAttachedRolePoliciesOutput, error)
	GetPolicy(ctx context.Context, in *awsiam.GetPolicyInput, optFns ...func(*awsiam.Options)) (*awsiam.GetPolicyOutput, error)
	GetPolicyVersion(ctx context.Context, in *awsiam.GetPolicyVersionInput, optFns ...func(*awsiam.Options)) (*awsiam.GetPolicyVersionOutput, error)
	ListRolePolicies(ctx context.Context, in *awsiam.ListRolePoliciesInput, optFns ...func(*awsiam.Options)) (*awsiam.ListRolePoliciesOutput, error)
	GetRolePolicy(ctx context.Context, in *awsiam.GetRolePolicyInput, optFns ...func(*awsiam.Options)) (*awsiam.GetRolePolicyOutput, error)
}

var _ API = (*awsiam.Client)(nil)

// APISource reads a role's documents from the IAM API: GetRole (for the
// permissions boundary), every page of ListAttachedRolePolicies with
// GetPolicy and GetPolicyVersion of each policy's default version, every
// page of ListRolePolicies with GetRolePolicy of each, and the boundary's
// default version. Calls for one role run concurrently; a semaphore shared
// by all roles bounds the calls in flight. Throttling is retried by the
// client's retryer (the SDK's standard retryer unless the client was built
// otherwise).
type APISource struct {
	api     API
	sem     chan struct{}
	metrics *Metrics
	// versions caches managed policy documents by ARN and version id:
	// a policy version never changes, and AWS managed policies are
	// attached to many roles.
	mu       sync.Mutex
	versions map[string]*Document
}

var _ Source = (*APISource)(nil)

// maxVersions bounds the policy version cache; it is cleared when full.
const maxVersions = 2048

// NewAPISource returns a Source over an IAM client with at most
// maxConcurrent calls in flight.
func NewAPISource(api API, maxConcurrent int, m *Metrics) *APISource {
	if maxConcurrent < 1 {
		maxConcurrent = 1
	}
	return &APISource{api: api, sem: make(chan struct{}, maxConcurrent), metrics: m, versions: map[string]*Document{}}
}

// Role fetches the documents of a role. Errors name the role, the call and
// the policy, and keep the AWS error (errors.As a smithy.APIError).
func (s *APISource) Role(ctx context.Context, roleARN string) (*RoleDocuments, error) {
	name, err := RoleName(roleARN)
	if err != nil {
		return nil, err
	}
	c := limited{s: s}
	role, err := c.GetRole(ctx, &awsiam.GetRoleInput{RoleName: &name})
	if err != nil {
		if isCode(err, "NoSuchEntity") {
			return nil, fmt.Errorf("%w: GetRole %s: %w", ErrRoleNotFound, name, err)
		}
		return nil, fmt.Errorf("GetRole %s: %w", name, err)
	}
	if role.Role == nil {
		return nil, fmt.Errorf("GetRole %s: the response has no role", name)
	}
	// GetRole looks a role up by name in the credentials' account: a role
	// of the same name in another account (or under another path) is not
	// the role the pod will assume.
	if got := aws.ToString(role.Role.Arn); got != roleARN {
		return nil, fmt.Errorf("GetRole %s returned %s, not %s: Tollgate's credentials cannot read that account's roles", name, got, roleARN)
	}

	rd := &RoleDocuments{Role: roleARN, Policies: []Policy{}}
	var (
		mu       sync.Mutex
		managed  []Policy
		inline   []Policy
		boundary *Policy
	)
	g, gctx := errgroup.WithContext(ctx)
	if pb := role.Role.PermissionsBoundary; pb != nil && aws.ToString(pb.PermissionsBoundaryArn) != "" {
		arn := aws.ToString(pb.PermissionsBoundaryArn)
		g.Go(func() error {
			p, err := s.managed(gctx, c, arn, "")
			if err != nil {
				return fmt.Errorf("permissions boundary of %s: %w", name, err)
			}
			p.Kind = KindBoundary
			boundary = p
			return nil
		})
	}
	g.Go(func() error {
		pages := awsiam.NewListAttachedRolePoliciesPaginator(c, &awsiam.ListAttachedRolePoliciesInput{RoleName: &name})
		for pages.HasMorePages() {
			out, err := pages.NextPage(gctx)
			if err != nil {
				return fmt.Errorf("ListAttachedRolePolicies %s: %w", name, err)
			}
			for _, ap := range out.AttachedPolicies {
				arn, pname := aws.ToString(ap.PolicyArn), aws.ToString(ap.PolicyName)
				g.Go(func() error {
					p, err := s.managed(gctx, c, arn, pname)
					if err != nil {
						return fmt.Errorf("managed policy %s of %s: %w", arn, name, err)
					}
					mu.Lock()
					managed = append(managed, *p)
					mu.Unlock()
					return nil
				})
			}
		}
		return nil
	})
	g.Go(func() error {
		pages := awsiam.NewListRolePoliciesPaginator(c, &awsiam.ListRolePoliciesInput{RoleName: &name})
		for pages.HasMorePages() {
			out, err := pages.NextPage(gctx)
			if err != nil {
				return fmt.Errorf("ListRolePolicies %s: %w", name, err)
			}
			for _, pname := range out.PolicyNames {
				g.Go(func() error {
					rp, err := c.GetRolePolicy(gctx, &awsiam.GetRolePolicyInput{RoleName: &name, PolicyName: &pname})
					if err != nil {
						return fmt.Errorf("GetRolePolicy %s %s: %w", name, pname, err)
					}
					d, err := ParseDocument(aws.ToString(rp.PolicyDocument))
					if err != nil {
						return fmt.Errorf("inline policy %s of %s: %w", pname, name, err)
					}
					mu.Lock()
					inline = append(inline, Policy{Kind: KindInline, Name: pname, Document: d})
					mu.Unlock()
					return nil
				})
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	sortPolicies(managed)
	sortPolicies(inline)
	rd.Policies = append(append(rd.Policies, managed...), inline...)
	rd.Boundary = boundary
	return rd, nil
}

// managed reads a managed policy's default version.
func (s *APISource) managed(ctx context.Context, c limited, arn, name string) (*Policy, error) {
	out, err := c.GetPolicy(ctx, &awsiam.GetPolicyInput{PolicyArn: &arn})
	if err != nil {
		return nil, fmt.Errorf("GetPolicy: %w", err)
	}
	if out.Policy == nil || aws.ToString(out.Policy.DefaultVersionId) == "" {
		return nil, errors.New("GetPolicy: the response has no default version")
	}
	version := aws.ToString(out.Policy.DefaultVersionId)
	if name == "" {
		name = aws.ToString(out.Policy.PolicyName)
	}
	key := arn + "\x00" + version
	s.mu.Lock()
	d, ok := s.versions[key]
	s.mu.Unlock()
	if !ok {
		v, err := c.GetPolicyVersion(ctx, &awsiam.GetPolicyVersionInput{PolicyArn: &arn, VersionId: &version})
		if err != nil {
			return nil, fmt.Errorf("GetPolicyVersion %s: %w", version, err)
		}
		if v.PolicyVersion == nil {
			return nil, fmt.Errorf("GetPolicyVersion %s: the response has no version", version)
		}
		if d, err = ParseDocument(aws.ToString(v.PolicyVersion.Document)); err != nil {
			return nil, fmt.Errorf("version %s: %w", version, err)
		}
		s.mu.Lock()
		if len(s.versions) >= maxVersions {
			clear(s.versions)
		}
		s.versions[key] = d
		s.mu.Unlock()
	}
	return &Policy{Kind: KindManaged, Name: name, ARN: arn, Version: version, Document: d}, nil
}

func sortPolicies(ps []Policy) {
	// Concurrent fetches finish in any order; findings must not.
	slices.SortFunc(ps, func(a, b Policy) int { return strings.Compare(a.ARN+a.Name, b.ARN+b.Name) })
}

// isCode reports whether err is an AWS API error with the given code.
func isCode(err error, code string) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == code
}

// errorCode returns the AWS error code of err, or a short class for errors
// that are not API errors.
func errorCode(err error) string {
	var ae smithy.APIError
	switch {
	case errors.As(err, &ae):
		return ae.ErrorCode()
	case errors.Is(err, context.DeadlineExceeded):
		return "Timeout"
	case errors.Is(err, context.Canceled):
		return "Canceled"
	case errors.Is(err, ErrRoleNotFound):
		return "NotFound"
	}
	return "Other"
}

// limited wraps the client: every call waits for a slot of the shared
// semaphore and is counted.
type limited struct{ s *APISource }

func (l limited) acquire(ctx context.Context, op string) (func(), error) {
	select {
	case l.s.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	l.s.metrics.call(op)
	return func() { <-l.s.sem }, nil
}

func (l limited) GetRole(ctx context.Context, in *awsiam.GetRoleInput, o ...func(*awsiam.Options)) (*awsiam.GetRoleOutput, error) {
	release, err := l.acquire(ctx, "GetRole")
	if err != nil {
		return nil, err
	}
	defer release()
	return l.s.api.GetRole(ctx, in, o...)
}

func (l limited) ListAttachedRolePolicies(ctx context.Context, in *awsiam.ListAttachedRolePoliciesInput, o ...func(*awsiam.Options)) (*awsiam.ListAttachedRolePoliciesOutput, error) {
	release, err := l.acquire(ctx, "ListAttachedRolePolicies")
	if err != nil {
		return nil, err
	}
	defer release()
	return l.s.api.ListAttachedRolePolicies(ctx, in, o...)
}

func (l limited) GetPolicy(ctx context.Context, in *awsiam.GetPolicyInput, o ...func(*awsiam.Options)) (*awsiam.GetPolicyOutput, error) {
	release, err := l.acquire(ctx, "GetPolicy")
	if err != nil {
		return nil, err
	}
	defer release()
	return l.s.api.GetPolicy(ctx, in, o...)
}

func (l limited) GetPolicyVersion(ctx context.Context, in *awsiam.GetPolicyVersionInput, o ...func(*awsiam.Options)) (*awsiam.GetPolicyVersionOutput, error) {
	release, err := l.acquire(ctx, "GetPolicyVersion")
	if err != nil {
		return nil, err
	}
	defer release()
	return l.s.api.GetPolicyVersion(ctx, in, o...)
}

func (l limited) ListRolePolicies(ctx context.Context, in *awsiam.ListRolePoliciesInput, o ...func(*awsiam.Options)) (*awsiam.ListRolePoliciesOutput, error) {
	release, err := l.acquire(ctx, "ListRolePolicies")
	if err != nil {
		return nil, err
	}
	defer release()
	return l.s.api.ListRolePolicies(ctx, in, o...)
}

func (l limited) GetRolePolicy(ctx context.Context, in *awsiam.GetRolePolicyInput, o ...func(*awsiam.Options)) (*awsiam.GetRolePolicyOutput, error) {
	release, err := l.acquire(ctx, "GetRolePolicy")
	if err != nil {
		return nil, err
	}
	defer release()
	return l.s.api.GetRolePolicy(ctx, in, o...)
}
