package podidentity

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/eks"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"
)

// EKSAPI is the part of the EKS client the association source calls.
type EKSAPI interface {
	eks.ListPodIdentityAssociationsAPIClient
	DescribePodIdentityAssociation(ctx context.Context, in *eks.DescribePodIdentityAssociationInput, opts ...func(*eks.Options)) (*eks.DescribePodIdentityAssociationOutput, error)
}

// EKSOptions configure an EKS association source.
type EKSOptions struct {
	ClusterName string
	// RefreshInterval is how long a read is used before the next one,
	// which runs in the background while lookups keep the old answer.
	RefreshInterval time.Duration
	// Timeout bounds one read (every page and description) and so how
	// long the first lookups wait.
	Timeout time.Duration
	// Concurrency bounds the DescribePodIdentityAssociation calls in
	// flight. Default 4.
	Concurrency int
	// Now is the clock (tests).
	Now func() time.Time
}

// EKS reads a cluster's Pod Identity associations from the EKS API
// (ListPodIdentityAssociations, every page, then
// DescribePodIdentityAssociation for each, since only the description has
// the role) and answers lookups from memory. Lookups never wait for AWS
// once a read has succeeded: a stale answer starts one background read. The
// first lookups wait for the first read, bounded by Timeout. After a failed
// read the next attempt waits min(RefreshInterval, 30s), so an unreachable
// API is not called on every admission.
type EKS struct {
	api  EKSAPI
	opts EKSOptions

	mu       sync.RWMutex
	byKey    map[string]Association
	loadedAt time.Time // zero until a read succeeds
	retryAt  time.Time
	lastErr  error

	reads singleflight.Group
}

var _ Associations = (*EKS)(nil)

// NewEKS returns a source over an EKS client.
func NewEKS(api EKSAPI, opts EKSOptions) *EKS {
	if opts.Concurrency < 1 {
		opts.Concurrency = 4
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &EKS{api: api, opts: opts}
}

// NewEKSClient builds an EKS client from the standard AWS SDK configuration
// (environment, shared config and profile, web identity, Pod Identity or
// container credentials). Instance metadata, and with it the node's role,
// is used only when instanceMetadata is set.
func NewEKSClient(ctx context.Context, region string, instanceMetadata bool) (*eks.Client, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	if !instanceMetadata {
		opts = append(opts, awsconfig.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration for the EKS API: %w", err)
	}
	return eks.NewFromConfig(cfg), nil
}

// Start begins the first read in the background, so that admission finds
// the associations loaded.
func (e *EKS) Start() { e.read() }

// Association implements Associations.
func (e *EKS) Association(ctx context.Context, namespace, serviceAccount string) (Association, bool, error) {
	key := namespace + "/" + serviceAccount
	now := e.opts.Now()
	e.mu.RLock()
	a, found := e.byKey[key]
	loaded, retryAt, lastErr := e.loadedAt, e.retryAt, e.lastErr
	e.mu.RUnlock()
	if !loaded.IsZero() {
		if now.Sub(loaded) >= e.opts.RefreshInterval && !now.Before(retryAt) {
			e.read()
		}
		return a, found, nil
	}
	if lastErr != nil && now.Before(retryAt) {
		return Association{}, false, lastErr
	}
	select {
	case r := <-e.read():
		if r.Err != nil {
			return Association{}, false, r.Err
		}
	case <-ctx.Done():
		return Association{}, false, fmt.Errorf("Pod Identity associations of EKS cluster %s not read yet: %w", e.opts.ClusterName, ctx.Err())
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	a, found = e.byKey[key]
	return a, found, nil
}

// read starts a read unless one is in flight, detached from any one
// caller's context and bounded by Timeout.
func (e *EKS) read() <-chan singleflight.Result {
	return e.reads.DoChan("read", func() (any, error) {
		ctx, cancel := context.WithTimeout(context.Background(), e.opts.Timeout)
		defer cancel()
		m, err := e.list(ctx)
		now := e.opts.Now()
		e.mu.Lock()
		defer e.mu.Unlock()
		if err != nil {
			e.lastErr = fmt.Errorf("reading the Pod Identity associations of EKS cluster %s: %w", e.opts.ClusterName, err)
			e.retryAt = now.Add(min(e.opts.RefreshInterval, 30*time.Second))
			return nil, e.lastErr
		}
		e.byKey, e.loadedAt, e.lastErr, e.retryAt = m, now, nil, time.Time{}
		return nil, nil
	})
}

// list reads every association of the cluster with its role.
func (e *EKS) list(ctx context.Context) (map[string]Association, error) {
	var ids []string
	pages := eks.NewListPodIdentityAssociationsPaginator(e.api, &eks.ListPodIdentityAssociationsInput{ClusterName: aws.String(e.opts.ClusterName)})
	for pages.HasMorePages() {
		out, err := pages.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("ListPodIdentityAssociations: %w", err)
		}
		for _, s := range out.Associations {
			if s.AssociationId != nil {
				ids = append(ids, *s.AssociationId)
			}
		}
	}
	found := make([]Association, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(e.opts.Concurrency)
	for i, id := range ids {
		g.Go(func() error {
			out, err := e.api.DescribePodIdentityAssociation(gctx, &eks.DescribePodIdentityAssociationInput{
				ClusterName: aws.String(e.opts.ClusterName), AssociationId: aws.String(id),
			})
			if err != nil {
				return fmt.Errorf("DescribePodIdentityAssociation %s: %w", id, err)
			}
			d := out.Association
			if d == nil {
				return fmt.Errorf("DescribePodIdentityAssociation %s: no association in the answer", id)
			}
			found[i] = Association{
				Namespace:          aws.ToString(d.Namespace),
				ServiceAccount:     aws.ToString(d.ServiceAccount),
				RoleARN:            aws.ToString(d.RoleArn),
				TargetRoleARN:      aws.ToString(d.TargetRoleArn),
				SessionPolicy:      aws.ToString(d.Policy),
				DisableSessionTags: aws.ToBool(d.DisableSessionTags),
				ID:                 id,
				Source:             SourceEKS,
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	m := make(map[string]Association, len(found))
	for _, a := range found {
		if a.Namespace == "" || a.ServiceAccount == "" || a.RoleARN == "" {
			return nil, errors.New("an association without namespace, service account or role")
		}
		m[a.Namespace+"/"+a.ServiceAccount] = a
	}
	return m, nil
}
