package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/metrics/filters"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/tollgate-dev/tollgate/internal/audit"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/state"
	"github.com/tollgate-dev/tollgate/webhooks"
)

// serveOptions are the flags of `tollgate serve`.
type serveOptions struct {
	policy           policyFlags
	kubeconfig       string
	certDir          string
	host             string
	port             int
	metricsAddr      string
	metricsSecure    bool
	enableHTTP2      bool
	probeAddr        string
	releaseNamespace string
	development      bool
	leaderElect      bool
	shutdownDelay    time.Duration
	// cacheSyncWarning is how long informers may take to sync before
	// serve logs which have not (and again after each such period).
	cacheSyncWarning time.Duration
	certs            certOptions
	// auditInterval runs the background audit (0: off); auditMaxResults
	// caps each PolicyReport's listed results.
	auditInterval   time.Duration
	auditMaxResults int
}

// certOptions choose where the serving key pair comes from.
type certOptions struct {
	// mode is "files" (a mounted key pair, e.g. written by cert-manager)
	// or "self-signed" (Tollgate keeps a CA and key pair in a Secret).
	mode              string
	secretName        string
	webhookConfigName string
	dnsNames          []string
	ips               []string
	caLifetime        time.Duration
	certLifetime      time.Duration
	interval          time.Duration
}

// NewServeCommand runs the admission webhooks.
func NewServeCommand(s IOStreams) *cobra.Command {
	o := serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the admission webhooks (TLS :9443), metrics (:8080) and health probes (:8081)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return runServe(ctx, s, o)
		},
	}
	f := cmd.Flags()
	o.policy.add(f)
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig file (default: in-cluster config, then $KUBECONFIG)")
	f.StringVar(&o.certDir, "cert-dir", "/etc/tollgate/certs", "directory with tls.crt and tls.key; reloaded when they change")
	f.StringVar(&o.host, "host", "", "address the webhook server listens on (default all)")
	f.IntVar(&o.port, "port", 9443, "webhook server port")
	f.StringVar(&o.metricsAddr, "metrics-bind-address", ":8080", "metrics address (0 disables)")
	f.BoolVar(&o.metricsSecure, "metrics-secure", true, "serve metrics over HTTPS to callers the API server authenticates and authorizes for GET /metrics; false serves plain HTTP to anyone who can reach the address")
	f.BoolVar(&o.enableHTTP2, "enable-http2", false, "offer HTTP/2 on the webhook and metrics servers (off: HTTP/2 rapid-reset advisories)")
	f.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "health and readiness probe address")
	f.StringVar(&o.releaseNamespace, "release-namespace", os.Getenv("POD_NAMESPACE"), "namespace Tollgate runs in; always exempt")
	f.BoolVar(&o.development, "development", false, "human-readable debug logs")
	f.DurationVar(&o.shutdownDelay, "shutdown-delay", 5*time.Second, "on SIGTERM, report not ready and keep serving this long before stopping, so that endpoints stop sending requests first")
	f.DurationVar(&o.cacheSyncWarning, "cache-sync-warning", time.Minute, "log the informers that have not synced after this long (Tollgate is not ready until they have), and again after each such period")
	f.BoolVar(&o.leaderElect, "leader-elect", false, "elect a leader among replicas for work only one should do (certificate rotation, background audit)")
	f.DurationVar(&o.auditInterval, "audit-interval", 0, "audit the cluster this often and write PolicyReports (leader only; 0 disables)")
	f.IntVar(&o.auditMaxResults, "audit-max-results", audit.DefaultMaxResults, "results listed per PolicyReport, most severe first (summaries count all)")
	f.StringVar(&o.certs.mode, "cert-mode", "files", "files: serve the key pair mounted in --cert-dir (cert-manager); self-signed: keep a CA and key pair in a Secret and rotate them")
	f.StringVar(&o.certs.secretName, "cert-secret", "tollgate-webhook-tls", "self-signed: the Secret (in the release namespace) that holds the CA and key pair")
	f.StringVar(&o.certs.webhookConfigName, "webhook-config-name", "tollgate", "self-signed: the webhook configurations whose caBundle Tollgate writes")
	f.StringSliceVar(&o.certs.dnsNames, "cert-dns-names", nil, "self-signed: DNS names of the serving certificate (default: the Service's names)")
	f.StringSliceVar(&o.certs.ips, "cert-ip-sans", nil, "self-signed: IP addresses of the serving certificate")
	f.DurationVar(&o.certs.caLifetime, "ca-lifetime", 365*24*time.Hour, "self-signed: CA lifetime; a new CA is trusted with a third of it left")
	f.DurationVar(&o.certs.certLifetime, "cert-lifetime", 90*24*time.Hour, "self-signed: serving certificate lifetime; renewed with a third of it left")
	f.DurationVar(&o.certs.interval, "cert-check-interval", time.Minute, "self-signed: how often certificates are checked")
	return cmd
}

// Scheme holds the types serve reads and serves.
func Scheme() *runtime.Scheme {
	s := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, admissionv1.AddToScheme} {
		if err := add(s); err != nil {
			panic(err)
		}
	}
	return s
}

func restConfig(kubeconfig string) (*rest.Config, error) {
	if kubeconfig != "" {
		return clientcmd.BuildConfigFromFlags("", kubeconfig)
	}
	return ctrl.GetConfig()
}

// DisableHTTP2 offers only HTTP/1.1 in ALPN: the Kubernetes default for
// webhook and metrics servers since the HTTP/2 rapid-reset and stream
// cancellation advisories (CVE-2023-44487, CVE-2023-39325); the API server
// speaks HTTP/1.1 to webhooks just as well. --enable-http2 turns it back on.
func DisableHTTP2(c *tls.Config) {
	c.NextProtos = []string{"http/1.1"}
}

// TLSOptions are the webhook server's TLS settings: TLS 1.2 at least, and
// for 1.2 only ECDHE key exchange with AEAD ciphers.
func TLSOptions(c *tls.Config) {
	c.MinVersion = tls.VersionTLS12
	c.CipherSuites = []uint16{
		tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
		tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	}
}

// runServe reads as serve's parts, in the order they start: policies and
// configuration; the cluster state (informers, serve_state.go); the
// manager; certificates (serve_certs.go); operator bundles; the reviewer
// and its IAM and EKS clients; the background audit; the webhooks; and
// readiness and shutdown (serve_run.go).
func runServe(ctx context.Context, s IOStreams, o serveOptions) error {
	log := zap.New(zap.UseDevMode(o.development), zap.WriteTo(s.ErrOut))
	ctrl.SetLogger(log)

	cfg, e, err := o.policy.load(ctx)
	if err != nil {
		return err
	}
	if o.releaseNamespace != "" {
		cfg.ReleaseNamespace = o.releaseNamespace
	}
	rc, err := restConfig(o.kubeconfig)
	if err != nil {
		return usageError(fmt.Errorf("kubeconfig: %w", err))
	}
	if err := checkCertificates(o, log); err != nil {
		return err
	}
	informers, err := newServeInformers(ctx, rc, cfg)
	if err != nil {
		return err
	}
	if denied := informers.Denied(); len(denied) > 0 {
		// Readiness does not wait for what Tollgate may not read: these
		// read as none until its ClusterRole grants list and watch.
		log.Error(nil, "Tollgate's ServiceAccount may not list and watch these kinds; they read as none (no Nodes for placement, no PolicyExceptions, no NodePools) until its ClusterRole grants them", "kinds", denied)
	}
	mgr, err := newManager(rc, o, informers)
	if err != nil {
		return err
	}
	metrics := webhooks.NewMetrics(crmetrics.Registry)
	st, err := startState(ctx, mgr, informers, cfg, metrics)
	if err != nil {
		return err
	}
	if o.certs.mode == "self-signed" {
		if err := setupSelfSigned(ctx, rc, mgr, o, log); err != nil {
			return err
		}
	}
	holder := engine.NewHolder(e)
	if len(o.policy.bundles) > 0 {
		if err := watchBundles(mgr, holder, cfg, o, log); err != nil {
			return err
		}
	}
	reviewer, err := newServeReviewer(ctx, rc, holder, cfg, st, log)
	if err != nil {
		return err
	}
	if o.auditInterval != 0 {
		if err := setupBackgroundAudit(mgr, rc, reviewer, st, o.auditInterval, o.auditMaxResults, log); err != nil {
			return err
		}
	}
	srv := mgr.GetWebhookServer()
	srv.Register("/validate", webhooks.Handler(&webhooks.ValidatingHandler{Reviewer: reviewer, Metrics: metrics}))
	srv.Register("/mutate", webhooks.Handler(&webhooks.MutatingHandler{Reviewer: reviewer, Metrics: metrics}))
	log.Info("serving", "policies", len(e.Policies()), "port", o.port, "certDir", o.certDir)
	return runManager(ctx, rc, mgr, informers, o, log)
}

// metricsOptions serves metrics over HTTPS to callers the API server
// authenticates and authorizes for GET /metrics (controller-runtime's
// authn/authz filter: a TokenReview and a SubjectAccessReview per caller,
// cached), unless --metrics-secure=false says otherwise: then plain HTTP
// to anyone who can reach the port, for a loopback-only or NetworkPolicy-
// fenced address.
func metricsOptions(rc *rest.Config, o serveOptions, tlsOpts []func(*tls.Config)) metricsserver.Options {
	opts := metricsserver.Options{BindAddress: o.metricsAddr, TLSOpts: tlsOpts}
	if o.metricsSecure {
		opts.SecureServing = true
		opts.FilterProvider = filters.WithAuthenticationAndAuthorization
	}
	return opts
}

// newManager builds the controller-runtime manager: the webhook server
// (TLS 1.2+, the certificate directory reloaded on change), metrics,
// probes, leader election, and the informer caches with their transforms.
func newManager(rc *rest.Config, o serveOptions, informers *state.Informers) (ctrl.Manager, error) {
	tlsOpts := []func(*tls.Config){TLSOptions}
	if !o.enableHTTP2 {
		tlsOpts = append(tlsOpts, DisableHTTP2)
	}
	mgr, err := ctrl.NewManager(rc, ctrl.Options{
		Scheme:                  Scheme(),
		LeaderElection:          o.leaderElect,
		LeaderElectionID:        "tollgate-leader",
		LeaderElectionNamespace: o.releaseNamespace,
		// Leadership is given up on shutdown so that another replica
		// takes over rotation at once.
		LeaderElectionReleaseOnCancel: true,
		Metrics:                       metricsOptions(rc, o, tlsOpts),
		HealthProbeBindAddress:        o.probeAddr,
		WebhookServer: webhook.NewServer(webhook.Options{
			Host:    o.host,
			Port:    o.port,
			CertDir: o.certDir,
			TLSOpts: tlsOpts,
		}),
		Cache: informers.CacheOptions(cache.Options{}),
	})
	if err != nil {
		return nil, fmt.Errorf("creating the manager: %w", err)
	}
	return mgr, nil
}
