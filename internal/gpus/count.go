package gpus

import (
	"maps"
	"math"
	"slices"
)

// Count is what a pod, a claim or a claim template asks for in GPUs.
type Count struct {
	// GPUs is the total, MIG slices counted as their profile's fraction
	// of a GPU (3g.40gb is 3/7), six decimals.
	GPUs float64 `json:"gpus"`
	// WholeGPUs is the part counted as whole GPUs: weighted extended
	// resources, devices of GPU classes, and MIG devices whose profile is
	// unknown (each one GPU, the most it can be).
	WholeGPUs float64 `json:"wholeGPUs"`
	// MIG is the MIG slices per profile whose profile is known (including
	// profiles the catalog does not know, which count as a whole GPU
	// each in GPUs).
	MIG map[string]float64 `json:"mig,omitempty"`
	// FromResources and FromClaims split GPUs by where they are asked:
	// container resources, or ResourceClaims (and templates).
	FromResources float64 `json:"fromResources"`
	FromClaims    float64 `json:"fromClaims"`
	// All lists the requests that take every matching device
	// (allocationMode All) of a GPU class. Each counts as one device in
	// GPUs, the least it allocates; at most MaxDevicesPerClaim.
	All []AllRequest `json:"all,omitempty"`
	// AsksForGPUs is true when a container resource or a device request
	// names a GPU, even with a count that is zero or not counted.
	AsksForGPUs bool `json:"asksForGPUs"`
	// ClaimsOnly is true when the GPUs come only from claims: no GPU in
	// container resources. Karpenter does not provision nodes for
	// ResourceClaims.
	ClaimsOnly bool `json:"claimsOnly"`
	// DRAOnly is true when every GPU comes through DRA alone: claims, and
	// container resources that only a DeviceClass serves
	// (deviceclass.resource.kubernetes.io/<class>, or a class's
	// extendedResourceName that is neither a configured resource nor a MIG
	// resource).
	DRAOnly bool `json:"draOnly"`
	// Profiles are the MIG profiles asked for, every firstAvailable
	// alternative included, sorted.
	Profiles []string `json:"profiles,omitempty"`
	// Claims are the claims a pod uses and what each counts, in
	// spec.resourceClaims order; what the namespace usage needs.
	Claims []ClaimRef `json:"claims,omitempty"`
	// Notes say how something was counted (the largest alternative, a
	// selector whose profile could not be read, ...).
	Notes []string `json:"notes,omitempty"`
	// Problems are input that could not be counted (a missing template or
	// class, a count that is not one), each naming the object and field.
	Problems []string `json:"problems,omitempty"`

	// fromResources is FromResources at the precision sums keep.
	fromResources float64
}

// AllRequest is a request for every matching device of a GPU class.
type AllRequest struct {
	// Class is the DeviceClass.
	Class string `json:"class"`
	// Where names the object and field of the request.
	Where string `json:"where"`
	// PerDevice is what one device counts, in GPUs (1, or a MIG fraction).
	PerDevice float64 `json:"perDevice"`
	// Profile is the MIG profile, when the class is a MIG class and the
	// selectors name it.
	Profile string `json:"profile,omitempty"`
}

// MaxDevicesPerClaim is the most devices one claim can be allocated
// (k8s.io/api resource/v1 AllocationResultsMaxSize), the bound of an All
// request that nothing else bounds.
const MaxDevicesPerClaim = 32

// MaxCount bounds a count of devices: a quantity or a request count above
// it is a problem, not a number of GPUs.
const MaxCount = 1_000_000

// Round keeps six decimals, so that MIG fractions add up to whole GPUs
// (3/7 + 4/7 is 1) and messages stay stable.
func Round(x float64) float64 { return math.Round(x*1e6) / 1e6 }

// precise is the precision of what sums add up (per pod and per claim):
// finer than Round, so that seven 4g slices (4/7 each) are 4 GPUs, not
// 4.000003, and coarse enough that the order of a sum does not show.
func precise(x float64) float64 { return math.Round(x*1e9) / 1e9 }

// tally accumulates a Count.
type tally struct {
	whole     float64
	mig       map[string]float64
	fractions map[string]float64 // per device, for the profiles in mig
	fromRes   float64
	fromClaim float64
	all       []AllRequest
	asks      bool
	draRes    bool // some container resource is served only by DRA
	plainRes  bool // some container resource is a configured or MIG resource
	profiles  map[string]bool
	claims    []ClaimRef
	notes     []string
	problems  []string
}

// device adds n devices of one kind; profile is set for MIG slices whose
// profile is known, with their fraction.
func (t *tally) devices(n float64, u unit, fromClaims bool) {
	if n == 0 {
		return
	}
	gpus := n * u.perDevice
	if u.profile == "" {
		t.whole += gpus
	} else {
		if t.mig == nil {
			t.mig, t.fractions = map[string]float64{}, map[string]float64{}
		}
		t.mig[u.profile] += n
		t.fractions[u.profile] = u.perDevice
	}
	if fromClaims {
		t.fromClaim += gpus
	} else {
		t.fromRes += gpus
	}
}

func (t *tally) profile(p string) {
	if p == "" {
		return
	}
	if t.profiles == nil {
		t.profiles = map[string]bool{}
	}
	t.profiles[p] = true
}

func (t *tally) note(s string)    { t.notes = append(t.notes, s) }
func (t *tally) problem(s string) { t.problems = append(t.problems, s) }

// merge adds another tally's devices, flags and messages.
func (t *tally) merge(o *tally) {
	t.whole += o.whole
	for p, n := range o.mig {
		if t.mig == nil {
			t.mig, t.fractions = map[string]float64{}, map[string]float64{}
		}
		t.mig[p] += n
		t.fractions[p] = o.fractions[p]
	}
	t.fromRes += o.fromRes
	t.fromClaim += o.fromClaim
	t.all = append(t.all, o.all...)
	t.asks = t.asks || o.asks
	t.draRes = t.draRes || o.draRes
	t.plainRes = t.plainRes || o.plainRes
	for p := range o.profiles {
		t.profile(p)
	}
	t.notes = append(t.notes, o.notes...)
	t.problems = append(t.problems, o.problems...)
}

// gpus is the total at the precision sums keep.
func (t *tally) gpus() float64 {
	total := t.whole
	for _, p := range slices.Sorted(maps.Keys(t.mig)) {
		total += t.mig[p] * t.fractions[p]
	}
	return precise(total)
}

func (t *tally) count() Count {
	c := Count{
		GPUs:          Round(t.gpus()),
		WholeGPUs:     Round(t.whole),
		FromResources: Round(t.fromRes),
		FromClaims:    Round(t.fromClaim),
		All:           t.all,
		AsksForGPUs:   t.asks || t.whole > 0 || len(t.mig) > 0,
		Claims:        t.claims,
		Notes:         dedupe(t.notes),
		Problems:      dedupe(t.problems),
		fromResources: precise(t.fromRes),
	}
	for p, n := range t.mig {
		if c.MIG == nil {
			c.MIG = map[string]float64{}
		}
		c.MIG[p] = Round(n)
	}
	c.Profiles = slices.Sorted(maps.Keys(t.profiles))
	hasClaimGPUs := t.fromClaim > 0 || len(t.all) > 0
	c.ClaimsOnly = hasClaimGPUs && t.fromRes == 0
	c.DRAOnly = (hasClaimGPUs || t.draRes) && !t.plainRes
	return c
}

func dedupe(list []string) []string {
	if len(list) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(list))
	out := list[:0:0]
	for _, s := range list {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
