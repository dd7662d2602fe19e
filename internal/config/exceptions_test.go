package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExceptionsConfig(t *testing.T) {
	c := Default()
	if got := c.ExceptionNamespace(); got != "tollgate-system" {
		t.Errorf("default exception namespace %q", got)
	}
	c.ReleaseNamespace = "platform-tollgate"
	if got := c.ExceptionNamespace(); got != "platform-tollgate" {
		t.Errorf("exception namespace %q, want the release namespace", got)
	}
	for _, tc := range []struct{ file, wantErr string }{
		{"exceptions: {maxDuration: 720h}\npss: {podSecurityLabels: false}\n", ""},
		{"exceptions: {maxDuration: 0s}\n", "exceptions.maxDuration"},
		{"exceptions: {maxDays: 3}\n", "unknown field"},
	} {
		p := filepath.Join(t.TempDir(), "c.yaml")
		if err := os.WriteFile(p, []byte(tc.file), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := Load(p)
		if tc.wantErr == "" {
			if err != nil || c.Exceptions.MaxDuration.Hours() != 720 || c.PSS.PodSecurityLabels {
				t.Errorf("%q: %v %+v", tc.file, err, c)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%q: error %v, want %q", tc.file, err, tc.wantErr)
		}
	}
}
