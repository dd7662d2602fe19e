//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
)

// cutProxy forwards TCP connections to the API server until it is cut: then
// it drops every open connection and closes new ones at once, as a network
// partition between Tollgate and its API server looks to client-go.
type cutProxy struct {
	l      net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	open   map[net.Conn]struct{}
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{l: l, target: target, open: map[net.Conn]struct{}{}}
	t.Cleanup(func() { l.Close(); p.setCut(true) })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go p.forward(c)
		}
	}()
	return p
}

func (p *cutProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for c := range p.open {
			c.Close()
		}
		clear(p.open)
	}
}

func (p *cutProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cut {
		return false
	}
	for _, c := range cs {
		p.open[c] = struct{}{}
	}
	return true
}

func (p *cutProxy) forward(c net.Conn) {
	defer c.Close()
	if !p.track(c) {
		return
	}
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer up.Close()
	if !p.track(up) {
		return
	}
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
}

// proxiedKubeconfig is the admin kubeconfig with its server moved to addr.
func proxiedKubeconfig(t *testing.T, addr string) string {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(env.cp.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cfg.Clusters {
		c.Server = "https://" + addr
	}
	p := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, p); err != nil {
		t.Fatal(err)
	}
	return p
}

// metric reads one unlabelled gauge from a Tollgate metrics endpoint.
func metric(addr, name string) (float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("metric %s not found", name)
}

// TestAPIServerOutage cuts Tollgate off from its API server while the API
// server still calls the webhook. Admission goes on deciding from the
// informer caches (the namespace that was labelled before the cut keeps
// its label, a namespace created during the cut is not yet known and gets
// the default), Tollgate stays ready, and the staleness gauge says how old
// its view is. When the link comes back the caches catch up without a
// restart: the namespace created during the cut is honoured.
func TestAPIServerOutage(t *testing.T) {
	ctx := context.Background()
	apiserver, err := url.Parse(env.cp.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newCutProxy(t, apiserver.Host)
	port := freePort()
	tg, err := startTollgateAs(proxiedKubeconfig(t, proxy.l.Addr().String()), "--cert-dir", env.cp.WebhookCertDir, "--port", strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer tg.stop()
	if err := installWebhooksAt(port, env.cp.WebhookCA, admissionregistrationv1.Fail); err != nil {
		t.Fatal(err)
	}
	restoreWebhooksAfter(t)

	// warned reports whether Tollgate treats ns as a warn namespace: a
	// privileged pod is admitted (dry run) instead of refused.
	warned := func(ns string) error {
		_, err := env.cs.CoreV1().Pods(ns).Create(ctx, privilegedPod("p"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err
	}
	before := namespace(map[string]string{"tollgate.dev/pss": "warn"})
	if err := waitFor(10*time.Second, func() error { return warned(before) }); err != nil {
		t.Fatalf("the warn namespace made before the outage is not honoured: %v", err)
	}

	proxy.setCut(true)
	cutAt := time.Now()
	during := namespace(map[string]string{"tollgate.dev/pss": "warn"})
	// Past the probe interval (5 s), the gauge shows the outage.
	if err := waitFor(20*time.Second, func() error {
		v, err := metric(tg.metrics, "tollgate_state_staleness_seconds")
		if err != nil {
			return err
		}
		if v < 6 {
			return fmt.Errorf("tollgate_state_staleness_seconds = %v", v)
		}
		return nil
	}); err != nil {
		t.Fatalf("staleness did not rise during the outage: %v", err)
	}
	if err := warned(before); err != nil {
		t.Errorf("during the outage, the cached warn namespace is no longer honoured: %v", err)
	}
	if _, err := env.cs.CoreV1().Pods(before).Create(ctx, restrictedPod("ok"), metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); err != nil {
		t.Errorf("during the outage, a compliant pod was refused: %v", err)
	}
	if err := warned(during); err == nil || !strings.Contains(err.Error(), "pss.baseline.privileged") {
		t.Errorf("during the outage, a namespace Tollgate cannot have seen: want the default (refused), got %v", err)
	}
	resp, err := http.Get("http://" + tg.probe + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("during the outage /readyz = %d; every replica going unready would fail all admission", resp.StatusCode)
	}
	outage := time.Since(cutAt)

	proxy.setCut(false)
	restored := time.Now()
	if err := waitFor(90*time.Second, func() error { return warned(during) }); err != nil {
		t.Fatalf("after the outage the caches did not catch up: %v\n%s", err, tg.out.String())
	}
	caughtUp := time.Since(restored)
	if err := waitFor(20*time.Second, func() error {
		v, err := metric(tg.metrics, "tollgate_state_staleness_seconds")
		if err != nil {
			return err
		}
		if v > 6 {
			return fmt.Errorf("tollgate_state_staleness_seconds = %v", v)
		}
		return nil
	}); err != nil {
		t.Errorf("staleness did not fall after the outage: %v", err)
	}
	select {
	case <-tg.done:
		t.Fatalf("tollgate exited:\n%s", tg.out.String())
	default:
	}
	t.Logf("outage %s; caches caught up %s after the link came back", outage.Round(time.Millisecond), caughtUp.Round(time.Millisecond))
}
