package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// BuildTollgate builds ./cmd/tollgate into dir and returns the binary.
func BuildTollgate(root, dir string) (string, error) {
	bin := filepath.Join(dir, "tollgate")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/tollgate")
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("building tollgate: %w", err)
	}
	return bin, nil
}

// FreeAddr returns a free loopback address.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Serve is a running `tollgate serve`.
type Serve struct {
	*Proc
	// URL is the webhook server's base URL.
	URL     string
	metrics string
}

// StartServe runs `tollgate serve` against the cluster as the end-to-end
// suite does: the key pair envtest generated for 127.0.0.1, on the control
// plane's webhook port, with env's configuration; it waits until serve is
// ready (webhook server started, informer caches synced).
func StartServe(ctx context.Context, bin string, cl *Cluster, env *Env, logPath string, ready time.Duration) (*Serve, error) {
	metrics, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	probe, err := FreeAddr()
	if err != nil {
		return nil, err
	}
	p, err := StartProc("tollgate serve", logPath, bin, []string{"serve",
		"--kubeconfig", cl.CP.Kubeconfig,
		"--config", env.ConfigPath,
		"--cert-dir", cl.CP.WebhookCertDir,
		"--host", "127.0.0.1",
		"--port", strconv.Itoa(cl.CP.WebhookPort),
		"--metrics-bind-address", metrics, "--metrics-secure=false",
		"--health-probe-bind-address", probe,
		"--release-namespace", "tollgate-system",
	}, []string{"AWS_EC2_METADATA_DISABLED=true"})
	if err != nil {
		return nil, err
	}
	if err := waitHTTP(ctx, http.DefaultClient, http.MethodGet, "http://"+probe+"/readyz", nil, p, ready); err != nil {
		p.Stop(15 * time.Second)
		return nil, fmt.Errorf("tollgate serve not ready: %w\n%s", err, p.LogTail(30))
	}
	return &Serve{Proc: p, URL: fmt.Sprintf("https://127.0.0.1:%d", cl.CP.WebhookPort), metrics: metrics}, nil
}

// GoMemStats scrapes serve's go_memstats_* gauges (bytes) from /metrics.
func (s *Serve) GoMemStats(ctx context.Context) (map[string]float64, error) {
	m, err := s.scrape(ctx, "go_memstats_")
	out := map[string]float64{}
	for k, v := range m {
		out[strings.TrimPrefix(k, "go_memstats_")] = v
	}
	return out, err
}

// HandlerTime is the time serve's handlers spent on one webhook's requests.
type HandlerTime struct {
	Webhook string  `json:"webhook"`
	Calls   float64 `json:"calls"`
	Seconds float64 `json:"seconds"`
}

// MeanMillis is the mean time per call.
func (h HandlerTime) MeanMillis() float64 {
	if h.Calls == 0 {
		return 0
	}
	return h.Seconds / h.Calls * 1e3
}

// HandlerTimes reads the tollgate_admission_duration_seconds histogram's
// count and sum per webhook.
func (s *Serve) HandlerTimes(ctx context.Context) (map[string]HandlerTime, error) {
	m, err := s.scrape(ctx, "tollgate_admission_duration_seconds_")
	if err != nil {
		return nil, err
	}
	out := map[string]HandlerTime{}
	for k, v := range m {
		name, labels, ok := strings.Cut(k, "{")
		if !ok {
			continue
		}
		_, wh, ok := strings.Cut(labels, `webhook="`)
		if !ok {
			continue
		}
		wh, _, _ = strings.Cut(wh, `"`)
		h := out[wh]
		h.Webhook = wh
		switch name {
		case "tollgate_admission_duration_seconds_count":
			h.Calls = v
		case "tollgate_admission_duration_seconds_sum":
			h.Seconds = v
		}
		out[wh] = h
	}
	return out, nil
}

// scrape reads the samples of serve's /metrics whose names start with
// prefix, keyed by name and labels.
func (s *Serve) scrape(ctx context.Context, prefix string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.metrics+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ')
		if i < 0 || !strings.HasPrefix(line, prefix) {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out, sc.Err()
}
