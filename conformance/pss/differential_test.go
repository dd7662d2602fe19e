package pss

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
)

var (
	diffSeed = flag.Uint64("pss.seed", 1, "seed of the generated pods (reproduce a failure with the seed it printed)")
	diffN    = flag.Int("pss.pods", 10000, "number of generated pods")
)

// upstreamEvaluator wraps every upstream check so that the ids of the checks
// that fail are recorded, with upstream's own level, version and override
// selection deciding which checks run.
type upstreamEvaluator struct {
	eval   policy.Evaluator
	mu     sync.Mutex
	failed []string
}

func newUpstream(t testing.TB) *upstreamEvaluator {
	u := &upstreamEvaluator{}
	checks := policy.DefaultChecks()
	for i := range checks {
		id := string(checks[i].ID)
		for j := range checks[i].Versions {
			fn := checks[i].Versions[j].CheckPod
			checks[i].Versions[j].CheckPod = func(m *metav1.ObjectMeta, s *corev1.PodSpec) policy.CheckResult {
				r := fn(m, s)
				if !r.Allowed {
					u.failed = append(u.failed, id)
				}
				return r
			}
		}
	}
	e, err := policy.NewEvaluator(checks, nil)
	if err != nil {
		t.Fatal(err)
	}
	u.eval = e
	return u
}

func (u *upstreamEvaluator) failedChecks(level string, minor int, pod *corev1.Pod) []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.failed = nil
	lv := api.LevelVersion{Level: api.Level(level), Version: api.MajorMinorVersion(1, minor)}
	u.eval.EvaluatePod(lv, &pod.ObjectMeta, &pod.Spec)
	out := slices.Clone(u.failed)
	sort.Strings(out)
	return out
}

// TestDifferentialAgainstUpstream generates pods with random combinations of
// every security-relevant field and compares the failed check ids with the
// upstream Go evaluator's, for both levels and a random version each.
func TestDifferentialAgainstUpstream(t *testing.T) {
	u := newUpstream(t)
	rng := rand.New(rand.NewPCG(*diffSeed, 0x70116a7e))
	n := *diffN
	if testing.Short() {
		n = 1000
	}
	disagreements := 0
	for i := range n {
		pod := generatePod(rng, i)
		kubeobjects.DefaultPod(pod)
		minor := rng.IntN(int(38))
		for _, level := range []string{"baseline", "restricted"} {
			want := u.failedChecks(level, minor, pod)
			got := failedChecks(t, reviewer(t, level, versionName(minor)), pod)
			if !slices.Equal(got, want) {
				disagreements++
				if disagreements <= 10 {
					t.Errorf("pod %d (seed %d) at %s v1.%d: Tollgate failed %v, upstream failed %v\n%s",
						i, *diffSeed, level, minor, got, want, dump(pod))
				}
			}
		}
	}
	t.Logf("generated pods checked: %d (x2 levels), disagreements: %d (seed %d)", n, disagreements, *diffSeed)
}

func dump(p *corev1.Pod) string {
	b, _ := jsonMarshalIndent(p)
	return string(b)
}

// generatePod draws each security-relevant field from a small set of values
// that includes unset, empty, allowed and forbidden ones.
func generatePod(r *rand.Rand, i int) *corev1.Pod {
	p := &corev1.Pod{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("gen-%d", i)},
	}
	s := &p.Spec
	s.HostNetwork = r.IntN(8) == 0
	s.HostPID = r.IntN(10) == 0
	s.HostIPC = r.IntN(10) == 0
	s.HostUsers = pick(r, nil, ptr.To(true), ptr.To(false))
	if r.IntN(6) == 0 {
		s.OS = &corev1.PodOS{Name: pick(r, corev1.Linux, corev1.Windows)}
	}
	if r.IntN(5) > 0 {
		s.SecurityContext = &corev1.PodSecurityContext{
			RunAsNonRoot:    pick(r, nil, nil, ptr.To(true), ptr.To(false)),
			RunAsUser:       pick(r, nil, nil, ptr.To[int64](0), ptr.To[int64](1000)),
			SeccompProfile:  seccomp(r),
			SELinuxOptions:  selinux(r),
			AppArmorProfile: apparmor(r),
		}
		if r.IntN(6) == 0 {
			s.SecurityContext.WindowsOptions = &corev1.WindowsSecurityContextOptions{HostProcess: pick(r, nil, ptr.To(true), ptr.To(false))}
		}
		for range r.IntN(3) {
			s.SecurityContext.Sysctls = append(s.SecurityContext.Sysctls, corev1.Sysctl{Name: pick(r,
				"kernel.shm_rmid_forced", "net.ipv4.ip_local_reserved_ports", "net.ipv4.tcp_keepalive_time",
				"net.ipv4.tcp_rmem", "net.ipv4.tcp_notsent_lowat", "kernel.msgmax", "net.core.somaxconn"), Value: "1"})
		}
	}
	if r.IntN(4) == 0 {
		p.Annotations = map[string]string{}
		for range 1 + r.IntN(2) {
			k := pick(r, "seccomp.security.alpha.kubernetes.io/pod",
				"container.seccomp.security.alpha.kubernetes.io/c0",
				"container.apparmor.security.beta.kubernetes.io/c0",
				"container.apparmor.security.beta.kubernetes.io/i0")
			p.Annotations[k] = pick(r, "runtime/default", "docker/default", "localhost/prof", "unconfined", "")
		}
	}
	for j := range r.IntN(4) {
		s.Volumes = append(s.Volumes, volume(r, j))
	}
	for j := range r.IntN(3) {
		s.InitContainers = append(s.InitContainers, container(r, fmt.Sprintf("i%d", j)))
	}
	for j := range 1 + r.IntN(3) {
		s.Containers = append(s.Containers, container(r, fmt.Sprintf("c%d", j)))
	}
	for j := range r.IntN(2) {
		c := container(r, fmt.Sprintf("e%d", j))
		c.Ports, c.LivenessProbe, c.ReadinessProbe, c.StartupProbe, c.Lifecycle = nil, nil, nil, nil, nil
		s.EphemeralContainers = append(s.EphemeralContainers, corev1.EphemeralContainer{EphemeralContainerCommon: corev1.EphemeralContainerCommon(c)})
	}
	return p
}

func container(r *rand.Rand, name string) corev1.Container {
	c := corev1.Container{Name: name, Image: "registry.k8s.io/pause"}
	if r.IntN(5) > 0 {
		sc := &corev1.SecurityContext{
			Privileged:               pick(r, nil, nil, ptr.To(true), ptr.To(false)),
			AllowPrivilegeEscalation: pick(r, nil, ptr.To(true), ptr.To(false), ptr.To(false)),
			RunAsNonRoot:             pick(r, nil, nil, ptr.To(true), ptr.To(false)),
			RunAsUser:                pick(r, nil, nil, ptr.To[int64](0), ptr.To[int64](1000)),
			SeccompProfile:           seccomp(r),
			SELinuxOptions:           selinux(r),
			AppArmorProfile:          apparmor(r),
			ProcMount:                pick(r, nil, nil, ptr.To(corev1.DefaultProcMount), ptr.To(corev1.UnmaskedProcMount)),
		}
		if r.IntN(4) > 0 {
			sc.Capabilities = &corev1.Capabilities{}
			for range r.IntN(3) {
				sc.Capabilities.Drop = append(sc.Capabilities.Drop, pick[corev1.Capability](r, "ALL", "NET_RAW", "all"))
			}
			for range r.IntN(3) {
				sc.Capabilities.Add = append(sc.Capabilities.Add, pick[corev1.Capability](r, "NET_BIND_SERVICE", "CHOWN", "SYS_ADMIN", "NET_RAW"))
			}
		}
		if r.IntN(8) == 0 {
			sc.WindowsOptions = &corev1.WindowsSecurityContextOptions{HostProcess: pick(r, nil, ptr.To(true), ptr.To(false))}
		}
		c.SecurityContext = sc
	}
	if r.IntN(4) == 0 {
		c.Ports = []corev1.ContainerPort{{ContainerPort: 8000, HostPort: pick[int32](r, 0, 8000, 9090)}}
	}
	if r.IntN(5) == 0 {
		c.LivenessProbe = &corev1.Probe{ProbeHandler: handler(r)}
	}
	if r.IntN(8) == 0 {
		c.StartupProbe = &corev1.Probe{ProbeHandler: handler(r)}
	}
	if r.IntN(6) == 0 {
		h := handler(r)
		c.Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{HTTPGet: h.HTTPGet, TCPSocket: h.TCPSocket}}
	}
	return c
}

func handler(r *rand.Rand) corev1.ProbeHandler {
	host := pick(r, "", "", "10.0.0.1", "metadata.internal")
	if r.IntN(2) == 0 {
		return corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Host: host, Path: "/health"}}
	}
	return corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Host: host}}
}

func seccomp(r *rand.Rand) *corev1.SeccompProfile {
	switch r.IntN(5) {
	case 0, 1:
		return nil
	case 2:
		return &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	case 3:
		return &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeLocalhost, LocalhostProfile: ptr.To("p.json")}
	}
	return &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}
}

func apparmor(r *rand.Rand) *corev1.AppArmorProfile {
	switch r.IntN(6) {
	case 0, 1, 2:
		return nil
	case 3:
		return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeRuntimeDefault}
	case 4:
		return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeLocalhost, LocalhostProfile: ptr.To("p")}
	}
	return &corev1.AppArmorProfile{Type: corev1.AppArmorProfileTypeUnconfined}
}

func selinux(r *rand.Rand) *corev1.SELinuxOptions {
	if r.IntN(4) > 0 {
		return nil
	}
	return &corev1.SELinuxOptions{
		Type:  pick(r, "", "container_t", "container_engine_t", "spc_t"),
		User:  pick(r, "", "", "system_u"),
		Role:  pick(r, "", "", "system_r"),
		Level: pick(r, "", "s0:c1"),
	}
}

func volume(r *rand.Rand, j int) corev1.Volume {
	v := corev1.Volume{Name: fmt.Sprintf("v%d", j)}
	switch r.IntN(9) {
	case 0:
		v.HostPath = &corev1.HostPathVolumeSource{Path: "/var/lib"}
	case 1:
		v.NFS = &corev1.NFSVolumeSource{Server: "nfs", Path: "/"}
	case 2:
		v.AWSElasticBlockStore = &corev1.AWSElasticBlockStoreVolumeSource{VolumeID: "vol-1"}
	case 3:
		v.PersistentVolumeClaim = &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "models"}
	case 4:
		v.ConfigMap = &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "cfg"}}
	case 5:
		v.Image = &corev1.ImageVolumeSource{Reference: "models:v1"}
	case 6:
		v.EmptyDir = &corev1.EmptyDirVolumeSource{}
	case 7:
		v.CSI = &corev1.CSIVolumeSource{Driver: "fsx.csi.aws.com"}
	case 8:
		// no source: defaulted to emptyDir as the API server does
	}
	return v
}

func pick[T any](r *rand.Rand, xs ...T) T { return xs[r.IntN(len(xs))] }

// TestPrefilterChangesNothing: the review admission runs (upstream's
// evaluator first, the pss Rego only when it finds something) gives the
// same result, messages included, as the pss Rego alone: on every upstream
// fixture (about half of them pods that pass) and on generated pods, at
// both levels and every version.
func TestPrefilterChangesNothing(t *testing.T) {
	compare := func(name, level string, minor int, raw []byte) bool {
		cfg := config.Default()
		cfg.PSS = config.PSS{Level: level, Version: versionName(minor)}
		var out [2]string
		for j, opts := range [][]review.Option{nil, {review.WithoutPSSPrefilter()}} {
			r, err := review.New(embeddedEngine(t), cfg, state.NewStatic(), opts...)
			if err != nil {
				t.Fatal(err)
			}
			o, err := kubeobjects.Decode(raw, true)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			res, err := r.Review(context.Background(), &review.Request{Object: o, Operation: "CREATE"})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(res)
			out[j] = string(b)
		}
		if out[0] != out[1] {
			t.Errorf("%s at %s v1.%d: with the prefilter\n%s\nwithout\n%s", name, level, minor, out[0], out[1])
		}
		return !strings.Contains(out[1], `"policy":"pss.`)
	}
	reviews, clean := 0, 0
	root := upstreamTestdata(t)
	files, _ := filepath.Glob(filepath.Join(root, "*", "*", "*", "*.yaml"))
	for _, f := range files {
		rel, _ := filepath.Rel(root, f)
		parts := strings.Split(rel, string(filepath.Separator))
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		raw, err := yaml.YAMLToJSON(b)
		if err != nil {
			t.Fatal(err)
		}
		reviews++
		if compare(rel, parts[0], minorOf(parts[1]), raw) {
			clean++
		}
	}
	rng := rand.New(rand.NewPCG(*diffSeed+1, 0x70116a7e))
	n := *diffN / 10
	if testing.Short() {
		n = 100
	}
	for i := range n {
		pod := generatePod(rng, i)
		kubeobjects.DefaultPod(pod)
		raw, err := json.Marshal(pod)
		if err != nil {
			t.Fatal(err)
		}
		minor := rng.IntN(38)
		for _, level := range []string{"baseline", "restricted"} {
			reviews++
			if compare(fmt.Sprintf("generated pod %d", i), level, minor, raw) {
				clean++
			}
		}
	}
	t.Logf("%d reviews compared, %d without a pss finding (the prefilter answered for them)", reviews, clean)
	if clean < 500 {
		t.Errorf("only %d of %d reviews were clean: the prefilter's own path is hardly tested", clean, reviews)
	}
}
