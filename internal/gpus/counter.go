package gpus

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
)

// Fractions says what share of a GPU one MIG slice of a profile takes;
// *catalog.Catalog is one.
type Fractions interface {
	Fraction(profile string) (float64, bool)
}

// noFractions knows no profile: every MIG slice counts as a whole GPU.
type noFractions struct{}

func (noFractions) Fraction(string) (float64, bool) { return 0, false }

// Counter counts GPUs. It is safe for concurrent use when its Source is.
type Counter struct {
	cfg         Config
	fractions   Fractions
	src         Source
	resources   map[corev1.ResourceName]float64
	profileAttr attrName
	selectors   *selectorCache
}

// NewCounter returns a counter for a validated configuration. fractions
// weighs MIG profiles (nil: each slice is a whole GPU); src serves claims,
// templates and classes (nil: none exist).
func NewCounter(cfg Config, fractions Fractions, src Source) (*Counter, error) {
	if err := cfg.Validate(""); err != nil {
		return nil, fmt.Errorf("GPU counting configuration: %w", err)
	}
	if fractions == nil {
		fractions = noFractions{}
	}
	if src == nil {
		src = empty{}
	}
	rs := make(map[corev1.ResourceName]float64, len(cfg.Resources))
	for k, v := range cfg.Resources {
		rs[corev1.ResourceName(k)] = v
	}
	return &Counter{
		cfg:         cfg,
		fractions:   fractions,
		src:         src,
		resources:   rs,
		profileAttr: parseAttrName(cfg.ProfileAttribute),
		selectors:   &selectorCache{},
	}, nil
}

// WithSource returns a counter like c that reads another Source (the
// cluster state of one review), sharing c's selector cache.
func (c *Counter) WithSource(src Source) *Counter {
	out := *c
	if src == nil {
		src = empty{}
	}
	out.src = src
	return &out
}
