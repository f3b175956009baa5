package main

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/stmcginnis/gofish"
	"github.com/stmcginnis/gofish/schemas"

	"github.com/ironroot-bmc/ironroot/attest"
	"github.com/ironroot-bmc/ironroot/images"
	"github.com/ironroot-bmc/ironroot/images/manifest"
	"github.com/ironroot-bmc/ironroot/internal/certpem"
	"github.com/ironroot-bmc/ironroot/spdm"
)

// CheckSerial is bmcctl's own check on top of attest's: the DeviceID is the
// board the operator meant to attest.
const CheckSerial attest.Check = "DeviceID serial"

// checkOrder is the order the checks run in (attest.Appraise's order in
// between), for the report.
var checkOrder = []attest.Check{
	attest.CheckFormat, attest.CheckNonce, attest.CheckChain, attest.CheckSignature, attest.CheckManifest,
	attest.CheckDigests, attest.CheckVersion, attest.CheckSVN, attest.CheckDeviceMode, attest.CheckAlias, CheckSerial,
}

// Evidence is what SPDMGetSignedMeasurements answered: the SignedMeasurements
// bytes, the algorithms Redfish named, and the PEM chain of the Certificate link.
type Evidence struct {
	SignedMeasurements []byte
	Version            string // "1.2"
	HashingAlgorithm   string // "TPM_ALG_SHA_384"
	SigningAlgorithm   string // "TPM_ALG_ECDSA_ECC_NIST_P384"
	CertificateChain   []byte // PEM
}

// Expect is what the operator demands of the evidence.
type Expect struct {
	Nonce   [32]byte
	Anchors attest.Anchors // BoardID empty: the board the DeviceID certificate names
	Policy  attest.Policy
	// Serial, when set, must equal the DeviceID certificate's subject
	// serialNumber (the board ID the identity root certified) or its
	// certificate serial number (hex).
	Serial string
	At     time.Time
}

// Verdict is the outcome of VerifyEvidence: the checks that passed, in
// order, each with a detail, and the first that failed.
type Verdict struct {
	Passed []CheckResult
	Failed *attest.Failure
	Result *attest.Result
}

// CheckResult is one passed check.
type CheckResult struct {
	Check  attest.Check
	Detail string
}

// VerifyEvidence appraises SPDMGetSignedMeasurements evidence offline with
// attest/: format, the nonce sent, the chain to the identity root, the
// signature over the transcript, the manifest from block 0xFD against the
// vendor keys, component digests, version, SVN, device mode, alias
// certificate, then the DeviceID serial. It returns an error (an
// *attest.Failure) on the first check that fails; the verdict lists the ones
// before it.
func VerifyEvidence(ev Evidence, want Expect) (*Verdict, error) {
	v := &Verdict{}
	failWith := func(f *attest.Failure) (*Verdict, error) {
		v.Failed = f
		return v, f
	}
	sm, err := attest.ParseSignedMeasurements(ev.SignedMeasurements)
	if err != nil {
		var f *attest.Failure
		if !errors.As(err, &f) {
			f = &attest.Failure{Check: attest.CheckFormat, Err: err}
		}
		return failWith(f)
	}
	if got := algorithmNames(sm); ev.Version != "" && ev.Version != got[0] ||
		ev.HashingAlgorithm != "" && ev.HashingAlgorithm != got[1] || ev.SigningAlgorithm != "" && ev.SigningAlgorithm != got[2] {
		return failWith(&attest.Failure{Check: attest.CheckFormat, Err: fmt.Errorf(
			"the service says SPDM %s, %s, %s; the messages say %s, %s, %s",
			ev.Version, ev.HashingAlgorithm, ev.SigningAlgorithm, got[0], got[1], got[2])})
	}
	v.Passed = append(v.Passed, CheckResult{attest.CheckFormat, fmt.Sprintf("SPDM %s, %s, %s; %d measurement blocks",
		algorithmNames(sm)[0], algorithmNames(sm)[1], algorithmNames(sm)[2], len(sm.Response.Blocks))})

	chain, err := parseChain(ev.CertificateChain)
	if err != nil {
		return failWith(&attest.Failure{Check: attest.CheckChain, Err: err})
	}
	a := want.Anchors
	if a.BoardID == "" && len(chain) >= 2 {
		// Untrusted until the chain verifies, which Appraise does first.
		a.BoardID = chain[len(chain)-2].Subject.SerialNumber
	}
	res, err := attest.AppraiseSignedMeasurements(ev.SignedMeasurements, want.Nonce, chain, a, want.Policy, want.At)
	if err != nil {
		var f *attest.Failure
		if !errors.As(err, &f) {
			f = &attest.Failure{Check: attest.CheckChain, Err: err}
		}
		for _, c := range checkOrder[1:] {
			if c == f.Check {
				break
			}
			v.Passed = append(v.Passed, CheckResult{Check: c})
		}
		return failWith(f)
	}
	v.Result = res
	m := res.Manifest
	svn := fmt.Sprint(m.SVN)
	v.Passed = append(v.Passed,
		CheckResult{attest.CheckNonce, hex.EncodeToString(want.Nonce[:8]) + "… (the one this request sent)"},
		CheckResult{attest.CheckChain, fmt.Sprintf("%q → %q → %q", chainName(a.IdentityRoots, res.DeviceID), res.DeviceID.Subject.CommonName, res.Alias.Subject.CommonName)},
		CheckResult{attest.CheckSignature, "alias key over VCA + GET_MEASUREMENTS + MEASUREMENTS (L1)"},
		CheckResult{attest.CheckManifest, fmt.Sprintf("block 0xFD signed by the vendor keys for board %q", m.BoardID)},
		CheckResult{attest.CheckDigests, fmt.Sprintf("%d components equal the manifest's SHA-384", len(m.Components))},
		CheckResult{attest.CheckVersion, m.FirmwareVersion},
		CheckResult{attest.CheckSVN, fmt.Sprintf("%s (floor %d)", svn, want.Policy.MinSVN)},
		CheckResult{attest.CheckDeviceMode, "normal operation, no debug"},
		CheckResult{attest.CheckAlias, "TcbInfo states the measured firmware"},
	)
	if want.Serial != "" {
		if !serialMatches(res.DeviceID, want.Serial) {
			return failWith(&attest.Failure{Check: CheckSerial, Err: fmt.Errorf(
				"the board attested is %q (certificate serial %s), not %q", res.DeviceID.Subject.SerialNumber,
				certSerial(res.DeviceID.SerialNumber), want.Serial)})
		}
		v.Passed = append(v.Passed, CheckResult{CheckSerial, want.Serial})
	}
	return v, nil
}

// algorithmNames returns the SPDM version and the DSP0274 names Redfish uses.
func algorithmNames(sm *attest.SignedMeasurements) [3]string {
	ver := fmt.Sprintf("%d.%d", sm.Version.Major(), sm.Version.Minor())
	hash := map[spdm.BaseHashAlgo]string{
		spdm.HashSHA256: "TPM_ALG_SHA_256", spdm.HashSHA384: "TPM_ALG_SHA_384", spdm.HashSHA512: "TPM_ALG_SHA_512",
	}[sm.Hash]
	sign := map[spdm.BaseAsymAlgo]string{
		spdm.AsymECDSAP256: "TPM_ALG_ECDSA_ECC_NIST_P256", spdm.AsymECDSAP384: "TPM_ALG_ECDSA_ECC_NIST_P384",
		spdm.AsymECDSAP521: "TPM_ALG_ECDSA_ECC_NIST_P521",
	}[sm.Asym]
	if hash == "" {
		hash = "OEM"
	}
	if sign == "" {
		sign = "OEM"
	}
	return [3]string{ver, hash, sign}
}

// parseChain reads a PEM chain in either order and returns it root (or
// first issuer) first, leaf last.
func parseChain(b []byte) ([]*x509.Certificate, error) {
	certs, err := certpem.Parse(b)
	if err != nil {
		return nil, fmt.Errorf("certificate chain: %w", err)
	}
	if len(certs) == 0 {
		return nil, errors.New("the Certificate link holds no PEM certificate")
	}
	if len(certs) > 1 && certs[0].CheckSignatureFrom(certs[1]) == nil {
		slices.Reverse(certs) // leaf first on the wire
	}
	return certs, nil
}

func chainName(roots []*x509.Certificate, deviceID *x509.Certificate) string {
	for _, r := range roots {
		if deviceID.CheckSignatureFrom(r) == nil {
			return r.Subject.CommonName
		}
	}
	return "identity root"
}

func certSerial(n *big.Int) string { return strings.ToLower(n.Text(16)) }

func serialMatches(deviceID *x509.Certificate, want string) bool {
	if deviceID.Subject.SerialNumber == want {
		return true
	}
	w := strings.ToLower(strings.NewReplacer(":", "", " ", "").Replace(want))
	w = strings.TrimPrefix(w, "0x")
	return strings.TrimLeft(w, "0") == certSerial(deviceID.SerialNumber)
}

// loadVendorKeys reads a directory of *.pub files or one file of PEM keys.
func loadVendorKeys(path string) (manifest.KeySet, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return manifest.KeySet{}, fmt.Errorf("--vendor-keys: %w", err)
	}
	if fi.IsDir() {
		return images.LoadVendorKeySet(path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return manifest.KeySet{}, fmt.Errorf("--vendor-keys: %w", err)
	}
	var keys []manifest.PublicKey
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		k, err := manifest.ParsePublicKeyPEM(pem.EncodeToMemory(blk))
		if err != nil {
			return manifest.KeySet{}, fmt.Errorf("--vendor-keys %s: %w", path, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return manifest.KeySet{}, fmt.Errorf("--vendor-keys %s holds no PEM public key", path)
	}
	ks, err := manifest.NewKeySet(keys...)
	if err != nil {
		return manifest.KeySet{}, fmt.Errorf("--vendor-keys %s: %w", path, err)
	}
	return ks, nil
}

func loadIdentityRoots(path string) ([]*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("--identity-root: %w", err)
	}
	certs, err := parseChain(b)
	if err != nil {
		return nil, fmt.Errorf("--identity-root %s: %w", path, err)
	}
	return certs, nil
}

func attestCmd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlagSet("attest")
	var c conn
	c.flags(fs)
	rootPath := fs.String("identity-root", "", "PEM file of the identity root (manufacturer CA) the DeviceID must chain to")
	keysPath := fs.String("vendor-keys", "", "vendor public keys: a directory of *.pub files or one PEM file")
	serial := fs.String("serial", "", "the board meant: its DeviceID subject serialNumber (board ID) or certificate serial (hex)")
	board := fs.String("board", "", "board ID the signed manifest must name (default: the one the DeviceID certificate names)")
	minSVN := fs.Uint64("min-svn", 0, "lowest firmware SVN accepted")
	component := fs.String("component", "", "ComponentIntegrity Id (default: the only SPDM one)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *rootPath == "" || *keysPath == "" {
		return fmt.Errorf("%w: --identity-root and --vendor-keys are required", errUsage)
	}
	roots, err := loadIdentityRoots(*rootPath)
	if err != nil {
		return err
	}
	keys, err := loadVendorKeys(*keysPath)
	if err != nil {
		return err
	}
	var nonce [32]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		return fmt.Errorf("nonce: %w", err)
	}

	client, err := c.connect(ctx)
	if err != nil {
		return err
	}
	defer client.Logout()
	ev, where, err := signedMeasurements(client, *component, nonce)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: signed measurements for nonce %s\n", where, hex.EncodeToString(nonce[:]))
	v, err := VerifyEvidence(ev, Expect{
		Nonce:   nonce,
		Anchors: attest.Anchors{BoardID: *board, IdentityRoots: roots, VendorKeys: keys},
		Policy:  attest.Policy{MinSVN: *minSVN},
		Serial:  *serial,
		At:      time.Now(),
	})
	printVerdict(stdout, v)
	if err != nil {
		return fmt.Errorf("attestation FAILED: %w", err)
	}
	m := v.Result.Manifest
	fmt.Fprintf(stdout, "attested: board %q (DeviceID %s) runs firmware %s, SVN %d, signed by the vendor\n",
		v.Result.DeviceID.Subject.SerialNumber, certSerial(v.Result.DeviceID.SerialNumber), m.FirmwareVersion, m.SVN)
	return nil
}

func printVerdict(w io.Writer, v *Verdict) {
	if v == nil {
		return
	}
	for _, p := range v.Passed {
		if p.Detail == "" {
			fmt.Fprintf(w, "  ok    %s\n", p.Check)
		} else {
			fmt.Fprintf(w, "  ok    %s: %s\n", p.Check, p.Detail)
		}
	}
	if v.Failed != nil {
		fmt.Fprintf(w, "  FAIL  %s: %v\n", v.Failed.Check, v.Failed.Err)
	}
}

// signedMeasurements finds the ComponentIntegrity resource and posts
// #ComponentIntegrity.SPDMGetSignedMeasurements with the nonce (all
// measurement indices, slot 0).
func signedMeasurements(client *gofish.APIClient, id string, nonce [32]byte) (Evidence, string, error) {
	cis, err := client.GetService().ComponentIntegrity()
	if err != nil {
		return Evidence{}, "", fmt.Errorf("list ComponentIntegrity: %w", err)
	}
	var ci *schemas.ComponentIntegrity
	for _, c := range cis {
		switch {
		case id != "" && c.ID == id:
			ci = c
		case id == "" && c.ComponentIntegrityType == schemas.SPDMComponentIntegrityType:
			if ci != nil {
				return Evidence{}, "", fmt.Errorf("%w: several SPDM ComponentIntegrity resources (%s, %s): choose one with --component", errUsage, ci.ID, c.ID)
			}
			ci = c
		}
	}
	if ci == nil {
		return Evidence{}, "", fmt.Errorf("no ComponentIntegrity resource %q of type SPDM (the service lists %d)", id, len(cis))
	}
	rsp, err := ci.SPDMGetSignedMeasurements([]int{255}, hex.EncodeToString(nonce[:]), 0)
	if err != nil {
		return Evidence{}, "", fmt.Errorf("%s: SPDMGetSignedMeasurements: %w", ci.ODataID, err)
	}
	blob, err := base64.StdEncoding.DecodeString(rsp.SignedMeasurements)
	if err != nil {
		return Evidence{}, "", fmt.Errorf("%s: SignedMeasurements is not base64: %w", ci.ODataID, err)
	}
	cert, err := rsp.Certificate(client)
	if err != nil {
		return Evidence{}, "", fmt.Errorf("%s: the Certificate link: %w", ci.ODataID, err)
	}
	if cert == nil {
		return Evidence{}, "", fmt.Errorf("%s: the response has no Certificate link", ci.ODataID)
	}
	if cert.CertificateType != schemas.PEMchainCertificateType && cert.CertificateType != schemas.PEMCertificateType {
		return Evidence{}, "", fmt.Errorf("%s: certificate of type %q, want PEMchain", cert.ODataID, cert.CertificateType)
	}
	return Evidence{
		SignedMeasurements: blob, Version: rsp.Version, HashingAlgorithm: rsp.HashingAlgorithm,
		SigningAlgorithm: rsp.SigningAlgorithm, CertificateChain: []byte(cert.CertificateString),
	}, ci.ODataID, nil
}
