package manifest

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	sigsyaml "sigs.k8s.io/yaml"
)

// toJSON converts the only document of in.
func toJSON(t *testing.T, in string) (string, error) {
	t.Helper()
	raw, err := NewDecoder("t.yaml", []byte(in)).Next()
	if err != nil {
		return "", err
	}
	b, err := ToJSON(raw.Node)
	return string(b), err
}

// TestToJSON: values read as kubectl reads them (sigs.k8s.io/yaml over
// go.yaml.in/yaml/v2, YAML 1.1), not as YAML 1.2 would.
func TestToJSON(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"yaml 1.1 booleans", "a: yes\nb: No\nc: on\nd: OFF\ne: y\nf: 'yes'\n", `{"a":true,"b":false,"c":true,"d":false,"e":true,"f":"yes"}`},
		{"numbers", "a: 0777\nb: 0x1F\nc: 0o17\nd: 1_000\ne: 1.0\nf: 1e3\ng: -0b101\nh: 18446744073709551615\n", `{"a":511,"b":31,"c":15,"d":1000,"e":1,"f":1000,"g":-5,"h":18446744073709551615}`},
		{"out of range stays text", "a: 1e70000\n", `{"a":"1e70000"}`},
		{"timestamps stay text", "a: 2001-12-14\nb: 2001-12-14T21:59:43.10-05:00\n", `{"a":"2001-12-14","b":"2001-12-14T21:59:43.10-05:00"}`},
		{"nulls", "a: ~\nb:\nc: null\nd: ''\n", `{"a":null,"b":null,"c":null,"d":""}`},
		{"tags", "a: !!str 12\nb: !!int \"12\"\nc: !!float 1\nd: !custom 5\ne: !!binary aGk=\n", `{"a":"12","b":12,"c":1,"d":"5","e":"hi"}`},
		{"block scalars", "a: |\n  x\n  y\nb: >\n  p\n  q\n", `{"a":"x\ny\n","b":"p q\n"}`},
		{"a block scalar at the end of the input keeps its line break", "a: |\n  x", `{"a":"x\n"}`},
		{"a folded one too", "a: >\n  x\n  y", `{"a":"x y\n"}`},
		{"key kinds", "1: a\ntrue: b\n1.5: c\n", `{"1":"a","true":"b","1.5":"c"}`},
		{"float keys past float32", "7e38: a\n-7e38: b\n", `{".inf":"a","-.inf":"b"}`},
		{"anchors", "a: &x {p: 1}\nb: *x\n", `{"a":{"p":1},"b":{"p":1}}`},
		{"merge then override", "base: &b {image: a, name: x}\nc:\n  <<: *b\n  image: b\n", `{"base":{"image":"a","name":"x"},"c":{"image":"b","name":"x"}}`},
		{"override then merge: yaml.v2 lets the merge win", "base: &b {image: a}\nc:\n  image: b\n  <<: *b\n", `{"base":{"image":"a"},"c":{"image":"a"}}`},
		{"merge sequence: the first wins", "p: &p {a: 1}\nq: &q {a: 2, b: 2}\nc: {<<: [*p, *q]}\n", `{"p":{"a":1},"q":{"a":2,"b":2},"c":{"a":1,"b":2}}`},
		{"keys y and n are booleans too", "y: 1\nn: 2\n", `{"true":1,"false":2}`},
		{"quoted << is a key", "c: {'<<': 1}\n", `{"c":{"\u003c\u003c":1}}`},
		{"json", "{\n\t\"a\": [1, \"x\", true, null],\n\t\"b\": {\"c\": 1.5}\n}\n", `{"a":[1,"x",true,null],"b":{"c":1.5}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := toJSON(t, tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
			// The same as kubectl's reader.
			want, err := sigsyaml.YAMLToJSON(withFinalLineBreak([]byte(tc.in)))
			if err != nil {
				t.Fatal(err)
			}
			if !sameJSON(got, string(want)) {
				t.Errorf("sigs.k8s.io/yaml reads %s", want)
			}
		})
	}
}

func TestToJSONErrors(t *testing.T) {
	laughs := "a: &a [x, x, x, x, x, x, x, x, x]\n"
	for i, p := range "bcdefghij" {
		prev := string("abcdefghij"[i])
		laughs += string(p) + ": &" + string(p) + " [" + strings.Repeat("*"+prev+", ", 8) + "*" + prev + "]\n"
	}
	for _, tc := range []struct{ name, in, want string }{
		{"infinity", "a: .inf\n", "line 1: .inf is not a number JSON can hold"},
		{"nan", "a:\n  b: .nan\n", "line 2: .nan is not a number JSON can hold"},
		{"tag mismatch", "a: !!int abc\n", "line 1: cannot decode !!str \"abc\" as a !!int"},
		{"bad base64", "a: !!binary '***'\n", "line 1: !!binary value contains invalid base64 data"},
		{"mapping key", "? [a]\n: b\n", "line 1: a mapping key must be a string, a number or a boolean"},
		{"null key", "~: b\n", "mapping key \"~\": a key must be"},
		{"merge of a scalar", "a: {<<: 1}\n", "line 1: a merge key (<<) takes a mapping"},
		{"self reference", "a: &x [*x]\n", "anchor \"x\" contains itself"},
		{"billion laughs", laughs, "nodes through aliases"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := toJSON(t, tc.in)
			if err == nil {
				t.Fatalf("no error; got %s", got)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func sameJSON(a, b string) bool {
	dec := func(s string) (any, error) {
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		var v any
		return v, d.Decode(&v)
	}
	va, ea := dec(a)
	vb, eb := dec(b)
	return ea == nil && eb == nil && reflect.DeepEqual(va, vb)
}

// FuzzToJSON: whenever kubectl's reader (sigs.k8s.io/yaml) and Tollgate's
// both read a one-document input, they read the same JSON. Tollgate may
// refuse more (duplicate keys, non-finite numbers), never read otherwise.
func FuzzToJSON(f *testing.F) {
	for _, s := range []string{
		"a: yes\nb: [on, off, y, n, ~, 0x1F, 0o17, 1_0, .5, -.inf, 2001-01-01]\n",
		"base: &b {image: a, n: 1}\nc:\n  image: b\n  <<: *b\nd: {<<: [*b, {x: 1}]}\n",
		"a: !!int '12'\nb: !!float 3\nc: !!str yes\nd: !!binary aGk=\ne: !x y\nf: !!bool on\n",
		"1: a\n1.5: b\ntrue: c\n? 0x10\n: d\n",
		"{\"a\": [1, 2.50, \"x\"], \"b\": {\"c\": null}}",
		"a: |\n  x\n  y\nb: >-\n  p\n\n  q\nc: 'it''s'\nd: \"\\u00e9\\t\"\n",
		"a: 123456789012345678901234567890\nb: -9223372036854775809\nc: 1e400\nd: 4.9e-324\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if bytes.Contains(b, []byte("---")) || bytes.Contains(b, []byte("...")) {
			return // kubectl splits documents before parsing; one document here
		}
		dec := NewDecoder("f.yaml", b)
		raw, err := dec.Next()
		if err != nil {
			return
		}
		if _, err := dec.Next(); !errors.Is(err, io.EOF) {
			return
		}
		got, err := ToJSON(raw.Node)
		if err != nil {
			return
		}
		want, err := sigsyaml.YAMLToJSON(withFinalLineBreak(b))
		if err != nil {
			return
		}
		if !sameJSON(string(got), string(want)) {
			t.Fatalf("input %q:\nTollgate reads %s\nkubectl reads  %s", b, got, want)
		}
	})
}

// withFinalLineBreak is b as kubectl's YAMLReader hands it to
// sigs.k8s.io/yaml: its LineReader ends every line, the last one too, with
// "\n".
func withFinalLineBreak(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] != '\n' {
		return append(b[:len(b):len(b)], '\n')
	}
	return b
}
