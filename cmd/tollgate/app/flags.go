package app

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/wiring"
)

// policyFlags are the flags every command that evaluates policies shares.
type policyFlags struct {
	configPath string
	bundles    []string
	pssVersion string
	pssLevel   string
}

func (f *policyFlags) add(fs *pflag.FlagSet) {
	fs.StringVar(&f.configPath, "config", "", "configuration file (YAML); defaults apply without one")
	fs.StringArrayVar(&f.bundles, "bundle", nil, "directory of operator Rego policies to add to the embedded bundle (repeatable)")
	fs.StringVar(&f.pssVersion, "pss-version", "", "Pod Security Standards version, v1.N or latest (overrides the configuration)")
	fs.StringVar(&f.pssLevel, "pss-level", "", "Pod Security Standards level, baseline or restricted (overrides the configuration)")
}

// load reads the configuration and compiles the bundles. Configuration and
// bundle errors are usage errors (exit code 2).
func (f *policyFlags) load(ctx context.Context) (*config.Config, *engine.Engine, error) {
	cfg, err := config.Load(f.configPath)
	if err != nil {
		return nil, nil, usageError(err)
	}
	if f.pssVersion != "" {
		cfg.PSS.Version = f.pssVersion
	}
	if f.pssLevel != "" {
		cfg.PSS.Level = f.pssLevel
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, usageError(err)
	}
	e, err := wiring.NewEngine(ctx, cfg, f.bundles)
	if err != nil {
		return nil, nil, usageError(err)
	}
	return cfg, e, nil
}
