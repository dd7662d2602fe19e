package app

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	"golang.org/x/term"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/tollgate-dev/tollgate/internal/audit"
	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/iam"
	"github.com/tollgate-dev/tollgate/internal/manifest"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
	"github.com/tollgate-dev/tollgate/internal/version"
	"github.com/tollgate-dev/tollgate/internal/wiring"
)

// auditOptions are the flags of `tollgate audit`.
type auditOptions struct {
	policy      policyFlags
	now         nowFlag
	kubeconfig  string
	context     string
	namespaces  []string
	all         bool
	files       []string
	states      []string
	output      string
	failOn      string
	chunkSize   int64
	maxResults  int
	maxRows     int
	iamPolicies string
}

// NewAuditCommand audits a live cluster or manifests and writes a report.
func NewAuditCommand(s IOStreams) *cobra.Command {
	var o auditOptions
	cmd := &cobra.Command{
		Use:   "audit [-A | -n NAMESPACE... | -f PATH...] [-o FORMAT]",
		Short: "Audit what already runs (a live cluster or manifests) and write a report",
		Long: `Review every object of a live cluster, or of manifests given with -f, exactly
as admission would if it were created today, and write a report. Pods are
mutated first, as at admission: what the mutators would add to a running pod
(a GPU toleration, AWS credentials, a Spot drain, a MIG slice) is reported as
a drift finding. A cluster is listed kind by kind in chunks (--chunk-size)
and reviewed as it is read, so memory does not grow with its size.

Without -f, the cluster of the kubeconfig's current context (or --context)
is audited: -A for every namespace and the cluster-scoped NodePools, -n for
some namespaces, else the context's namespace.

Formats (-o): table, json (the eval schema plus a summary), sarif (SARIF
2.1.0, with file and line for manifests), html (one self-contained page),
policyreport (wgpolicyk8s.io/v1alpha2 PolicyReports) and openreports
(openreports.io/v1alpha1 Reports). See docs/audit.md.

Exit codes: 0 done, 1 a finding at or above --fail-on, 2 bad input or usage,
or objects that could not be reviewed (the report is still written).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAudit(cmd.Context(), s, o)
		},
	}
	f := cmd.Flags()
	o.policy.add(f)
	o.now.add(f)
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default: $KUBECONFIG, ~/.kube/config, then in-cluster)")
	f.StringVar(&o.context, "context", "", "kubeconfig context (default: the current context)")
	f.StringArrayVarP(&o.namespaces, "namespace", "n", nil, "audit this namespace (repeatable)")
	f.BoolVarP(&o.all, "all-namespaces", "A", false, "audit every namespace and the cluster-scoped kinds")
	f.StringArrayVarP(&o.files, "filename", "f", nil, "audit manifests instead of a cluster: a file, a directory (recursive) or - (repeatable)")
	f.StringArrayVar(&o.states, "state", nil, "with -f: manifests that form the cluster state, as for eval (repeatable)")
	f.StringVarP(&o.output, "output", "o", "table", "report format: "+strings.Join(audit.Formats, ", "))
	f.StringVar(&o.failOn, "fail-on", "", "exit 1 when a finding has this severity or a higher one: critical, high, medium or low")
	f.Int64Var(&o.chunkSize, "chunk-size", 500, "objects per list request and per review batch")
	f.IntVar(&o.maxResults, "max-results", audit.DefaultMaxResults, "policyreport, openreports: results listed per report (summaries count all)")
	f.IntVar(&o.maxRows, "max-rows", audit.DefaultMaxRows, "html: findings listed in the table, most severe first (counts and charts include all)")
	f.StringVar(&o.iamPolicies, "iam-policies", "", "JSON file of IAM role documents used instead of the IAM API (as for eval)")
	return cmd
}

func runAudit(ctx context.Context, s IOStreams, o auditOptions) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if o.failOn != "" && engine.SeverityRank(o.failOn) == 0 {
		return usageError(fmt.Errorf("--fail-on %q: want critical, high, medium or low", o.failOn))
	}
	if o.chunkSize <= 0 {
		return usageError(fmt.Errorf("--chunk-size %d: want a positive number", o.chunkSize))
	}
	if len(o.files) > 0 && (o.all || len(o.namespaces) > 0 || o.kubeconfig != "" || o.context != "") {
		return usageError(fmt.Errorf("-f audits manifests; it cannot be combined with -A, -n, --kubeconfig or --context"))
	}
	if o.all && len(o.namespaces) > 0 {
		return usageError(fmt.Errorf("-A audits every namespace; it cannot be combined with -n"))
	}
	if len(o.states) > 0 && len(o.files) == 0 {
		return usageError(fmt.Errorf("--state is for audits of manifests (-f)"))
	}
	cfg, e, err := o.policy.load(ctx)
	if err != nil {
		return err
	}
	meta := audit.Meta{Policies: e.Policies(), Version: version.Get().Version, Now: time.Now(), MaxResults: o.maxResults, MaxRows: o.maxRows}
	var (
		runner *audit.Runner
		src    audit.Source
	)
	if len(o.files) > 0 {
		runner, src, err = filesAudit(ctx, s, o, cfg, e)
		meta.Scope = "manifests " + strings.Join(o.files, ", ")
	} else {
		runner, src, meta.Scope, err = clusterAuditFromFlags(ctx, o, cfg, e)
	}
	if err != nil {
		return err
	}
	report, err := audit.NewReport(o.output, s.Out, meta)
	if err != nil {
		return usageError(err)
	}
	if showProgress(s, o.output) {
		runner.Progress = audit.NewBar(s.ErrOut)
	}
	sum, err := runner.Run(ctx, src, report)
	if err != nil {
		return err
	}
	if len(o.files) > 0 && len(sum.NotReviewed) > 0 {
		var kinds []string
		for k, n := range sum.NotReviewed {
			kinds = append(kinds, fmt.Sprintf("%s (%d)", k, n))
		}
		slices.Sort(kinds)
		fmt.Fprintf(s.ErrOut, "not audited (state, or kinds Tollgate does not review): %s\n", strings.Join(kinds, ", "))
	}
	if sum.Errors > 0 {
		fmt.Fprintf(s.ErrOut, "%d objects could not be reviewed:\n", sum.Errors)
		for _, m := range sum.ErrorMessages {
			fmt.Fprintf(s.ErrOut, "  %s\n", m)
		}
		if sum.Errors > len(sum.ErrorMessages) {
			fmt.Fprintf(s.ErrOut, "  and %d more\n", sum.Errors-len(sum.ErrorMessages))
		}
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("the report is incomplete: %d objects could not be reviewed", sum.Errors)}
	}
	if o.failOn != "" {
		if n := sum.AtLeast(o.failOn); n > 0 {
			return &ExitError{Code: ExitFindings, Err: fmt.Errorf("%d findings of severity %s or higher (--fail-on %s)", n, o.failOn, o.failOn)}
		}
	}
	return nil
}

// showProgress draws the progress bar only on a terminal, and not while a
// streamed report (json, sarif) goes to the same terminal.
func showProgress(s IOStreams, format string) bool {
	if !isTerminal(s.ErrOut) {
		return false
	}
	streams := format == "json" || format == "sarif"
	return !streams || !isTerminal(s.Out)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// filesAudit reviews manifests against the state they and --state give,
// as eval does.
func filesAudit(ctx context.Context, s IOStreams, o auditOptions, cfg *config.Config, e *engine.Engine) (*audit.Runner, audit.Source, error) {
	clock, err := o.now.options()
	if err != nil {
		return nil, nil, err
	}
	docs, r, err := offlineReviewer(ctx, s, cfg, e, o.files, o.states, o.iamPolicies, clock...)
	if err != nil {
		return nil, nil, err
	}
	if err := manifest.RequireObjects(o.files, docs); err != nil {
		return nil, nil, usageError(err) // as eval: an empty input is no clean report
	}
	return &audit.Runner{Reviewer: r}, &audit.Files{Docs: docs, ChunkSize: int(o.chunkSize)}, nil
}

// clusterAuditFromFlags connects to the cluster the flags name.
func clusterAuditFromFlags(ctx context.Context, o auditOptions, cfg *config.Config, e *engine.Engine) (*audit.Runner, audit.Source, string, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if o.kubeconfig != "" {
		rules.ExplicitPath = o.kubeconfig
	}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: o.context})
	rc, err := cc.ClientConfig()
	if clientcmd.IsEmptyConfig(err) {
		// client-go's own message points at KUBERNETES_MASTER, which
		// helps nobody running an audit.
		return nil, nil, "", usageError(fmt.Errorf("no cluster to audit: no kubeconfig found (looked at %s); pass --kubeconfig, or audit manifests with -f", strings.Join(kubeconfigPaths(rules), ", ")))
	}
	if err != nil {
		return nil, nil, "", usageError(fmt.Errorf("kubeconfig: %w", err))
	}
	namespaces := o.namespaces
	scope := "cluster " + rc.Host
	if raw, err := cc.RawConfig(); err == nil {
		name := raw.CurrentContext
		if o.context != "" {
			name = o.context
		}
		if name != "" {
			scope = "cluster " + name
		}
	}
	switch {
	case o.all:
		scope += ", all namespaces"
	case len(namespaces) == 0:
		ns, _, err := cc.Namespace()
		if err != nil {
			return nil, nil, "", usageError(fmt.Errorf("kubeconfig: %w", err))
		}
		namespaces = []string{ns}
		fallthrough
	default:
		scope += ", namespace " + strings.Join(namespaces, ", ")
	}
	fetcher, err := iam.New(ctx, cfg.IAM, iam.Wait, iam.WithOfflinePolicies(o.iamPolicies))
	if err != nil {
		return nil, nil, "", usageError(err)
	}
	r, src, err := clusterAudit(ctx, rc, cfg, e, namespaces, o.chunkSize, wiring.Deps{IAM: fetcher})
	return r, src, scope, err
}

// clusterAudit builds the runner and source of a live audit: the kinds the
// API server serves, a state reader that lists from the API, and the
// reviewer every command builds (internal/wiring).
func clusterAudit(ctx context.Context, rc *rest.Config, cfg *config.Config, e *engine.Engine, namespaces []string, chunk int64, deps wiring.Deps) (*audit.Runner, *audit.Cluster, error) {
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, nil, err
	}
	kinds, err := audit.DiscoverKinds(cs.Discovery())
	if err != nil {
		return nil, nil, err
	}
	restc, err := audit.NewRESTClient(rc)
	if err != nil {
		return nil, nil, err
	}
	if deps.ServerVersion == "" {
		if deps.ServerVersion, err = wiring.ServerVersion(rc); err != nil {
			return nil, nil, err
		}
	}
	st := audit.NewAPIState(cs, restc, kinds, namespaces, chunk)
	r, err := wiring.NewReviewer(engine.NewHolder(e), cfg, st, deps)
	if err != nil {
		return nil, nil, err
	}
	return &audit.Runner{Reviewer: r, Namespaces: namespaces}, &audit.Cluster{Client: restc, Kinds: kinds, Namespaces: namespaces, ChunkSize: chunk}, nil
}

// auditDemo audits everything running in the demo's cluster and prints a
// short summary.
func auditDemo(ctx context.Context, w io.Writer, rc *rest.Config, cfg *config.Config, e *engine.Engine) error {
	r, src, err := clusterAudit(ctx, rc, cfg, e, nil, 500, wiring.Deps{})
	if err != nil {
		return err
	}
	sum, err := r.Run(ctx, src, audit.Reports{})
	if err != nil {
		return err
	}
	if err := audit.WriteSummary(w, sum, "      "); err != nil {
		return err
	}
	fmt.Fprintln(w, "      (tollgate audit -A -o html > audit.html writes the full report)")
	return nil
}

// setupBackgroundAudit adds serve's periodic audit to the manager: only the
// leader runs it, with admission's reviewer and cluster state, listing from
// the API server in chunks and writing PolicyReports with a direct client.
func setupBackgroundAudit(mgr ctrl.Manager, rc *rest.Config, reviewer *review.Reviewer, st state.Reader, interval time.Duration, maxResults int, log logr.Logger) error {
	if interval < 0 {
		return usageError(fmt.Errorf("--audit-interval %s: want 0 (off) or a positive duration", interval))
	}
	if maxResults <= 0 {
		return usageError(fmt.Errorf("--audit-max-results %d: want a positive number", maxResults))
	}
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return err
	}
	restc, err := audit.NewRESTClient(rc)
	if err != nil {
		return err
	}
	direct, err := client.New(rc, client.Options{Scheme: mgr.GetScheme()})
	if err != nil {
		return err
	}
	metrics := audit.NewMetrics(crmetrics.Registry)
	return mgr.Add(&audit.Background{
		Interval: interval,
		// One worker: admission, served by the same process, keeps the
		// other cores.
		Runner:     &audit.Runner{Reviewer: reviewer, Workers: 1},
		Cluster:    &audit.Cluster{Client: restc},
		Discovery:  cs.Discovery(),
		Client:     direct,
		API:        audit.WGPolicy,
		MaxResults: maxResults,
		Version:    version.Get().Version,
		Metrics:    metrics,
		Log:        log.WithName("audit"),
	})
}

// kubeconfigPaths says where a kubeconfig was looked for.
func kubeconfigPaths(rules *clientcmd.ClientConfigLoadingRules) []string {
	if rules.ExplicitPath != "" {
		return []string{rules.ExplicitPath}
	}
	if len(rules.Precedence) == 0 {
		return []string{"$KUBECONFIG (unset)", clientcmd.RecommendedHomeFile}
	}
	return rules.Precedence
}
