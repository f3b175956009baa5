//go:build tools

package uroot

// The u-root commands the images put in the busybox are resolved through this module's
// go.mod; importing them here (under a build tag that is never set) keeps their
// requirements and go.sum entries when someone runs `go mod tidy`.
import (
	_ "github.com/u-root/u-root/cmds/core/gosh"
	_ "github.com/u-root/u-root/cmds/core/init"
)
