package certs

import (
	"context"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/record"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func options(c *clock) *Options {
	o := &Options{
		Namespace: "tollgate-system", SecretName: "tollgate-tls", WebhookConfigName: "tollgate",
		DNSNames: []string{"tollgate.tollgate-system.svc"}, IPs: []net.IP{net.ParseIP("127.0.0.1")},
		CALifetime: 30 * time.Hour, ServingLifetime: 9 * time.Hour, Overlap: time.Hour, Interval: time.Minute,
		Now: c.now,
	}
	o.Defaults()
	return o
}

func verifies(t *testing.T, m *Material, bundle []*x509.Certificate, at time.Time) {
	t.Helper()
	pool := x509.NewCertPool()
	for _, c := range bundle {
		pool.AddCert(c)
	}
	if _, err := m.Serving.Cert.Verify(x509.VerifyOptions{Roots: pool, DNSName: "tollgate.tollgate-system.svc", CurrentTime: at}); err != nil {
		t.Fatalf("serving certificate does not verify against the bundle at %s: %v", at, err)
	}
}

// TestRotationPlan walks a CA and serving certificate through their whole
// lives: at every step the serving certificate verifies against the bundle
// the API server was given, before and after each change.
func TestRotationPlan(t *testing.T) {
	c := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	o := options(c)
	m, changes, err := plan(nil, o)
	if err != nil || m == nil || len(changes) != 1 {
		t.Fatalf("bootstrap: %v %v", changes, err)
	}
	firstCA := m.CA.Cert
	verifies(t, m, m.Bundle, c.now())

	var sawNext, sawPromote, sawDrop bool
	for step := 0; step < 200; step++ {
		c.advance(20 * time.Minute)
		published := m.Bundle // what the API server trusts until this step's change is written
		next, changes, err := plan(m, o)
		if err != nil {
			t.Fatal(err)
		}
		if next == nil {
			verifies(t, m, m.Bundle, c.now())
			continue
		}
		// The serving certificate a replica may still serve (old) and the
		// new one must both verify against the bundle being written.
		verifies(t, m, next.Bundle, c.now())
		verifies(t, next, next.Bundle, c.now())
		// A new serving certificate is only signed by a CA the API server
		// already trusted.
		if !containsCert(published, next.CA.Cert) {
			t.Fatalf("step %d: signing with a CA that was not in the published bundle (%v)", step, changes)
		}
		for _, ch := range changes {
			switch {
			case strings.Contains(ch, "new CA to the bundle"):
				sawNext = true
			case strings.Contains(ch, "promoted"):
				sawPromote = true
				if !containsCert(next.Bundle, firstCA) && c.now().Before(firstCA.NotAfter) {
					t.Fatal("the old CA left the bundle before it expired")
				}
			case strings.Contains(ch, "dropped expired"):
				sawDrop = true
			}
		}
		m = next
	}
	if !sawNext || !sawPromote || !sawDrop {
		t.Errorf("rotation did not go through every phase: next=%v promote=%v drop=%v", sawNext, sawPromote, sawDrop)
	}
}

func TestPlanRenewsOnNameChange(t *testing.T) {
	c := &clock{t: time.Now()}
	o := options(c)
	m, _, _ := plan(nil, o)
	if next, _, _ := plan(m, o); next != nil {
		t.Fatal("a fresh pair was renewed")
	}
	o.DNSNames = append(o.DNSNames, "tollgate.tollgate-system.svc.cluster.local")
	next, changes, _ := plan(m, o)
	if next == nil || !strings.Contains(changes[0], "serving certificate") || len(next.Serving.Cert.DNSNames) != 2 {
		t.Fatalf("names changed but the serving certificate was not reissued: %v", changes)
	}
}

func newManager(t *testing.T, objs ...client.Object) (*Manager, *record.FakeRecorder, client.Client) {
	t.Helper()
	cl := fake.NewClientBuilder().WithScheme(scheme.Scheme).WithObjects(objs...).Build()
	rec := record.NewFakeRecorder(10)
	c := &clock{t: time.Now()}
	o := options(c)
	o.CertDir = t.TempDir()
	return &Manager{Client: cl, Recorder: rec, Log: logr.Discard(), Opts: *o}, rec, cl
}

func webhookConfigs(name string) []client.Object {
	return []client.Object{
		&admissionregistrationv1.ValidatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name},
			Webhooks: []admissionregistrationv1.ValidatingWebhook{{Name: "pods.validate.tollgate.dev"}, {Name: "nodepools.validate.tollgate.dev"}}},
		&admissionregistrationv1.MutatingWebhookConfiguration{ObjectMeta: metav1.ObjectMeta{Name: name},
			Webhooks: []admissionregistrationv1.MutatingWebhook{{Name: "pods.mutate.tollgate.dev"}}},
	}
}

func TestBootstrapCreatesSecretAndInjectsOnlyOwnConfigs(t *testing.T) {
	objs := append(webhookConfigs("tollgate"), webhookConfigs("someone-else")...)
	mg, rec, cl := newManager(t, objs...)
	ctx := context.Background()
	if err := mg.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := CheckCertDir(mg.Opts.CertDir, KeyTLSCert, KeyTLSKey, time.Now()); err != nil {
		t.Fatalf("cert dir after bootstrap: %v", err)
	}
	var s corev1.Secret
	if err := cl.Get(ctx, client.ObjectKey{Namespace: "tollgate-system", Name: "tollgate-tls"}, &s); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"tollgate", "someone-else"} {
		var v admissionregistrationv1.ValidatingWebhookConfiguration
		_ = cl.Get(ctx, client.ObjectKey{Name: name}, &v)
		var m admissionregistrationv1.MutatingWebhookConfiguration
		_ = cl.Get(ctx, client.ObjectKey{Name: name}, &m)
		injected := string(v.Webhooks[1].ClientConfig.CABundle) == string(s.Data[KeyCABundle]) &&
			string(m.Webhooks[0].ClientConfig.CABundle) == string(s.Data[KeyCABundle])
		if injected != (name == "tollgate") {
			t.Errorf("%s: caBundle injected=%v", name, injected)
		}
	}
	if ev := <-rec.Events; !strings.Contains(ev, "Generated") {
		t.Errorf("event %q", ev)
	}
}

func TestCorruptSecretRepaired(t *testing.T) {
	for _, tc := range []struct {
		name string
		data map[string][]byte
	}{
		{"garbage", map[string][]byte{KeyTLSCert: []byte("not a certificate")}},
		{"empty", map[string][]byte{}},
		{"mismatched pair", func() map[string][]byte {
			a, _ := NewCA("a", time.Now(), time.Hour)
			b, _ := NewCA("b", time.Now(), time.Hour)
			return map[string][]byte{KeyCACert: a.CertPEM, KeyCAKey: b.KeyPEM, KeyTLSCert: a.CertPEM, KeyTLSKey: a.KeyPEM, KeyCABundle: a.CertPEM}
		}()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "tollgate-system", Name: "tollgate-tls"}, Data: tc.data}
			mg, rec, cl := newManager(t, bad)
			if err := mg.Bootstrap(context.Background()); err != nil {
				t.Fatal(err)
			}
			var s corev1.Secret
			_ = cl.Get(context.Background(), client.ObjectKey{Namespace: "tollgate-system", Name: "tollgate-tls"}, &s)
			if _, err := parseMaterial(&s); err != nil {
				t.Fatalf("still unusable after repair: %v", err)
			}
			if ev := <-rec.Events; !strings.Contains(ev, "Repaired") {
				t.Errorf("event %q, want a Repaired event", ev)
			}
		})
	}
}

func TestCheckCertDirRefusesMismatchedPair(t *testing.T) {
	dir := t.TempDir()
	a, _ := NewCA("a", time.Now(), time.Hour)
	b, _ := NewCA("b", time.Now(), time.Hour)
	_ = os.WriteFile(filepath.Join(dir, "tls.crt"), a.CertPEM, 0o600)
	_ = os.WriteFile(filepath.Join(dir, "tls.key"), b.KeyPEM, 0o600)
	_, err := CheckCertDir(dir, "tls.crt", "tls.key", time.Now())
	if err == nil || !strings.Contains(err.Error(), "private key does not match public key") || !strings.Contains(err.Error(), "tls.crt") {
		t.Fatalf("mismatched pair: %v", err)
	}
	if _, err := CheckCertDir(t.TempDir(), "tls.crt", "tls.key", time.Now()); err == nil {
		t.Fatal("missing pair accepted")
	}
}

// TestCertManagerSecretTakenOver: a release switched from cert-manager to
// self-signed finds cert-manager's kubernetes.io/tls Secret under the same
// name; Tollgate repairs it in place and keeps its type, which the API
// server does not let change.
func TestCertManagerSecretTakenOver(t *testing.T) {
	a, _ := NewCA("cert-manager", time.Now(), time.Hour)
	left := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: "tollgate-system", Name: "tollgate-tls", Annotations: map[string]string{"cert-manager.io/issuer-name": "tollgate"}},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: a.CertPEM, corev1.TLSPrivateKeyKey: a.KeyPEM, "ca.crt": a.CertPEM},
	}
	mg, _, cl := newManager(t, left)
	if err := mg.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	var s corev1.Secret
	if err := cl.Get(context.Background(), client.ObjectKey{Namespace: "tollgate-system", Name: "tollgate-tls"}, &s); err != nil {
		t.Fatal(err)
	}
	if s.Type != corev1.SecretTypeTLS {
		t.Errorf("type %q, want the Secret's own kubernetes.io/tls", s.Type)
	}
	if _, err := parseMaterial(&s); err != nil {
		t.Errorf("unusable after the takeover: %v", err)
	}
}
