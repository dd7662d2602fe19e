package review

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/open-policy-agent/opa/v1/ast"
	corev1 "k8s.io/api/core/v1"

	"github.com/tollgate-dev/tollgate/internal/astjson"
	"github.com/tollgate-dev/tollgate/internal/engine"
	"github.com/tollgate-dev/tollgate/internal/kubeobjects"
)

// The input document every policy sees (docs/policy-input.md):
//
//	request:   {operation, userInfo: {username, groups}}
//	kind:      {group, version, kind}
//	object:    the object, defaulted as the API server defaults it
//	oldObject: the previous version on UPDATE
//	namespace: {name, labels, annotations}
//	pod:       {metadata, spec} of a Pod or of a workload's pod template
//	workload:  {kind, replicas, templatePath} for workloads
//	pss:       {level, version}
//	exception: {now, maxDurationSeconds, knownPolicies, selectorError} for PolicyExceptions
//	state:     what each family's gatherer added
func (p *pass) input(ctx context.Context, o *kubeobjects.Object) (ast.Value, *Gathering, error) {
	req, target, ns := p.req, p.target, p.ns
	// Objects from the API server are already defaulted: their raw JSON is
	// parsed directly. Manifests (eval, audit -f) are converted after
	// defaulting.
	var objVal ast.Value
	var err error
	kubeobjects.Default(o)
	if o.RawStale || o.Raw == nil {
		objVal, err = objectValue(o.Typed)
	} else {
		objVal, err = astjson.ParseKubernetesObject(o.Raw)
	}
	if err != nil {
		// The object's own JSON is what cannot be read (nesting past
		// astjson's bound, invalid UTF-8): the object's fault.
		return nil, nil, &InputError{Object: o.Ref().String(), Msg: err.Error()}
	}
	obj, ok := objVal.(ast.Object)
	if !ok {
		return nil, nil, fmt.Errorf("%s is not an object", o.Ref())
	}
	gvk := o.GVK
	in := ast.NewObject(
		ast.Item(ast.InternedTerm("kind"), ast.ObjectTerm(
			ast.Item(ast.InternedTerm("group"), ast.StringTerm(gvk.Group)),
			ast.Item(ast.InternedTerm("version"), ast.StringTerm(gvk.Version)),
			ast.Item(ast.InternedTerm("kind"), ast.StringTerm(gvk.Kind)),
		)),
		ast.Item(ast.InternedTerm("object"), ast.NewTerm(obj)),
	)
	groups := make([]*ast.Term, len(req.User.Groups))
	for i, g := range req.User.Groups {
		groups[i] = ast.StringTerm(g)
	}
	in.Insert(ast.InternedTerm("request"), ast.ObjectTerm(
		ast.Item(ast.InternedTerm("operation"), ast.StringTerm(req.Operation)),
		ast.Item(ast.InternedTerm("userInfo"), ast.ObjectTerm(
			ast.Item(ast.InternedTerm("username"), ast.StringTerm(req.User.Username)),
			ast.Item(ast.InternedTerm("groups"), ast.ArrayTerm(groups...)),
		)),
	))
	if req.OldObject != nil {
		old, err := objectValue(req.OldObject.Typed)
		if err != nil {
			return nil, nil, err
		}
		in.Insert(ast.InternedTerm("oldObject"), ast.NewTerm(old))
	}
	in.Insert(ast.InternedTerm("namespace"), namespaceTerm(o.Namespace, ns))

	g := &Gathering{Object: o, Target: target, Namespace: ns, State: &p.state, Pod: o.Pod()}
	switch target {
	case engine.TargetPod:
		in.Insert(ast.InternedTerm("pod"), podTerm(obj.Get(ast.InternedTerm("metadata")), obj.Get(ast.InternedTerm("spec"))))
	case engine.TargetTemplate:
		t, path := o.Template()
		g.Template = t
		tv, err := toValue(t)
		if err != nil {
			return nil, nil, err
		}
		tobj, ok := tv.(ast.Object)
		if !ok {
			return nil, nil, fmt.Errorf("%s: pod template is not an object", o.Ref())
		}
		in.Insert(ast.InternedTerm("pod"), podTerm(tobj.Get(ast.InternedTerm("metadata")), tobj.Get(ast.InternedTerm("spec"))))
		in.Insert(ast.InternedTerm("workload"), ast.ObjectTerm(
			ast.Item(ast.InternedTerm("kind"), ast.StringTerm(gvk.Kind)),
			ast.Item(ast.InternedTerm("replicas"), ast.InternedTerm(int(o.Replicas()))),
			ast.Item(ast.InternedTerm("templatePath"), ast.StringTerm(path)),
		))
	case engine.TargetException:
		in.Insert(ast.InternedTerm("exception"), p.exceptionTerm(o))
	}
	level, version := p.r.pss(ns)
	in.Insert(ast.InternedTerm("pss"), ast.ObjectTerm(
		ast.Item(ast.InternedTerm("level"), ast.StringTerm(level)),
		ast.Item(ast.InternedTerm("version"), ast.InternedTerm(int(min(version, engine.LatestPSSVersion)))),
	))

	st := ast.NewObject()
	for _, gt := range p.r.gatherers {
		v, err := gt.Gather(ctx, g)
		if err != nil {
			return nil, nil, fmt.Errorf("gathering %s state for %s: %w", gt.Key(), o.Ref(), err)
		}
		if v == nil {
			continue
		}
		val, err := toValue(v)
		if err != nil {
			return nil, nil, fmt.Errorf("converting %s state: %w", gt.Key(), err)
		}
		st.Insert(ast.StringTerm(gt.Key()), ast.NewTerm(val))
	}
	in.Insert(ast.InternedTerm("state"), ast.NewTerm(st))
	return in, g, nil
}

var containerFields = []string{"initContainers", "containers", "ephemeralContainers"}

// podTerm builds input.pod: the pod's metadata and spec, plus every
// container (init, app, ephemeral, in that order) in one list with the field
// path of each, so that checks scan containers in a single pass. The terms
// are shared with input.object, not copied.
func podTerm(metadata, spec *ast.Term) *ast.Term {
	if metadata == nil {
		metadata = ast.ObjectTerm()
	}
	if spec == nil {
		spec = ast.ObjectTerm()
	}
	var cs, paths []*ast.Term
	if so, ok := spec.Value.(ast.Object); ok {
		for _, f := range containerFields {
			t := so.Get(ast.InternedTerm(f))
			if t == nil {
				continue
			}
			arr, ok := t.Value.(*ast.Array)
			if !ok {
				continue
			}
			for i := range arr.Len() {
				cs = append(cs, arr.Elem(i))
				paths = append(paths, ast.StringTerm(fmt.Sprintf("spec.%s[%d]", f, i)))
			}
		}
	}
	return ast.ObjectTerm(
		ast.Item(ast.InternedTerm("metadata"), metadata),
		ast.Item(ast.InternedTerm("spec"), spec),
		ast.Item(ast.InternedTerm("containers"), ast.ArrayTerm(cs...)),
		ast.Item(ast.InternedTerm("containerPaths"), ast.ArrayTerm(paths...)),
	)
}

func namespaceTerm(name string, ns *corev1.Namespace) *ast.Term {
	labels, annotations := ast.NewObject(), ast.NewObject()
	if ns != nil {
		for k, v := range ns.Labels {
			labels.Insert(ast.StringTerm(k), ast.StringTerm(v))
		}
		for k, v := range ns.Annotations {
			annotations.Insert(ast.StringTerm(k), ast.StringTerm(v))
		}
	}
	return ast.ObjectTerm(
		ast.Item(ast.InternedTerm("name"), ast.StringTerm(name)),
		ast.Item(ast.InternedTerm("labels"), ast.NewTerm(labels)),
		ast.Item(ast.InternedTerm("annotations"), ast.NewTerm(annotations)),
	)
}

// toValue converts a Go value to a Rego value through its JSON encoding, so
// that policies see exactly the API's field names and omitted empty fields.
// objectValue converts a Kubernetes object, leaving out
// metadata.managedFields (astjson.ParseKubernetesObject).
func objectValue(v any) (ast.Value, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return astjson.ParseKubernetesObject(b)
}

func toValue(v any) (ast.Value, error) {
	// Gatherers that convert (and cache) their state themselves return it
	// as a Rego value.
	if av, ok := v.(ast.Value); ok {
		return av, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return astjson.ParseObject(b)
}
