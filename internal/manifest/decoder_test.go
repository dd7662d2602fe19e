package manifest

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"

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
		"a: 1\n---#comment\nb: 2\n",
		"a: 1\n---\u00a0\nb: 2\n",
		"a: 1\n---\u00a0# c\nb: 2\n",
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
		sepRefused := refused && strings.Contains(err.Error(), "content on the document separator line")
		if sepRefused != (kubectlErr != nil) {
			t.Errorf("%q: kubectl %v, Tollgate %v", in, kubectlErr, err)
		}
		if !refused && kubectlErr == nil && strings.Join(ours, " ") != strings.Join(kubectl, " ") {
			t.Errorf("%q: kubectl reads %v, Tollgate %v", in, kubectl, ours)
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
