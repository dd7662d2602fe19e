//go:build e2e

package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"

	"github.com/tollgate-dev/tollgate/internal/controlplane"
)

// Tollgate's image as the suite runs it: built by scripts/image.sh (cached
// when nothing changed), imported into podman's storage with skopeo so it
// keeps the OCI digest, and run with the restrictions a hardened pod has.
// The local control plane has no kubelet, so podman is what runs the image.

// containerImage is the image imported into podman.
type containerImage struct {
	name        string // containers-storage name, localhost/tollgate:VERSION
	indexDigest string // the OCI image index, what the chart pins
	archDigest  string // this machine's architecture's manifest
}

var builtImage struct {
	once sync.Once
	img  containerImage
	err  error
}

// needPodman fails the test in CI (CI set), where scripts/podman.sh has
// installed podman, and skips it elsewhere, saying how to get podman.
func needPodman(t *testing.T) {
	t.Helper()
	why := ""
	switch {
	case runtime.GOOS != "linux":
		why = "podman runs Tollgate's image on Linux only"
	case os.Getuid() != 0:
		why = "the suite runs podman as root (rootful storage)"
	default:
		for _, tool := range []string{"podman", "skopeo"} {
			if _, err := exec.LookPath(tool); err != nil {
				why = tool + " is not installed"
				break
			}
		}
		if why == "" {
			if out, err := exec.Command("podman", "info", "--format", "{{.Host.OCIRuntime.Name}}").CombinedOutput(); err != nil {
				why = fmt.Sprintf("podman info failed: %v: %s", err, strings.TrimSpace(string(out)))
			}
		}
	}
	if why == "" {
		return
	}
	msg := why + "; run scripts/podman.sh (as root) to install and configure podman, runc and skopeo"
	if os.Getenv("CI") != "" {
		t.Fatal("CI must run Tollgate as a container: " + msg)
	}
	t.Skip("not running Tollgate's image: " + msg)
}

// imageDir is where scripts/image.sh writes.
func imageDir(root string) string {
	if d := os.Getenv("TOLLGATE_IMAGE_DIR"); d != "" {
		return d
	}
	return filepath.Join(root, "out", "image")
}

// theImage builds the image once per suite and imports it into podman.
func theImage(t *testing.T) containerImage {
	t.Helper()
	needPodman(t)
	builtImage.once.Do(func() { builtImage.img, builtImage.err = buildAndImport() })
	if builtImage.err != nil {
		t.Fatal(builtImage.err)
	}
	return builtImage.img
}

func buildAndImport() (containerImage, error) {
	root, err := controlplane.RepoRoot()
	if err != nil {
		return containerImage{}, err
	}
	build := exec.Command(filepath.Join(root, "scripts", "image.sh"))
	build.Dir = root
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return containerImage{}, fmt.Errorf("scripts/image.sh: %w", err)
	}
	dir := imageDir(root)
	read := func(name string) (string, error) {
		b, err := os.ReadFile(filepath.Join(dir, name))
		return strings.TrimSpace(string(b)), err
	}
	var img containerImage
	if img.indexDigest, err = read("digest"); err != nil {
		return img, err
	}
	if img.archDigest, err = read("digest-" + runtime.GOARCH); err != nil {
		return img, err
	}
	ref, err := layoutRef(filepath.Join(dir, "oci"))
	if err != nil {
		return img, err
	}
	img.name = "localhost/tollgate:" + ref
	// skopeo copies the manifests and blobs as they are; `podman load` of
	// the docker-archive would rewrite the manifest and change its digest.
	cp := exec.Command("skopeo", "copy", "--quiet", "oci:"+filepath.Join(dir, "oci")+":"+ref, "containers-storage:"+img.name)
	if out, err := cp.CombinedOutput(); err != nil {
		return img, fmt.Errorf("skopeo copy: %v\n%s", err, out)
	}
	out, err := exec.Command("podman", "image", "inspect", "--format", "{{.Digest}}", img.name).Output()
	if err != nil {
		return img, fmt.Errorf("podman image inspect %s: %w", img.name, err)
	}
	if got := strings.TrimSpace(string(out)); got != img.archDigest && got != img.indexDigest {
		return img, fmt.Errorf("podman holds %s as %s, want the built manifest %s (or index %s)", img.name, got, img.archDigest, img.indexDigest)
	}
	// Earlier builds' images would pile up in podman's storage, one per
	// commit: drop them (an image still in use stays).
	if out, err := exec.Command("podman", "images", "--noheading", "--format", "{{.Repository}}:{{.Tag}}", "--filter", "reference=localhost/tollgate").Output(); err == nil {
		for _, n := range strings.Fields(string(out)) {
			if n != img.name {
				_ = exec.Command("podman", "rmi", n).Run()
			}
		}
	}
	fmt.Fprintf(os.Stderr, "e2e: image %s (index %s, linux/%s %s) imported into podman\n", img.name, img.indexDigest, runtime.GOARCH, img.archDigest)
	return img, nil
}

// layoutRef is the ref name of the only entry of an OCI layout.
func layoutRef(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return "", err
	}
	var idx struct {
		Manifests []struct {
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return "", fmt.Errorf("%s/index.json: %w", dir, err)
	}
	if len(idx.Manifests) != 1 || idx.Manifests[0].Annotations["org.opencontainers.image.ref.name"] == "" {
		return "", fmt.Errorf("%s/index.json: want one entry with a ref name", dir)
	}
	return idx.Manifests[0].Annotations["org.opencontainers.image.ref.name"], nil
}

// containerSpec is what a container runs with beyond the suite's fixed
// restrictions.
type containerSpec struct {
	// user is --user; the image's own 65532:65532 when empty.
	user string
	// mounts are host path to container path, read-only.
	mounts map[string]string
	// tmpfs are container paths that get a tmpfs (an emptyDir).
	tmpfs []string
	// env are KEY=value entries besides the hermetic AWS settings.
	env []string
	// args follow the image's entrypoint.
	args []string
}

var containerCount atomic.Int64

// startContainer runs the image attached (podman forwards SIGINT to it, so
// stop works as for the binary) and waits until it is ready on the probe
// address it is given. Host networking: the container reaches the local
// API server on loopback and the API server reaches the webhook there.
// container is a running Tollgate container.
type container struct {
	*tollgate
	name string
}

func startContainer(t *testing.T, img containerImage, spec containerSpec) container {
	t.Helper()
	name := fmt.Sprintf("tollgate-e2e-%d-%d", os.Getpid(), containerCount.Add(1))
	tg := &tollgate{out: &syncBuffer{}, probe: freeAddr(), metrics: freeAddr(), done: make(chan struct{})}
	user := spec.user
	if user == "" {
		user = "65532:65532"
	}
	args := []string{"run", "--rm", "--name", name, "--pull", "never",
		"--network", "host", "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
		"--user", user}
	for host, ctr := range spec.mounts {
		args = append(args, "--volume", host+":"+ctr+":ro")
	}
	for _, p := range spec.tmpfs {
		args = append(args, "--tmpfs", p+":rw,size=64m,mode=1777")
	}
	for _, kv := range append([]string{"AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null"}, spec.env...) {
		args = append(args, "--env", kv)
	}
	args = append(args, img.name)
	args = append(args, spec.args...)
	args = append(args, "--metrics-bind-address", tg.metrics, "--metrics-secure=false", "--health-probe-bind-address", tg.probe)
	tg.cmd = exec.Command("podman", args...)
	tg.cmd.Stdout, tg.cmd.Stderr = tg.out, tg.out
	env.mu.Lock()
	env.started = append(env.started, tg)
	env.mu.Unlock()
	if err := tg.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = tg.cmd.Wait(); close(tg.done) }()
	t.Cleanup(func() {
		tg.stop()
		_ = exec.Command("podman", "rm", "--force", "--ignore", name).Run()
		if t.Failed() {
			t.Logf("container %s output:\n%s", name, tg.out.String())
		}
	})
	if err := waitFor(90*time.Second, func() error {
		select {
		case <-tg.done:
			return nil
		default:
		}
		resp, err := http.Get("http://" + tg.probe + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("readyz %d", resp.StatusCode)
		}
		return nil
	}); err != nil {
		t.Fatalf("container %s not ready: %v\n%s", name, err, tg.out.String())
	}
	select {
	case <-tg.done:
		t.Fatalf("container %s exited:\n%s", name, tg.out.String())
	default:
	}
	return container{tg, name}
}

// forUser copies files into a fresh directory owned by uid and gid 65532,
// readable by that user alone, as the kubelet presents a Secret or
// ConfigMap volume to a pod with that fsGroup. It returns the directory.
func forUser(t *testing.T, files map[string][]byte) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tollgate-ctr-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(p, 65532, 65532); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, 65532, 65532); err != nil {
		t.Fatal(err)
	}
	return dir
}

func readFiles(t *testing.T, paths map[string]string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for name, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[name] = b
	}
	return out
}

// processIdentity reads the uid and gid of a container's main process from
// the host's /proc, and runs `tollgate version -o json` inside the
// container (the image has no shell: the binary reports on itself).
func processIdentity(t *testing.T, name string) (hostUID, hostGID string, inside versionJSON) {
	t.Helper()
	out, err := exec.Command("podman", "inspect", "--format", "{{.State.Pid}}", name).Output()
	if err != nil {
		t.Fatalf("podman inspect %s: %v", name, err)
	}
	status, err := os.ReadFile(filepath.Join("/proc", strings.TrimSpace(string(out)), "status"))
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(status)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 3 && f[0] == "Uid:" {
			hostUID = f[1] + " " + f[2] // real, effective
		}
		if len(f) >= 3 && f[0] == "Gid:" {
			hostGID = f[1] + " " + f[2]
		}
	}
	v, err := exec.Command("podman", "exec", name, "/tollgate", "version", "-o", "json").Output()
	if err != nil {
		t.Fatalf("podman exec %s tollgate version: %v", name, err)
	}
	if err := json.Unmarshal(v, &inside); err != nil {
		t.Fatalf("tollgate version -o json: %v\n%s", err, v)
	}
	return hostUID, hostGID, inside
}

type versionJSON struct {
	Version           string `json:"version"`
	Revision          string `json:"revision"`
	OPA               string `json:"opa"`
	ControllerRuntime string `json:"controllerRuntime"`
	ClientGo          string `json:"clientGo"`
	Process           struct {
		UID          int   `json:"uid"`
		GID          int   `json:"gid"`
		RootReadOnly *bool `json:"rootReadOnly"`
	} `json:"process"`
}

// admissionRequests sums tollgate_admission_requests_total over its labels.
func admissionRequests(addr string) (float64, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var n float64
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "tollgate_admission_requests_total{") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			return 0, fmt.Errorf("metrics line %q: %w", line, err)
		}
		n += v
	}
	return n, sc.Err()
}

// TestContainer runs Tollgate's image with podman, read-only, as 65532,
// without capabilities, and points the API server's webhooks at it: the
// suite's denial, admission, mutation and GPU quota cases pass through the
// container, the process inside is uid 65532 on a read-only root, and the
// container's own metrics count the requests.
func TestContainer(t *testing.T) {
	img := theImage(t)
	certs := forUser(t, readFiles(t, map[string]string{
		"tls.crt": filepath.Join(env.cp.WebhookCertDir, "tls.crt"),
		"tls.key": filepath.Join(env.cp.WebhookCertDir, "tls.key"),
	}))
	config := forUser(t, map[string][]byte{
		"kubeconfig":  readFiles(t, map[string]string{"k": env.cp.Kubeconfig})["k"],
		"config.yaml": []byte(baseConfig),
	})
	port := freePort()
	tg := startContainer(t, img, containerSpec{
		mounts: map[string]string{certs: "/certs", config: "/etc/tollgate"},
		args: []string{"serve",
			"--kubeconfig", "/etc/tollgate/kubeconfig",
			"--config", "/etc/tollgate/config.yaml",
			"--cert-dir", "/certs",
			"--host", "127.0.0.1",
			"--port", strconv.Itoa(port),
			"--release-namespace", "tollgate-system",
		},
	})

	uid, gid, inside := processIdentity(t, tg.name)
	if uid != "65532 65532" || gid != "65532 65532" {
		t.Errorf("the serving process runs as uid %q gid %q (real, effective), want 65532", uid, gid)
	}
	if p := inside.Process; p.UID != 65532 || p.GID != 65532 || p.RootReadOnly == nil || !*p.RootReadOnly {
		t.Errorf("inside the container: %+v, want uid and gid 65532 on a read-only root", p)
	}
	t.Logf("serving process: uid %s, gid %s (real, effective); inside: %+v", uid, gid, inside.Process)
	if inside.OPA == "" || inside.ControllerRuntime == "" || inside.ClientGo == "" || inside.Revision == "" {
		t.Errorf("the image's binary does not report what it was built from: %+v", inside)
	}

	restoreWebhooksAfter(t)
	if err := installWebhooksAt(port, env.cp.WebhookCA, admissionregistrationv1.Fail); err != nil {
		t.Fatal(err)
	}
	before, err := admissionRequests(tg.metrics)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("denial", TestRestrictedViolationRefused)
	t.Run("admission", TestCompliantPodAdmitted)
	t.Run("mutation", TestMutateGPUPodWithIRSA)
	t.Run("quota", TestGPUQuota)
	after, err := admissionRequests(tg.metrics)
	if err != nil {
		t.Fatal(err)
	}
	// Each case sends at least one pod to each of the two webhooks.
	if after-before < 8 {
		t.Errorf("the container served %v admission requests during the cases, want at least 8", after-before)
	}
	t.Logf("the container served %v admission requests", after-before)
}
