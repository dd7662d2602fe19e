package certs

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Keys of the Secret that holds the self-signed material.
const (
	KeyCACert     = "ca.crt"
	KeyCAKey      = "ca.key"
	KeyNextCACert = "next-ca.crt"
	KeyNextCAKey  = "next-ca.key"
	KeyCABundle   = "ca-bundle.crt"
	KeyTLSCert    = corev1.TLSCertKey
	KeyTLSKey     = corev1.TLSPrivateKeyKey
	// AnnotationNextCASince records when the next CA entered the bundle.
	AnnotationNextCASince = "tollgate.dev/next-ca-since"
)

// Options configure self-signed mode.
type Options struct {
	Namespace  string
	SecretName string
	// WebhookConfigName names the ValidatingWebhookConfiguration and the
	// MutatingWebhookConfiguration whose caBundle Tollgate writes. Only
	// these two, by name.
	WebhookConfigName string
	DNSNames          []string
	IPs               []net.IP
	CALifetime        time.Duration
	ServingLifetime   time.Duration
	// Overlap is how long a new CA is trusted (in the webhook bundles)
	// before serving certificates are signed by it, so that every API
	// server sees it first.
	Overlap time.Duration
	// Interval is how often the rotator and the syncer look.
	Interval time.Duration
	// CertDir, CertName and KeyName are where the webhook server reads its
	// key pair.
	CertDir, CertName, KeyName string
	Now                        func() time.Time
}

// Defaults fills unset options: a CA for a year, serving certificates for
// 90 days, both renewed with a third of their life left.
func (o *Options) Defaults() {
	if o.CALifetime == 0 {
		o.CALifetime = 365 * 24 * time.Hour
	}
	if o.ServingLifetime == 0 {
		o.ServingLifetime = 90 * 24 * time.Hour
	}
	if o.ServingLifetime > o.CALifetime {
		o.ServingLifetime = o.CALifetime
	}
	if o.Interval == 0 {
		o.Interval = time.Minute
	}
	if o.Overlap == 0 {
		o.Overlap = 2 * o.Interval
	}
	if o.CertName == "" {
		o.CertName = KeyTLSCert
	}
	if o.KeyName == "" {
		o.KeyName = KeyTLSKey
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Material is the parsed content of the Secret.
type Material struct {
	CA        KeyPair
	NextCA    *KeyPair
	NextSince time.Time
	Bundle    []*x509.Certificate
	Serving   KeyPair
}

// parseMaterial reads the Secret and checks that everything belongs
// together: key pairs match, the serving certificate is signed by the CA
// and the bundle trusts it.
func parseMaterial(s *corev1.Secret) (*Material, error) {
	ca, err := parsePair(s.Data[KeyCACert], s.Data[KeyCAKey])
	if err != nil {
		return nil, fmt.Errorf("CA (%s, %s): %w", KeyCACert, KeyCAKey, err)
	}
	serving, err := parsePair(s.Data[KeyTLSCert], s.Data[KeyTLSKey])
	if err != nil {
		return nil, fmt.Errorf("serving pair (%s, %s): %w", KeyTLSCert, KeyTLSKey, err)
	}
	if err := serving.Cert.CheckSignatureFrom(ca.Cert); err != nil {
		return nil, fmt.Errorf("%s is not signed by %s: %w", KeyTLSCert, KeyCACert, err)
	}
	bundle, err := ParseCerts(s.Data[KeyCABundle])
	if err != nil {
		return nil, fmt.Errorf("%s: %w", KeyCABundle, err)
	}
	if !containsCert(bundle, ca.Cert) {
		return nil, fmt.Errorf("%s does not contain the CA", KeyCABundle)
	}
	m := &Material{CA: ca, Serving: serving, Bundle: bundle}
	if len(s.Data[KeyNextCACert]) > 0 {
		next, err := parsePair(s.Data[KeyNextCACert], s.Data[KeyNextCAKey])
		if err != nil {
			return nil, fmt.Errorf("next CA: %w", err)
		}
		since, err := time.Parse(time.RFC3339, s.Annotations[AnnotationNextCASince])
		if err != nil {
			return nil, fmt.Errorf("annotation %s: %w", AnnotationNextCASince, err)
		}
		m.NextCA, m.NextSince = &next, since
	}
	return m, nil
}

func containsCert(bundle []*x509.Certificate, c *x509.Certificate) bool {
	return slices.ContainsFunc(bundle, func(b *x509.Certificate) bool { return b.Equal(c) })
}

func encodeBundle(certs []*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		b.Write(pemCert(c))
	}
	return b.Bytes()
}

// plan decides the next material. It returns what changed, or nil when the
// material is good as it is.
func plan(m *Material, o *Options) (*Material, []string, error) {
	now := o.Now()
	if m == nil {
		ca, err := NewCA("tollgate-webhook-ca", now, o.CALifetime)
		if err != nil {
			return nil, nil, err
		}
		serving, err := NewServing(ca, o.DNSNames, o.IPs, now, o.ServingLifetime)
		if err != nil {
			return nil, nil, err
		}
		return &Material{CA: ca, Serving: serving, Bundle: []*x509.Certificate{ca.Cert}}, []string{"generated a CA and a serving certificate"}, nil
	}
	next := *m
	next.Bundle = slices.DeleteFunc(slices.Clone(m.Bundle), func(c *x509.Certificate) bool { return now.After(c.NotAfter) })
	var changes []string
	if len(next.Bundle) != len(m.Bundle) {
		changes = append(changes, "dropped expired CAs from the bundle")
	}
	switch {
	case m.NextCA != nil && now.Sub(m.NextSince) >= o.Overlap:
		// The new CA has been trusted long enough: sign with it now.
		next.CA, next.NextCA, next.NextSince = *m.NextCA, nil, time.Time{}
		changes = append(changes, "promoted the new CA")
	case m.NextCA == nil && renewDue(m.CA.Cert, now):
		ca, err := NewCA("tollgate-webhook-ca", now, o.CALifetime)
		if err != nil {
			return nil, nil, err
		}
		next.NextCA, next.NextSince = &ca, now
		next.Bundle = append(next.Bundle, ca.Cert)
		changes = append(changes, "added a new CA to the bundle ahead of the current one's expiry")
	}
	if next.Serving.Cert.CheckSignatureFrom(next.CA.Cert) != nil || renewDue(next.Serving.Cert, now) || !sameNames(next.Serving.Cert, o) {
		s, err := NewServing(next.CA, o.DNSNames, o.IPs, now, o.ServingLifetime)
		if err != nil {
			return nil, nil, err
		}
		next.Serving = s
		changes = append(changes, "issued a new serving certificate")
	}
	if !containsCert(next.Bundle, next.CA.Cert) {
		next.Bundle = append(next.Bundle, next.CA.Cert)
	}
	if len(changes) == 0 {
		return nil, nil, nil
	}
	return &next, changes, nil
}

// renewDue is true once a third or less of a certificate's life is left
// (its life counted from issuance, not from the backdated NotBefore).
func renewDue(c *x509.Certificate, now time.Time) bool {
	life := c.NotAfter.Sub(c.NotBefore.Add(backdate))
	return c.NotAfter.Sub(now) <= life/3
}

func sameNames(c *x509.Certificate, o *Options) bool {
	if !slices.Equal(c.DNSNames, o.DNSNames) || len(c.IPAddresses) != len(o.IPs) {
		return false
	}
	for i := range o.IPs {
		if !c.IPAddresses[i].Equal(o.IPs[i]) {
			return false
		}
	}
	return true
}

func (m *Material) toSecret(s *corev1.Secret) {
	// A Secret left by cert-manager (a release switched from cert-manager
	// to self-signed) has type kubernetes.io/tls, and the API server does
	// not let a Secret's type change ("field is immutable"); Tollgate's
	// data holds the tls.crt and tls.key that type requires, so it stays.
	if s.Type != corev1.SecretTypeTLS {
		s.Type = corev1.SecretTypeOpaque
	}
	s.Data = map[string][]byte{
		KeyCACert: m.CA.CertPEM, KeyCAKey: m.CA.KeyPEM,
		KeyTLSCert: m.Serving.CertPEM, KeyTLSKey: m.Serving.KeyPEM,
		KeyCABundle: encodeBundle(m.Bundle),
	}
	if s.Annotations == nil {
		s.Annotations = map[string]string{}
	}
	delete(s.Annotations, AnnotationNextCASince)
	if m.NextCA != nil {
		s.Data[KeyNextCACert], s.Data[KeyNextCAKey] = m.NextCA.CertPEM, m.NextCA.KeyPEM
		s.Annotations[AnnotationNextCASince] = m.NextSince.UTC().Format(time.RFC3339)
	}
}

// Manager keeps the self-signed material. Reconcile runs on the leader;
// Sync runs on every replica.
type Manager struct {
	Client   client.Client
	Recorder record.EventRecorder
	Log      logr.Logger
	Opts     Options
}

// Reconcile reads the Secret, repairs, renews or rotates what is due,
// writes it back, and puts the CA bundle into the webhook configurations.
func (mg *Manager) Reconcile(ctx context.Context) error {
	o := &mg.Opts
	var s corev1.Secret
	key := client.ObjectKey{Namespace: o.Namespace, Name: o.SecretName}
	err := mg.Client.Get(ctx, key, &s)
	exists := err == nil
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading Secret %s: %w", key, err)
	}
	var current *Material
	repairReason := ""
	if exists {
		if current, err = parseMaterial(&s); err != nil {
			repairReason = err.Error()
		}
	}
	next, changes, err := plan(current, o)
	if err != nil {
		return err
	}
	if next != nil {
		next.toSecret(&s)
		if exists {
			err = mg.Client.Update(ctx, &s)
		} else {
			s.Namespace, s.Name = o.Namespace, o.SecretName
			err = mg.Client.Create(ctx, &s)
			if apierrors.IsAlreadyExists(err) {
				// Another replica created it first; use theirs.
				return mg.Reconcile(ctx)
			}
		}
		if err != nil {
			return fmt.Errorf("writing Secret %s: %w", key, err)
		}
		reason, msg := "Rotated", fmt.Sprint(changes)
		if repairReason != "" {
			reason, msg = "Repaired", fmt.Sprintf("the Secret was unusable (%s); %v", repairReason, changes)
		} else if !exists {
			reason = "Generated"
		}
		mg.Log.Info("webhook certificates updated", "secret", key.String(), "reason", reason, "changes", changes)
		if mg.Recorder != nil {
			mg.Recorder.Event(&s, corev1.EventTypeNormal, reason, msg)
		}
	}
	return mg.injectCABundle(ctx, s.Data[KeyCABundle])
}

// injectCABundle writes the bundle into every webhook of Tollgate's two
// configurations (and no other).
func (mg *Manager) injectCABundle(ctx context.Context, bundle []byte) error {
	name := mg.Opts.WebhookConfigName
	if name == "" {
		return nil
	}
	var vwc admissionregistrationv1.ValidatingWebhookConfiguration
	if err := mg.Client.Get(ctx, client.ObjectKey{Name: name}, &vwc); err != nil && !apierrors.IsNotFound(err) {
		return err
	} else if err == nil {
		patch := client.MergeFrom(vwc.DeepCopy())
		changed := false
		for i := range vwc.Webhooks {
			if !bytes.Equal(vwc.Webhooks[i].ClientConfig.CABundle, bundle) {
				vwc.Webhooks[i].ClientConfig.CABundle = bundle
				changed = true
			}
		}
		if changed {
			if err := mg.Client.Patch(ctx, &vwc, patch); err != nil {
				return fmt.Errorf("writing caBundle into ValidatingWebhookConfiguration %s: %w", name, err)
			}
		}
	}
	var mwc admissionregistrationv1.MutatingWebhookConfiguration
	if err := mg.Client.Get(ctx, client.ObjectKey{Name: name}, &mwc); err != nil && !apierrors.IsNotFound(err) {
		return err
	} else if err == nil {
		patch := client.MergeFrom(mwc.DeepCopy())
		changed := false
		for i := range mwc.Webhooks {
			if !bytes.Equal(mwc.Webhooks[i].ClientConfig.CABundle, bundle) {
				mwc.Webhooks[i].ClientConfig.CABundle = bundle
				changed = true
			}
		}
		if changed {
			if err := mg.Client.Patch(ctx, &mwc, patch); err != nil {
				return fmt.Errorf("writing caBundle into MutatingWebhookConfiguration %s: %w", name, err)
			}
		}
	}
	return nil
}

// Sync writes the Secret's serving pair into the certificate directory,
// where the webhook server's watcher picks it up without a restart.
func (mg *Manager) Sync(ctx context.Context) error {
	o := &mg.Opts
	var s corev1.Secret
	if err := mg.Client.Get(ctx, client.ObjectKey{Namespace: o.Namespace, Name: o.SecretName}, &s); err != nil {
		return err
	}
	if _, err := parsePair(s.Data[KeyTLSCert], s.Data[KeyTLSKey]); err != nil {
		return fmt.Errorf("Secret %s/%s: serving pair: %w", o.Namespace, o.SecretName, err)
	}
	// Key first: the watcher reloads on either file; a new certificate
	// with the old key would fail to load and keep the old pair in use.
	if err := writeFileAtomic(filepath.Join(o.CertDir, o.KeyName), s.Data[KeyTLSKey], 0o600); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(o.CertDir, o.CertName), s.Data[KeyTLSCert], 0o644)
}

// Bootstrap makes sure a usable key pair is in the certificate directory
// before the webhook server starts: any replica may create or repair the
// Secret (creation races resolve to the first writer) and write the
// caBundle, so a fresh install serves from its first request.
func (mg *Manager) Bootstrap(ctx context.Context) error {
	if err := mg.Reconcile(ctx); err != nil {
		return err
	}
	return mg.Sync(ctx)
}

// Rotator runs Reconcile on the leader every interval.
type Rotator struct{ *Manager }

// NeedLeaderElection makes only the leader rotate.
func (Rotator) NeedLeaderElection() bool { return true }

// Start implements manager.Runnable.
func (r Rotator) Start(ctx context.Context) error {
	return every(ctx, r.Opts.Interval, func() {
		if err := r.Reconcile(ctx); err != nil {
			r.Log.Error(err, "webhook certificate rotation")
		}
	})
}

// Syncer runs Sync on every replica every interval.
type Syncer struct{ *Manager }

// NeedLeaderElection makes every replica sync.
func (Syncer) NeedLeaderElection() bool { return false }

// Start implements manager.Runnable.
func (s Syncer) Start(ctx context.Context) error {
	return every(ctx, s.Opts.Interval, func() {
		if err := s.Sync(ctx); err != nil && !errors.Is(err, context.Canceled) {
			s.Log.Error(err, "webhook certificate sync")
		}
	})
}

func every(ctx context.Context, d time.Duration, f func()) error {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		f()
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
