package config

import (
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DefaultReleaseNamespace is Tollgate's namespace when none is configured
// (the chart's default): eval, audit -f and test take the exceptions of
// cluster-scoped objects from there.
const DefaultReleaseNamespace = "tollgate-system"

// Exceptions configures PolicyExceptions (docs/exceptions.md).
type Exceptions struct {
	// MaxDuration is how far ahead of now an exception's expiresAt may be
	// (default 180 days): exception.valid denies longer ones and an
	// exception that expires later than now+maxDuration excepts nothing.
	MaxDuration metav1.Duration `json:"maxDuration"`
	// Namespace holds the exceptions of cluster-scoped objects (NodePools);
	// empty means the release namespace (serve --release-namespace), else
	// tollgate-system.
	Namespace string `json:"namespace,omitempty"`
}

func defaultExceptions() Exceptions {
	return Exceptions{MaxDuration: metav1.Duration{Duration: 180 * 24 * time.Hour}}
}

// ExceptionNamespace is where the exceptions of cluster-scoped objects live.
func (c *Config) ExceptionNamespace() string {
	switch {
	case c.Exceptions.Namespace != "":
		return c.Exceptions.Namespace
	case c.ReleaseNamespace != "":
		return c.ReleaseNamespace
	}
	return DefaultReleaseNamespace
}

func (e Exceptions) validate() error {
	if e.MaxDuration.Duration <= 0 {
		return fmt.Errorf("exceptions.maxDuration %s: want a positive duration", e.MaxDuration.Duration)
	}
	return nil
}
