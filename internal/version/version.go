// Package version reports Tollgate's version, set at build time with
// -ldflags "-X github.com/tollgate-dev/tollgate/internal/version.Version=v1.2.3"
// and otherwise read from the module build information.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is the release version.
var Version = ""

// Info describes the running binary.
type Info struct {
	Version   string `json:"version"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
	OPA       string `json:"opa"`
	Revision  string `json:"revision,omitempty"`
}

// Get returns the binary's version information.
func Get() Info {
	i := Info{Version: Version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if i.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			i.Version = bi.Main.Version
		}
		for _, d := range bi.Deps {
			if d.Path == "github.com/open-policy-agent/opa" {
				i.OPA = d.Version
			}
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				i.Revision = s.Value
			}
		}
	}
	if i.Version == "" {
		i.Version = "devel"
	}
	return i
}

func (i Info) String() string {
	return fmt.Sprintf("tollgate %s (OPA %s, %s, %s)", i.Version, i.OPA, i.GoVersion, i.Platform)
}
