package kubeobjects

import (
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/utils/ptr"
)

// Default applies, in place, the defaults the API server applies to an object
// before admission webhooks see it, limited to fields that admission
// decisions or mutations read. Copied in behaviour from Kubernetes v1.37
// (the version the end-to-end suite runs): k8s.io/kubernetes
// pkg/apis/core/v1/defaults.go, pkg/apis/apps/v1 and pkg/apis/batch/v1
// defaults.go, plus the ServiceAccount admission plugin's default
// serviceAccountName. A newer API server that defaults more fields leaves
// those fields unset here, which policies read as "not set". It is idempotent: objects that come from the API server
// are unchanged.
// It reports whether anything changed, and records it in o.RawStale, so that
// callers can keep using the object's raw JSON when nothing did.
func Default(o *Object) bool {
	var d defaulter
	switch t := o.Typed.(type) {
	case *corev1.Pod:
		d.pod(t)
	case *appsv1.Deployment:
		d.replicas(&t.Spec.Replicas)
		d.podSpec(&t.Spec.Template.Spec)
	case *appsv1.StatefulSet:
		d.replicas(&t.Spec.Replicas)
		d.podSpec(&t.Spec.Template.Spec)
	case *appsv1.ReplicaSet:
		d.replicas(&t.Spec.Replicas)
		d.podSpec(&t.Spec.Template.Spec)
	case *appsv1.DaemonSet:
		d.podSpec(&t.Spec.Template.Spec)
	case *batchv1.Job:
		d.jobSpec(&t.Spec)
	case *batchv1.CronJob:
		d.jobSpec(&t.Spec.JobTemplate.Spec)
	}
	o.RawStale = o.RawStale || d.changed
	return d.changed
}

// defaulter applies defaults and records whether it changed anything.
type defaulter struct{ changed bool }

func setString[T ~string](d *defaulter, f *T, v T) {
	if *f == "" && v != "" {
		*f = v
		d.changed = true
	}
}

func setPtr[T any](d *defaulter, f **T, v T) {
	if *f == nil {
		*f = &v
		d.changed = true
	}
}

// DefaultPod applies Pod defaults: the PodSpec defaults, requests defaulted
// from limits, host ports under hostNetwork, and the default ServiceAccount.
func DefaultPod(p *corev1.Pod) bool {
	var d defaulter
	d.pod(p)
	return d.changed
}

func (d *defaulter) pod(p *corev1.Pod) {
	if p.Spec.ServiceAccountName == "" && p.Spec.DeprecatedServiceAccount == "" {
		p.Spec.ServiceAccountName = "default"
		d.changed = true
	}
	d.podSpec(&p.Spec)
	if p.Spec.TerminationGracePeriodSeconds != nil && *p.Spec.TerminationGracePeriodSeconds < 0 {
		p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](1)
		d.changed = true
	}
	setPtr(d, &p.Spec.EnableServiceLinks, corev1.DefaultEnableServiceLinks)
	for _, cs := range [][]corev1.Container{p.Spec.Containers, p.Spec.InitContainers} {
		for i := range cs {
			r := &cs[i].Resources
			if r.Limits == nil {
				continue
			}
			if r.Requests == nil {
				r.Requests = corev1.ResourceList{}
			}
			for k, v := range r.Limits {
				if _, ok := r.Requests[k]; !ok {
					r.Requests[k] = v.DeepCopy()
					d.changed = true
				}
			}
		}
		if p.Spec.HostNetwork {
			for i := range cs {
				for j := range cs[i].Ports {
					if cs[i].Ports[j].HostPort == 0 {
						cs[i].Ports[j].HostPort = cs[i].Ports[j].ContainerPort
						d.changed = true
					}
				}
			}
		}
	}
}

func (d *defaulter) replicas(r **int32) { setPtr(d, r, 1) }

func (d *defaulter) jobSpec(s *batchv1.JobSpec) {
	// A Job with neither completions nor parallelism runs one pod to
	// completion; one with only parallelism set is a work queue.
	if s.Completions == nil && s.Parallelism == nil {
		setPtr(d, &s.Completions, 1)
	}
	setPtr(d, &s.Parallelism, 1)
	setPtr(d, &s.BackoffLimit, 6)
	d.podSpec(&s.Template.Spec)
}

func (d *defaulter) podSpec(s *corev1.PodSpec) {
	setString(d, &s.ServiceAccountName, s.DeprecatedServiceAccount)
	setString(d, &s.DeprecatedServiceAccount, s.ServiceAccountName)
	setString(d, &s.DNSPolicy, corev1.DNSClusterFirst)
	setString(d, &s.RestartPolicy, corev1.RestartPolicyAlways)
	setPtr(d, &s.SecurityContext, corev1.PodSecurityContext{})
	setPtr(d, &s.TerminationGracePeriodSeconds, corev1.DefaultTerminationGracePeriodSeconds)
	setString(d, &s.SchedulerName, corev1.DefaultSchedulerName)
	for i := range s.Volumes {
		if allSourcesNil(&s.Volumes[i].VolumeSource) {
			s.Volumes[i].VolumeSource = corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}
			d.changed = true
		}
	}
	for i := range s.Containers {
		d.container(&s.Containers[i])
	}
	for i := range s.InitContainers {
		d.container(&s.InitContainers[i])
	}
	for i := range s.EphemeralContainers {
		d.container((*corev1.Container)(&s.EphemeralContainers[i].EphemeralContainerCommon))
	}
}

func (d *defaulter) container(c *corev1.Container) {
	if imageTag(c.Image) == "latest" {
		setString(d, &c.ImagePullPolicy, corev1.PullAlways)
	} else {
		setString(d, &c.ImagePullPolicy, corev1.PullIfNotPresent)
	}
	setString(d, &c.TerminationMessagePath, corev1.TerminationMessagePathDefault)
	setString(d, &c.TerminationMessagePolicy, corev1.TerminationMessageReadFile)
	for i := range c.Ports {
		setString(d, &c.Ports[i].Protocol, corev1.ProtocolTCP)
	}
}

// imageTag returns the tag of an image reference, "latest" when it has
// neither tag nor digest, and "" for digests.
func imageTag(image string) string {
	if strings.Contains(image, "@") {
		return ""
	}
	name := image[strings.LastIndex(image, "/")+1:]
	if i := strings.LastIndex(name, ":"); i >= 0 {
		return name[i+1:]
	}
	return "latest"
}

func allSourcesNil(v *corev1.VolumeSource) bool {
	return *v == corev1.VolumeSource{}
}
