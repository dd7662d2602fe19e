package bench

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/tollgate-dev/tollgate/internal/controlplane"
)

// Machine describes where a run took place.
type Machine struct {
	CPU    string `json:"cpu"`
	Nproc  string `json:"nproc"`
	Memory string `json:"memory"`
	Kernel string `json:"kernel"`
	Go     string `json:"go"`
	// OPASDK is the OPA Go module Tollgate is built with; OPACLI the
	// `opa` the comparison runs.
	OPASDK     string `json:"opaSDK"`
	OPACLI     string `json:"opaCLI"`
	Kubernetes string `json:"kubernetes"`
}

// ReadMachine reads the machine's description from /proc and the build.
func ReadMachine() Machine {
	m := Machine{
		CPU:        procField("/proc/cpuinfo", "model name"),
		Memory:     memTotal(),
		Go:         runtime.Version(),
		OPACLI:     OPAVersion,
		Kubernetes: "kube-apiserver " + controlplane.KubernetesVersion + ", etcd " + controlplane.EtcdVersion,
	}
	if out, err := exec.Command("nproc").Output(); err == nil {
		m.Nproc = strings.TrimSpace(string(out))
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/open-policy-agent/opa" {
				m.OPASDK = d.Version
			}
		}
	}
	return m
}

// memTotal returns the machine's memory in GiB.
func memTotal() string {
	v := strings.TrimSuffix(procField("/proc/meminfo", "MemTotal"), " kB")
	kb, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return v
	}
	return fmt.Sprintf("%.1f GiB", kb/(1<<20))
}

// procField returns the first value of a "key: value" line of a /proc file.
func procField(path, key string) string {
	f, err := os.Open(path)
	if err != nil {
		return "unknown"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// loadAverage returns the 1, 5 and 15 minute load averages.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
