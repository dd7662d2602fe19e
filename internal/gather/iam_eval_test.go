package gather_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/cmd/tollgate/app"
	"github.com/tollgate-dev/tollgate/internal/iam/iamtest"
)

// TestEvalWithOfflineIAMPolicies runs `tollgate eval --iam-policies`
// in-process over the pod fixtures.
func TestEvalWithOfflineIAMPolicies(t *testing.T) {
	iamtest.SetEnv(t, "http://127.0.0.1:9", false)
	var out, errOut bytes.Buffer
	err := app.Run([]string{"eval", "-f", "testdata/iam/pods.yaml", "--iam-policies", policiesFile, "-o", "json"}, app.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	if code := app.Code(err, &errOut); code != app.ExitFindings {
		t.Fatalf("exit %d, want %d (denied pods); stderr %s", code, app.ExitFindings, errOut.String())
	}
	var doc app.EvalOutput
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	verdicts := map[string]bool{}
	for _, r := range doc.Results {
		verdicts[r.Object.Name] = r.Allowed
	}
	if !verdicts["seed"] || verdicts["star-action"] || verdicts["passrole-star"] || !verdicts["put-unencrypted"] {
		t.Errorf("verdicts %v", verdicts)
	}

	err = app.Run([]string{"eval", "-f", "testdata/iam/pods.yaml", "--iam-policies", "testdata/iam/nope.json"}, app.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	if code := app.Code(err, &errOut); code != app.ExitUsage || !strings.Contains(errOut.String(), "IAM policies file: open testdata/iam/nope.json") {
		t.Errorf("missing file: exit %d, stderr %s", code, errOut.String())
	}
}
