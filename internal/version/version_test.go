package version

import (
	"encoding/json"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func buildInfo() *debug.BuildInfo {
	return &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/tollgate-dev/tollgate", Version: "(devel)"},
		Deps: []*debug.Module{
			{Path: "github.com/open-policy-agent/opa", Version: "v1.22.3"},
			{Path: "sigs.k8s.io/controller-runtime", Version: "v0.25.2"},
			{Path: "k8s.io/client-go", Version: "v0.37.2"},
			{Path: "k8s.io/api", Version: "v0.37.0", Replace: &debug.Module{Path: "k8s.io/api", Version: "v0.37.2"}},
			{Path: "k8s.io/apimachinery", Version: "v0.37.2"},
		},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "from-vcs"}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"}},
	}
}

func TestFromBuildInfo(t *testing.T) {
	tests := []struct {
		name                         string
		bi                           *debug.BuildInfo
		version, revision, buildDate string
		want                         Info
	}{
		{
			name: "release build: -X values win over the build information",
			bi:   buildInfo(), version: "0.1.0", revision: "abc123", buildDate: "2026-07-01T00:00:00Z",
			want: Info{Version: "0.1.0", Revision: "abc123", BuildDate: "2026-07-01T00:00:00Z", GoVersion: "go1.26.8",
				OPA: "v1.22.3", ControllerRuntime: "v0.25.2", ClientGo: "v0.37.2", KubernetesAPI: "v0.37.2"},
		},
		{
			name: "git checkout build: the VCS stamp fills commit and date",
			bi:   buildInfo(),
			want: Info{Version: "devel", Revision: "from-vcs", BuildDate: "2026-01-02T03:04:05Z", GoVersion: "go1.26.8",
				OPA: "v1.22.3", ControllerRuntime: "v0.25.2", ClientGo: "v0.37.2", KubernetesAPI: "v0.37.2"},
		},
		{
			name: "go install of a tagged module",
			bi: func() *debug.BuildInfo {
				b := buildInfo()
				b.Main.Version = "v0.2.0"
				b.Settings = nil
				return b
			}(),
			want: Info{Version: "v0.2.0", GoVersion: "go1.26.8",
				OPA: "v1.22.3", ControllerRuntime: "v0.25.2", ClientGo: "v0.37.2", KubernetesAPI: "v0.37.2"},
		},
		{
			name: "no build information",
			want: Info{Version: "devel", GoVersion: runtime.Version()},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fromBuildInfo(tt.bi, tt.version, tt.revision, tt.buildDate)
			tt.want.Platform = runtime.GOOS + "/" + runtime.GOARCH
			if got != tt.want {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// TestJSONFieldNames pins the field names scripts read.
func TestJSONFieldNames(t *testing.T) {
	ro := true
	i := fromBuildInfo(buildInfo(), "0.1.0", "abc123", "2026-07-01T00:00:00Z")
	i.Process = &Process{UID: 65532, GID: 65532, RootReadOnly: &ro}
	b, err := json.Marshal(i)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"version":"0.1.0","revision":"abc123","buildDate":"2026-07-01T00:00:00Z","goVersion":"go1.26.8","platform":"` +
		runtime.GOOS + "/" + runtime.GOARCH + `","opa":"v1.22.3","controllerRuntime":"v0.25.2","clientGo":"v0.37.2","kubernetesAPI":"v0.37.2",` +
		`"process":{"uid":65532,"gid":65532,"rootReadOnly":true}}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
}

func TestText(t *testing.T) {
	i := fromBuildInfo(buildInfo(), "0.1.0", "", "")
	i.Process = &Process{UID: 65532, GID: 65532}
	got := i.Text()
	for _, want := range []string{
		"tollgate 0.1.0\n",
		"  commit:             from-vcs\n",
		"  OPA:                v1.22.3\n",
		"  controller-runtime: v0.25.2\n",
		"  client-go:          v0.37.2\n",
		"  k8s.io/api:         v0.37.2\n",
		"  process:            uid 65532 gid 65532, read-only root unknown\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("text lacks %q:\n%s", want, got)
		}
	}
	if s := (Info{Version: "devel", GoVersion: "go1.26.8", Platform: "linux/arm64"}).String(); s != "tollgate devel (OPA unknown, go1.26.8, linux/arm64)" {
		t.Errorf("String() = %q", s)
	}
}

func TestProcess(t *testing.T) {
	p := GetWithProcess().Process
	if p == nil || p.UID != os.Getuid() || p.GID != os.Getgid() {
		t.Fatalf("process %+v, want uid %d gid %d", p, os.Getuid(), os.Getgid())
	}
	if runtime.GOOS == "linux" && p.RootReadOnly == nil {
		t.Error("on Linux the root filesystem's mode is known")
	}
	// The test runs on a writable root (it builds into it).
	if p.RootReadOnly != nil && *p.RootReadOnly {
		t.Error("root reported read-only on the machine running the tests")
	}
}
