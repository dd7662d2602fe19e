package iam

import (
	"encoding/json"
	"net/url"
	"reflect"
	"testing"
)

// FuzzParseDocument decodes arbitrary policy documents, raw and
// URL-encoded as the IAM API returns them: never a panic, the same answer
// for both encodings, and a decoded document encodes to JSON (what the
// policies receive).
func FuzzParseDocument(f *testing.F) {
	for _, s := range []string{
		`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::m/*","arn:aws:s3:::m"]}]}`,
		`{"Statement":{"Effect":"Deny","NotAction":"iam:*","NotResource":"*","Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":["aws:kms"]}}}}`,
		`{"Statement":[{"Sid":"x","Effect":"Allow","Principal":{"AWS":["arn:aws:iam::123456789012:root"]},"Action":"sts:AssumeRole"}]}`,
		`{"Statement":[]}`, `[]`, `{"Statement":[{"Effect":1}]}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDocument(s)
		enc, encErr := ParseDocument(url.PathEscape(s))
		if (err == nil) != (encErr == nil) && s != "" && s[0] != '%' {
			t.Fatalf("raw and URL-encoded forms disagree: %v / %v", err, encErr)
		}
		if err != nil {
			return
		}
		if encErr == nil && !reflect.DeepEqual(d, enc) && s[0] != '%' {
			t.Fatalf("URL-encoded form decodes differently")
		}
		if _, err := json.Marshal(d); err != nil {
			t.Fatalf("a decoded document does not encode: %v", err)
		}
	})
}
