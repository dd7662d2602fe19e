package state

import (
	"reflect"
	"sort"
	"sync"

	corev1 "k8s.io/api/core/v1"
	toolscache "k8s.io/client-go/tools/cache"
)

// NodeSet is the cluster's Nodes as the Node informer reports them
// (stripped by StripNode), with a sorted list that is rebuilt only when a
// Node changes what placement reads: Node heartbeats update every Node
// every few seconds, and each list would otherwise rebuild placement.
type NodeSet struct {
	mu    sync.Mutex
	nodes map[string]*corev1.Node
	list  []*corev1.Node
	stale bool
}

var _ toolscache.ResourceEventHandler = (*NodeSet)(nil)

// List returns the Nodes sorted by name; the same slice until one changes.
// Callers must not change it.
func (s *NodeSet) List() []*corev1.Node {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stale || s.list == nil {
		s.list = make([]*corev1.Node, 0, len(s.nodes))
		for _, n := range s.nodes {
			s.list = append(s.list, n)
		}
		sort.Slice(s.list, func(i, j int) bool { return s.list[i].Name < s.list[j].Name })
		s.stale = false
	}
	return s.list
}

func (s *NodeSet) set(obj any) {
	n, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.nodes == nil {
		s.nodes = map[string]*corev1.Node{}
	}
	if old, ok := s.nodes[n.Name]; ok && reflect.DeepEqual(old, n) {
		return
	}
	s.nodes[n.Name], s.stale = n, true
}

// OnAdd implements toolscache.ResourceEventHandler.
func (s *NodeSet) OnAdd(obj any, _ bool) { s.set(obj) }

// OnUpdate implements toolscache.ResourceEventHandler.
func (s *NodeSet) OnUpdate(_, obj any) { s.set(obj) }

// OnDelete implements toolscache.ResourceEventHandler.
func (s *NodeSet) OnDelete(obj any) {
	if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	n, ok := obj.(*corev1.Node)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.nodes[n.Name]; ok {
		delete(s.nodes, n.Name)
		s.stale = true
	}
}
