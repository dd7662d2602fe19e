package state

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
)

func strippedNode(name, rv string, labels map[string]string) *corev1.Node {
	n, _ := StripNode(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, ResourceVersion: rv, Labels: labels},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, LastHeartbeatTime: metav1.Now()}}}})
	return n.(*corev1.Node)
}

// A heartbeat leaves the list as it was (placement is not rebuilt); a
// change of what placement reads, an add or a delete makes a new one.
func TestNodeSetListChangesOnlyWithPlacementFields(t *testing.T) {
	var s NodeSet
	s.OnAdd(strippedNode("b", "1", nil), true)
	s.OnAdd(strippedNode("a", "1", nil), true)
	first := s.List()
	if len(first) != 2 || first[0].Name != "a" || first[1].Name != "b" {
		t.Fatalf("list %v", first)
	}
	s.OnUpdate(nil, strippedNode("a", "2", nil))
	if got := s.List(); &got[0] != &first[0] {
		t.Errorf("a heartbeat rebuilt the list")
	}
	s.OnUpdate(nil, strippedNode("a", "3", map[string]string{"karpenter.sh/capacity-type": "spot"}))
	second := s.List()
	if &second[0] == &first[0] || second[0].Labels["karpenter.sh/capacity-type"] != "spot" {
		t.Errorf("a label change kept the old list")
	}
	s.OnDelete(toolscache.DeletedFinalStateUnknown{Obj: strippedNode("b", "3", nil)})
	if got := s.List(); len(got) != 1 || got[0].Name != "a" {
		t.Errorf("after delete: %v", got)
	}
}
