package engine

// pssTable holds, for each level and version, which pss checks run: the
// prebuilt equivalent of upstream's check registry, computed once per bundle.
type pssTable struct {
	active map[pssKey]map[string]bool
}

type pssKey struct {
	level   string
	version Version
}

func buildPSSTable(policies []*Policy) pssTable {
	t := pssTable{active: map[pssKey]map[string]bool{}}
	for v := Version(0); v <= LatestPSSVersion; v++ {
		baseline := map[string]bool{}
		restricted := map[string]bool{}
		overridden := map[string]bool{}
		for _, p := range policies {
			if p.PSS == nil || p.PSS.Since > v {
				continue
			}
			if p.PSS.Level == "baseline" {
				baseline[p.ID] = true
				restricted[p.ID] = true
				continue
			}
			restricted[p.ID] = true
			for _, o := range p.PSS.Overrides {
				overridden[o] = true
			}
		}
		for id := range overridden {
			delete(restricted, id)
		}
		t.active[pssKey{"baseline", v}] = baseline
		t.active[pssKey{"restricted", v}] = restricted
	}
	return t
}

// PSSActive reports whether a pss check runs at the given level and version.
// Policies that are not pss checks are always active. Level "privileged"
// runs no pss check; versions past the newest are evaluated as the newest.
func (e *Engine) PSSActive(p *Policy, level string, v Version) bool {
	if p.PSS == nil {
		return true
	}
	if v > LatestPSSVersion {
		v = LatestPSSVersion
	}
	return e.pss.active[pssKey{level, v}][p.ID]
}
