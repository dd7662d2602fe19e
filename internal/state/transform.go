package state

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Cache transforms keep only what admission reads, so that informer memory
// stays small on large clusters.

// StripNamespace keeps a Namespace's name, labels and annotations.
func StripNamespace(obj any) (any, error) {
	ns, ok := obj.(*corev1.Namespace)
	if !ok {
		return obj, nil
	}
	return &corev1.Namespace{
		TypeMeta:   ns.TypeMeta,
		ObjectMeta: metaOf(ns.ObjectMeta, ns.Labels, ns.Annotations),
	}, nil
}

// StripServiceAccount keeps a ServiceAccount's name and the EKS annotations
// (eks.amazonaws.com/*) that credential injection and IAM checks read.
func StripServiceAccount(obj any) (any, error) {
	sa, ok := obj.(*corev1.ServiceAccount)
	if !ok {
		return obj, nil
	}
	var ann map[string]string
	for k, v := range sa.Annotations {
		if strings.HasPrefix(k, "eks.amazonaws.com/") || strings.HasPrefix(k, "tollgate.dev/") {
			if ann == nil {
				ann = map[string]string{}
			}
			ann[k] = v
		}
	}
	return &corev1.ServiceAccount{TypeMeta: sa.TypeMeta, ObjectMeta: metaOf(sa.ObjectMeta, nil, ann)}, nil
}

func metaOf(m metav1.ObjectMeta, labels, annotations map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
		Labels: labels, Annotations: annotations,
	}
}
