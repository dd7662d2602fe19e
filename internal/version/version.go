// Package version reports Tollgate's version and what it was built from.
// Release builds (scripts/image.sh) set the version, commit and build date
// with
//
//	-ldflags "-X github.com/tollgate-dev/tollgate/internal/version.Version=0.1.0
//	          -X github.com/tollgate-dev/tollgate/internal/version.Revision=<git commit>
//	          -X github.com/tollgate-dev/tollgate/internal/version.BuildDate=<RFC 3339>"
//
// Anything not set is read from the module build information where it
// has it (`go install` of a tagged version, a build in a git checkout).
package version

import (
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
)

// Set at build time with -X.
var (
	// Version is the release version.
	Version = ""
	// Revision is the git commit the binary was built from.
	Revision = ""
	// BuildDate is when the sources were committed or the release made
	// (SOURCE_DATE_EPOCH as RFC 3339), never the wall clock of the build,
	// so that a build can be reproduced.
	BuildDate = ""
)

// The libraries whose versions decide behaviour that users can see: the
// Rego engine, the webhook server, and the Kubernetes API types and client.
const (
	modOPA               = "github.com/open-policy-agent/opa"
	modControllerRuntime = "sigs.k8s.io/controller-runtime"
	modClientGo          = "k8s.io/client-go"
	modAPI               = "k8s.io/api"
)

// Info describes the running binary. The JSON field names are stable:
// scripts and the end-to-end suite read them.
type Info struct {
	Version           string   `json:"version"`
	Revision          string   `json:"revision,omitempty"`
	BuildDate         string   `json:"buildDate,omitempty"`
	GoVersion         string   `json:"goVersion"`
	Platform          string   `json:"platform"`
	OPA               string   `json:"opa"`
	ControllerRuntime string   `json:"controllerRuntime"`
	ClientGo          string   `json:"clientGo"`
	KubernetesAPI     string   `json:"kubernetesAPI"`
	Process           *Process `json:"process,omitempty"`
}

// Process is who the binary runs as, which tells a container's user and
// root filesystem from the inside: the image has no shell to ask with.
type Process struct {
	UID int `json:"uid"`
	GID int `json:"gid"`
	// RootReadOnly is whether / is mounted read-only; absent where it
	// cannot be told (not Linux).
	RootReadOnly *bool `json:"rootReadOnly,omitempty"`
}

// Get returns the binary's version information.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return fromBuildInfo(bi, Version, Revision, BuildDate)
}

// GetWithProcess is Get with the process's identity.
func GetWithProcess() Info {
	i := Get()
	i.Process = &Process{UID: os.Getuid(), GID: os.Getgid(), RootReadOnly: rootReadOnly()}
	return i
}

func fromBuildInfo(bi *debug.BuildInfo, version, revision, buildDate string) Info {
	i := Info{Version: version, Revision: revision, BuildDate: buildDate, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi != nil {
		if bi.GoVersion != "" {
			i.GoVersion = bi.GoVersion
		}
		if i.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			i.Version = bi.Main.Version
		}
		for _, d := range bi.Deps {
			v := d.Version
			if d.Replace != nil {
				v = d.Replace.Version
			}
			switch d.Path {
			case modOPA:
				i.OPA = v
			case modControllerRuntime:
				i.ControllerRuntime = v
			case modClientGo:
				i.ClientGo = v
			case modAPI:
				i.KubernetesAPI = v
			}
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				if i.Revision == "" {
					i.Revision = s.Value
				}
			case "vcs.time":
				if i.BuildDate == "" {
					i.BuildDate = s.Value
				}
			}
		}
	}
	if i.Version == "" {
		i.Version = "devel"
	}
	return i
}

// String is the one-line summary: version, OPA, Go and platform.
func (i Info) String() string {
	return fmt.Sprintf("tollgate %s (OPA %s, %s, %s)", i.Version, orUnknown(i.OPA), i.GoVersion, i.Platform)
}

// Text is the multi-line form `tollgate version` prints.
func (i Info) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "tollgate %s\n", i.Version)
	row := func(k, v string) { fmt.Fprintf(&b, "  %-19s %s\n", k+":", orUnknown(v)) }
	row("commit", i.Revision)
	row("build date", i.BuildDate)
	row("go", i.GoVersion+" "+i.Platform)
	row("OPA", i.OPA)
	row("controller-runtime", i.ControllerRuntime)
	row("client-go", i.ClientGo)
	row("k8s.io/api", i.KubernetesAPI)
	if p := i.Process; p != nil {
		ro := "unknown"
		if p.RootReadOnly != nil {
			ro = fmt.Sprint(*p.RootReadOnly)
		}
		row("process", fmt.Sprintf("uid %d gid %d, read-only root %s", p.UID, p.GID, ro))
	}
	return b.String()
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
