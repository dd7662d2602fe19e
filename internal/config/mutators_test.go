package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestMutatorsDefaultsValid(t *testing.T) {
	m := Default().Mutators
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if !m.GPUTolerations.Enabled || !m.Credentials.Enabled || !m.Drain.Enabled || !m.MIG.Enabled {
		t.Error("every mutator is on by default")
	}
}

func TestMutatorsValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Mutators)
		want   string
	}{
		{"toleration without key", func(m *Mutators) { m.GPUTolerations.Tolerations = []corev1.Toleration{{Value: "x"}} },
			"mutators.gpuTolerations.tolerations[0]: a toleration without key must use operator Exists"},
		{"exists with value", func(m *Mutators) {
			m.GPUTolerations.TrainingTolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Value: "v"}}
		}, "mutators.gpuTolerations.trainingTolerations[0]: operator Exists takes no value"},
		{"short token", func(m *Mutators) { m.Credentials.TokenExpirationSeconds = 60 },
			"mutators.credentials.tokenExpirationSeconds: 60 is below the 600 seconds the API server accepts"},
		{"association key", func(m *Mutators) {
			m.Credentials.Associations = map[string]string{"vllm-sa": "arn:aws:iam::123456789012:role/r"}
		},
			`mutators.credentials.associations: key "vllm-sa" is not namespace/serviceAccount`},
		{"association ARN", func(m *Mutators) { m.Credentials.Associations = map[string]string{"ai/vllm": "role/r"} },
			`mutators.credentials.associations[ai/vllm]: "role/r" is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)`},
		{"eks without cluster", func(m *Mutators) { m.Credentials.EKS.Enabled = true },
			"mutators.credentials.eks.clusterName: required when credentials.eks.enabled is set"},
		{"drain action", func(m *Mutators) { m.Drain.Action = "wait" }, `mutators.drain.action: "wait": want auto, sleep or exec`},
		{"kubernetes version", func(m *Mutators) { m.Drain.KubernetesVersion = "1.x" }, `mutators.drain.kubernetesVersion: invalid Kubernetes version "1.x" (want 1.N)`},
		{"missing class", func(m *Mutators) { delete(m.Drain.Classes, ClassBatch) }, "mutators.drain.classes: class batch is missing"},
		{"grace past notice", func(m *Mutators) {
			m.Drain.Classes[ClassBatch] = DrainClass{PreStopSleepSeconds: 5, TerminationGracePeriodSeconds: 150}
		},
			"mutators.drain.classes.batch.terminationGracePeriodSeconds: 150 exceeds the 120s Spot notice"},
		{"grace below sleep", func(m *Mutators) {
			m.Drain.Classes[ClassInference] = DrainClass{PreStopSleepSeconds: 60, TerminationGracePeriodSeconds: 30}
		},
			"mutators.drain.classes.inference.terminationGracePeriodSeconds: 30 must exceed the preStop sleep of 60s, or the container is killed while it drains"},
		{"strategy", func(m *Mutators) { m.MIG.Strategy = "none" }, `mutators.mig.strategy: "none": want mixed or single`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := Default().Mutators
			tc.change(&m)
			err := m.Validate()
			if err == nil || err.Error() != tc.want {
				t.Errorf("error %v, want %q", err, tc.want)
			}
		})
	}
}

func TestMutatorsFromFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tollgate.yaml")
	doc := `mutators:
  credentials:
    region: us-west-2
    associations:
      ai-inference/vllm-sa: arn:aws:iam::123456789012:role/vllm
  drain:
    kubernetesVersion: "1.29"
    classes:
      batch: {preStopSleepSeconds: 10, terminationGracePeriodSeconds: 100}
  mig:
    strategy: single
`
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	m := c.Mutators
	if m.Credentials.Region != "us-west-2" || m.Credentials.Audience != "sts.amazonaws.com" || m.Drain.KubernetesVersion != "1.29" || m.MIG.Strategy != MIGSingle {
		t.Errorf("file over defaults: %+v", m)
	}
	if m.Drain.Classes[ClassBatch].TerminationGracePeriodSeconds != 100 || m.Drain.Classes[ClassInference].PreStopSleepSeconds != 30 {
		t.Errorf("classes merge over the defaults: %+v", m.Drain.Classes)
	}
	if err := m.Validate(); err != nil {
		t.Error(err)
	}
	if err := os.WriteFile(path, []byte("mutators:\n  drain:\n    sleepSeconds: 3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || !strings.Contains(err.Error(), "sleepSeconds") {
		t.Errorf("unknown field: %v", err)
	}
}

func TestParseKubernetesVersion(t *testing.T) {
	for in, want := range map[string]int{"1.31": 31, "v1.29.4": 29, "1.30+": 30, " v1.37 ": 37} {
		if got, err := ParseKubernetesVersion(in); err != nil || got != want {
			t.Errorf("%q: %d %v, want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "2.1", "1", "1.x", "v1.-1"} {
		if _, err := ParseKubernetesVersion(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}
