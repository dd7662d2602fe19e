package manifest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	k8syaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsyaml "sigs.k8s.io/yaml"
)

func TestDecoder(t *testing.T) {
	in := "---\n# only a comment\n---\n\n# head\napiVersion: v1\n--- # note\n---\n{\"a\": 1}\n...\n---\n- x\n---\n~\n"
	type got struct{ index, position, line int }
	var docs []got
	dec := NewDecoder("f.yaml", []byte(in))
	for {
		raw, err := dec.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, got{raw.Index, raw.Position, raw.Line})
	}
	want := []got{{0, 1, 6}, {1, 3, 9}, {2, 4, 12}}
	if len(docs) != len(want) {
		t.Fatalf("documents %+v, want %+v", docs, want)
	}
	for i := range want {
		if docs[i] != want[i] {
			t.Errorf("document %d: %+v, want %+v", i, docs[i], want[i])
		}
	}
	// The end stays the end.
	if _, err := dec.Next(); !errors.Is(err, io.EOF) {
		t.Errorf("after the end: %v", err)
	}
}

// TestSeparatorsLikeKubectl: a stream is refused for its separator lines
// exactly when kubectl's reader (k8s.io/apimachinery/pkg/util/yaml
// YAMLReader) refuses it, and where both read it they read the same
// documents.
func TestSeparatorsLikeKubectl(t *testing.T) {
	for _, in := range []string{
		"a: 1\n---\nb: 2\n",
		"a: 1\n--- # comment\nb: 2\n",
		"a: 1\n---   \t\nb: 2\n",
		"a: 1\r\n---\r\nb: 2\r\n",
		"--- {kind: Pod}\n",
		"a: 1\n--- {kind: Pod}\n",
		"a: 1\n---x\n",
		"a: 1\n----\n",
		"a: 1\n--- |\n  x\n",
		"a: 1\n--- !!map\nb: 2\n",
		"a: |\n  --- not a separator: indented\n",
		"a: 1\n  --- b\n",
	} {
		var kubectl []string
		kubectlErr := func() error {
			r := k8syaml.NewYAMLReader(bufio.NewReader(strings.NewReader(in)))
			for {
				chunk, err := r.Read()
				if errors.Is(err, io.EOF) {
					return nil
				}
				if err != nil {
					return err
				}
				j, err := sigsyaml.YAMLToJSON(chunk)
				if err != nil {
					return err
				}
				if string(j) != "null" {
					kubectl = append(kubectl, string(j))
				}
			}
		}()
		var ours []string
		dec := NewDecoder("f.yaml", []byte(in))
		var err error
		for {
			var raw RawDocument
			if raw, err = dec.Next(); err != nil {
				break
			}
			j, jerr := ToJSON(raw.Node)
			if jerr != nil {
				err = jerr
				break
			}
			ours = append(ours, string(j))
		}
		refused := !errors.Is(err, io.EOF)
		sepRefused := refused && strings.Contains(err.Error(), "separator line")
		if sepRefused != (kubectlErr != nil) {
			t.Errorf("%q: kubectl %v, Tollgate %v", in, kubectlErr, err)
		}
		if !refused && kubectlErr == nil && strings.Join(ours, " ") != strings.Join(kubectl, " ") {
			t.Errorf("%q: kubectl reads %v, Tollgate %v", in, kubectl, ours)
		}
	}
}

// TestSeparatorsReadApart: lines that kubectl reads as a separator and
// YAML does not, or the other way round, are refused: the two readers
// would not see the same documents.
func TestSeparatorsReadApart(t *testing.T) {
	for _, in := range []string{
		"a: 1\n---#comment\nb: 2\n",
		"---#comment\nb: 2\n",
		"a: 1\n---\u00a0\nb: 2\n",
		"a: 1\n--- \u00a0#c: x\n",
		"a: 1\n---\t\u2003\nb: 2\n",
	} {
		_, err := NewDecoder("f.yaml", []byte(in)).Next()
		if err == nil || !strings.Contains(err.Error(), "kubectl and YAML read it differently") {
			t.Errorf("%q: %v", in, err)
		}
	}
}

// TestMarkerAfterOtherLineBreak: YAML breaks lines at a lone CR, NEL, LS
// and PS, kubectl only at LF; a document marker after one of those would
// be a document to Tollgate and not to kubectl.
func TestMarkerAfterOtherLineBreak(t *testing.T) {
	for _, in := range []string{
		"a: 1\r--- {kind: Pod}\n",
		"a: 1\r---\rb: 2\n",
		"a: 1\u2028---\nb: 2\n",
		"a: 1\u0085...\n",
	} {
		_, err := NewDecoder("f.yaml", []byte(in)).Next()
		if err == nil || !strings.Contains(err.Error(), "kubectl does not") {
			t.Errorf("%q: %v", in, err)
		}
	}
	// A lone CR elsewhere is a line break for the line numbers only.
	if _, err := NewDecoder("f.yaml", []byte("a: 1\rb: 2\n")).Next(); err != nil {
		t.Error(err)
	}
}

func TestNonSpecificTag(t *testing.T) {
	for _, tc := range []struct {
		in      string
		refused bool
	}{
		{"a: ! 12\n", true},
		{"a: !\n", true},
		{"a: &x ! 12\nb: *x\n", true},
		{"a: [1, ! 2]\n", true},
		{"a: {b: ! , c: 1}\n", true},
		{"a: hello ! world\n", false},
		{"a: '! 12'\n", false},
		{"a: !!str 12\n", false},
		{"a: !custom 12\n", false},
		{"é: é ! 12\n", false},
		{"é: ! 12\n", true},
		{"# ! comment\na: 1\n", false},
		{"a: 1\rb: ! 12\r", true},
		{"a: 1\u2028b: x ! 12\n", false},
	} {
		_, err := NewDecoder("f.yaml", []byte(tc.in)).Next()
		refused := err != nil && strings.Contains(err.Error(), "non-specific tag")
		if refused != tc.refused {
			t.Errorf("%q: refused %v, want %v (%v)", tc.in, refused, tc.refused, err)
		}
	}
}

// kubectlDocuments reads a stream as kubectl apply -f does
// (k8s.io/cli-runtime resource.StreamVisitor): a YAMLOrJSONDecoder into
// RawExtensions, empty and null documents skipped.
func kubectlDocuments(b []byte) ([]string, error) {
	d := k8syaml.NewYAMLOrJSONDecoder(bytes.NewReader(b), 4096)
	var out []string
	for {
		var ext runtime.RawExtension
		if err := d.Decode(&ext); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
		raw := bytes.TrimSpace(ext.Raw)
		if len(raw) == 0 || string(raw) == "null" {
			continue
		}
		out = append(out, string(raw))
	}
}

// FuzzDecoderLikeKubectl: Tollgate never reads other objects than kubectl
// would apply from the same bytes. It may refuse what kubectl reads
// (duplicate keys, content it cannot place) and read what kubectl
// refuses (nothing is applied then), but where both read a stream they
// read the same documents with the same JSON: no document dropped, none
// added, no value read otherwise.
func FuzzDecoderLikeKubectl(f *testing.F) {
	for _, s := range []string{
		"apiVersion: v1\nkind: Pod\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: b}\n",
		"--- {apiVersion: v1, kind: Pod}\n",
		"a: 1\n---#note\nb: 2\n",
		"a: 1\n...\nb: 2\n",
		"a: 1\r--- {kind: Pod}\n",
		"{\"a\": 1}\n{\"b\": 2}\n",
		"# c\n---\n---\nx: [yes, on, 0x1F, 1_000, 2001-01-01]\n",
		"a: &x {p: 1}\nb: {<<: *x, q: 2}\n",
		"a: 1\n  --- b\n",
	} {
		f.Add([]byte(s))
	}
	// The examples: real manifests to mutate.
	examples, _ := filepath.Glob("../../examples/*.yaml")
	for _, e := range examples {
		if b, err := os.ReadFile(e); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var ours []string
		dec := NewDecoder("f.yaml", b)
		for {
			raw, err := dec.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return
			}
			j, err := ToJSON(raw.Node)
			if err != nil {
				return
			}
			ours = append(ours, string(j))
		}
		theirs, kerr := kubectlDocuments(b)
		// Only objects are applied (and reviewed): a scalar or a sequence
		// document is an error for both (Parse: "not an object").
		ours, theirs = onlyObjects(ours), onlyObjects(theirs)
		if kerr != nil {
			// kubectl applies the documents before the one it cannot
			// read: Tollgate must have read those the same.
			if len(ours) < len(theirs) {
				t.Fatalf("input %q: kubectl applies %d documents before failing (%v), Tollgate reads %d: %v", b, len(theirs), kerr, len(ours), ours)
			}
			ours = ours[:len(theirs)]
		}
		if len(ours) != len(theirs) {
			t.Fatalf("input %q:\nTollgate reads %d documents %v\nkubectl reads  %d %v", b, len(ours), ours, len(theirs), theirs)
		}
		for i := range ours {
			if !sameJSON(ours[i], theirs[i]) {
				t.Fatalf("input %q, document %d:\nTollgate reads %s\nkubectl reads  %s", b, i+1, ours[i], theirs[i])
			}
		}
	})
}

func onlyObjects(docs []string) []string {
	var out []string
	for _, d := range docs {
		if strings.HasPrefix(d, "{") {
			out = append(out, d)
		}
	}
	return out
}
