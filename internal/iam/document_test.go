package iam

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
)

// seedPolicy is the vLLM pod's policy from the design's source document.
func seedPolicy(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("testdata/vllm-pod-role.json")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// iamEncode URL-encodes as the IAM API does (RFC 3986, spaces as %20).
func iamEncode(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "+", "%20") }

const seedNormalised = `{"Version":"2012-10-17","Statement":[` +
	`{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"NotAction":[],"Resource":["arn:aws:s3:::agentic-ai-models/*","arn:aws:s3:::agentic-ai-models"],"NotResource":[],"Condition":{}},` +
	`{"Effect":"Allow","Action":["kms:Decrypt","kms:DescribeKey"],"NotAction":[],"Resource":["arn:aws:kms:us-west-2:123456789012:key/model-encryption-key"],"NotResource":[],"Condition":{}},` +
	`{"Effect":"Allow","Action":["secretsmanager:GetSecretValue"],"NotAction":[],"Resource":["arn:aws:secretsmanager:us-west-2:123456789012:secret:vllm-api-keys-*"],"NotResource":[],"Condition":{}}]}`

func TestParseDocument(t *testing.T) {
	seed := seedPolicy(t)
	for _, tc := range []struct {
		name string
		in   string
		want string
	}{
		{"seed vLLM policy", seed, seedNormalised},
		{"seed vLLM policy URL-encoded as IAM returns it", iamEncode(seed), seedNormalised},
		{"single statement object, string elements", `{"Version":"2012-10-17","Statement":{"Sid":"Read","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}}`,
			`{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Action":["s3:GetObject"],"NotAction":[],"Resource":["arn:aws:s3:::b/*"],"NotResource":[],"Condition":{}}]}`},
		{"NotAction and NotResource", `{"Statement":[{"Effect":"Deny","NotAction":["iam:*","sts:*"],"NotResource":"arn:aws:s3:::b"}]}`,
			`{"Statement":[{"Effect":"Deny","Action":[],"NotAction":["iam:*","sts:*"],"Resource":[],"NotResource":["arn:aws:s3:::b"],"Condition":{}}]}`},
		{"conditions with lists, booleans and numbers", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::m/*","Condition":{"StringEquals":{"s3:x-amz-server-side-encryption":"aws:kms","aws:SourceVpc":["vpc-1","vpc-2"]},"Bool":{"aws:SecureTransport":true},"NumericLessThan":{"s3:max-keys":10}}}]}`,
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:PutObject"],"NotAction":[],"Resource":["arn:aws:s3:::m/*"],"NotResource":[],"Condition":{"Bool":{"aws:SecureTransport":["true"]},"NumericLessThan":{"s3:max-keys":["10"]},"StringEquals":{"aws:SourceVpc":["vpc-1","vpc-2"],"s3:x-amz-server-side-encryption":["aws:kms"]}}}]}`},
		{"trust policy principals", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EX"},"Action":"sts:AssumeRoleWithWebIdentity"},{"Effect":"Deny","Principal":"*","Action":"sts:AssumeRole"}]}`,
			`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":["arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EX"]},"Action":["sts:AssumeRoleWithWebIdentity"],"NotAction":[],"Resource":[],"NotResource":[],"Condition":{}},{"Effect":"Deny","Principal":{"AWS":["*"]},"Action":["sts:AssumeRole"],"NotAction":[],"Resource":[],"NotResource":[],"Condition":{}}]}`},
		{"a literal plus survives URL decoding", iamEncode(`{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/a+b c"}]}`),
			`{"Statement":[{"Effect":"Allow","Action":["s3:GetObject"],"NotAction":[],"Resource":["arn:aws:s3:::b/a+b c"],"NotResource":[],"Condition":{}}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := ParseDocument(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			got, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

func TestParseDocumentErrors(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     []string
	}{
		{"empty", "  ", []string{"policy document is empty"}},
		{"not JSON", "Version: 2012-10-17", []string{"policy document is not JSON"}},
		{"bad URL encoding", "%7B%zz", []string{"URL-encoded policy document"}},
		{"a list", `[{"Effect":"Allow"}]`, []string{"want a JSON object, got a list"}},
		{"trailing data", `{"Statement":[]} {}`, []string{"unexpected data after the JSON object"}},
		{"no statement", `{"Version":"2012-10-17"}`, []string{"Statement is missing"}},
		{"bad version", `{"Version":"2012-10-18","Statement":[]}`, []string{`Version: want "2012-10-17" or "2008-10-17", got "2012-10-18"`}},
		{"unknown element", `{"Statment":[]}`, []string{`unknown element "Statment"`}}, //nolint:misspell // the misspelled element is the case
		{"statement is a string", `{"Statement":"Allow"}`, []string{"Statement: want an object or a list of objects, got a string"}},
		{"statement entry is a list", `{"Statement":[[]]}`, []string{"Statement[0]: want an object, got a list"}},
		{"lower-case effect", `{"Statement":[{"Effect":"allow","Action":"s3:GetObject","Resource":"*"}]}`, []string{`Statement[0].Effect: want "Allow" or "Deny", got "allow"`}},
		{"missing effect", `{"Statement":[{"Action":"s3:GetObject","Resource":"*"}]}`, []string{"Statement[0]: Effect is missing"}},
		{"action is a number", `{"Statement":[{"Effect":"Allow","Action":3,"Resource":"*"}]}`, []string{"Statement[0].Action: want a string or a list of strings, got a number"}},
		{"resource list holds an object", `{"Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":["a",{}]}]}`, []string{"Statement[0].Resource: [1]: want a string, got an object"}},
		{"action and notaction", `{"Statement":[{"Effect":"Allow","Action":"a:b","NotAction":"c:d","Resource":"*"}]}`, []string{"Statement[0]: Action and NotAction are both set"}},
		{"no action", `{"Statement":[{"Effect":"Allow","Resource":"*"}]}`, []string{"Statement[0]: Action or NotAction is missing"}},
		{"resource and notresource", `{"Statement":[{"Effect":"Allow","Action":"a:b","Resource":"*","NotResource":"x"}]}`, []string{"Statement[0]: Resource and NotResource are both set"}},
		{"unknown statement element", `{"Statement":[{"Effect":"Allow","Action":"a:b","Resources":"*"}]}`, []string{`Statement[0]: unknown element "Resources"`}},
		{"condition value is an object", `{"Statement":[{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":{"StringEquals":{"k":{"x":1}}}}]}`, []string{"Statement[0].Condition.StringEquals.k: want strings, booleans or numbers, got an object"}},
		{"condition is a list", `{"Statement":[{"Effect":"Allow","Action":"a:b","Resource":"*","Condition":[]}]}`, []string{"Statement[0].Condition: want an object, got a list"}},
		{"principal is a list", `{"Statement":[{"Effect":"Allow","Action":"a:b","Principal":["x"]}]}`, []string{`Statement[0].Principal: want "*" or an object, got a list`}},
		{"several errors are all reported", `{"Statement":[{"Effect":"Allow","Action":1,"Resource":"*"},{"Effect":"Permit","Action":"a:b","Resource":"*"}]}`,
			[]string{"Statement[0].Action: want a string", `Statement[1].Effect: want "Allow" or "Deny", got "Permit"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseDocument(tc.in)
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}
}

func TestParseDocumentJSONAcceptsStringAndObject(t *testing.T) {
	seed := seedPolicy(t)
	quoted, err := json.Marshal(iamEncode(seed))
	if err != nil {
		t.Fatal(err)
	}
	for name, raw := range map[string]json.RawMessage{
		"object":                json.RawMessage(seed),
		"JSON string":           mustJSON(t, seed),
		"URL-encoded in string": quoted,
	} {
		d, err := ParseDocumentJSON(raw)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got, _ := json.Marshal(d); string(got) != seedNormalised {
			t.Errorf("%s: got %s", name, got)
		}
	}
}

func mustJSON(t *testing.T, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoleName(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:iam::123456789012:role/vllm-pod-role":          "vllm-pod-role",
		"arn:aws:iam::123456789012:role/ml/inference/vllm-role": "vllm-role",
		"arn:aws-cn:iam::123456789012:role/r":                   "r",
		"arn:aws:iam::123456789012:user/alice":                  "",
		"arn:aws:iam::1234:role/r":                              "",
		"vllm-pod-role":                                         "",
	} {
		got, err := RoleName(arn)
		if want == "" {
			if err == nil || !strings.Contains(err.Error(), "is not an IAM role ARN") {
				t.Errorf("%s: got %q, %v; want an error", arn, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%s: got %q, %v; want %q", arn, got, err, want)
		}
	}
}

func TestParseOffline(t *testing.T) {
	seed := seedPolicy(t)
	good := `{"arn:aws:iam::123456789012:role/vllm-pod-role": [
		{"name": "vllm-models", "document": ` + seed + `},
		{"arn": "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess", "document": ` + string(mustJSON(t, iamEncode(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:Get*","s3:List*"],"Resource":"*"}]}`))) + `},
		{"arn": "arn:aws:iam::123456789012:policy/boundary", "boundary": true, "document": {"Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}}
	]}`
	o, err := ParseOffline([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	rd, err := o.Role(t.Context(), "arn:aws:iam::123456789012:role/vllm-pod-role")
	if err != nil {
		t.Fatal(err)
	}
	if len(rd.Policies) != 2 || rd.Policies[0].Kind != KindInline || rd.Policies[1].Kind != KindManaged || rd.Boundary == nil || rd.Boundary.Kind != KindBoundary {
		t.Errorf("unexpected documents: %+v", rd)
	}
	if _, err := o.Role(t.Context(), "arn:aws:iam::123456789012:role/other"); err == nil || !strings.Contains(err.Error(), "is not in the offline IAM policies") {
		t.Errorf("missing role: %v", err)
	}

	for _, tc := range []struct{ name, in, want string }{
		{"not an object", `[]`, "want a JSON object from role ARN to a list of policies"},
		{"bad role ARN", `{"vllm": []}`, `"vllm" is not an IAM role ARN`},
		{"unknown field", `{"arn:aws:iam::123456789012:role/r": [{"name": "x", "doc": {}}]}`, `unknown field "doc"`},
		{"no name or arn", `{"arn:aws:iam::123456789012:role/r": [{"document": {}}]}`, "arn:aws:iam::123456789012:role/r[0]: name (inline policy) or arn (managed policy) is missing"},
		{"both name and arn", `{"arn:aws:iam::123456789012:role/r": [{"name": "x", "arn": "arn:aws:iam::aws:policy/x", "document": {}}]}`, "not both"},
		{"no document", `{"arn:aws:iam::123456789012:role/r": [{"name": "x"}]}`, "r[0]: document is missing"},
		{"bad document", `{"arn:aws:iam::123456789012:role/r": [{"name": "x", "document": {"Statement": [{"Effect": "Allow"}]}}]}`, "r[0]: document: Statement[0]: Action or NotAction is missing"},
		{"boundary by name", `{"arn:aws:iam::123456789012:role/r": [{"name": "x", "boundary": true, "document": {}}]}`, "a permissions boundary is a managed policy"},
		{"two boundaries", `{"arn:aws:iam::123456789012:role/r": [{"arn": "arn:aws:iam::1:policy/a", "boundary": true, "document": {"Statement": []}}, {"arn": "arn:aws:iam::1:policy/b", "boundary": true, "document": {"Statement": []}}]}`, "r[1]: a role has one permissions boundary"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseOffline([]byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

// TestParseDocumentSize: a document of a thousand statements (far past what
// IAM stores) still parses; one past MaxDocumentBytes is refused before it
// is decoded, in every form it can arrive in.
func TestParseDocumentSize(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"Version":"2012-10-17","Statement":[`)
	for i := range 1000 {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::bucket-%d/*"}`, i)
	}
	b.WriteString("]}")
	d, err := ParseDocument(b.String())
	if err != nil || len(d.Statement) != 1000 {
		t.Fatalf("%d-byte document: %v", b.Len(), err)
	}
	huge := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"` + strings.Repeat("a", MaxDocumentBytes) + `"}]}`
	for name, parse := range map[string]func() error{
		"text":        func() error { _, err := ParseDocument(huge); return err },
		"URL-encoded": func() error { _, err := ParseDocument("%7B" + huge[1:]); return err },
		"JSON object": func() error { _, err := ParseDocumentJSON(json.RawMessage(huge)); return err },
		"JSON string": func() error { _, err := ParseDocumentJSON(mustJSON(t, huge)); return err },
	} {
		if err := parse(); err == nil || !strings.Contains(err.Error(), "more than the 131072 Tollgate reads") {
			t.Errorf("%s: error %v", name, err)
		}
	}
}
