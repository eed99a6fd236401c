package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// Version overrides the module version of the build info, for builds that
// stamp one: -ldflags "-X github.com/coworkctl/coworkctl/internal/cli.Version=v1.2.3".
var Version = "dev"

// VersionString describes this build, e.g.
// "coworkctl v1.2.3 (commit 0123456789ab, 2026-05-01T10:00:00Z, dirty; go1.26.0 linux/amd64)".
func VersionString() string {
	bi, _ := debug.ReadBuildInfo()
	return formatVersion(Version, bi)
}

// formatVersion builds VersionString from a stamped version and the build
// info (nil when the binary has none). A stamped version other than "dev"
// wins; else the module version, which `go install …@v1.2.3` and builds of
// a tagged checkout set and plain `go build` leaves as "(devel)". The VCS
// settings exist when the binary was built inside a git checkout.
func formatVersion(stamped string, bi *debug.BuildInfo) string {
	v := stamped
	goVersion := runtime.Version()
	var details []string
	if bi != nil {
		if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		var rev, at string
		var modified bool
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.time":
				at = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
		if rev != "" {
			details = append(details, "commit "+rev[:min(len(rev), 12)])
		}
		if at != "" {
			details = append(details, at)
		}
		if modified {
			details = append(details, "dirty")
		}
	}
	if v == "" {
		v = "dev"
	}
	build := fmt.Sprintf("%s %s/%s", goVersion, runtime.GOOS, runtime.GOARCH)
	if len(details) > 0 {
		build = strings.Join(details, ", ") + "; " + build
	}
	return fmt.Sprintf("coworkctl %s (%s)", v, build)
}

// NewCmdVersion prints the version; `coworkctl --version` prints the same.
func NewCmdVersion(f *Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the coworkctl version, commit and Go version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			_, err := fmt.Fprintln(f.Out, VersionString())
			return err
		},
	}
}
