package astjson

import (
	"bytes"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

func TestParseMatchesOPA(t *testing.T) {
	for _, in := range []string{
		`{"a": 1, "b": [true, false, null, "x\n\u00e9\ud83d\ude00"], "c": {"d": -1.5e3}, "e": {}, "f": []}`,
		`[]`, `"s"`, `0`, `-0.25`, `12345678901234567890`, `{"k": "v", "k": "w"}`,
		`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x","labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"i:1","resources":{"limits":{"nvidia.com/gpu":"1"}}}]}}`,
	} {
		got, err := Parse([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		want, err := ast.ValueFromReader(bytes.NewReader([]byte(in)))
		if err != nil {
			t.Fatalf("%s: opa: %v", in, err)
		}
		if got.Compare(want) != 0 {
			t.Errorf("%s:\n got %v\nwant %v", in, got, want)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, in := range []string{
		``, `{`, `[1,`, `{"a" 1}`, `{"a":1,}`, `[1 2]`, `tru`, `01`, `1.`, `-`, `1e`, `"abc`,
		"\"a\x01\"", "\"\xff\"", `{"a":1} x`, `{1:2}`, `"\q"`,
	} {
		if _, err := Parse([]byte(in)); err == nil {
			t.Errorf("%q: expected an error", in)
		}
	}
}

func TestParseDepthLimit(t *testing.T) {
	deep := bytes.Repeat([]byte("["), maxDepth+2)
	if _, err := Parse(deep); err == nil {
		t.Fatal("expected a nesting error")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{`{"a":[1,"b",null,true]}`, `"\u00e9"`, `-1.5e10`, `[[[]]]`,
		`{"metadata":{"name":"p","managedFields":[{"manager":"m","fieldsV1":{"f:a":{}}}],"labels":{"x":"y"}},"spec":{}}`,
		`{"metadata":{"managedFields":"a\"]}"},"x":[1,{"metadata":{"managedFields":1}}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Parse(b)
		want, werr := ast.ValueFromReader(bytes.NewReader(b))
		if err != nil {
			return
		}
		// Whatever Parse accepts, OPA's decoder accepts with the same value.
		if werr != nil {
			t.Fatalf("Parse accepted %q, OPA rejected it: %v", b, werr)
		}
		if got.Compare(want) != 0 {
			t.Fatalf("%q: got %v want %v", b, got, want)
		}
		// The Kubernetes variant gives the same value without
		// metadata.managedFields (and without null members).
		kube, err := ParseKubernetesObject(b)
		if err != nil {
			t.Fatalf("%q: ParseObject accepted it, ParseKubernetesObject: %v", b, err)
		}
		plain, _ := ParseObject(b)
		if obj, ok := plain.(ast.Object); ok {
			if t := obj.Get(ast.StringTerm("metadata")); t != nil {
				if md, ok := t.Value.(ast.Object); ok {
					plain = withoutManagedFields(obj, md)
				}
			}
		}
		if kube.Compare(plain) != 0 {
			t.Fatalf("%q: ParseKubernetesObject gave %v, want %v", b, kube, plain)
		}
	})
}

func TestParseObjectDropsNulls(t *testing.T) {
	got, err := ParseObject([]byte(`{"a": null, "b": {"c": null, "d": [null, 1]}, "e": 1, "e": null, "f": 2}`))
	if err != nil {
		t.Fatal(err)
	}
	want := ast.MustParseTerm(`{"b": {"d": [null, 1]}, "f": 2}`).Value
	if got.Compare(want) != 0 {
		t.Errorf("got %v, want %v", got, want)
	}
}

// A number whose exponent would make OPA's arithmetic slow is refused, as
// OPA's own decoder refuses it; ordinary exponents are kept.
func TestParseHugeExponent(t *testing.T) {
	if _, err := Parse([]byte(`{"replicas":1e70000}`)); err == nil || !strings.Contains(err.Error(), "number too big") {
		t.Errorf("1e70000: error %v", err)
	}
	if v, err := Parse([]byte(`[1e300, 2.5E-10]`)); err != nil {
		t.Errorf("ordinary exponents: %v", err)
	} else if got := v.String(); got != "[1e300, 2.5E-10]" {
		t.Errorf("got %s", got)
	}
}

func TestParseKubernetesObjectSkipsManagedFields(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"metadata":{"name":"p","managedFields":[{"manager":"kubectl","fieldsV1":{"f:spec":{"f:containers":{"k:{\"name\":\"c\"}":{".":{}}}}}}],"labels":{"a":"b"}},"spec":{}}`,
			`{"metadata":{"name":"p","labels":{"a":"b"}},"spec":{}}`},
		{`{"metadata":{"managedFields":"a \"]}\\"},"x":1}`, `{"metadata":{},"x":1}`},
		{`{"metadata":{"managedFields":null,"name":"p"}}`, `{"metadata":{"name":"p"}}`},
		{`{"metadata":{"managedFields": 12 , "name":"p"}}`, `{"metadata":{"name":"p"}}`},
		{`{"metadata":{"name":"p","managedFields":[]}}`, `{"metadata":{"name":"p"}}`},
		// Only the top-level object's metadata.
		{`{"spec":{"managedFields":[1]},"metadata":{"annotations":{"managedFields":"x"}}}`, `{"spec":{"managedFields":[1]},"metadata":{"annotations":{"managedFields":"x"}}}`},
		{`{"items":[{"metadata":{"managedFields":[1]}}]}`, `{"items":[{"metadata":{"managedFields":[1]}}]}`},
	} {
		got, err := ParseKubernetesObject([]byte(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if want := ast.MustParseTerm(tc.want).Value; got.Compare(want) != 0 {
			t.Errorf("%s: got %v want %v", tc.in, got, want)
		}
	}
	for _, in := range []string{`{"metadata":{"managedFields":[{"a":1}`, `{"metadata":{"managedFields":"abc`} {
		if _, err := ParseKubernetesObject([]byte(in)); err == nil {
			t.Errorf("%s: accepted", in)
		}
	}
}

func withoutManagedFields(obj, md ast.Object) ast.Value {
	out := ast.NewObject()
	obj.Foreach(func(k, v *ast.Term) {
		if k.Equal(ast.StringTerm("metadata")) {
			m := ast.NewObject()
			md.Foreach(func(k, v *ast.Term) {
				if !k.Equal(ast.StringTerm("managedFields")) {
					m.Insert(k, v)
				}
			})
			v = ast.NewTerm(m)
		}
		out.Insert(k, v)
	})
	return out
}
