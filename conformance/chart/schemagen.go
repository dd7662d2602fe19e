// Package chart checks Tollgate's Helm chart: it renders with every value
// set, validates strictly against the Kubernetes and cert-manager schemas
// (generated offline from the API server's OpenAPI document and the
// cert-manager CRDs, since kubeconform cannot download them here), and
// renders the same webhook configurations as internal/webhookconfig.
package chart

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// schemaFile names a schema the way kubeconform's {{ .ResourceKind }}{{ .KindSuffix }} does.
func schemaFile(kind, group, version string) string {
	apiVersion := version
	if group != "" {
		apiVersion = group + "/" + version
	}
	parts := strings.Split(apiVersion, "/")
	suffix := "-" + strings.ToLower(strings.Split(parts[0], ".")[0])
	if len(parts) > 1 {
		suffix += "-" + strings.ToLower(parts[1])
	}
	return strings.ToLower(kind) + suffix + ".json"
}

// GenerateFromSwagger writes a standalone, strict JSON schema per kind of
// the API server's swagger.json into dir: references are inlined, objects
// reject unknown fields, and int-or-string and quantities accept numbers.
func GenerateFromSwagger(swaggerPath, dir string) (int, error) {
	b, err := os.ReadFile(swaggerPath)
	if err != nil {
		return 0, err
	}
	var doc struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return 0, fmt.Errorf("%s: %w", swaggerPath, err)
	}
	n := 0
	for name, def := range doc.Definitions {
		gvks, _ := def["x-kubernetes-group-version-kind"].([]any)
		for _, g := range gvks {
			gvk, _ := g.(map[string]any)
			kind, _ := gvk["kind"].(string)
			group, _ := gvk["group"].(string)
			version, _ := gvk["version"].(string)
			if kind == "" || version == "" {
				continue
			}
			s := expand(doc.Definitions, map[string]any{"$ref": "#/definitions/" + name}, map[string]bool{})
			if err := writeSchema(filepath.Join(dir, schemaFile(kind, group, version)), s); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

func expand(defs map[string]map[string]any, s map[string]any, seen map[string]bool) map[string]any {
	if ref, ok := s["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/definitions/")
		switch name {
		case "io.k8s.apimachinery.pkg.util.intstr.IntOrString":
			return map[string]any{"type": []any{"string", "integer"}}
		case "io.k8s.apimachinery.pkg.api.resource.Quantity":
			return map[string]any{"type": []any{"string", "number"}}
		case "io.k8s.apimachinery.pkg.apis.meta.v1.Time", "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime":
			return map[string]any{"type": []any{"string", "null"}}
		}
		if seen[name] {
			return map[string]any{} // a recursive type: accept anything below here
		}
		def, ok := defs[name]
		if !ok {
			return map[string]any{}
		}
		seen[name] = true
		out := expand(defs, def, seen)
		delete(seen, name)
		return out
	}
	out := map[string]any{}
	for k, v := range s {
		switch k {
		case "properties":
			props := map[string]any{}
			for pk, pv := range v.(map[string]any) {
				if m, ok := pv.(map[string]any); ok {
					props[pk] = expand(defs, m, seen)
				}
			}
			out[k] = props
		case "items", "additionalProperties":
			if m, ok := v.(map[string]any); ok {
				out[k] = expand(defs, m, seen)
			} else {
				out[k] = v
			}
		case "x-kubernetes-group-version-kind", "description", "x-kubernetes-patch-merge-key", "x-kubernetes-patch-strategy", "x-kubernetes-list-map-keys", "x-kubernetes-list-type", "x-kubernetes-map-type", "x-kubernetes-unions":
		default:
			out[k] = v
		}
	}
	strict(out)
	return out
}

// strict makes objects with declared properties reject unknown ones.
func strict(s map[string]any) {
	if _, has := s["properties"]; has {
		if _, set := s["additionalProperties"]; !set {
			s["additionalProperties"] = false
		}
	}
}

// GenerateFromCRDs writes a strict schema per served version of every CRD
// in the files.
func GenerateFromCRDs(files []string, dir string) (int, error) {
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return n, err
		}
		for _, doc := range strings.Split(string(b), "\n---") {
			var crd apiextensionsv1.CustomResourceDefinition
			if err := yaml.Unmarshal([]byte(doc), &crd); err != nil || crd.Kind != "CustomResourceDefinition" {
				continue
			}
			for _, v := range crd.Spec.Versions {
				if v.Schema == nil || v.Schema.OpenAPIV3Schema == nil {
					continue
				}
				raw, err := json.Marshal(v.Schema.OpenAPIV3Schema)
				if err != nil {
					return n, err
				}
				var s map[string]any
				if err := json.Unmarshal(raw, &s); err != nil {
					return n, err
				}
				crdStrict(s)
				if err := writeSchema(filepath.Join(dir, schemaFile(crd.Spec.Names.Kind, crd.Spec.Group, v.Name)), s); err != nil {
					return n, err
				}
				n++
			}
		}
	}
	return n, nil
}

func crdStrict(s map[string]any) {
	if s["x-kubernetes-int-or-string"] == true {
		s["type"] = []any{"string", "integer"}
	}
	preserve := s["x-kubernetes-preserve-unknown-fields"] == true
	for _, k := range []string{"description", "x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields", "x-kubernetes-validations", "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type"} {
		delete(s, k)
	}
	if props, ok := s["properties"].(map[string]any); ok {
		for _, p := range props {
			if m, ok := p.(map[string]any); ok {
				crdStrict(m)
			}
		}
		if !preserve {
			strict(s)
		}
	}
	for _, k := range []string{"items", "additionalProperties"} {
		if m, ok := s[k].(map[string]any); ok {
			crdStrict(m)
		}
	}
}

func writeSchema(path string, s map[string]any) error {
	s["$schema"] = "http://json-schema.org/schema#"
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
