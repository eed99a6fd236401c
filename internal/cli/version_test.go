package cli

import (
	"context"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestFormatVersion(t *testing.T) {
	platform := runtime.GOOS + "/" + runtime.GOARCH
	vcs := []debug.BuildSetting{
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-05-01T10:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}
	tests := []struct {
		name, stamped string
		bi            *debug.BuildInfo
		want          string
	}{
		{"no build info", "dev", nil, "coworkctl dev (" + runtime.Version() + " " + platform + ")"},
		{"go build in a dirty checkout", "dev", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}, Settings: vcs},
			"coworkctl dev (commit 0123456789ab, 2026-05-01T10:00:00Z, dirty; go1.26.0 " + platform + ")"},
		{"clean checkout", "dev", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}, Settings: vcs[:3]},
			"coworkctl dev (commit 0123456789ab, 2026-05-01T10:00:00Z; go1.26.0 " + platform + ")"},
		{"go install @version", "dev", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.2.3"}},
			"coworkctl v1.2.3 (go1.26.0 " + platform + ")"},
		{"-ldflags wins", "v2.0.0", &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v1.2.3"}, Settings: vcs[:2]},
			"coworkctl v2.0.0 (commit 0123456789ab; go1.26.0 " + platform + ")"},
		{"short revision", "dev", &debug.BuildInfo{GoVersion: "go1.26.0", Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc"}}},
			"coworkctl dev (commit abc; go1.26.0 " + platform + ")"},
	}
	for _, tt := range tests {
		if got := formatVersion(tt.stamped, tt.bi); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}

func TestVersionFlagAndCommandAgree(t *testing.T) {
	var outs []string
	for _, args := range [][]string{{"version"}, {"--version"}, {"-v"}} {
		f, out, _ := testFactory(nil)
		if code := Run(context.Background(), f, args); code != 0 {
			t.Fatalf("%v: exit %d", args, code)
		}
		outs = append(outs, out.String())
	}
	want := VersionString() + "\n"
	for i, o := range outs {
		if o != want {
			t.Errorf("output %d = %q, want %q", i, o, want)
		}
	}
	if !strings.HasPrefix(want, "coworkctl ") {
		t.Errorf("version = %q", want)
	}
}
