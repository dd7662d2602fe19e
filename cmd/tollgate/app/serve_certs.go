package app

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/tollgate-dev/tollgate/certs"
)

// checkCertificates checks the certificate flags and, in files mode, that
// the mounted key pair is usable before anything starts.
func checkCertificates(o serveOptions, log logr.Logger) error {
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
	return nil
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
		Client: direct,
		//nolint:staticcheck // the recorders Tollgate passes take core/v1 Events (record.EventRecorder); events/v1 is a change of its own
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
