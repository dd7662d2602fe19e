package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/tollgate-dev/tollgate/certs"
	"github.com/tollgate-dev/tollgate/internal/audit"
	"github.com/tollgate-dev/tollgate/internal/bundlewatch"
	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/gather"
	"github.com/tollgate-dev/tollgate/internal/iam"
	"github.com/tollgate-dev/tollgate/internal/state"
	"github.com/tollgate-dev/tollgate/internal/wiring"
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
	probeAddr        string
	releaseNamespace string
	development      bool
	leaderElect      bool
	shutdownDelay    time.Duration
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
	f.StringVar(&o.probeAddr, "health-probe-bind-address", ":8081", "health and readiness probe address")
	f.StringVar(&o.releaseNamespace, "release-namespace", os.Getenv("POD_NAMESPACE"), "namespace Tollgate runs in; always exempt")
	f.BoolVar(&o.development, "development", false, "human-readable debug logs")
	f.DurationVar(&o.shutdownDelay, "shutdown-delay", 5*time.Second, "on SIGTERM, report not ready and keep serving this long before stopping, so that endpoints stop sending requests first")
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
	if o.certs.mode != "files" && o.certs.mode != "self-signed" {
		return usageError(fmt.Errorf("--cert-mode %q: want files or self-signed", o.certs.mode))
	}
	if o.certs.mode == "files" {
		cert, err := certs.CheckCertDir(o.certDir, "tls.crt", "tls.key", time.Now())
		if err != nil {
			return usageError(err)
		}
		log.Info("serving certificate", "subject", cert.Subject.String(), "notAfter", cert.NotAfter)
	}
	// Pods, ResourceQuotas, PodDisruptionBudgets and NodePools for the
	// quota, spot and nodepool policies, stripped to what they read, with
	// per-namespace GPU use aggregated from the pod informer.
	gpuCounter, err := gather.Counter(cfg.Validators)
	if err != nil {
		return err
	}
	stateInformers, err := state.NewInformers(rc, gpuCounter)
	if err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(rc, ctrl.Options{
		Scheme:                  Scheme(),
		LeaderElection:          o.leaderElect,
		LeaderElectionID:        "tollgate-leader",
		LeaderElectionNamespace: o.releaseNamespace,
		// Leadership is given up on shutdown so that another replica
		// takes over rotation at once.
		LeaderElectionReleaseOnCancel: true,
		Metrics:                       metricsserver.Options{BindAddress: o.metricsAddr},
		HealthProbeBindAddress:        o.probeAddr,
		WebhookServer: webhook.NewServer(webhook.Options{
			Host:    o.host,
			Port:    o.port,
			CertDir: o.certDir,
			TLSOpts: []func(*tls.Config){TLSOptions},
		}),
		Cache: stateInformers.CacheOptions(cache.Options{
			DefaultTransform: cache.TransformStripManagedFields(),
			ByObject: map[client.Object]cache.ByObject{
				&corev1.Namespace{}:      {Transform: state.StripNamespace},
				&corev1.ServiceAccount{}: {Transform: state.StripServiceAccount},
			},
		}),
	})
	if err != nil {
		return fmt.Errorf("creating the manager: %w", err)
	}
	// Start the informers admission needs now, so that readiness waits for them.
	for _, obj := range []client.Object{&corev1.Namespace{}, &corev1.ServiceAccount{}, &corev1.ResourceQuota{}, &policyv1.PodDisruptionBudget{}} {
		if _, err := mgr.GetCache().GetInformer(ctx, obj); err != nil {
			return fmt.Errorf("starting the %T informer: %w", obj, err)
		}
	}
	if err := stateInformers.Start(ctx, mgr.GetCache()); err != nil {
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
	metrics, err := webhooks.NewMetrics(crmetrics.Registry)
	if err != nil {
		return err
	}
	serverVersion, err := wiring.ServerVersion(rc)
	if err != nil {
		return err
	}
	// ServiceAccounts missing from the cache (created a moment before
	// their first pod) are read live, rate limited and time bounded.
	sac := cfg.Mutators.Credentials
	st := state.NewLiveServiceAccounts(stateInformers.Cached(mgr.GetCache()), mgr.GetAPIReader(), state.ServiceAccountOptions{
		Timeout: sac.ServiceAccountTimeout.Duration, QPS: sac.ServiceAccountQPS, Burst: sac.ServiceAccountBurst,
		Observe: metrics.ObserveServiceAccountLookup,
	})
	// The IAM documents of pod roles: cached, single-flight, and bounded
	// by iam.timeout on the admission path. Without AWS credentials no
	// call is made and pods with a role get iam.unknown.
	iamMetrics, err := iam.NewMetrics(crmetrics.Registry)
	if err != nil {
		return err
	}
	iamFetcher, err := iam.New(ctx, cfg.IAM, iam.Admission, iam.WithMetrics(iamMetrics))
	if err != nil {
		return usageError(fmt.Errorf("config: %w", err))
	}
	if reason := iamFetcher.Disabled(); reason != "" {
		log.Info("IAM checks answer iam.unknown", "reason", reason)
	} else {
		log.Info("IAM documents", "source", iamFetcher.String())
	}
	reviewer, err := wiring.NewReviewer(holder, cfg, st, wiring.Deps{ServerVersion: serverVersion, IAM: iamFetcher})
	if err != nil {
		return err
	}
	if o.auditInterval != 0 {
		if err := setupBackgroundAudit(mgr, rc, reviewer, st, o.auditInterval, o.auditMaxResults, log); err != nil {
			return err
		}
	}
	srv := mgr.GetWebhookServer()
	srv.Register("/validate", webhooks.Handler(&webhooks.Validator{Reviewer: reviewer, Metrics: metrics}))
	srv.Register("/mutate", webhooks.Handler(&webhooks.Mutator{Reviewer: reviewer, Metrics: metrics}))

	contact, err := state.NewContact(rc, 5*time.Second, crmetrics.Registry)
	if err != nil {
		return err
	}
	if err := mgr.Add(contact); err != nil {
		return err
	}
	// On SIGTERM (ctx done) readiness fails at once; the manager stops
	// shutdownDelay later, then the webhook server finishes the requests
	// in flight. Kubernetes removes the pod from the Service's endpoints
	// while it still serves, so no request reaches a closed port.
	var draining atomic.Bool
	mgrCtx, stopMgr := context.WithCancel(context.Background())
	defer stopMgr()
	go func() {
		select {
		case <-ctx.Done():
		case <-mgrCtx.Done():
			return
		}
		draining.Store(true)
		log.Info("shutting down: not ready; serving until the delay ends", "delay", o.shutdownDelay)
		time.Sleep(o.shutdownDelay)
		stopMgr()
	}()
	if err := mgr.AddReadyzCheck("shutdown", func(*http.Request) error {
		if draining.Load() {
			return errors.New("shutting down")
		}
		return nil
	}); err != nil {
		return err
	}
	var synced atomic.Bool
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("webhook", srv.StartedChecker()); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("gpu-usage", stateInformers.Synced); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("caches", func(*http.Request) error {
		if !synced.Load() {
			return errors.New("informer caches have not synced")
		}
		return nil
	}); err != nil {
		return err
	}
	go func() {
		syncCtx, cancel := context.WithTimeout(ctx, 10*time.Minute)
		defer cancel()
		if mgr.GetCache().WaitForCacheSync(syncCtx) {
			// Listing a large cluster leaves a heap of decoded pages behind;
			// hand it back to the OS now rather than keep it as headroom.
			debug.FreeOSMemory()
			synced.Store(true)
			log.Info("caches synced; ready")
		}
	}()
	log.Info("serving", "policies", len(e.Policies()), "port", o.port, "certDir", o.certDir)
	return mgr.Start(mgrCtx)
}

// setupSelfSigned writes a usable key pair into the certificate directory
// before the webhook server starts, and adds the rotator (leader only) and
// the syncer (every replica).
func setupSelfSigned(ctx context.Context, rc *rest.Config, mgr ctrl.Manager, o serveOptions, log logr.Logger) error {
	if o.releaseNamespace == "" {
		return usageError(errors.New("--cert-mode self-signed needs --release-namespace (or POD_NAMESPACE)"))
	}
	direct, err := client.New(rc, client.Options{Scheme: mgr.GetScheme()})
	if err != nil {
		return err
	}
	dns := o.certs.dnsNames
	if len(dns) == 0 {
		svc := o.certs.webhookConfigName
		dns = []string{svc + "." + o.releaseNamespace + ".svc", svc + "." + o.releaseNamespace + ".svc.cluster.local"}
	}
	var ips []net.IP
	for _, s := range o.certs.ips {
		ip := net.ParseIP(s)
		if ip == nil {
			return usageError(fmt.Errorf("--cert-ip-sans: %q is not an IP address", s))
		}
		ips = append(ips, ip)
	}
	if err := os.MkdirAll(o.certDir, 0o700); err != nil {
		return err
	}
	cm := &certs.Manager{
		Client:   direct,
		Recorder: mgr.GetEventRecorderFor("tollgate"),
		Log:      log.WithName("certs"),
		Opts: certs.Options{
			Namespace: o.releaseNamespace, SecretName: o.certs.secretName, WebhookConfigName: o.certs.webhookConfigName,
			DNSNames: dns, IPs: ips, CALifetime: o.certs.caLifetime, ServingLifetime: o.certs.certLifetime,
			Interval: o.certs.interval, CertDir: o.certDir,
		},
	}
	cm.Opts.Defaults()
	bootCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := cm.Bootstrap(bootCtx); err != nil {
		return fmt.Errorf("self-signed certificates: %w", err)
	}
	if err := mgr.Add(certs.Rotator{Manager: cm}); err != nil {
		return err
	}
	return mgr.Add(certs.Syncer{Manager: cm})
}

// watchBundles recompiles the operator bundles when their files change and
// swaps the engine; a broken update keeps the previous one.
func watchBundles(mgr ctrl.Manager, holder *engine.Holder, cfg *config.Config, o serveOptions, log logr.Logger) error {
	m, err := bundlewatch.NewMetrics(crmetrics.Registry)
	if err != nil {
		return err
	}
	w := &bundlewatch.Watcher{
		Dirs:     o.policy.bundles,
		Holder:   holder,
		Log:      log.WithName("bundle"),
		Metrics:  m,
		Recorder: mgr.GetEventRecorderFor("tollgate"),
		Build: func(ctx context.Context) (*engine.Engine, error) {
			return wiring.NewEngine(ctx, cfg, o.policy.bundles)
		},
	}
	// Events about the bundle go to Tollgate's own pod, when it knows it.
	if name := os.Getenv("POD_NAME"); name != "" && o.releaseNamespace != "" {
		w.Object = &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: o.releaseNamespace}}
	}
	return mgr.Add(w)
}
