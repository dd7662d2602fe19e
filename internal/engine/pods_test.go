package engine_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Pods for the engine's own tests, built as maps in the shape of
// docs/policy-input.md, so that these tests depend on nothing but the engine
// and the embedded bundle.

// features says which violations a generated container carries; every
// field is one PSS check (or another family's) that finds it.
type features struct {
	privileged, escalation, capsAdd, noDrop, hostPorts, procMount    bool
	runAsRoot, runAsUser0, seLinux, seccomp, appArmor, hostProcess   bool
	probeHost, lifecycleHost, gpu, mixedMIG, annotations, sharedName bool
	training                                                         bool
	ports, env                                                       int
}

// every carries every violation there is, with two host ports and five
// environment variables per container.
var every = features{
	privileged: true, escalation: true, capsAdd: true, noDrop: true, hostPorts: true, procMount: true,
	runAsRoot: true, runAsUser0: true, seLinux: true, seccomp: true, appArmor: true, hostProcess: true,
	probeHost: true, lifecycleHost: true, gpu: true, mixedMIG: true, annotations: true,
	ports: 2, env: 5,
}

// container builds container i with the features f.
func container(i int, f features) map[string]any {
	name := fmt.Sprintf("c-%d", i)
	if f.sharedName && i%3 == 0 {
		// Names repeat (the API server refuses it, a manifest may not).
		name = "shared"
	}
	sc := map[string]any{}
	c := map[string]any{"name": name, "image": "vllm/vllm-openai:v0.6.3", "securityContext": sc}
	if f.privileged {
		sc["privileged"] = true
	}
	if f.escalation {
		sc["allowPrivilegeEscalation"] = true
	} else {
		sc["allowPrivilegeEscalation"] = false
	}
	caps := map[string]any{}
	if f.capsAdd {
		caps["add"] = []any{"SYS_ADMIN", "NET_RAW", fmt.Sprintf("CAP_%d", i%7), "CHOWN"}
	}
	if !f.noDrop {
		caps["drop"] = []any{"ALL"}
	}
	sc["capabilities"] = caps
	if f.procMount {
		sc["procMount"] = "Unmasked"
	}
	if f.runAsRoot {
		sc["runAsNonRoot"] = false
	}
	if f.runAsUser0 {
		sc["runAsUser"] = 0
	}
	if f.seLinux {
		sc["seLinuxOptions"] = map[string]any{"type": fmt.Sprintf("spc_%d_t", i%5), "user": "sysadm_u", "role": "sysadm_r"}
	}
	if f.seccomp {
		sc["seccompProfile"] = map[string]any{"type": "Unconfined"}
	} else {
		sc["seccompProfile"] = map[string]any{"type": "RuntimeDefault"}
	}
	if f.appArmor {
		sc["appArmorProfile"] = map[string]any{"type": "Unconfined"}
	}
	if f.hostProcess {
		sc["windowsOptions"] = map[string]any{"hostProcess": true}
	}
	var ports []any
	for j := range f.ports {
		p := map[string]any{"containerPort": 8000 + j, "protocol": "TCP"}
		if f.hostPorts {
			p["hostPort"] = 8000 + (i*f.ports+j)%50000
		}
		ports = append(ports, p)
	}
	if len(ports) > 0 {
		c["ports"] = ports
	}
	var env []any
	for j := range f.env {
		env = append(env, map[string]any{"name": fmt.Sprintf("VAR_%d", j), "value": fmt.Sprintf("value-%d-%d", i, j)})
	}
	if len(env) > 0 {
		c["env"] = env
	}
	if f.probeHost {
		c["livenessProbe"] = map[string]any{"httpGet": map[string]any{"host": fmt.Sprintf("10.0.%d.%d", i/250%250, i%250), "path": "/health", "port": 8000}}
		c["readinessProbe"] = map[string]any{"tcpSocket": map[string]any{"host": "metadata.internal", "port": 8000}}
	}
	if f.lifecycleHost {
		c["lifecycle"] = map[string]any{
			"preStop":   map[string]any{"httpGet": map[string]any{"host": "drain.internal", "path": "/drain", "port": 9000}},
			"postStart": map[string]any{"tcpSocket": map[string]any{"host": fmt.Sprintf("h%d.internal", i%11), "port": 9000}},
		}
	}
	if f.gpu {
		limits := map[string]any{"nvidia.com/gpu": "1", "memory": "32Gi"}
		if f.mixedMIG {
			limits["nvidia.com/mig-1g.5gb"] = "1"
		}
		c["resources"] = map[string]any{"limits": limits, "requests": limits}
	}
	c["volumeMounts"] = []any{map[string]any{"name": fmt.Sprintf("v-%d", i), "mountPath": "/data"}}
	return c
}

// pod builds a pod of n containers (a tenth of them init containers, a
// tenth ephemeral) with the features f, n volumes (hostPath and nfs when
// f has violations) and n sysctls.
func pod(n int, f features) map[string]any {
	var inits, apps, ephemerals []any
	annotations := map[string]any{"tollgate.dev/mig-profile": "9g.99gb"}
	for i := range n {
		c := container(i, f)
		switch i % 10 {
		case 1:
			inits = append(inits, c)
		case 2:
			ephemerals = append(ephemerals, c)
		default:
			apps = append(apps, c)
		}
		if f.annotations {
			annotations["container.apparmor.security.beta.kubernetes.io/"+c["name"].(string)] = "unconfined"
			annotations["container.seccomp.security.alpha.kubernetes.io/"+c["name"].(string)] = "unconfined"
		}
	}
	var volumes, sysctls []any
	for i := range n {
		v := map[string]any{"name": fmt.Sprintf("v-%d", i)}
		switch {
		case f.annotations && i%2 == 0:
			v["hostPath"] = map[string]any{"path": fmt.Sprintf("/var/lib/%d", i)}
		case f.annotations:
			v["nfs"] = map[string]any{"server": "nfs.internal", "path": "/"}
		default:
			v["emptyDir"] = map[string]any{}
		}
		volumes = append(volumes, v)
		if f.annotations {
			sysctls = append(sysctls, map[string]any{"name": fmt.Sprintf("kernel.msg%d", i), "value": "1"})
		}
	}
	psc := map[string]any{}
	spec := map[string]any{"containers": apps, "volumes": volumes, "securityContext": psc}
	if len(inits) > 0 {
		spec["initContainers"] = inits
	}
	if len(ephemerals) > 0 {
		spec["ephemeralContainers"] = ephemerals
	}
	if f.annotations {
		spec["hostNetwork"], spec["hostPID"], spec["hostIPC"] = true, true, true
		spec["nodeSelector"] = map[string]any{"karpenter.sh/capacity-type": "spot"}
		spec["terminationGracePeriodSeconds"] = 600
		psc["sysctls"] = sysctls
		psc["runAsUser"] = 0
		psc["seccompProfile"] = map[string]any{"type": "Unconfined"}
		psc["seLinuxOptions"] = map[string]any{"type": "spc_t"}
		psc["appArmorProfile"] = map[string]any{"type": "Unconfined"}
		annotations["seccomp.security.alpha.kubernetes.io/pod"] = "unconfined"
	}
	labels := map[string]any{"app": "hostile"}
	if f.training {
		labels["workload"] = "ml-training"
	}
	return map[string]any{
		"apiVersion": "v1",
		"kind":       "Pod",
		"metadata": map[string]any{
			"name": "hostile", "namespace": "ai-inference",
			"labels": labels, "annotations": annotations,
		},
		"spec": spec,
	}
}

// randomPod builds a pod of up to 6 containers with random features, for
// the golden findings: every check, alone and together, with repeated
// names and ports.
func randomPod(r *rand.Rand) map[string]any {
	n := 1 + r.IntN(6)
	flip := func() bool { return r.IntN(3) == 0 }
	var inits, apps []any
	annotations := map[string]any{}
	for i := range n {
		f := features{
			privileged: flip(), escalation: flip(), capsAdd: flip(), noDrop: flip(), hostPorts: flip(), procMount: flip(),
			runAsRoot: flip(), runAsUser0: flip(), seLinux: flip(), seccomp: flip(), appArmor: flip(), hostProcess: flip(),
			probeHost: flip(), lifecycleHost: flip(), gpu: flip(), mixedMIG: flip(), sharedName: flip(),
			ports: r.IntN(3), env: r.IntN(2),
		}
		c := container(i, f)
		if i > 0 && r.IntN(2) == 0 {
			inits = append(inits, c)
		} else {
			apps = append(apps, c)
		}
		if flip() {
			annotations["container.apparmor.security.beta.kubernetes.io/"+c["name"].(string)] = "unconfined"
		}
		if flip() {
			annotations["container.seccomp.security.alpha.kubernetes.io/"+c["name"].(string)] = "unconfined"
		}
	}
	psc := map[string]any{}
	spec := map[string]any{"containers": apps, "securityContext": psc}
	if len(inits) > 0 {
		spec["initContainers"] = inits
	}
	var volumes []any
	for i := range r.IntN(4) {
		v := map[string]any{"name": fmt.Sprintf("v-%d", i)}
		switch r.IntN(4) {
		case 0:
			v["hostPath"] = map[string]any{"path": "/var"}
		case 1:
			v["nfs"] = map[string]any{"server": "nfs", "path": "/"}
		default:
			v["emptyDir"] = map[string]any{}
		}
		volumes = append(volumes, v)
	}
	if len(volumes) > 0 {
		spec["volumes"] = volumes
	}
	for _, f := range []string{"hostNetwork", "hostPID", "hostIPC"} {
		if flip() {
			spec[f] = true
		}
	}
	if flip() {
		psc["sysctls"] = []any{map[string]any{"name": "kernel.msgmax", "value": "1"}, map[string]any{"name": "net.ipv4.tcp_syncookies", "value": "1"}}
	}
	if flip() {
		psc["runAsNonRoot"] = r.IntN(2) == 0
	}
	if flip() {
		psc["runAsUser"] = r.IntN(2)
	}
	if flip() {
		psc["seccompProfile"] = map[string]any{"type": pickString(r, "Unconfined", "RuntimeDefault", "Localhost")}
	}
	if flip() {
		psc["seLinuxOptions"] = map[string]any{"type": pickString(r, "spc_t", "container_t")}
	}
	if flip() {
		psc["appArmorProfile"] = map[string]any{"type": pickString(r, "Unconfined", "RuntimeDefault")}
	}
	if flip() {
		psc["windowsOptions"] = map[string]any{"hostProcess": true}
	}
	if flip() {
		annotations["seccomp.security.alpha.kubernetes.io/pod"] = pickString(r, "unconfined", "runtime/default")
	}
	if flip() {
		spec["hostUsers"] = false
	}
	if flip() {
		spec["os"] = map[string]any{"name": "windows"}
	}
	return map[string]any{
		"apiVersion": "v1",
		"kind":       "Pod",
		"metadata":   map[string]any{"name": "random", "namespace": "ai-inference", "annotations": annotations},
		"spec":       spec,
	}
}

func pickString(r *rand.Rand, xs ...string) string { return xs[r.IntN(len(xs))] }

var containerFields = []string{"initContainers", "containers", "ephemeralContainers"}

// podInput is the input document of a Pod review at a PSS level and
// version (docs/policy-input.md), with GPU quota state.
func podInput(t testing.TB, p map[string]any, level string, version int) ast.Value {
	t.Helper()
	spec := p["spec"].(map[string]any)
	var cs, paths []any
	for _, f := range containerFields {
		list, _ := spec[f].([]any)
		for i, c := range list {
			cs = append(cs, c)
			paths = append(paths, fmt.Sprintf("spec.%s[%d]", f, i))
		}
	}
	in := map[string]any{
		"kind":      map[string]any{"group": "", "version": "v1", "kind": "Pod"},
		"object":    p,
		"request":   map[string]any{"operation": "CREATE", "userInfo": map[string]any{"username": "alice", "groups": []any{"system:authenticated"}}},
		"namespace": map[string]any{"name": "ai-inference", "labels": map[string]any{}, "annotations": map[string]any{}},
		"pod":       map[string]any{"metadata": p["metadata"], "spec": spec, "containers": cs, "containerPaths": paths},
		"pss":       map[string]any{"level": level, "version": version},
		"state": map[string]any{
			"pdbs":      []any{},
			"nodepools": []any{},
			"quota":     map[string]any{"requested": len(cs), "declared": true, "limit": 4, "used": 2, "source": "ResourceQuota gpu-quota, requests.nvidia.com/gpu"},
		},
	}
	v, err := ast.InterfaceToValue(in)
	if err != nil {
		t.Fatal(err)
	}
	return v
}
