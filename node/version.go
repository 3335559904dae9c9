package node

import (
	"runtime/debug"
	"strings"
)

// Version and Commit identify the build. Release builds set them with
// -ldflags "-X jiexu/node.Version=v1.2.3 -X jiexu/node.Commit=abc1234";
// otherwise they are filled from the module and VCS information the Go
// toolchain embeds (go install …@v1.2.3, or a build in a git checkout), and
// stay "dev" and "unknown" when there is none.
var (
	Version = "dev"
	Commit  = "unknown"
)

func init() {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	if Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		Version = bi.Main.Version
	}
	if Commit != "unknown" {
		return
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev != "" {
		Commit = rev[:min(12, len(rev))]
		if modified == "true" {
			Commit += "-dirty"
		}
	}
}

// VersionString is the build's version and commit on one line, as
// 'jiexu version' prints it: "jiexu v1.2.3 (commit abc1234, go1.26.8)".
func VersionString() string {
	goVersion := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		goVersion = ", " + strings.TrimSpace(bi.GoVersion)
	}
	return "jiexu " + Version + " (commit " + Commit + goVersion + ")"
}
