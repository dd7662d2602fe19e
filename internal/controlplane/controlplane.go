// Package controlplane runs a real local Kubernetes control plane (etcd and
// kube-apiserver built from Go modules by scripts/controlplane.sh) through
// controller-runtime's envtest, for `tollgate demo` and the end-to-end suite.
// Nothing is downloaded: the binaries come from bin/k8s.
package controlplane

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Versions of the binaries scripts/controlplane.sh builds.
const (
	KubernetesVersion = "v1.37.2"
	EtcdVersion       = "3.7.0"
)

// Options configure the control plane.
type Options struct {
	// BinDir holds kube-apiserver and etcd (default: bin/k8s of the repository).
	BinDir string
	// CRDPaths are CRD manifests or directories to install once running.
	CRDPaths []string
	// StartTimeout bounds each start attempt (default 60s).
	StartTimeout time.Duration
	// ExtraAPIServerFlags are added to kube-apiserver's command line.
	ExtraAPIServerFlags map[string]string
}

// ControlPlane is a running etcd and kube-apiserver.
type ControlPlane struct {
	env *envtest.Environment
	// Config is an admin REST config.
	Config *rest.Config
	// Kubeconfig is the path of an admin kubeconfig file.
	Kubeconfig string
	// WebhookCertDir holds tls.crt and tls.key for a webhook server on
	// 127.0.0.1, signed by the CA in WebhookCA; envtest generates both.
	WebhookCertDir string
	WebhookCA      []byte
	// WebhookPort is a free port for the webhook server.
	WebhookPort int
	logs        *tail
	dir         string
}

// RepoRoot finds the repository root (the directory holding
// conformance/controlplane/go.mod) from the working directory upwards.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "conformance", "controlplane", "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("not inside the Tollgate repository (conformance/controlplane/go.mod not found); run from a checkout, or set TOLLGATE_CONTROLPLANE_DIR to a directory holding kube-apiserver and etcd")
		}
		dir = parent
	}
}

// BinDir returns the directory of the control-plane binaries:
// $TOLLGATE_CONTROLPLANE_DIR, else bin/k8s in the repository.
func BinDir() (string, error) {
	if d := os.Getenv("TOLLGATE_CONTROLPLANE_DIR"); d != "" {
		return d, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "bin", "k8s"), nil
}

// Ensure builds the binaries when they are missing or of another version,
// by running scripts/controlplane.sh, whose progress goes to w.
func Ensure(w io.Writer) (string, error) {
	dir, err := BinDir()
	if err != nil {
		return "", err
	}
	if upToDate(dir) {
		return dir, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", fmt.Errorf("control-plane binaries in %s are missing or not %s: %w", dir, KubernetesVersion, err)
	}
	cmd := exec.Command("bash", filepath.Join(root, "scripts", "controlplane.sh"))
	cmd.Env = append(os.Environ(), "TOLLGATE_CONTROLPLANE_DIR="+dir)
	cmd.Stdout, cmd.Stderr = w, w
	done := make(chan struct{})
	go progress(w, done)
	err = cmd.Run()
	close(done)
	if err != nil {
		return "", fmt.Errorf("building the control plane (scripts/controlplane.sh): %w", err)
	}
	return dir, nil
}

// progress prints the elapsed time every 30 seconds while a build runs.
func progress(w io.Writer, done <-chan struct{}) {
	start := time.Now()
	t := time.NewTicker(30 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			fmt.Fprintf(w, "  ... still building (%s)\n", time.Since(start).Round(time.Second))
		}
	}
}

func upToDate(dir string) bool {
	out, err := exec.Command(filepath.Join(dir, "kube-apiserver"), "--version").Output()
	if err != nil || strings.TrimSpace(string(out)) != "Kubernetes "+KubernetesVersion {
		return false
	}
	out, err = exec.Command(filepath.Join(dir, "etcd"), "--version").Output()
	return err == nil && strings.Contains(string(out), "etcd Version: "+EtcdVersion)
}

// Start starts etcd and kube-apiserver. On failure it returns the tail of
// their logs in the error and leaves no process behind.
func Start(o Options) (*ControlPlane, error) {
	if o.BinDir == "" {
		d, err := BinDir()
		if err != nil {
			return nil, err
		}
		o.BinDir = d
	}
	if !upToDate(o.BinDir) {
		return nil, fmt.Errorf("no kube-apiserver %s and etcd %s in %s: run scripts/controlplane.sh", KubernetesVersion, EtcdVersion, o.BinDir)
	}
	if o.StartTimeout == 0 {
		o.StartTimeout = 60 * time.Second
	}
	logs := &tail{max: 40}
	env := &envtest.Environment{
		BinaryAssetsDirectory:    o.BinDir,
		DownloadBinaryAssets:     false,
		CRDDirectoryPaths:        o.CRDPaths,
		ErrorIfCRDPathMissing:    true,
		ControlPlaneStartTimeout: o.StartTimeout,
		ControlPlaneStopTimeout:  20 * time.Second,
		WebhookInstallOptions:    envtest.WebhookInstallOptions{LocalServingHost: "127.0.0.1"},
	}
	env.ControlPlane.GetAPIServer().Out = logs
	env.ControlPlane.GetAPIServer().Err = logs
	for k, v := range o.ExtraAPIServerFlags {
		env.ControlPlane.GetAPIServer().Configure().Set(k, v)
	}
	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop()
		return nil, fmt.Errorf("starting the control plane: %w\n--- kube-apiserver log (last lines) ---\n%s", err, logs.String())
	}
	cp := &ControlPlane{
		env: env, Config: cfg, logs: logs,
		WebhookCertDir: env.WebhookInstallOptions.LocalServingCertDir,
		WebhookCA:      env.WebhookInstallOptions.LocalServingCAData,
		WebhookPort:    env.WebhookInstallOptions.LocalServingPort,
	}
	dir, err := os.MkdirTemp("", "tollgate-controlplane-")
	if err != nil {
		_ = cp.Stop()
		return nil, err
	}
	cp.dir = dir
	cp.Kubeconfig = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(cp.Kubeconfig, kubeconfig(cfg), 0o600); err != nil {
		_ = cp.Stop()
		return nil, err
	}
	return cp, nil
}

// Logs returns the last lines kube-apiserver wrote.
func (cp *ControlPlane) Logs() string { return cp.logs.String() }

// Stop stops kube-apiserver and etcd and removes their data.
func (cp *ControlPlane) Stop() error {
	err := cp.env.Stop()
	if cp.dir != "" {
		_ = os.RemoveAll(cp.dir)
	}
	return err
}

// kubeconfig renders an admin kubeconfig for cfg (client certificate auth).
func kubeconfig(cfg *rest.Config) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `apiVersion: v1
kind: Config
clusters:
- name: tollgate-local
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: admin
  user:
    client-certificate-data: %s
    client-key-data: %s
contexts:
- name: tollgate-local
  context: {cluster: tollgate-local, user: admin}
current-context: tollgate-local
`, cfg.Host, base64.StdEncoding.EncodeToString(cfg.CAData),
		base64.StdEncoding.EncodeToString(cfg.CertData), base64.StdEncoding.EncodeToString(cfg.KeyData))
	return b.Bytes()
}

// tail keeps the last max lines written to it.
type tail struct {
	mu    sync.Mutex
	max   int
	lines []string
	part  string
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.part + string(p)
	parts := strings.Split(s, "\n")
	t.part = parts[len(parts)-1]
	t.lines = append(t.lines, parts[:len(parts)-1]...)
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(append(append([]string{}, t.lines...), t.part), "\n")
}
