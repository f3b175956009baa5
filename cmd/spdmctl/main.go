// Command spdmctl attests an SPDM responder (DMTF DSP0274 1.2/1.3) reached
// over the spdm-emu socket framing: it negotiates version and algorithms,
// verifies the certificate chain against trust anchors given with --root,
// challenges the responder, prints the signed measurements and optionally
// opens a secure session (DSP0277) and fetches the measurements inside it.
//
//	spdmctl attest --addr 127.0.0.1:2323 --root root.pem [--session]
package main

import (
	"context"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"

	"github.com/ironroot-bmc/ironroot/internal/certpem"
	"github.com/ironroot-bmc/ironroot/spdm"
)

// version is set by the build (-X main.version).
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// rootList collects repeated --root flags.
type rootList []string

func (r *rootList) String() string     { return strings.Join(*r, ",") }
func (r *rootList) Set(v string) error { *r = append(*r, v); return nil }

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: spdmctl attest --addr HOST:PORT --root ROOT.pem [--root ...] [--slot N] [--session] [--timeout D]\n       spdmctl version")
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 1 && args[0] == "version" {
		fmt.Fprintln(stdout, "spdmctl", version)
		return 0
	}
	if len(args) == 0 || args[0] != "attest" {
		usage(stderr)
		return 2
	}
	fs := flag.NewFlagSet("attest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", net.JoinHostPort("127.0.0.1", strconv.Itoa(spdm.DefaultPort)), "responder address")
	var roots rootList
	fs.Var(&roots, "root", "PEM or DER trust anchor (repeatable)")
	slot := fs.Uint("slot", 0, "certificate slot")
	session := fs.Bool("session", false, "open a secure session and fetch measurements inside it")
	timeout := fs.Duration("timeout", 30*time.Second, "overall timeout")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if len(roots) == 0 {
		fmt.Fprintln(stderr, "spdmctl: at least one --root is required")
		return 2
	}
	if *slot > 7 {
		fmt.Fprintln(stderr, "spdmctl: --slot must be 0..7")
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := attest(ctx, stdout, *addr, roots, uint8(*slot), *session); err != nil {
		fmt.Fprintf(stderr, "spdmctl: attestation FAILED: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "attestation OK")
	return 0
}

func loadRoots(files []string) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read root: %w", err)
		}
		certs, err := certpem.Parse(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		for _, c := range certs {
			pool.AddCert(c)
		}
		n := len(certs)
		if n == 0 {
			c, err := x509.ParseCertificate(b)
			if err != nil {
				return nil, fmt.Errorf("%s: no certificate found", f)
			}
			pool.AddCert(c)
		}
	}
	return pool, nil
}

func attest(ctx context.Context, w io.Writer, addr string, rootFiles []string, slot uint8, withSession bool) error {
	roots, err := loadRoots(rootFiles)
	if err != nil {
		return err
	}
	r, err := spdm.Dial(ctx, addr, spdm.RequesterConfig{Roots: roots})
	if err != nil {
		return err
	}
	defer r.Close(context.WithoutCancel(ctx))
	if err := r.Connect(ctx); err != nil {
		return err
	}
	n := r.Negotiated()
	fmt.Fprintf(w, "SPDM version:     %s\n", n.Version)
	fmt.Fprintf(w, "base asym:        %s\n", asymName(n.BaseAsym))
	fmt.Fprintf(w, "base hash:        %s\n", hashName(n.BaseHash))
	fmt.Fprintf(w, "measurement hash: 0x%08x\n", uint32(n.MeasurementHash))
	fmt.Fprintf(w, "DHE / AEAD:       0x%04x / 0x%04x\n", uint16(n.DHE), uint16(n.AEAD))
	fmt.Fprintf(w, "responder caps:   0x%08x\n", uint32(n.ResponderCaps.Flags))
	chain, err := r.CertificateChain(ctx, slot)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "certificate chain (slot %d) verified:\n", slot)
	for _, c := range chain.Certs {
		fmt.Fprintf(w, "  %s (until %s)\n", c.Subject, c.NotAfter.UTC().Format(time.RFC3339))
	}
	ch, err := r.Challenge(ctx, slot, spdm.SummaryAll)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "CHALLENGE_AUTH verified; measurement summary %s\n", hex.EncodeToString(ch.Response.SummaryHash))
	m, err := r.Measurements(ctx, spdm.MeasurementRequest{Operation: spdm.MeasOpAll, Signed: true, SlotID: slot})
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "signed measurements (verified):")
	printBlocks(w, m.Blocks)
	if !withSession {
		return nil
	}
	s, err := r.StartSession(ctx, spdm.SessionOptions{SlotID: slot, SummaryType: spdm.SummaryAll})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "session 0x%08x established (heartbeat %d s)\n", s.ID, s.HeartbeatPeriod)
	sm, err := s.Measurements(ctx, spdm.MeasurementRequest{Operation: spdm.MeasOpAll, Signed: true, SlotID: slot})
	if err != nil {
		return err
	}
	fmt.Fprintln(w, "session measurements (verified):")
	printBlocks(w, sm.Blocks)
	if err := s.End(ctx); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return errors.Join(errors.New("timed out"), err)
	}
	return nil
}

func printBlocks(w io.Writer, blocks []spdm.MeasurementBlock) {
	for _, b := range blocks {
		kind := "digest"
		val := b.Value
		if b.Raw() {
			kind = "raw"
			if len(val) > 64 {
				d := sha512.Sum384(val)
				fmt.Fprintf(w, "  index 0x%02x type 0x%02x %s %d bytes (sha384 %s)\n", b.Index, b.ValueType&^spdm.MeasTypeRaw, kind, len(val), hex.EncodeToString(d[:]))
				continue
			}
		}
		fmt.Fprintf(w, "  index 0x%02x type 0x%02x %s %s\n", b.Index, b.ValueType&^spdm.MeasTypeRaw, kind, hex.EncodeToString(val))
	}
}

func asymName(a spdm.BaseAsymAlgo) string {
	switch a {
	case spdm.AsymECDSAP256:
		return "ECDSA P-256"
	case spdm.AsymECDSAP384:
		return "ECDSA P-384"
	}
	return fmt.Sprintf("0x%08x", uint32(a))
}

func hashName(h spdm.BaseHashAlgo) string {
	switch h {
	case spdm.HashSHA256:
		return "SHA-256"
	case spdm.HashSHA384:
		return "SHA-384"
	case spdm.HashSHA512:
		return "SHA-512"
	}
	return fmt.Sprintf("0x%08x", uint32(h))
}
