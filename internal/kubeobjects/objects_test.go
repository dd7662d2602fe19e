package kubeobjects

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func decode(t *testing.T, s string) *Object {
	t.Helper()
	o, err := Decode([]byte(s), true)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestDefaultPod(t *testing.T) {
	o := decode(t, `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{
"hostNetwork":true,
"volumes":[{"name":"scratch"},{"name":"cfg","configMap":{"name":"c"}}],
"containers":[{"name":"c","image":"vllm/vllm-openai","ports":[{"containerPort":8000}],"resources":{"limits":{"nvidia.com/gpu":"1"}}}]}}`)
	if !Default(o) {
		t.Fatal("defaulting changed nothing")
	}
	p := o.Pod()
	s := p.Spec
	if s.Volumes[0].EmptyDir == nil || s.Volumes[1].EmptyDir != nil {
		t.Errorf("volume without a source is not an emptyDir: %+v", s.Volumes)
	}
	if *s.TerminationGracePeriodSeconds != 30 || s.RestartPolicy != corev1.RestartPolicyAlways || s.SecurityContext == nil {
		t.Errorf("pod spec defaults missing: %+v", s)
	}
	if s.ServiceAccountName != "default" || s.DeprecatedServiceAccount != "default" {
		t.Errorf("serviceAccountName %q", s.ServiceAccountName)
	}
	c := s.Containers[0]
	if c.ImagePullPolicy != corev1.PullAlways || c.Ports[0].Protocol != corev1.ProtocolTCP || c.Ports[0].HostPort != 8000 {
		t.Errorf("container defaults: %+v", c)
	}
	if got := c.Resources.Requests["nvidia.com/gpu"]; got.String() != "1" {
		t.Errorf("GPU request not defaulted from the limit: %v", c.Resources.Requests)
	}
	// Idempotent, and a second pass reports no change (the raw JSON of an
	// object from the API server can then be used as it is).
	before, _ := json.Marshal(p)
	if Default(o) {
		t.Error("second defaulting reported a change")
	}
	after, _ := json.Marshal(o.Pod())
	if string(before) != string(after) {
		t.Error("defaulting is not idempotent")
	}
}

func TestDefaultWorkloads(t *testing.T) {
	d := decode(t, `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"template":{"spec":{"containers":[{"name":"c","image":"i:1"}]}}}}`)
	Default(d)
	if d.Replicas() != 1 {
		t.Errorf("replicas %d", d.Replicas())
	}
	tmpl, path := d.Template()
	if path != "spec.template" || *tmpl.Spec.TerminationGracePeriodSeconds != 30 || tmpl.Spec.ServiceAccountName != "" {
		t.Errorf("template defaults: %s %+v", path, tmpl.Spec)
	}
	queue := decode(t, `{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"j"},"spec":{"parallelism":4,"template":{"spec":{"restartPolicy":"Never","containers":[]}}}}`)
	Default(queue)
	if queue.Replicas() != 4 {
		t.Errorf("job parallelism %d", queue.Replicas())
	}
	cron := decode(t, `{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"c"},"spec":{"schedule":"* * * * *","jobTemplate":{"spec":{"template":{"spec":{"containers":[]}}}}}}`)
	if _, path := cron.Template(); path != "spec.jobTemplate.spec.template" {
		t.Errorf("cronjob template path %q", path)
	}
}

func TestDecodeErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`[]`, "not a Kubernetes object"},
		{`{"kind":"Pod"}`, "apiVersion is missing"},
		{`{"apiVersion":"v1"}`, "kind is missing"},
		{`{"apiVersion":"a/b/c","kind":"Pod"}`, "apiVersion"},
		{`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":"x"}}`, "field spec.containers"},
		{`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"nodeName":1}}`, "field spec.nodeName"},
		{`{"apiVersion":"karpenter.sh/v1beta1","kind":"NodePool","metadata":{"name":"n"}}`, "apiVersion karpenter.sh/v1beta1 is not supported (want karpenter.sh/v1)"},
		{`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"bogus":1}}`, `unknown field "spec.bogus"`},
	} {
		_, err := Decode([]byte(tc.in), true)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.in, err, tc.want)
		}
	}
	if _, err := Decode([]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}`), true); !errors.Is(err, ErrUnknownKind) {
		t.Errorf("ConfigMap: %v, want ErrUnknownKind", err)
	}
}

// DecodeAs gives what Decode gives, in one pass for kinds with Go types,
// and Decode's errors for everything else.
func TestDecodeAs(t *testing.T) {
	pod := schema.GroupVersionKind{Version: "v1", Kind: "Pod"}
	for _, tc := range []struct {
		name string
		raw  string
		gvk  schema.GroupVersionKind
	}{
		{"pod", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"ns","labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i"}]}}`, pod},
		{"generateName", `{"apiVersion":"v1","kind":"Pod","metadata":{"generateName":"p-"},"spec":{}}`, pod},
		{"deployment", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d"},"spec":{"template":{"spec":{"containers":[]}}}}`, schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}},
		{"map kind", `{"apiVersion":"karpenter.sh/v1","kind":"NodePool","metadata":{"name":"np"}}`, schema.GroupVersionKind{Group: "karpenter.sh", Version: "v1", Kind: "NodePool"}},
		{"bytes of another kind", `{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"n"}}`, pod},
		{"not an object", `[1,2]`, pod},
		{"wrong type", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":"all"}}`, pod},
		{"old apiVersion", `{"apiVersion":"extensions/v1beta1","kind":"Deployment","metadata":{"name":"d"}}`, schema.GroupVersionKind{Group: "extensions", Version: "v1beta1", Kind: "Deployment"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, werr := Decode([]byte(tc.raw), false)
			got, gerr := DecodeAs([]byte(tc.raw), tc.gvk)
			if fmt.Sprint(werr) != fmt.Sprint(gerr) {
				t.Fatalf("error %v, want %v", gerr, werr)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got %+v\nwant %+v", got, want)
			}
		})
	}
}
