package effective

import (
	"slices"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/iam"
)

func doc(t *testing.T, s string) *iam.Document {
	t.Helper()
	d, err := iam.ParseDocument(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// texts is each grant as "action on resource [limited by] {conditional}".
func texts(gs []Grant) []string {
	var out []string
	for _, g := range gs {
		s := g.Act.Text + " on " + g.Res.Text
		if len(g.LimitedBy) > 0 {
			s += " [" + strings.Join(g.LimitedBy, "+") + "]"
		}
		if g.Conditional {
			s += " {conditional}"
		}
		out = append(out, s)
	}
	return out
}

func TestEvaluate(t *testing.T) {
	const bucket = `"arn:aws:s3:::agentic-ai-models", "arn:aws:s3:::agentic-ai-models/*"`
	for _, tc := range []struct {
		name     string
		policy   string
		boundary string
		session  string
		tags     map[string]string
		want     []string
	}{{
		name:   "deny NotResource narrows s3:* to the bucket",
		policy: `{"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, {"Effect": "Deny", "Action": "s3:*", "NotResource": [` + bucket + `]}]}`,
		want:   []string{"s3:* on arn:aws:s3:::agentic-ai-models [an explicit Deny]", "s3:* on arn:aws:s3:::agentic-ai-models/* [an explicit Deny]"},
	}, {
		name:   "deny NotAction narrows * to the actions it spares",
		policy: `{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::agentic-ai-models/*"}, {"Effect": "Deny", "NotAction": ["s3:GetObject"], "Resource": "*"}]}`,
		want:   []string{"s3:GetObject on arn:aws:s3:::agentic-ai-models/* [an explicit Deny]"},
	}, {
		name:   "explicit deny of everything leaves nothing",
		policy: `{"Statement": [{"Effect": "Allow", "Action": ["s3:*", "kms:Decrypt"], "Resource": "*"}, {"Effect": "Deny", "Action": "*", "Resource": "*"}]}`,
	}, {
		name:   "conditional deny is noted, not subtracted",
		policy: `{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}, {"Effect": "Deny", "Action": "s3:*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}`,
		want:   []string{"s3:GetObject on *"},
	}, {
		name:   "NotAction allow is every action but",
		policy: `{"Statement": [{"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"}]}`,
		want:   []string{"every action but iam:* on *"},
	}, {
		name:     "boundary intersection",
		policy:   `{"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}`,
		boundary: `{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::agentic-ai-models/*"}, {"Effect": "Allow", "Action": "ec2:*", "Resource": "*"}]}`,
		want:     []string{"s3:GetObject on arn:aws:s3:::agentic-ai-models/* [the permissions boundary]"},
	}, {
		name:    "session policy intersection",
		policy:  `{"Statement": [{"Effect": "Allow", "Action": ["s3:*"], "Resource": "*"}]}`,
		session: `{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::agentic-ai-models/*"}]}`,
		want:    []string{"s3:GetObject on arn:aws:s3:::agentic-ai-models/* [the session policy]"},
	}, {
		name:    "session policy that allows nothing the role does",
		policy:  `{"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": "*"}]}`,
		session: `{"Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]}`,
	}, {
		name:   "kms:ViaService narrows",
		policy: `{"Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*", "Condition": {"StringEquals": {"kms:ViaService": "s3.us-west-2.amazonaws.com"}}}]}`,
		want:   []string{"kms:Decrypt on * {conditional}"},
	}, {
		name:   "IfExists does not narrow",
		policy: `{"Statement": [{"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*", "Condition": {"StringEqualsIfExists": {"kms:ViaService": "s3.us-west-2.amazonaws.com"}}}]}`,
		want:   []string{"kms:Decrypt on *"},
	}, {
		name:   "unknown condition key does not narrow",
		policy: `{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1a2b3c4d"}}}]}`,
		want:   []string{"s3:GetObject on *"},
	}, {
		name:   "principal tag of another namespace never applies",
		policy: `{"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalTag/kubernetes-namespace": "ai-training"}}}]}`,
		tags:   map[string]string{"kubernetes-namespace": "ai-inference"},
	}, {
		name:   "principal tag of the pod's namespace holds",
		policy: `{"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalTag/kubernetes-namespace": "ai-inference"}}}]}`,
		tags:   map[string]string{"kubernetes-namespace": "ai-inference"},
		want:   []string{"s3:* on *"},
	}, {
		name:   "principal tag without session tags does not narrow",
		policy: `{"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {"StringEquals": {"aws:PrincipalTag/kubernetes-namespace": "ai-training"}}}]}`,
		want:   []string{"s3:* on *"},
	}, {
		name:     "deny in the boundary subtracts",
		policy:   `{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}, {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]}`,
		boundary: `{"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}, {"Effect": "Deny", "Action": "kms:*", "Resource": "*"}]}`,
		want:     []string{"s3:GetObject on *"},
	}, {
		// The cases below were the Rego lib's tests before the evaluation
		// moved here.
		name:   "unconditional deny removes what it covers",
		policy: `{"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/*"}, {"Effect": "Deny", "Action": "s3:*", "Resource": "*"}]}`,
	}, {
		name:   "deny that covers part of a grant removes nothing",
		policy: `{"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}, {"Effect": "Deny", "Action": "s3:Delete*", "Resource": "*"}]}`,
		want:   []string{"s3:* on *"},
	}, {
		name:   "deny is case-insensitive for actions only",
		policy: `{"Statement": [{"Effect": "Allow", "Action": "S3:GetObject", "Resource": "arn:aws:s3:::B/*"}, {"Effect": "Deny", "Action": "s3:getobject", "Resource": "arn:aws:s3:::b/*"}]}`,
		want:   []string{"S3:GetObject on arn:aws:s3:::B/*"},
	}, {
		name:   "deny with NotAction covers what it does not exclude",
		policy: `{"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "kms:Decrypt"], "Resource": "*"}, {"Effect": "Deny", "NotAction": "kms:*", "Resource": "*"}]}`,
		want:   []string{"kms:Decrypt on *"},
	}, {
		name:     "boundary keeps a grant it covers unchanged",
		policy:   `{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}`,
		boundary: `{"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}`,
		want:     []string{"s3:GetObject on *"},
	}, {
		name:     "boundary drops what it does not allow",
		policy:   `{"Statement": [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": ` + "[" + bucket + "]" + `}, {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"}]}`,
		boundary: `{"Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}`,
		want:     []string{"s3:GetObject on arn:aws:s3:::agentic-ai-models", "s3:GetObject on arn:aws:s3:::agentic-ai-models/*", "s3:ListBucket on arn:aws:s3:::agentic-ai-models", "s3:ListBucket on arn:aws:s3:::agentic-ai-models/*"},
	}, {
		name:   "policy variables are literal",
		policy: `{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::home/${aws:username}/*"}, {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::home/${aws:username}/*"}]}`,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			pols := []iam.Policy{{Kind: iam.KindInline, Name: "p", Document: doc(t, tc.policy)}}
			var b *iam.Policy
			if tc.boundary != "" {
				b = &iam.Policy{Kind: iam.KindBoundary, ARN: "arn:aws:iam::123456789012:policy/b", Document: doc(t, tc.boundary)}
			}
			sess := Session{Tags: tc.tags, TagsKnown: tc.tags != nil}
			if tc.session != "" {
				sess.Policy = doc(t, tc.session)
			}
			got := texts(Evaluate(pols, b, sess))
			if !slices.Equal(got, tc.want) {
				t.Errorf("grants\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{"*", "anything", true},
		{"s3:get*", "s3:getobject", true},
		{"s3:get*", "s3:putobject", false},
		{"arn:aws:s3:::b/*", "arn:aws:s3:::b/*", true},
		{"arn:aws:s3:::b/?", "arn:aws:s3:::b/x", true},
		{"arn:aws:s3:::b/?", "arn:aws:s3:::b/xy", false},
		{"a*b*c", "axxbyyc", true},
		{"a*b*c", "axxbyy", false},
	} {
		if got := match(tc.p, tc.s); got != tc.want {
			t.Errorf("match(%q, %q) = %v, want %v", tc.p, tc.s, got, tc.want)
		}
	}
}

func TestConditionNotes(t *testing.T) {
	d := doc(t, `{"Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*", "Condition": {"StringEquals": {"aws:SourceVpce": "vpce-1"}}}]}`)
	gs := Evaluate([]iam.Policy{{Kind: iam.KindInline, Name: "p", Document: d}}, nil, Session{})
	if len(gs) != 1 || len(gs[0].Conditions) != 1 || !strings.Contains(gs[0].Conditions[0].Note, "aws:SourceVpce is not one Tollgate understands") {
		t.Fatalf("got %+v", gs)
	}
}
