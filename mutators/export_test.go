package mutators

import (
	"testing"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/state"
)

// What the external tests (engine_test.go, which import wiring and so
// cannot live in this package) use of the fixtures.

// Fixture is a loaded golden fixture.
type Fixture = fixture

// AllFixtures loads every fixture.
func AllFixtures(t *testing.T) []*Fixture { return allFixtures(t) }

// ID names a fixture, dir/case.
func (f *fixture) ID() string { return f.dir + "/" + f.name }

// Raw is the submitted pod as JSON.
func (f *fixture) Raw() []byte { return f.raw }

// State is the fixture's cluster state.
func (f *fixture) State() *state.Static { return f.state }

// Config is the fixture's mutators configuration.
func (f *fixture) Config() config.Mutators { return f.cfg }

// Mutated runs the whole chain, or only the named mutator, and returns the
// mutated pod as JSON.
func (f *fixture) Mutated(t *testing.T, only string) []byte {
	ms := Mutators()
	if only != "" {
		ms = nil
		for _, m := range Mutators() {
			if m.Name == only {
				ms = append(ms, m)
			}
		}
	}
	return f.mutate(t, ms).raw
}

// RequestsGPU is requestsGPU for tests.
var RequestsGPU = requestsGPU
