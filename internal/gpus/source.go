package gpus

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	resourcev1 "k8s.io/api/resource/v1"
)

// Source is where ResourceClaims, ResourceClaimTemplates and DeviceClasses
// come from: informer caches in serve, the objects given to eval and test,
// or a test's fixtures. Implementations must be safe for concurrent use
// when the Counter is shared, and must not modify what they return.
type Source interface {
	ResourceClaim(namespace, name string) (*resourcev1.ResourceClaim, bool)
	ResourceClaimTemplate(namespace, name string) (*resourcev1.ResourceClaimTemplate, bool)
	DeviceClass(name string) (*resourcev1.DeviceClass, bool)
	// DeviceClasses lists every class, for the classes that serve an
	// extended resource name (spec.extendedResourceName).
	DeviceClasses() []*resourcev1.DeviceClass
}

// Static is a Source of objects held in memory. It is safe for concurrent
// use.
type Static struct {
	mu        sync.RWMutex
	claims    map[[2]string]*resourcev1.ResourceClaim
	templates map[[2]string]*resourcev1.ResourceClaimTemplate
	classes   map[string]*resourcev1.DeviceClass
}

var _ Source = (*Static)(nil)

// NewStatic returns a Source holding objs, which must be
// *ResourceClaim, *ResourceClaimTemplate or *DeviceClass. Namespaced
// objects without a namespace are placed in "default", as kubectl would.
func NewStatic(objs ...any) (*Static, error) {
	s := &Static{
		claims:    map[[2]string]*resourcev1.ResourceClaim{},
		templates: map[[2]string]*resourcev1.ResourceClaimTemplate{},
		classes:   map[string]*resourcev1.DeviceClass{},
	}
	for _, o := range objs {
		if err := s.Add(o); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Add records one object, replacing one of the same kind and name.
func (s *Static) Add(obj any) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch t := obj.(type) {
	case *resourcev1.ResourceClaim:
		s.claims[[2]string{namespaceOr(t.Namespace), t.Name}] = t
	case *resourcev1.ResourceClaimTemplate:
		s.templates[[2]string{namespaceOr(t.Namespace), t.Name}] = t
	case *resourcev1.DeviceClass:
		s.classes[t.Name] = t
	default:
		return fmt.Errorf("a %T is not a ResourceClaim, ResourceClaimTemplate or DeviceClass", obj)
	}
	return nil
}

// ResourceClaims lists a namespace's claims, sorted by name: what the
// namespace usage reads.
func (s *Static) ResourceClaims(namespace string) []*resourcev1.ResourceClaim {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*resourcev1.ResourceClaim
	for k, c := range s.claims {
		if k[0] == namespaceOr(namespace) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b *resourcev1.ResourceClaim) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (s *Static) ResourceClaim(namespace, name string) (*resourcev1.ResourceClaim, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.claims[[2]string{namespaceOr(namespace), name}]
	return c, ok
}

func (s *Static) ResourceClaimTemplate(namespace, name string) (*resourcev1.ResourceClaimTemplate, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.templates[[2]string{namespaceOr(namespace), name}]
	return t, ok
}

func (s *Static) DeviceClass(name string) (*resourcev1.DeviceClass, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.classes[name]
	return c, ok
}

// DeviceClasses lists the classes sorted by name.
func (s *Static) DeviceClasses() []*resourcev1.DeviceClass {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*resourcev1.DeviceClass, 0, len(s.classes))
	for _, c := range s.classes {
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b *resourcev1.DeviceClass) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func namespaceOr(ns string) string {
	if ns == "" {
		return "default"
	}
	return ns
}

// empty is the Source of a Counter built without one.
type empty struct{}

func (empty) ResourceClaim(string, string) (*resourcev1.ResourceClaim, bool) { return nil, false }
func (empty) ResourceClaimTemplate(string, string) (*resourcev1.ResourceClaimTemplate, bool) {
	return nil, false
}
func (empty) DeviceClass(string) (*resourcev1.DeviceClass, bool) { return nil, false }
func (empty) DeviceClasses() []*resourcev1.DeviceClass           { return nil }
