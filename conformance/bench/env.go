package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing/fstest"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/iam"
	"github.com/tollgate-dev/tollgate/internal/manifest"
	"github.com/tollgate-dev/tollgate/internal/review"
	"github.com/tollgate-dev/tollgate/internal/state"
	"github.com/tollgate-dev/tollgate/internal/wiring"
	"github.com/tollgate-dev/tollgate/rego"
)

// StateFiles are the cluster state every layer runs against: the examples'
// namespaces, quota, disruption budget and ServiceAccount, and their
// NodePools. The local control plane gets the same objects.
var StateFiles = []string{"examples/00-cluster.yaml", "examples/nodepools.yaml"}

// ServerVersion is the API server version the in-process reviewers assume
// (serve reads it from the API server; the drain mutator picks its preStop
// action by it).
const ServerVersion = "1.37"

// vllmRolePolicies are the IAM documents of the examples' vLLM role: the
// design document's policy for the vLLM pod, so that every iam and s3 rule
// runs on the pods that assume it.
const vllmRolePolicies = `{
  "arn:aws:iam::123456789012:role/vllm-pod-role": [{"name": "vllm-models", "document": {
    "Version": "2012-10-17",
    "Statement": [
      {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"],
       "Resource": ["arn:aws:s3:::agentic-ai-models/*", "arn:aws:s3:::agentic-ai-models"]},
      {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:DescribeKey"],
       "Resource": "arn:aws:kms:us-west-2:123456789012:key/model-encryption-key"},
      {"Effect": "Allow", "Action": ["secretsmanager:GetSecretValue"],
       "Resource": "arn:aws:secretsmanager:us-west-2:123456789012:secret:vllm-api-keys-*"}
    ]}}]
}
`

// Env is the configuration and cluster state that the in-process reviewers
// share with the `tollgate serve` the harness runs.
type Env struct {
	Root string
	// ConfigPath is the configuration file serve is given.
	ConfigPath string
	Config     *config.Config
	// State holds StateFiles, for the in-process reviewers.
	State *state.Static
	// StateDocs are StateFiles, decoded, for the control plane.
	StateDocs []manifest.Document
}

// NewEnv writes the configuration (the defaults, Tollgate's release
// namespace, and offline IAM documents for the examples' role) under dir and
// loads the cluster state.
func NewEnv(root, dir string) (*Env, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	policies := filepath.Join(dir, "iam-policies.json")
	if err := os.WriteFile(policies, []byte(vllmRolePolicies), 0o644); err != nil {
		return nil, err
	}
	cfgPath := filepath.Join(dir, "config.yaml")
	cfgText := fmt.Sprintf("# Tollgate's defaults (every policy at its default action), with IAM\n"+
		"# documents read from a file instead of the IAM API.\n"+
		"releaseNamespace: tollgate-system\niam:\n  offlinePolicies: %s\n", policies)
	if err := os.WriteFile(cfgPath, []byte(cfgText), 0o644); err != nil {
		return nil, err
	}
	return LoadEnv(root, cfgPath)
}

// LoadEnv reads a configuration NewEnv wrote, and the cluster state.
func LoadEnv(root, cfgPath string) (*Env, error) {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, f := range StateFiles {
		paths = append(paths, filepath.Join(root, f))
	}
	docs, err := manifest.Load(paths, manifest.Options{Strict: true})
	if err != nil {
		return nil, err
	}
	st := state.NewStatic()
	for _, d := range docs {
		if !d.Skipped {
			st.Add(d.Object)
		}
	}
	return &Env{Root: root, ConfigPath: cfgPath, Config: cfg, State: st, StateDocs: docs}, nil
}

// newEngine compiles the given sources with the configuration's parameters
// and Pod Security Standards defaults.
func (env *Env) newEngine(ctx context.Context, srcs ...engine.Source) (*engine.Engine, error) {
	files, err := engine.Load(srcs...)
	if err != nil {
		return nil, err
	}
	v, err := engine.ParseVersion(env.Config.PSS.Version)
	if err != nil {
		return nil, err
	}
	e, err := engine.New(ctx, files, engine.Options{Params: env.Config.PolicyParams(), PSSLevel: env.Config.PSS.Level, PSSVersion: v})
	if err != nil {
		return nil, err
	}
	return e, env.Config.CheckPolicyNames(e.Policies())
}

// embedded is the embedded bundle, every policy of it.
func embedded() engine.Source { return engine.Source{Name: "embedded", FS: rego.FS, Builtin: true} }

// FullReviewer is the review path `serve` builds: every policy, the mutator
// chain and the state gatherers, over the static cluster state, with IAM
// documents from the offline file. extra sources are added to the bundle.
func (env *Env) FullReviewer(ctx context.Context, extra ...engine.Source) (*review.Reviewer, error) {
	e, err := env.newEngine(ctx, append([]engine.Source{embedded()}, extra...)...)
	if err != nil {
		return nil, err
	}
	fetcher, err := iam.New(ctx, env.Config.IAM, iam.Admission)
	if err != nil {
		return nil, err
	}
	return wiring.NewReviewer(engine.NewHolder(e), env.Config, env.State, wiring.Deps{ServerVersion: ServerVersion, IAM: fetcher})
}

// PSSEngine compiles only the Pod Security Standards checks (rego/pss, the
// shared rego/lib and data.json): a real PSS-only engine, rather than the
// full one with other families turned off, which would still evaluate them.
func (env *Env) PSSEngine(ctx context.Context) (*engine.Engine, error) {
	fsys, err := subset(rego.FS, "data.json", "lib/", "pss/")
	if err != nil {
		return nil, err
	}
	return env.newEngine(ctx, engine.Source{Name: "embedded", FS: fsys, Builtin: true})
}

// PSSReviewer is the review path over the PSS-only engine, without mutators
// or gatherers (no PSS check reads cluster state).
func (env *Env) PSSReviewer(e *engine.Engine) (*review.Reviewer, error) {
	return review.New(engine.NewHolder(e), env.Config, env.State)
}

// subset copies the files of fsys under the given prefixes (a trailing "/"
// names a directory) into a new file system.
func subset(fsys fs.FS, prefixes ...string) (fs.FS, error) {
	out := fstest.MapFS{}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		for _, pre := range prefixes {
			if p == pre || (strings.HasSuffix(pre, "/") && strings.HasPrefix(p, pre)) {
				b, err := fs.ReadFile(fsys, p)
				if err != nil {
					return err
				}
				out[p] = &fstest.MapFile{Data: b, Mode: 0o644}
			}
		}
		return nil
	})
	return out, err
}

// inputPolicy is an operator policy that reports, as its finding's message,
// the input document it was evaluated against. Reviewing an object with it
// yields the exact input Tollgate's review path builds, which is what
// `opa run --server` is given.
const inputPolicy = `# METADATA
# title: Input document
# description: Reports the input document the policies see, for the benchmark to replay.
# custom:
#   id: bench.input
#   severity: low
#   action: audit
#   targets: [pod, template]
#   remediation: None; the benchmark harness adds this policy to its own engine only.
package bench.input

violation contains {"msg": json.marshal(input), "path": ""}
`

// inputPolicyID is inputPolicy's id.
const inputPolicyID = "bench.input"

// InputDumper returns the input documents the review path builds.
type InputDumper struct{ r *review.Reviewer }

// NewInputDumper builds the full review path with inputPolicy added.
func (env *Env) NewInputDumper(ctx context.Context) (*InputDumper, error) {
	src := engine.Source{Name: "bench", FS: fstest.MapFS{path.Join("input", "input.rego"): &fstest.MapFile{Data: []byte(inputPolicy)}}}
	r, err := env.FullReviewer(ctx, src)
	if err != nil {
		return nil, err
	}
	return &InputDumper{r: r}, nil
}

// Input returns the input document of a validating review of e.
func (d *InputDumper) Input(ctx context.Context, e *Entry) (json.RawMessage, error) {
	o, err := e.Decode()
	if err != nil {
		return nil, err
	}
	res, err := d.r.Review(ctx, &review.Request{Object: o, Operation: "CREATE"})
	if err != nil {
		return nil, err
	}
	for _, v := range res.Violations {
		if v.Policy == inputPolicyID {
			return json.RawMessage(v.Message), nil
		}
	}
	return nil, fmt.Errorf("%s: the review reported no input document (exempt: %q)", e.Name, res.Exempt)
}
