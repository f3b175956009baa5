// Command fwbundle is the vendor's bundle tool: it generates vendor keys,
// builds and signs firmware bundles, verifies them with the vendor public
// keys and shows what a bundle claims. The format lives in images and
// images/manifest (docs/bundle-format.md); this file is flags and wiring.
package main

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ironroot-bmc/ironroot/images"
	"github.com/ironroot-bmc/ironroot/images/manifest"
	"github.com/ironroot-bmc/ironroot/internal/certpem"
)

var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: fwbundle <command> [flags]

commands:
  keygen     --out DIR                      generate a vendor key pair (ES384 + ML-DSA-87)
  build      --keys DIR --board ID --version V --svn N --component name=path[@version]... -o FILE
  verify     --pub DIR [--board ID] [--min-svn N] [--key-set-hash HEX] BUNDLE
  inspect    [--json] BUNDLE                show what a bundle claims (signatures NOT checked)
  bmc-config --pub DIR --identity-root PEM --board ID [--interval D] [--heartbeat D] [--min-svn N] -o FILE
  key-set-hash --pub DIR                    print the SHA-384 of the accepted vendor key set
  version
`

// errUsage marks a command-line mistake (exit status 2).
var errUsage = errors.New("usage")

// run executes one fwbundle command and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "keygen":
		err = keygen(args[1:], stdout)
	case "build":
		err = build(args[1:], stdout)
	case "verify":
		err = verify(args[1:], stdout)
	case "inspect":
		err = inspect(args[1:], stdout)
	case "bmc-config":
		err = bmcConfig(args[1:], stdout)
	case "key-set-hash":
		err = keySetHash(args[1:], stdout)
	case "version":
		fmt.Fprintln(stdout, "fwbundle", version)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "fwbundle: unknown command %q\n%s", args[0], usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "fwbundle %s: %v\n", args[0], err)
		return 2
	default:
		fmt.Fprintf(stderr, "fwbundle %s: %v\n", args[0], err)
		return 1
	}
}

func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}

func keygen(args []string, stdout io.Writer) error {
	fs := newFlagSet("keygen")
	out := fs.String("out", "", "directory for the key files (created 0700)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() != 0 {
		return fmt.Errorf("%w: keygen --out DIR", errUsage)
	}
	pubs, err := images.GenerateVendorKeys(*out)
	if err != nil {
		return err
	}
	for _, k := range pubs {
		fmt.Fprintf(stdout, "%-9s kid %s\n", manifest.AlgorithmName(k.Algorithm()), k.KeyIDHex())
	}
	ks, err := manifest.NewKeySet(pubs...)
	if err != nil {
		return err
	}
	h := ks.Hash()
	fmt.Fprintf(stdout, "key set hash %x\nwrote %s\n", h[:], *out)
	return nil
}

// componentFlag collects --component name=path[@version].
type componentFlag []componentArg

type componentArg struct{ name, path, version string }

func (c *componentFlag) String() string { return fmt.Sprint(len(*c), " components") }

func (c *componentFlag) Set(v string) error {
	name, rest, ok := strings.Cut(v, "=")
	if !ok || name == "" || rest == "" {
		return fmt.Errorf("want name=path[@version], got %q", v)
	}
	if err := manifest.CheckComponentName(name); err != nil {
		return err
	}
	path, ver := rest, ""
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		path, ver = rest[:i], rest[i+1:]
	}
	*c = append(*c, componentArg{name: name, path: path, version: ver})
	return nil
}

func build(args []string, stdout io.Writer) error {
	fs := newFlagSet("build")
	keys := fs.String("keys", "", "vendor key directory (from keygen)")
	board := fs.String("board", "", "board ID")
	fwVersion := fs.String("version", "", "firmware version")
	svn := fs.Uint64("svn", 0, "security version number")
	buildTime := fs.String("build-time", "", "build time, RFC 3339 or Unix seconds (default $SOURCE_DATE_EPOCH, else now)")
	out := fs.String("o", "", "output bundle file")
	var comps componentFlag
	fs.Var(&comps, "component", "component name=path[@version] (repeat, in bundle order)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *keys == "" || *board == "" || *fwVersion == "" || *out == "" || len(comps) == 0 || fs.NArg() != 0 {
		return fmt.Errorf("%w: build --keys DIR --board ID --version V --svn N --component name=path[@version]... -o FILE", errUsage)
	}
	bt, err := parseBuildTime(*buildTime)
	if err != nil {
		return err
	}
	signers, err := images.LoadVendorSigners(*keys)
	if err != nil {
		return err
	}
	var sources []images.ComponentSource
	for _, c := range comps {
		f, err := os.Open(c.path)
		if err != nil {
			return fmt.Errorf("component %s: %w", c.name, err)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return fmt.Errorf("component %s: %w", c.name, err)
		}
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("component %s: %s is not a regular file", c.name, c.path)
		}
		sources = append(sources, images.ComponentSource{Name: c.name, Version: c.version, Content: f, Size: fi.Size()})
	}
	meta := images.Meta{BoardID: *board, FirmwareVersion: *fwVersion, SVN: *svn, BuildTime: bt}
	m, err := writeAtomically(*out, func(w io.Writer) (*manifest.Manifest, error) {
		return images.Build(w, meta, sources, signers)
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "built %s: board %s, firmware %s, SVN %d\n", *out, m.BoardID, m.FirmwareVersion, m.SVN)
	for _, c := range m.Components {
		fmt.Fprintf(stdout, "  %-14s %12d bytes  sha384 %x\n", c.Name, c.Size, c.SHA384)
	}
	for _, s := range signers {
		fmt.Fprintf(stdout, "  signed %-9s kid %s\n", manifest.AlgorithmName(s.Algorithm()), s.Public().KeyIDHex())
	}
	return nil
}

func parseBuildTime(s string) (time.Time, error) {
	if s == "" {
		s = os.Getenv("SOURCE_DATE_EPOCH")
	}
	if s == "" {
		return time.Now().UTC(), nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0).UTC(), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%w: build time %q: want RFC 3339 or Unix seconds", errUsage, s)
	}
	return t.UTC(), nil
}

// writeAtomically writes a file through a temporary file in the same
// directory: write, fsync, rename, fsync(dir). A failure leaves no output.
func writeAtomically[T any](path string, write func(io.Writer) (T, error)) (T, error) {
	var zero T
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return zero, fmt.Errorf("creating output: %w", err)
	}
	defer os.Remove(tmp.Name())
	v, err := write(tmp)
	if err != nil {
		tmp.Close()
		return zero, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return zero, fmt.Errorf("syncing output: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return zero, fmt.Errorf("closing output: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return zero, fmt.Errorf("output mode: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return zero, fmt.Errorf("renaming output: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return v, nil
}

func openBundle(path string) (*images.Bundle, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	b, err := images.Open(f, fi.Size())
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return b, f, nil
}

func verify(args []string, stdout io.Writer) error {
	fs := newFlagSet("verify")
	pub := fs.String("pub", "", "directory of accepted vendor public keys (*.pub)")
	board := fs.String("board", "", "board ID the bundle must name (default: not checked)")
	minSVN := fs.Uint64("min-svn", 0, "SVN floor")
	ksHash := fs.String("key-set-hash", "", "expected key set hash (hex), as provisioned on the board")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *pub == "" || fs.NArg() != 1 {
		return fmt.Errorf("%w: verify --pub DIR [--board ID] [--min-svn N] BUNDLE", errUsage)
	}
	keys, err := images.LoadVendorKeySet(*pub)
	if err != nil {
		return err
	}
	policy := manifest.Policy{BoardID: *board, AnyBoard: *board == "", MinSVN: *minSVN}
	if *ksHash != "" {
		if policy.KeySetHash, err = hex.DecodeString(*ksHash); err != nil {
			return fmt.Errorf("%w: --key-set-hash: %v", errUsage, err)
		}
	}
	policy.Report = func(check, detail string) { fmt.Fprintf(stdout, "ok    %-10s %s\n", check, detail) }
	fmt.Fprintf(stdout, "ok    %-10s %d accepted vendor keys from %s\n", "keys", keys.Len(), *pub)

	b, f, err := openBundle(fs.Arg(0))
	if err != nil {
		fmt.Fprintf(stdout, "FAIL  %-10s %v\n", "container", err)
		return fmt.Errorf("%s: rejected", fs.Arg(0))
	}
	defer f.Close()
	fmt.Fprintf(stdout, "ok    %-10s %s, %d bytes\n", "container", fs.Arg(0), b.Size())
	ver, err := b.VerifyAndCopy(keys, policy, func(c manifest.Component) (io.Writer, error) { return io.Discard, nil })
	if err != nil {
		fmt.Fprintf(stdout, "FAIL  %v\n", err)
		return fmt.Errorf("%s: rejected", fs.Arg(0))
	}
	if *board == "" {
		fmt.Fprintf(stdout, "--    %-10s not checked (no --board); bundle names %q\n", "board", ver.Manifest.BoardID)
	}
	for _, c := range ver.Components {
		fmt.Fprintf(stdout, "ok    %-10s %s %d bytes, sha384 %x\n", "component", c.Name, c.Size, c.SHA384)
	}
	fmt.Fprintf(stdout, "VERIFIED %s: board %s, firmware %s, SVN %d\n", fs.Arg(0), ver.Manifest.BoardID, ver.Manifest.FirmwareVersion, ver.Manifest.SVN)
	return nil
}

// inspectJSON is the --json form of inspect.
type inspectJSON struct {
	Verified        bool            `json:"verified"`
	FormatVersion   uint64          `json:"formatVersion"`
	BoardID         string          `json:"boardId"`
	FirmwareVersion string          `json:"firmwareVersion"`
	SVN             uint64          `json:"svn"`
	BuildTime       time.Time       `json:"buildTime"`
	Size            int64           `json:"size"`
	SignedSize      int             `json:"signedManifestSize"`
	ManifestSHA384  string          `json:"signedManifestSha384"`
	Signatures      []signatureJSON `json:"signatures"`
	Components      []componentJSON `json:"components"`
}

type signatureJSON struct {
	Algorithm string `json:"algorithm"`
	COSEAlg   int64  `json:"coseAlg"`
	KeyID     string `json:"kid"`
}

type componentJSON struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Size    uint64 `json:"size"`
	SHA384  string `json:"sha384"`
}

func inspect(args []string, stdout io.Writer) error {
	fs := newFlagSet("inspect")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: inspect [--json] BUNDLE", errUsage)
	}
	b, f, err := openBundle(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	m := b.Unverified()
	sum := manifest.Digest(b.Signed())
	out := inspectJSON{
		FormatVersion: m.FormatVersion, BoardID: m.BoardID, FirmwareVersion: m.FirmwareVersion, SVN: m.SVN,
		BuildTime: m.BuildTime, Size: b.Size(), SignedSize: len(b.Signed()), ManifestSHA384: hex.EncodeToString(sum[:]),
		Signatures: []signatureJSON{}, Components: []componentJSON{},
	}
	for _, s := range m.Signatures {
		out.Signatures = append(out.Signatures, signatureJSON{Algorithm: manifest.AlgorithmName(s.Algorithm), COSEAlg: int64(s.Algorithm), KeyID: hex.EncodeToString(s.KeyID)})
	}
	for _, c := range m.Components {
		out.Components = append(out.Components, componentJSON{Name: c.Name, Version: c.Version, Size: c.Size, SHA384: hex.EncodeToString(c.SHA384[:])})
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(stdout, "bundle           %s (%d bytes) -- signatures NOT verified (use fwbundle verify)\n", fs.Arg(0), out.Size)
	fmt.Fprintf(stdout, "format version   %d\nboard            %s\nfirmware version %s\nSVN              %d\nbuild time       %s\n",
		out.FormatVersion, out.BoardID, out.FirmwareVersion, out.SVN, out.BuildTime.Format(time.RFC3339))
	fmt.Fprintf(stdout, "signed manifest  %d bytes, sha384 %s\n", out.SignedSize, out.ManifestSHA384)
	for _, s := range out.Signatures {
		fmt.Fprintf(stdout, "signature        %-9s (alg %d) kid %s\n", s.Algorithm, s.COSEAlg, s.KeyID)
	}
	for i, c := range out.Components {
		fmt.Fprintf(stdout, "component %-2d     %-14s %-12s %12d bytes  sha384 %s\n", i, c.Name, c.Version, c.Size, c.SHA384)
	}
	return nil
}

func bmcConfig(args []string, stdout io.Writer) error {
	fs := newFlagSet("bmc-config")
	pub := fs.String("pub", "", "directory of accepted vendor public keys (*.pub)")
	root := fs.String("identity-root", "", "PEM file of the identity root certificate(s)")
	board := fs.String("board", "", "board ID")
	interval := fs.Duration("interval", 30*time.Second, "gate measurement interval")
	heartbeat := fs.Duration("heartbeat", 10*time.Second, "SPDM heartbeat period")
	minSVN := fs.Uint64("min-svn", 0, "lowest firmware SVN the gate accepts")
	out := fs.String("o", "", "output file (the bmc-config component)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *pub == "" || *root == "" || *board == "" || *out == "" || fs.NArg() != 0 {
		return fmt.Errorf("%w: bmc-config --pub DIR --identity-root PEM --board ID -o FILE", errUsage)
	}
	keys, err := images.LoadVendorKeySet(*pub)
	if err != nil {
		return err
	}
	pemBytes, err := os.ReadFile(*root)
	if err != nil {
		return fmt.Errorf("reading identity root: %w", err)
	}
	roots, err := certpem.Parse(pemBytes)
	if err != nil {
		return fmt.Errorf("parsing identity root: %w", err)
	}
	if len(roots) == 0 {
		return fmt.Errorf("%s holds no CERTIFICATE block", *root)
	}
	cfg := manifest.BMCConfig{
		BoardID: *board, IdentityRoots: roots, VendorKeys: keys,
		Gate: manifest.GatePolicy{MeasurementInterval: *interval, HeartbeatPeriod: *heartbeat, MinSVN: *minSVN},
	}
	data, err := cfg.Encode()
	if err != nil {
		return err
	}
	if _, err := writeAtomically(*out, func(w io.Writer) (struct{}, error) {
		_, err := w.Write(data)
		return struct{}{}, err
	}); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s: bmc-config for %s, %d identity roots, %d vendor keys, %d bytes\n", *out, *board, len(roots), keys.Len(), len(data))
	return nil
}

func keySetHash(args []string, stdout io.Writer) error {
	fs := newFlagSet("key-set-hash")
	pub := fs.String("pub", "", "directory of accepted vendor public keys (*.pub)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *pub == "" || fs.NArg() != 0 {
		return fmt.Errorf("%w: key-set-hash --pub DIR", errUsage)
	}
	keys, err := images.LoadVendorKeySet(*pub)
	if err != nil {
		return err
	}
	h := keys.Hash()
	fmt.Fprintf(stdout, "%x\n", h[:])
	return nil
}
