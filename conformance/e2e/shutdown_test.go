//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
)

// readyProxy stands in for a Service: it forwards each TCP connection to a
// backend whose /readyz answers 200, checked every 100 ms, and like the
// endpoints controller and kube-proxy it learns that a backend stopped
// being ready only a second later.
type readyProxy struct {
	l        net.Listener
	mu       sync.Mutex
	backends []backend
	next     int
}

type backend struct {
	addr, probe string
	lastReady   time.Time
}

// propagation is how late the proxy learns that a backend is not ready.
const propagation = time.Second

func newReadyProxy(t *testing.T, backends ...backend) *readyProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &readyProxy{l: l, backends: backends}
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop); l.Close() })
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			for i := range p.backends {
				resp, err := http.Get("http://" + p.backends[i].probe + "/readyz")
				ok := err == nil && resp.StatusCode == http.StatusOK
				if err == nil {
					resp.Body.Close()
				}
				if ok {
					p.mu.Lock()
					p.backends[i].lastReady = time.Now()
					p.mu.Unlock()
				}
			}
		}
	}()
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

func (p *readyProxy) port() int { return p.l.Addr().(*net.TCPAddr).Port }

func (p *readyProxy) forward(c net.Conn) {
	defer c.Close()
	p.mu.Lock()
	var target string
	for range p.backends {
		b := p.backends[p.next%len(p.backends)]
		p.next++
		if time.Since(b.lastReady) < propagation {
			target = b.addr
			break
		}
	}
	p.mu.Unlock()
	if target == "" {
		return
	}
	up, err := net.Dial("tcp", target)
	if err != nil {
		return
	}
	defer up.Close()
	done := make(chan struct{}, 2)
	go func() { _, _ = io.Copy(up, c); done <- struct{}{} }()
	go func() { _, _ = io.Copy(c, up); done <- struct{}{} }()
	<-done
}

// TestSIGTERMUnderLoad: two replicas serve behind a readiness-following
// proxy while clients create pods without pause; one replica gets SIGTERM.
// Its readiness drops first, the requests it holds finish, the other
// replica takes the traffic, and no request fails.
func TestSIGTERMUnderLoad(t *testing.T) {
	portA, portB := freePort(), freePort()
	a, err := startTollgateWith("--cert-dir", env.cp.WebhookCertDir, "--port", strconv.Itoa(portA), "--shutdown-delay", "3s")
	if err != nil {
		t.Fatal(err)
	}
	defer a.stop()
	b, err := startTollgateWith("--cert-dir", env.cp.WebhookCertDir, "--port", strconv.Itoa(portB), "--shutdown-delay", "3s")
	if err != nil {
		t.Fatal(err)
	}
	defer b.stop()
	proxy := newReadyProxy(t,
		backend{addr: fmt.Sprintf("127.0.0.1:%d", portA), probe: a.probe},
		backend{addr: fmt.Sprintf("127.0.0.1:%d", portB), probe: b.probe})
	time.Sleep(300 * time.Millisecond)
	if err := installWebhooksAt(proxy.port(), env.cp.WebhookCA, admissionregistrationv1.Fail); err != nil {
		t.Fatal(err)
	}
	restoreWebhooksAfter(t)

	load := startPodLoad(namespace(nil))
	time.Sleep(2 * time.Second)
	before := load.requests.Load()
	if err := a.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.done:
	case <-time.After(30 * time.Second):
		t.Fatal("replica A did not stop within 30s of SIGTERM")
	}
	stopped := load.requests.Load()
	time.Sleep(2 * time.Second)
	load.end()
	total := load.requests.Load()
	t.Logf("requests: %d (%d before SIGTERM, %d during A's drain, %d after A stopped; %s), failures: %d",
		total, before, stopped-before, total-stopped, load.latency(), load.failures.Load())
	if load.failures.Load() > 0 {
		t.Errorf("%d requests failed; first: %v\nreplica A:\n%s", load.failures.Load(), load.firstFailures(), a.out.String())
	}
	if !strings.Contains(a.out.String(), "shutting down: not ready") {
		t.Errorf("replica A did not drain before stopping:\n%s", a.out.String())
	}
	if total-stopped < 10 {
		t.Errorf("replica B served only %d requests after A stopped", total-stopped)
	}
}
