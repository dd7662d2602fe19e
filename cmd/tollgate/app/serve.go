package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
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

	"github.com/tollgate-dev/tollgate/internal/engine"
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
}

// NewServeCommand runs the admission webhooks.
func NewServeCommand(s IOStreams) *cobra.Command {
	o := serveOptions{}
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the admission webhooks (TLS :9443), metrics (:8080) and health probes (:8081)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := ctrl.SetupSignalHandler()
			if cmd.Context() != nil && cmd.Context() != context.Background() {
				ctx = cmd.Context()
			}
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
	mgr, err := ctrl.NewManager(rc, ctrl.Options{
		Scheme:                 Scheme(),
		Metrics:                metricsserver.Options{BindAddress: o.metricsAddr},
		HealthProbeBindAddress: o.probeAddr,
		WebhookServer: webhook.NewServer(webhook.Options{
			Host:    o.host,
			Port:    o.port,
			CertDir: o.certDir,
			TLSOpts: []func(*tls.Config){TLSOptions},
		}),
		Cache: cache.Options{
			DefaultTransform: cache.TransformStripManagedFields(),
			ByObject: map[client.Object]cache.ByObject{
				&corev1.Namespace{}:      {Transform: state.StripNamespace},
				&corev1.ServiceAccount{}: {Transform: state.StripServiceAccount},
			},
		},
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

	holder := engine.NewHolder(e)
	reviewer, err := wiring.NewReviewer(holder, cfg, &state.Cached{Reader: mgr.GetCache()}, wiring.Deps{})
	if err != nil {
		return err
	}
	metrics, err := webhooks.NewMetrics(crmetrics.Registry)
	if err != nil {
		return err
	}
	srv := mgr.GetWebhookServer()
	srv.Register("/validate", webhooks.Handler(&webhooks.Validator{Reviewer: reviewer, Metrics: metrics}))

	var synced atomic.Bool
	if err := mgr.AddHealthzCheck("ping", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("webhook", srv.StartedChecker()); err != nil {
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
			synced.Store(true)
			log.Info("caches synced; ready")
		}
	}()
	log.Info("serving", "policies", len(e.Policies()), "port", o.port, "certDir", o.certDir)
	return mgr.Start(ctx)
}
