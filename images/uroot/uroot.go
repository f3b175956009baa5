// Package uroot builds a board's boot image: the u-root initramfs (u-root's init as PID 1,
// bmcd as uinit, no shell unless asked for) and the board's kernel modules as a separate
// newc cpio that is concatenated after it. It owns the image recipes, the module lists per
// kernel and the build cache under build/ (keyed by every input); it knows nothing of
// bundles, signing or QEMU.
package uroot

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// URootVersion is the u-root release go.mod pins (as a tool).
const URootVersion = "v0.16.0"

// Image is the recipe of one u-root initramfs.
type Image struct {
	// Name names the cached file (bmc, minimal).
	Name string
	// GOARCH of the guest (amd64, arm); GOARM is 7 for arm.
	GOARCH string
	// Uinit is the command u-root's init starts (its package's last path element).
	Uinit string
	// Commands are Go packages (module paths or ./relative to the repository) in the
	// busybox, u-root's init among them.
	Commands []string
	// Shell adds gosh as the default shell (DEBUG=1 only: the production image has none).
	Shell bool
	// Files are extra files, "repo-relative-path:path-in-image".
	Files []string
}

const (
	urootInit = "github.com/u-root/u-root/cmds/core/init"
	urootGosh = "github.com/u-root/u-root/cmds/core/gosh"
)

// BMC is the BMC image: u-root's init and bmcd; with debug, gosh too. A board adds its
// own files (its first-boot defaults).
func BMC(goarch string, debug bool) Image {
	img := Image{Name: "bmc", GOARCH: goarch, Uinit: "bmcd", Commands: []string{urootInit, "./cmd/bmcd"}}
	if debug {
		img.Name = "bmc-debug"
		img.Shell = true
		img.Commands = append(img.Commands, urootGosh)
	}
	return img
}

// Minimal is the baseline image: u-root's init and a uinit that only answers HTTP.
func Minimal(goarch string) Image {
	return Image{Name: "minimal", GOARCH: goarch, Uinit: "httpready",
		Commands: []string{urootInit, "./images/uroot/cmd/httpready"}}
}

// Builder builds images of the Go module in RepoDir into BuildDir (build/ of the
// repository), reusing a cached result when no input changed.
type Builder struct {
	RepoDir  string
	BuildDir string
	Logger   *slog.Logger
	// Go is the go command; empty means "go".
	Go string
}

func (b Builder) log() *slog.Logger {
	if b.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return b.Logger
}

func (b Builder) goCmd() string {
	if b.Go == "" {
		return "go"
	}
	return b.Go
}

// Initramfs builds img (CGO_ENABLED=0) and returns the path of the uncompressed newc
// cpio. The file name carries a key over the recipe, the Go version, go.mod, go.sum and
// every non-test Go file of the module, so an unchanged tree is not rebuilt.
func (b Builder) Initramfs(ctx context.Context, img Image) (string, error) {
	key, err := b.sourceKey(ctx, img)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(b.BuildDir, "image")
	out := filepath.Join(dir, fmt.Sprintf("%s-%s-%s.cpio", img.Name, img.GOARCH, key[:16]))
	if _, err := os.Stat(out); err == nil {
		b.log().Debug("u-root image cached", "path", out)
		return out, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("u-root image: %w", err)
	}
	tool, err := b.tool(ctx)
	if err != nil {
		return "", err
	}
	args := append([]string{"-o", out + ".tmp"}, buildFlags(img)...)
	cmd := exec.CommandContext(ctx, tool, args...)
	cmd.Dir = b.RepoDir
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+img.GOARCH, "CGO_ENABLED=0", "GOAMD64=v1", "GOARM=7",
		"GOTOOLCHAIN=local")
	var outBuf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &outBuf, &outBuf
	b.log().Info("building u-root image", "image", img.Name, "goarch", img.GOARCH)
	if err := cmd.Run(); err != nil {
		os.Remove(out + ".tmp")
		return "", fmt.Errorf("u-root image %s: %w\n%s", img.Name, err, lastLines(outBuf.String(), 30))
	}
	if err := os.Rename(out+".tmp", out); err != nil {
		return "", fmt.Errorf("u-root image: %w", err)
	}
	b.prune(dir, img, out)
	return out, nil
}

// buildFlags are the u-root flags of img (the output file aside).
func buildFlags(img Image) []string {
	args := []string{"-uinitcmd=" + img.Uinit, "-tags", "goshsmall", "-tags", "grpcnotrace",
		// gobusybox compiles the busybox in GOPATH mode, where cmd/go links in the
		// GODEBUG defaults of Go 1.20 (httpmuxgo121=1: no {id} wildcards in ServeMux
		// patterns; tls10server=1, x509sha1 and more). The image must behave like the
		// bmcd the tests run: the linker keeps the last -X, so this empty default list
		// gives this toolchain's own behaviour. (The -ldflags replace gobusybox's, which
		// are the same "-s -w -buildid=".)
		"-go-extra-args=-ldflags=-s -w -buildid= -X=runtime.godebugDefault=",
		// gobusybox builds with -gcflags=all=-l (no inlining) unless told otherwise, for a
		// smaller binary; inlining makes the guest's Go code faster (TCG has no KVM to hide
		// it): the first boot's PBKDF2 hash, the P-384 TLS key, every TLS handshake.
		"-go-enable-inlining"}
	if img.Shell {
		args = append(args, "-defaultsh=gosh")
	} else {
		args = append(args, "-defaultsh=")
	}
	for _, f := range img.Files {
		args = append(args, "-files", f)
	}
	args = append(args, img.Commands...)
	return args
}

// tool builds the u-root command for the host (never for the guest's GOARCH).
func (b Builder) tool(ctx context.Context) (string, error) {
	out := filepath.Join(b.BuildDir, "bin", "u-root")
	cmd := exec.CommandContext(ctx, b.goCmd(), "build", "-o", out, "github.com/u-root/u-root")
	cmd.Dir = b.RepoDir
	cmd.Env = append(os.Environ(), "GOOS=", "GOARCH=", "CGO_ENABLED=0", "GOTOOLCHAIN=local")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build u-root %s: %w\n%s", URootVersion, err, msg)
	}
	return out, nil
}

// sourceKey hashes everything the image depends on: the recipe, the Go version,
// go.mod, go.sum and the Go files (tests excluded) of every package of this module the
// image's commands import (go list -deps), so a change elsewhere in the tree does not
// rebuild the image.
func (b Builder) sourceKey(ctx context.Context, img Image) (string, error) {
	h := sha256.New()
	spec, _ := json.Marshal(img)
	fmt.Fprintf(h, "recipe %s\ngo %s\nu-root %s\nflags %q\n", spec, runtime.Version(), URootVersion, buildFlags(img))
	args := append([]string{"list", "-deps", "-f", "{{if not .Standard}}{{.Dir}}{{end}}"}, img.Commands...)
	cmd := exec.CommandContext(ctx, b.goCmd(), args...)
	cmd.Dir = b.RepoDir
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+img.GOARCH, "CGO_ENABLED=0", "GOTOOLCHAIN=local")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("u-root image inputs: go list: %w", err)
	}
	repo, err := filepath.Abs(b.RepoDir)
	if err != nil {
		return "", fmt.Errorf("u-root image inputs: %w", err)
	}
	files := []string{filepath.Join(repo, "go.mod"), filepath.Join(repo, "go.sum")}
	for _, f := range img.Files {
		host, _, _ := strings.Cut(f, ":")
		files = append(files, filepath.Join(repo, host))
	}
	for dir := range strings.Lines(string(out)) {
		dir = strings.TrimSpace(dir)
		if dir == "" || !strings.HasPrefix(dir, repo+string(filepath.Separator)) {
			continue // module cache contents are fixed by go.sum
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return "", fmt.Errorf("u-root image inputs: %w", err)
		}
		for _, e := range entries {
			if n := e.Name(); e.Type().IsRegular() && strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
				files = append(files, filepath.Join(dir, n))
			}
		}
	}
	slices.Sort(files)
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("u-root image inputs: %w", err)
		}
		rel, _ := filepath.Rel(repo, path)
		fmt.Fprintf(h, "file %s\n", rel)
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return "", fmt.Errorf("u-root image inputs: %w", err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// prune removes older builds of the same recipe, keeping keep.
func (b Builder) prune(dir string, img Image, keep string) {
	old, _ := filepath.Glob(filepath.Join(dir, fmt.Sprintf("%s-%s-*.cpio", img.Name, img.GOARCH)))
	for _, f := range old {
		if f != keep {
			if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
				b.log().Warn("prune old image", "path", f, "err", err)
			}
		}
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
