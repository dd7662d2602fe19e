package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// An operator bundle that compiles can still fail on every object: a
// helper that conflicts on common input, a comprehension that divides by a
// count of zero under strict errors. Before an engine with operator policies
// is used (at start, and before a reload swaps it in), it is evaluated on a
// small canary corpus of ordinary objects of every target; a policy that
// fails there is refused with the case and the error, and a reload keeps the
// engine in use.

// CanaryCase is one input of the canary corpus.
type CanaryCase struct {
	Name     string
	Selector Selector
	Input    ast.Value
}

// ErrCanary wraps the error of a bundle that fails its canary corpus.
var ErrCanary = errors.New("canary")

// Smoke evaluates every case of corpus (DefaultCanary when nil) and returns
// an error naming each policy that failed to evaluate, and on which case.
func (e *Engine) Smoke(ctx context.Context, corpus []CanaryCase) error {
	if corpus == nil {
		corpus = DefaultCanary()
	}
	var problems []string
	failed := map[string]bool{}
	for _, c := range corpus {
		fs, err := e.Evaluate(ctx, c.Selector, c.Input)
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			problems = append(problems, fmt.Sprintf("%s: %v", c.Name, err))
			continue
		}
		for _, f := range fs {
			if f.Err == nil || failed[f.Policy.ID] {
				continue
			}
			// One case per policy is enough to say what is wrong.
			failed[f.Policy.ID] = true
			var pe *PolicyError
			cause := f.Err
			if errors.As(f.Err, &pe) {
				cause = pe.Err
			}
			problems = append(problems, fmt.Sprintf("%s: policy %s fails on the canary %q: %v", f.Policy.File, f.Policy.ID, c.Name, cause))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrCanary, strings.Join(problems, "; "))
	}
	return nil
}

// DefaultCanary is the built-in canary corpus: for every target an ordinary
// object and one that violates the embedded policies, in the shape of
// docs/policy-input.md, at each Pod Security Standards level.
func DefaultCanary() []CanaryCase {
	var out []CanaryCase
	add := func(name string, sel Selector, in map[string]any) {
		v, err := ast.InterfaceToValue(in)
		if err != nil {
			panic(fmt.Sprintf("canary %s: %v", name, err)) // built from literals
		}
		out = append(out, CanaryCase{Name: name, Selector: sel, Input: v})
	}
	for _, level := range []string{"privileged", "baseline", "restricted"} {
		for _, bad := range []bool{false, true} {
			name := "ordinary pod"
			if bad {
				name = "privileged GPU pod"
			}
			p := canaryPod(bad)
			add(fmt.Sprintf("%s, %s", name, level), Selector{Target: TargetPod, Level: level, Version: LatestPSSVersion},
				canaryPodInput("Pod", p, nil, level, bad))
			d := map[string]any{
				"apiVersion": "apps/v1", "kind": "Deployment",
				"metadata": map[string]any{"name": "inference", "namespace": "ai"},
				"spec": map[string]any{"replicas": 3, "template": map[string]any{
					"metadata": p["metadata"], "spec": p["spec"],
				}},
			}
			add(fmt.Sprintf("Deployment of the %s, %s", name, level), Selector{Target: TargetTemplate, Level: level, Version: LatestPSSVersion},
				canaryPodInput("Deployment", d, map[string]any{"kind": "Deployment", "replicas": 3, "templatePath": "spec.template"}, level, bad))
		}
	}
	add("NodePool", Selector{Target: TargetNodePool}, canaryEnvelope("karpenter.sh", "v1", "NodePool", canaryNodePool(), map[string]any{}))
	add("EC2NodeClass", Selector{Target: TargetNodeClass}, canaryEnvelope("karpenter.k8s.aws", "v1", "EC2NodeClass", map[string]any{
		"apiVersion": "karpenter.k8s.aws/v1", "kind": "EC2NodeClass",
		"metadata": map[string]any{"name": "gpu"},
		"spec": map[string]any{
			"role":                       "KarpenterNodeRole-canary",
			"amiSelectorTerms":           []any{map[string]any{"alias": "al2023@latest"}},
			"subnetSelectorTerms":        []any{map[string]any{"tags": map[string]any{"karpenter.sh/discovery": "canary"}}},
			"securityGroupSelectorTerms": []any{map[string]any{"tags": map[string]any{"karpenter.sh/discovery": "canary"}}},
			"blockDeviceMappings":        []any{map[string]any{"deviceName": "/dev/xvda", "ebs": map[string]any{"volumeSize": "200Gi"}}},
			"metadataOptions":            map[string]any{"httpTokens": "optional", "httpPutResponseHopLimit": 2},
		},
	}, map[string]any{}))
	add("S3 Bucket", Selector{Target: TargetS3Bucket}, canaryEnvelope("s3.services.k8s.aws", "v1alpha1", "Bucket", map[string]any{
		"apiVersion": "s3.services.k8s.aws/v1alpha1", "kind": "Bucket",
		"metadata": map[string]any{"name": "models", "namespace": "ai"},
		"spec":     map[string]any{"name": "models"},
	}, map[string]any{}))
	doc := map[string]any{"Version": "2012-10-17", "Statement": []any{
		map[string]any{"Effect": "Allow", "Action": []any{"s3:*", "iam:PassRole", "kms:Decrypt", "secretsmanager:GetSecretValue"}, "NotAction": []any{}, "Resource": []any{"*"}, "NotResource": []any{}, "Condition": map[string]any{}},
		map[string]any{"Effect": "Allow", "Action": []any{"s3:PutObject"}, "NotAction": []any{}, "Resource": []any{"arn:aws:s3:::models/*"}, "NotResource": []any{}, "Condition": map[string]any{}},
	}}
	trust := map[string]any{"Version": "2012-10-17", "Statement": []any{
		map[string]any{"Effect": "Allow", "Principal": map[string]any{"Service": []any{"pods.eks.amazonaws.com"}}, "Action": []any{"sts:AssumeRole", "sts:TagSession"}, "NotAction": []any{}, "Resource": []any{}, "NotResource": []any{}, "Condition": map[string]any{}},
	}}
	// The effective grants of doc, as internal/iam/effective computes them
	// (the engine cannot import it: it imports the engine).
	var grants []any
	if err := json.Unmarshal([]byte(canaryGrants), &grants); err != nil {
		panic(err)
	}
	add("IAM Role", Selector{Target: TargetIAMRole}, canaryEnvelope("iam.services.k8s.aws", "v1alpha1", "Role", map[string]any{
		"apiVersion": "iam.services.k8s.aws/v1alpha1", "kind": "Role",
		"metadata": map[string]any{"name": "inference", "namespace": "ai"},
		"spec":     map[string]any{"name": "inference", "inlinePolicies": map[string]any{"s3": "{}"}},
	}, map[string]any{"iam": map[string]any{
		"status": "ok", "role": "inference",
		"policies":    []any{map[string]any{"kind": "inline", "name": "s3", "path": "spec.inlinePolicies.s3", "document": doc}},
		"grants":      grants,
		"trustPolicy": trust,
	}}))
	add("IAM Policy", Selector{Target: TargetIAMPolicy}, canaryEnvelope("iam.services.k8s.aws", "v1alpha1", "Policy", map[string]any{
		"apiVersion": "iam.services.k8s.aws/v1alpha1", "kind": "Policy",
		"metadata": map[string]any{"name": "models", "namespace": "ai"},
		"spec":     map[string]any{"name": "models", "policyDocument": "{}"},
	}, map[string]any{"iam": map[string]any{
		"status":   "ok",
		"policies": []any{map[string]any{"kind": "managed", "name": "models", "path": "spec.policyDocument", "document": doc}},
		"grants":   grants,
	}}))
	add("IAM unknown", Selector{Target: TargetIAMPolicy}, canaryEnvelope("iam.services.k8s.aws", "v1alpha1", "Policy", map[string]any{
		"apiVersion": "iam.services.k8s.aws/v1alpha1", "kind": "Policy",
		"metadata": map[string]any{"name": "models", "namespace": "ai"},
		"spec":     map[string]any{"name": "models"},
	}, map[string]any{"iam": map[string]any{"status": "unknown", "reason": "no AWS credentials are configured"}}))
	drift := canaryEnvelope("", "v1", "Pod", canaryPod(false), map[string]any{})
	drift["drift"] = map[string]any{
		"patch": []any{map[string]any{
			"op": "add", "path": "/spec/tolerations/-", "field": "spec.tolerations",
			"value": map[string]any{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"},
		}},
		"containers": map[string]any{"spec.containers[0]": "vllm"},
	}
	add("drift", Selector{Target: TargetDrift}, drift)
	return out
}

func canaryEnvelope(group, version, kind string, obj map[string]any, state map[string]any) map[string]any {
	ns, _ := obj["metadata"].(map[string]any)["namespace"].(string)
	return map[string]any{
		"kind":      map[string]any{"group": group, "version": version, "kind": kind},
		"object":    obj,
		"request":   map[string]any{"operation": "CREATE", "userInfo": map[string]any{"username": "alice", "groups": []any{"system:authenticated"}}},
		"namespace": map[string]any{"name": ns, "labels": map[string]any{}, "annotations": map[string]any{}},
		"pss":       map[string]any{"level": "restricted", "version": int(LatestPSSVersion)},
		"state":     state,
	}
}

func canaryPodInput(kind string, obj map[string]any, workload map[string]any, level string, gpu bool) map[string]any {
	p := obj
	group, version := "", "v1"
	if kind != "Pod" {
		group, version = "apps", "v1"
		p = obj["spec"].(map[string]any)["template"].(map[string]any)
	}
	spec := p["spec"].(map[string]any)
	var cs, paths []any
	for _, f := range []string{"initContainers", "containers", "ephemeralContainers"} {
		list, _ := spec[f].([]any)
		for i, c := range list {
			cs = append(cs, c)
			paths = append(paths, fmt.Sprintf("spec.%s[%d]", f, i))
		}
	}
	state := map[string]any{"pdbs": []any{}}
	if gpu {
		state["quota"] = map[string]any{"requested": 1, "declared": true, "limit": 4, "used": 4, "source": "ResourceQuota gpu-quota, requests.nvidia.com/gpu"}
		state["nodepools"] = []any{canaryNodePool()}
	}
	in := canaryEnvelope(group, version, kind, obj, state)
	in["pss"] = map[string]any{"level": level, "version": int(LatestPSSVersion)}
	in["pod"] = map[string]any{"metadata": p["metadata"], "spec": spec, "containers": cs, "containerPaths": paths}
	if workload != nil {
		in["workload"] = workload
	}
	return in
}

// canaryPod is an inference pod: ordinary (restricted-clean, no GPU), or
// privileged with host namespaces, host ports, added capabilities, a GPU and
// a Spot selector.
func canaryPod(bad bool) map[string]any {
	c := map[string]any{
		"name": "vllm", "image": "vllm/vllm-openai:v0.6.3",
		"ports": []any{map[string]any{"containerPort": 8000, "protocol": "TCP"}},
		"securityContext": map[string]any{
			"allowPrivilegeEscalation": false, "runAsNonRoot": true,
			"capabilities":   map[string]any{"drop": []any{"ALL"}},
			"seccompProfile": map[string]any{"type": "RuntimeDefault"},
		},
		"resources": map[string]any{"requests": map[string]any{"cpu": "1", "memory": "1Gi"}},
	}
	spec := map[string]any{"containers": []any{c}, "serviceAccountName": "default"}
	meta := map[string]any{"name": "vllm", "namespace": "ai", "labels": map[string]any{"app": "vllm"}, "annotations": map[string]any{}}
	if bad {
		c["securityContext"] = map[string]any{
			"privileged": true, "runAsUser": 0,
			"capabilities": map[string]any{"add": []any{"SYS_ADMIN", "NET_RAW"}},
		}
		c["ports"] = []any{map[string]any{"containerPort": 8000, "hostPort": 8000, "protocol": "TCP"}}
		gpu := map[string]any{"nvidia.com/gpu": "1"}
		c["resources"] = map[string]any{"requests": gpu, "limits": gpu}
		c["livenessProbe"] = map[string]any{"httpGet": map[string]any{"host": "10.0.0.1", "path": "/health", "port": 8000}}
		spec["hostNetwork"], spec["hostPID"] = true, true
		spec["nodeSelector"] = map[string]any{"karpenter.sh/capacity-type": "spot"}
		spec["tolerations"] = []any{map[string]any{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}}
		spec["volumes"] = []any{map[string]any{"name": "host", "hostPath": map[string]any{"path": "/var/run"}}}
		spec["initContainers"] = []any{map[string]any{"name": "init", "image": "busybox:1.36", "volumeMounts": []any{map[string]any{"name": "host", "mountPath": "/host"}}}}
		meta["annotations"] = map[string]any{"tollgate.dev/mig-profile": "3g.40gb"}
		meta["labels"] = map[string]any{"app": "vllm", "workload": "ml-training"}
	}
	return map[string]any{"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec}
}

func canaryNodePool() map[string]any {
	return map[string]any{
		"apiVersion": "karpenter.sh/v1", "kind": "NodePool",
		"metadata": map[string]any{"name": "gpu", "labels": map[string]any{}},
		"spec": map[string]any{
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{}},
				"spec": map[string]any{
					"nodeClassRef": map[string]any{"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": "default"},
					"requirements": []any{
						map[string]any{"key": "karpenter.sh/capacity-type", "operator": "In", "values": []any{"spot", "on-demand"}},
						map[string]any{"key": "node.kubernetes.io/instance-type", "operator": "In", "values": []any{"p4d.24xlarge", "g5.xlarge"}},
					},
					"taints": []any{map[string]any{"key": "nvidia.com/gpu", "effect": "NoSchedule"}},
				},
			},
			"limits": map[string]any{"nvidia.com/gpu": "16"},
		},
	}
}

// canaryGrants are the effective grants of the canary's identity policy
// (go test ./internal/engine -run TestCanaryGrantsAreEffective checks them
// against internal/iam/effective).
const canaryGrants = `[{"pi":0,"index":0,"action":{"pattern":"s3:*","text":"s3:*","glob":"s3:*","except":[],"except_globs":[],"service":"s3","wild_service":false},"resource":{"pattern":"*","text":"*","glob":"*","except":[],"except_globs":[],"wild_service":false},"statement":"s3:* on *","limited":false,"limited_by":[],"conditions":[],"conditional":false,"deny_notes":[]},{"pi":0,"index":0,"action":{"pattern":"iam:passrole","text":"iam:PassRole","glob":"iam:passrole","except":[],"except_globs":[],"service":"iam","wild_service":false},"resource":{"pattern":"*","text":"*","glob":"*","except":[],"except_globs":[],"wild_service":false},"statement":"iam:PassRole on *","limited":false,"limited_by":[],"conditions":[],"conditional":false,"deny_notes":[]},{"pi":0,"index":0,"action":{"pattern":"kms:decrypt","text":"kms:Decrypt","glob":"kms:decrypt","except":[],"except_globs":[],"service":"kms","wild_service":false},"resource":{"pattern":"*","text":"*","glob":"*","except":[],"except_globs":[],"wild_service":false},"statement":"kms:Decrypt on *","limited":false,"limited_by":[],"conditions":[],"conditional":false,"deny_notes":[]},{"pi":0,"index":0,"action":{"pattern":"secretsmanager:getsecretvalue","text":"secretsmanager:GetSecretValue","glob":"secretsmanager:getsecretvalue","except":[],"except_globs":[],"service":"secretsmanager","wild_service":false},"resource":{"pattern":"*","text":"*","glob":"*","except":[],"except_globs":[],"wild_service":false},"statement":"secretsmanager:GetSecretValue on *","limited":false,"limited_by":[],"conditions":[],"conditional":false,"deny_notes":[]},{"pi":0,"index":1,"action":{"pattern":"s3:putobject","text":"s3:PutObject","glob":"s3:putobject","except":[],"except_globs":[],"service":"s3","wild_service":false},"resource":{"pattern":"arn:aws:s3:::models/*","text":"arn:aws:s3:::models/*","glob":"arn:aws:s3:::models/*","except":[],"except_globs":[],"wild_service":false},"statement":"s3:PutObject on arn:aws:s3:::models/*","limited":false,"limited_by":[],"conditions":[],"conditional":false,"deny_notes":[]}]`
