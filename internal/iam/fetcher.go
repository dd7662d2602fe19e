package iam

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	"golang.org/x/sync/singleflight"

	"github.com/tollgate-dev/tollgate/internal/config"
)

// Mode says how long a lookup waits for documents that are not cached.
type Mode int

const (
	// Admission waits at most iam.timeout, then answers unknown while the
	// fetch goes on in the background and fills the cache.
	Admission Mode = iota
	// Wait waits up to iam.waitTimeout: eval and audit have no admission
	// deadline.
	Wait
)

// Status of a lookup.
type Status string

// Lookup outcomes.
const (
	StatusOK      Status = "ok"      // Docs holds the role's documents
	StatusUnknown Status = "unknown" // Reason says why there are none
)

// Result is the answer to a lookup.
type Result struct {
	Status Status
	Reason string
	Docs   *RoleDocuments
}

// ErrNoCredentials means that no AWS credentials are configured: Tollgate
// makes no IAM call.
var ErrNoCredentials = errors.New("no AWS credentials are configured (environment, shared config or profile, web identity or container credentials; EC2 instance metadata is off unless iam.instanceMetadata is set), so Tollgate made no IAM call")

// Fetcher answers which documents apply to a role, from a cache in front of
// a Source. It is safe for concurrent use and lives as long as the process.
type Fetcher struct {
	src Source
	// offline is the offline policies file, when the documents come from
	// one.
	offline *Offline
	// disabled is the reason no lookup can succeed (no credentials, an
	// AWS configuration that does not load); no call is made then.
	disabled     string
	bound        time.Duration
	fetchTimeout time.Duration
	ttl, errTTL  time.Duration
	maxRoles     int
	metrics      *Metrics
	now          func() time.Time
	describe     string

	mu      sync.Mutex
	entries map[string]*entry
	flight  singleflight.Group
}

type entry struct {
	docs *RoleDocuments
	err  error
	at   time.Time
	// next is when a hit starts a background refresh (Unix nanoseconds;
	// a failed refresh moves it while lookups read it); refreshing is set
	// while one runs.
	next       atomic.Int64
	refreshing atomic.Bool
}

// Option configures a Fetcher.
type Option func(*options)

type options struct {
	metrics       *Metrics
	source        Source
	offline       string
	clientOptions []func(*awsiam.Options)
	now           func() time.Time
}

// WithMetrics records cache and fetch metrics.
func WithMetrics(m *Metrics) Option { return func(o *options) { o.metrics = m } }

// WithSource reads documents from s instead of the IAM API.
func WithSource(s Source) Option { return func(o *options) { o.source = s } }

// WithOfflinePolicies reads documents from an offline policies file (see
// Offline) instead of the IAM API; it overrides iam.offlinePolicies unless
// path is empty.
func WithOfflinePolicies(path string) Option {
	return func(o *options) {
		if path != "" {
			o.offline = path
		}
	}
}

// WithClientOptions adjusts the IAM client (tests shorten the retryer's
// backoff with it).
func WithClientOptions(fns ...func(*awsiam.Options)) Option {
	return func(o *options) { o.clientOptions = append(o.clientOptions, fns...) }
}

// WithClock sets the clock the cache ages entries by.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// New returns a Fetcher for the configuration. The source is, in order: one
// given with WithSource, the offline policies file, or the IAM API with the
// SDK's default configuration (config.LoadDefaultConfig). Without AWS
// credentials, or when the AWS configuration does not load, the Fetcher
// answers every lookup unknown with the reason and makes no call; Disabled
// reports it. Errors are configuration errors (invalid values, an offline
// file that does not parse).
func New(ctx context.Context, c config.IAM, mode Mode, opts ...Option) (*Fetcher, error) {
	if err := validate(c); err != nil {
		return nil, err
	}
	o := options{now: time.Now, offline: c.OfflinePolicies}
	for _, opt := range opts {
		opt(&o)
	}
	f := &Fetcher{
		bound:        c.Timeout.Duration,
		fetchTimeout: c.WaitTimeout.Duration,
		ttl:          c.CacheTTL.Duration,
		errTTL:       c.ErrorTTL.Duration,
		maxRoles:     c.MaxRoles,
		metrics:      o.metrics,
		now:          o.now,
		entries:      map[string]*entry{},
	}
	if mode == Wait {
		f.bound = c.WaitTimeout.Duration
	}
	switch {
	case o.source != nil:
		f.src, f.describe = o.source, fmt.Sprintf("%T", o.source)
	case o.offline != "":
		off, err := LoadOffline(o.offline)
		if err != nil {
			return nil, err
		}
		f.src, f.describe = off, "offline IAM policies file "+o.offline
		f.offline = off
	default:
		cfg, err := LoadAWSConfig(ctx, c)
		if err != nil {
			f.disabled = err.Error()
			f.describe = "IAM API, disabled: " + f.disabled
			return f, nil
		}
		f.src = NewAPISource(awsiam.NewFromConfig(cfg, o.clientOptions...), c.MaxConcurrentCalls, o.metrics)
		f.describe = "IAM API (" + cfg.Region + ")"
	}
	return f, nil
}

func validate(c config.IAM) error {
	var errs []error
	positive := func(name string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("iam.%s: %s must be positive", name, d))
		}
	}
	positive("timeout", c.Timeout.Duration)
	positive("waitTimeout", c.WaitTimeout.Duration)
	positive("cacheTTL", c.CacheTTL.Duration)
	if c.ErrorTTL.Duration < 0 {
		errs = append(errs, fmt.Errorf("iam.errorTTL: %s must not be negative", c.ErrorTTL.Duration))
	}
	if c.MaxConcurrentCalls < 1 {
		errs = append(errs, fmt.Errorf("iam.maxConcurrentCalls: %d must be at least 1", c.MaxConcurrentCalls))
	}
	if c.MaxRoles < 1 {
		errs = append(errs, fmt.Errorf("iam.maxRoles: %d must be at least 1", c.MaxRoles))
	}
	return errors.Join(errs...)
}

// LoadAWSConfig loads the SDK's default configuration (environment, shared
// config and credentials files, web identity, container credentials,
// AWS_ENDPOINT_URL_IAM) with instance metadata off unless the configuration
// turns it on. It returns ErrNoCredentials when the SDK found no credentials
// but the instance-metadata fallback, so that the caller makes no call.
// Nothing here goes to the network.
func LoadAWSConfig(ctx context.Context, c config.IAM) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if !c.InstanceMetadata {
		opts = append(opts, awsconfig.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	if c.Region != "" {
		opts = append(opts, awsconfig.WithRegion(c.Region))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, fmt.Errorf("the AWS configuration could not be loaded, so Tollgate made no IAM call: %w", err)
	}
	// The SDK's chain ends with the EC2 instance role: landing there means
	// that nothing else is configured.
	if cfg.Credentials == nil || (!c.InstanceMetadata && aws.IsCredentialsProvider(cfg.Credentials, (*ec2rolecreds.Provider)(nil))) {
		return cfg, ErrNoCredentials
	}
	if cfg.Region == "" {
		// IAM is global; the region only selects the partition.
		cfg.Region = "us-east-1"
	}
	return cfg, nil
}

// Disabled returns why the Fetcher makes no call, or "".
func (f *Fetcher) Disabled() string { return f.disabled }

// String describes where documents come from, for logs.
func (f *Fetcher) String() string { return f.describe }

// Lookup returns the documents of a role: from the cache when fresh (a role
// in use is refreshed in the background after half its TTL), else from a
// fetch shared by every concurrent lookup of the role, waited for at most
// the mode's bound. A fetch that does not answer in time goes on in the
// background and fills the cache. Lookup never fails: what cannot be
// answered is StatusUnknown with the reason.
func (f *Fetcher) Lookup(ctx context.Context, roleARN string) Result {
	if f.disabled != "" {
		f.metrics.unknown("no-credentials")
		return Result{Status: StatusUnknown, Reason: f.disabled}
	}
	now := f.now()
	f.mu.Lock()
	e := f.entries[roleARN]
	f.mu.Unlock()
	if e != nil && f.fresh(e, now) {
		f.metrics.hit()
		if e.err == nil && now.UnixNano() >= e.next.Load() && e.refreshing.CompareAndSwap(false, true) {
			f.fetch(roleARN)
		}
		return f.result(e)
	}
	f.metrics.miss()
	ch := f.fetch(roleARN)
	timer := time.NewTimer(f.bound)
	defer timer.Stop()
	select {
	case r := <-ch:
		return f.result(r.Val.(*entry))
	case <-timer.C:
		f.metrics.unknown("timeout")
		return Result{Status: StatusUnknown, Reason: fmt.Sprintf("IAM did not answer within %s; the documents are being fetched in the background", f.bound)}
	case <-ctx.Done():
		f.metrics.unknown("timeout")
		return Result{Status: StatusUnknown, Reason: fmt.Sprintf("the request ended before IAM answered (%v); the documents are being fetched in the background", context.Cause(ctx))}
	}
}

func (f *Fetcher) fresh(e *entry, now time.Time) bool {
	if e.err != nil {
		return now.Sub(e.at) < f.errTTL
	}
	return now.Sub(e.at) < f.ttl
}

func (f *Fetcher) result(e *entry) Result {
	if e.err == nil {
		return Result{Status: StatusOK, Docs: e.docs}
	}
	if errors.Is(e.err, ErrRoleNotFound) {
		f.metrics.unknown("not-found")
	} else {
		f.metrics.unknown("error")
	}
	return Result{Status: StatusUnknown, Reason: e.err.Error()}
}

// fetch starts (or joins) the fetch of a role. It runs detached from the
// caller's context, bounded by iam.waitTimeout, so that an admission
// request that stops waiting still fills the cache.
func (f *Fetcher) fetch(roleARN string) <-chan singleflight.Result {
	return f.flight.DoChan(roleARN, func() (any, error) {
		ctx, cancel := context.WithTimeout(context.Background(), f.fetchTimeout)
		defer cancel()
		start := time.Now()
		docs, err := f.src.Role(ctx, roleARN)
		code := ""
		if err != nil {
			code = errorCode(err)
		}
		f.metrics.fetched(time.Since(start), code)
		return f.store(roleARN, &entry{docs: docs, err: err, at: f.now()}), nil
	})
}

// store records a fetch and returns the entry lookups should answer with.
// A failed background refresh keeps the documents it was refreshing until
// they expire, and tries again after iam.errorTTL.
func (f *Fetcher) store(roleARN string, e *entry) *entry {
	f.mu.Lock()
	defer f.mu.Unlock()
	if old := f.entries[roleARN]; old != nil && e.err != nil && old.err == nil && f.fresh(old, e.at) {
		old.next.Store(e.at.Add(f.errTTL).UnixNano())
		old.refreshing.Store(false)
		return old
	}
	e.next.Store(e.at.Add(f.ttl / 2).UnixNano())
	if _, ok := f.entries[roleARN]; !ok && len(f.entries) >= f.maxRoles {
		f.evict(e.at)
	}
	f.entries[roleARN] = e
	return e
}

// evict drops expired entries, and the oldest one if none has expired.
func (f *Fetcher) evict(now time.Time) {
	var oldest string
	for k, e := range f.entries {
		if !f.fresh(e, now) {
			delete(f.entries, k)
			continue
		}
		if oldest == "" || e.at.Before(f.entries[oldest].at) {
			oldest = k
		}
	}
	if len(f.entries) >= f.maxRoles && oldest != "" {
		delete(f.entries, oldest)
	}
}

// OfflineAssociations are the Pod Identity associations of the offline
// policies file, nil when the documents do not come from one.
func (f *Fetcher) OfflineAssociations() map[string]OfflineAssociation {
	if f == nil || f.offline == nil {
		return nil
	}
	return f.offline.associations
}
