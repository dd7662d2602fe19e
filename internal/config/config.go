// Package config holds Tollgate's configuration file: enforcement actions,
// exemptions, Pod Security Standards level and version, and the settings of
// each mutator and validator family. Every field has a default, so an empty
// file (or none) is a valid configuration.
package config

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/tollgate-dev/tollgate/internal/engine"
)

// Label and annotation keys Tollgate reads.
const (
	// LabelPrefix + family on a namespace overrides the family's action.
	LabelPrefix = "tollgate.dev/"
	// LabelPSSLevel on a namespace sets the Pod Security Standards level.
	LabelPSSLevel = "tollgate.dev/pss-level"
	// LabelPSSVersion on a namespace pins the Pod Security Standards version.
	LabelPSSVersion = "tollgate.dev/pss-version"
	// LabelPSAEnforce and LabelPSAEnforceVersion are Pod Security
	// Admission's namespace labels; they set the PSS level and version
	// where LabelPSSLevel is absent (pss.podSecurityLabels).
	LabelPSAEnforce        = "pod-security.kubernetes.io/enforce"
	LabelPSAEnforceVersion = "pod-security.kubernetes.io/enforce-version"
	// AnnotationExempt on a pod or workload lists families or policy ids to
	// skip; honoured only for users allowed by exemptions.annotationUsers/Groups.
	AnnotationExempt = "tollgate.dev/exempt"
)

// Config is the whole configuration file.
type Config struct {
	// PSS selects the Pod Security Standards level and version.
	PSS PSS `json:"pss"`
	// Actions overrides default actions, keyed by family ("spot") or policy
	// id ("spot.grace"); a policy id wins over its family.
	Actions map[string]engine.Action `json:"actions,omitempty"`
	// TemplateAction is the strongest action taken on workload pod templates
	// (Deployments, Jobs, ...): their pods are checked again when created.
	TemplateAction engine.Action `json:"templateAction"`
	// Exemptions skips review for namespaces and users.
	Exemptions Exemptions `json:"exemptions"`
	// Params are passed to policies as data.tollgate.params, merged over the
	// bundle's defaults in rego/data.json.
	Params map[string]any `json:"params,omitempty"`
	// Mutators configures the pod mutators (mutators.go).
	Mutators Mutators `json:"mutators"`
	// Validators configures the state the quota, spot and nodepool
	// policies read (validators.go).
	Validators Validators `json:"validators"`
	// IAM configures how IAM policy documents are fetched (iam.go).
	IAM IAM `json:"iam"`
	// Exceptions configures PolicyExceptions (exceptions.go).
	Exceptions Exceptions `json:"exceptions"`
	// ReleaseNamespace is where Tollgate runs; it is always exempt.
	ReleaseNamespace string `json:"releaseNamespace,omitempty"`
}

// PSS selects the Pod Security Standards level and version.
type PSS struct {
	// Level is baseline or restricted (default restricted).
	Level string `json:"level"`
	// Version is v1.N or latest (default latest).
	Version string `json:"version"`
	// PodSecurityLabels reads a namespace's Pod Security Admission labels
	// (pod-security.kubernetes.io/enforce, -version, warn, audit) where it has no
	// tollgate.dev/pss-level label (default true).
	PodSecurityLabels bool `json:"podSecurityLabels"`
}

// Exemptions lists what admission and audit skip.
type Exemptions struct {
	Namespaces []string `json:"namespaces"`
	Usernames  []string `json:"usernames,omitempty"`
	// AnnotationUsers and AnnotationGroups may use the tollgate.dev/exempt
	// annotation on the objects they create.
	AnnotationUsers  []string `json:"annotationUsers,omitempty"`
	AnnotationGroups []string `json:"annotationGroups,omitempty"`
}

// Default returns the configuration used when no file is given.
func Default() *Config {
	return &Config{
		PSS:            PSS{Level: "restricted", Version: "latest", PodSecurityLabels: true},
		TemplateAction: engine.ActionWarn,
		Exemptions: Exemptions{
			Namespaces: []string{"kube-system", "kube-node-lease", "gpu-operator", "tollgate-system"},
		},
		Mutators:   defaultMutators(),
		Validators: defaultValidators(),
		IAM:        defaultIAM(),
		Exceptions: defaultExceptions(),
	}
}

// Load reads a YAML or JSON configuration file over the defaults. Unknown
// fields are errors, so a typo cannot silently turn a policy off.
func Load(path string) (*Config, error) {
	c := Default()
	if path == "" {
		return c, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	strictErrs, err := kjson.UnmarshalStrict(j, c)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if err := errors.Join(strictErrs...); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// Validate checks values that the types alone do not.
func (c *Config) Validate() error {
	var errs []error
	if c.PSS.Level != "baseline" && c.PSS.Level != "restricted" && c.PSS.Level != "privileged" {
		errs = append(errs, fmt.Errorf("pss.level %q: want baseline, restricted or privileged", c.PSS.Level))
	}
	if _, err := engine.ParseVersion(c.PSS.Version); err != nil {
		errs = append(errs, fmt.Errorf("pss.version: %w", err))
	}
	for k, a := range c.Actions {
		if _, err := engine.ParseAction(string(a)); err != nil {
			errs = append(errs, fmt.Errorf("actions[%s]: %w", k, err))
		}
	}
	if _, err := engine.ParseAction(string(c.TemplateAction)); err != nil {
		errs = append(errs, fmt.Errorf("templateAction: %w", err))
	}
	if err := c.Exceptions.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Mutators.Validate(); err != nil {
		errs = append(errs, err)
	}
	if spot, ok := c.Params["spot"].(map[string]any); ok {
		if _, ok := spot["taints"]; ok {
			errs = append(errs, errors.New("params.spot.taints: set mutators.drain.spotTaints instead; the drain mutator and the spot policies share it"))
		}
	}
	return errors.Join(errs...)
}

// PolicyParams are the parameters the engine passes to policies: Params,
// plus what the policies share with the mutators, so that both judge a pod
// alike: params.spot.taints is mutators.drain.spotTaints.
func (c *Config) PolicyParams() map[string]any {
	out := make(map[string]any, len(c.Params)+1)
	for k, v := range c.Params {
		out[k] = v
	}
	spot := map[string]any{}
	if s, ok := c.Params["spot"].(map[string]any); ok {
		for k, v := range s {
			spot[k] = v
		}
	}
	taints := make([]any, 0, len(c.Mutators.Drain.SpotTaints))
	for _, t := range c.Mutators.Drain.SpotTaints {
		taints = append(taints, map[string]any{"key": t.Key, "value": t.Value, "effect": string(t.Effect)})
	}
	spot["taints"] = taints
	out["spot"] = spot
	return out
}

// CheckPolicyNames reports action overrides that name no known family or
// policy, so that a misspelt id is caught at start rather than ignored.
func (c *Config) CheckPolicyNames(policies []*engine.Policy) error {
	known := map[string]bool{}
	for _, p := range policies {
		known[p.ID] = true
		known[p.Family] = true
	}
	var unknown []string
	for k := range c.Actions {
		if !known[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fmt.Errorf("actions: no policy or family named %s", strings.Join(unknown, ", "))
	}
	return nil
}

// NamespaceExempt reports whether a namespace is exempt.
func (c *Config) NamespaceExempt(ns string) bool {
	return ns != "" && (ns == c.ReleaseNamespace || slices.Contains(c.Exemptions.Namespaces, ns))
}

// UserExempt reports whether a requesting user is exempt.
func (c *Config) UserExempt(username string) bool {
	return username != "" && slices.Contains(c.Exemptions.Usernames, username)
}

// MayUseExemptAnnotation reports whether a user may exempt objects with the
// tollgate.dev/exempt annotation.
func (c *Config) MayUseExemptAnnotation(username string, groups []string) bool {
	if username != "" && slices.Contains(c.Exemptions.AnnotationUsers, username) {
		return true
	}
	for _, g := range groups {
		if slices.Contains(c.Exemptions.AnnotationGroups, g) {
			return true
		}
	}
	return false
}
