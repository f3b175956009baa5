// Package attest appraises root-of-trust evidence: the SPDM certificate
// chain and a signed MEASUREMENTS response. It is shared by bmcd's gate
// (mgmtif) and the operator's `bmcctl attest`, so every check lives here
// once:
//
//  1. chain: the slot's chain (identity root → DeviceID → alias, alias
//     certificate model) verifies to one of the identity roots of the
//     anchors;
//  2. signature: the MEASUREMENTS signature verifies with the alias key
//     over the transcript the requester built (L1, which carries the
//     requester's fresh nonce, so a replayed response fails here);
//  3. manifest: block 0xFD (DMTF type 0x04, raw) is the signed manifest and
//     verifies with the vendor keys of the anchors, for the anchors' board;
//  4. digests: one DMTF type 0x01 digest block per manifest component, in
//     bundle order at indices 1..n, each equal to the manifest's SHA-384;
//  5. version and SVN: the 0x06 and 0x07 blocks equal the manifest's, and
//     the SVN is at or above the policy floor;
//  6. device mode: the 0x05 block says normal operation and no debug mode
//     active or active since the last reset;
//  7. alias: the alias certificate's TCG DICE TcbInfo (issued by DeviceID
//     at boot, bound to the alias key through CDI = KDF(UDS, firmware))
//     states the same firmware: version, SVN, one SHA-384 FWID per
//     component in bundle order (then optionally the signed manifest's
//     digest), and no debug or not-secure flag.
//
// Time. Certificate validity is checked at a caller-supplied instant and
// never at the BMC's settable clock (Redfish DateTime moves only a board
// offset). The gate passes MonotonicTime: the host's clock read once when
// bmcd starts, advanced by the monotonic clock only, so neither a DateTime
// change nor a later step of the host clock moves it. bmcctl passes its own
// wall clock. The certificates rotd issues never expire (notAfter
// 99991231235959Z), so the check mostly guards notBefore against a chain
// issued "in the future".
//
// It knows nothing of transports, sessions or HTTP: evidence in, verdict out.
package attest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/ironroot-bmc/ironroot/dice"
	"github.com/ironroot-bmc/ironroot/images/manifest"
	"github.com/ironroot-bmc/ironroot/spdm"
)

// Measurement indices and DMTF value types of rotd's blocks
// (ARCHITECTURE.md, "SPDM on the RoT link").
const (
	IndexManifest   uint8 = 0xFD
	IndexDeviceMode uint8 = 0xFE
)

// Check names a step of the appraisal; a Failure carries it.
type Check string

// Checks, in the order Appraise runs them.
const (
	CheckChain      Check = "certificate chain"
	CheckSignature  Check = "measurement signature"
	CheckManifest   Check = "manifest"
	CheckDigests    Check = "component digests"
	CheckVersion    Check = "firmware version"
	CheckSVN        Check = "SVN"
	CheckDeviceMode Check = "device mode"
	CheckAlias      Check = "alias certificate"
)

// Failure is an appraisal that failed: which check and why.
type Failure struct {
	Check Check
	Err   error
}

func (f *Failure) Error() string { return string(f.Check) + ": " + f.Err.Error() }
func (f *Failure) Unwrap() error { return f.Err }

func fail(c Check, format string, args ...any) *Failure {
	return &Failure{Check: c, Err: fmt.Errorf(format, args...)}
}

// Anchors are the trust anchors of the board, from its bmc-config.
type Anchors struct {
	// BoardID the manifest must name.
	BoardID string
	// IdentityRoots are the manufacturer CAs DeviceID certificates chain to.
	IdentityRoots []*x509.Certificate
	// VendorKeys are the accepted bundle signing keys.
	VendorKeys manifest.KeySet
}

// AnchorsFrom returns the anchors of a verified bmc-config.
func AnchorsFrom(c *manifest.BMCConfig) Anchors {
	return Anchors{BoardID: c.BoardID, IdentityRoots: c.IdentityRoots, VendorKeys: c.VendorKeys}
}

// Roots returns the identity roots as a pool.
func (a Anchors) Roots() *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range a.IdentityRoots {
		p.AddCert(c)
	}
	return p
}

// Policy is what the appraisal demands beyond the anchors.
type Policy struct {
	// MinSVN is the lowest firmware SVN accepted.
	MinSVN uint64
}

// PolicyFrom returns the appraisal policy of a bmc-config.
func PolicyFrom(c *manifest.BMCConfig) Policy { return Policy{MinSVN: c.Gate.MinSVN} }

// Evidence is what an appraisal looks at.
type Evidence struct {
	// Chain is the SPDM certificate chain of the slot that signed.
	Chain *spdm.CertChain
	// Hash is the negotiated base hash (the chain's digest algorithm).
	Hash spdm.BaseHashAlgo
	// Measurements is the signed MEASUREMENTS response with its request
	// and transcript (spdm.MeasurementResult.Evidence). It must cover every
	// block (operation 0xFF).
	Measurements *spdm.Evidence
}

// Result is a successful appraisal.
type Result struct {
	DeviceID *x509.Certificate
	Alias    *x509.Certificate
	Manifest *manifest.Manifest
	// SignedManifest is block 0xFD as measured.
	SignedManifest []byte
	Blocks         []spdm.MeasurementBlock
	DeviceMode     DeviceMode
}

// MonotonicTime returns the gate's certificate clock: the host's wall clock
// read now, advanced only by the monotonic clock afterwards.
func MonotonicTime() func() time.Time {
	start := time.Now()
	wall := start.Round(0) // strip the monotonic reading: a fixed instant
	return func() time.Time { return wall.Add(time.Since(start)) }
}

// Appraise runs every check on ev at certificate time at. The first
// failing check ends it with a *Failure.
func Appraise(ev Evidence, a Anchors, p Policy, at time.Time) (*Result, error) {
	res, err := appraiseChain(ev, a, at)
	if err != nil {
		return nil, err
	}
	if err := appraiseBlocks(res, a, p); err != nil {
		return nil, err
	}
	return res, nil
}

func appraiseChain(ev Evidence, a Anchors, at time.Time) (*Result, error) {
	if ev.Chain == nil || len(ev.Chain.Certs) < 2 {
		return nil, fail(CheckChain, "no alias-model chain (identity root → DeviceID → alias)")
	}
	if len(a.IdentityRoots) == 0 {
		return nil, fail(CheckChain, "no identity root in the anchors")
	}
	if at.IsZero() {
		return nil, fail(CheckChain, "no certificate time")
	}
	h := ev.Hash.CryptoHash()
	if h == 0 {
		return nil, fail(CheckChain, "unsupported hash %#x", uint32(ev.Hash))
	}
	leaf := ev.Chain.Leaf()
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, fail(CheckChain, "alias key is %T, not ECDSA", leaf.PublicKey)
	}
	asym := spdm.AsymECDSAP384
	if pub.Curve.Params().BitSize == 256 {
		asym = spdm.AsymECDSAP256
	}
	if err := ev.Chain.Verify(h, spdm.VerifyOptions{Roots: a.Roots(), Now: at, Asym: asym, Model: spdm.CertModelAlias}); err != nil {
		return nil, &Failure{Check: CheckChain, Err: err}
	}
	res := &Result{DeviceID: ev.Chain.Certs[len(ev.Chain.Certs)-2], Alias: leaf}

	m := ev.Measurements
	if m == nil {
		return nil, fail(CheckSignature, "no signed measurements")
	}
	if m.Hash != ev.Hash {
		return nil, fail(CheckSignature, "measurements hashed with %#x, chain with %#x", uint32(m.Hash), uint32(ev.Hash))
	}
	if err := m.Verify(pub); err != nil {
		return nil, &Failure{Check: CheckSignature, Err: err}
	}
	// The response is the one the signature covers: it must end the
	// signed transcript (signature excluded).
	if len(m.Response) < len(m.Signature) || !bytes.HasSuffix(m.Transcript, m.Response[:len(m.Response)-len(m.Signature)]) ||
		!bytes.HasSuffix(m.Response, m.Signature) {
		return nil, fail(CheckSignature, "the response is not the one the signature covers")
	}
	if !bytes.Contains(m.Transcript, m.Request) {
		return nil, fail(CheckSignature, "the request is not in the signed transcript")
	}
	var gm spdm.GetMeasurements
	if err := gm.Unmarshal(m.Request); err != nil {
		return nil, fail(CheckSignature, "request: %w", err)
	}
	if gm.Operation != spdm.MeasOpAll {
		return nil, fail(CheckSignature, "measurements of index %d only; the appraisal needs all (0xFF)", gm.Operation)
	}
	var mr spdm.Measurements
	l := spdm.Layout{HashSize: h.Size(), SignatureSize: asym.SignatureSize(), Signed: true}
	if err := mr.Unmarshal(m.Response, l); err != nil {
		return nil, fail(CheckSignature, "response: %w", err)
	}
	if mr.Nonce == gm.Nonce {
		// DSP0274: the responder's nonce is its own fresh random value.
		return nil, fail(CheckSignature, "responder nonce echoes the requester's")
	}
	res.Blocks = mr.Blocks
	return res, nil
}

func findBlock(bs []spdm.MeasurementBlock, typ uint8) (spdm.MeasurementBlock, int) {
	var found spdm.MeasurementBlock
	n := 0
	for _, b := range bs {
		if b.ValueType&^spdm.MeasTypeRaw == typ {
			if n == 0 {
				found = b
			}
			n++
		}
	}
	return found, n
}

func appraiseBlocks(res *Result, a Anchors, p Policy) error {
	bs := res.Blocks
	mb, n := findBlock(bs, spdm.MeasTypeManifest)
	if n != 1 || !mb.Raw() || mb.Index != IndexManifest {
		return fail(CheckManifest, "want exactly one raw manifest block at index %#x, found %d", IndexManifest, n)
	}
	// The SVN floor is checked below with its own reason; the manifest
	// check is signatures, structure and board.
	m, err := manifest.Verify(mb.Value, a.VendorKeys, manifest.Policy{BoardID: a.BoardID})
	if err != nil {
		return &Failure{Check: CheckManifest, Err: err}
	}
	res.Manifest, res.SignedManifest = m, bytes.Clone(mb.Value)

	var digests []spdm.MeasurementBlock
	for _, b := range bs {
		if b.ValueType&^spdm.MeasTypeRaw == spdm.MeasTypeMutableFirmware {
			digests = append(digests, b)
		}
	}
	// sort.Slice, not slices.SortFunc: no generic sort copy per element type in bmcd.
	sort.Slice(digests, func(i, j int) bool { return digests[i].Index < digests[j].Index })
	if len(digests) != len(m.Components) {
		return fail(CheckDigests, "%d component measurements, the manifest lists %d components", len(digests), len(m.Components))
	}
	for i, c := range m.Components {
		b := digests[i]
		switch {
		case b.Index != uint8(i+1):
			return fail(CheckDigests, "component %s measured at index %d, want %d", c.Name, b.Index, i+1)
		case b.Raw():
			return fail(CheckDigests, "component %s measured as a raw bit stream, not a digest", c.Name)
		case len(b.Value) != len(c.SHA384):
			return fail(CheckDigests, "component %s: %d-byte digest; the measurement hash must be SHA-384", c.Name, len(b.Value))
		case !bytes.Equal(b.Value, c.SHA384[:]):
			return fail(CheckDigests, "component %s: measured %x…, the manifest says %x…", c.Name, b.Value[:8], c.SHA384[:8])
		}
	}

	vb, n := findBlock(bs, spdm.MeasTypeVersion)
	if n != 1 || !vb.Raw() || string(vb.Value) != m.FirmwareVersion {
		return fail(CheckVersion, "measured firmware version %q (%d blocks), the manifest says %q", vb.Value, n, m.FirmwareVersion)
	}
	sb, n := findBlock(bs, spdm.MeasTypeSVN)
	if n != 1 || !sb.Raw() || len(sb.Value) != 8 {
		return fail(CheckSVN, "want one raw 8-byte SVN block, found %d", n)
	}
	svn := binary.LittleEndian.Uint64(sb.Value)
	if svn != m.SVN {
		return fail(CheckSVN, "measured SVN %d, the manifest says %d", svn, m.SVN)
	}
	if svn < p.MinSVN {
		return fail(CheckSVN, "firmware SVN %d is below the floor %d", svn, p.MinSVN)
	}

	db, n := findBlock(bs, spdm.MeasTypeDeviceMode)
	if n != 1 || !db.Raw() || db.Index != IndexDeviceMode {
		return fail(CheckDeviceMode, "want exactly one raw device mode block at index %#x, found %d", IndexDeviceMode, n)
	}
	dm, err := ParseDeviceMode(db.Value)
	if err != nil {
		return &Failure{Check: CheckDeviceMode, Err: err}
	}
	if err := dm.Acceptable(); err != nil {
		return &Failure{Check: CheckDeviceMode, Err: err}
	}
	res.DeviceMode = dm
	return appraiseAlias(res)
}

// appraiseAlias checks that the alias certificate describes the firmware
// that was measured.
func appraiseAlias(res *Result) error {
	info, ok, err := dice.FromCertificate(res.Alias)
	if err != nil {
		return &Failure{Check: CheckAlias, Err: err}
	}
	if !ok {
		return fail(CheckAlias, "no TcbInfo extension")
	}
	m := res.Manifest
	if info.Version != m.FirmwareVersion {
		return fail(CheckAlias, "TcbInfo version %q, the manifest says %q", info.Version, m.FirmwareVersion)
	}
	if info.SVN == nil || !info.SVN.IsUint64() || info.SVN.Uint64() != m.SVN {
		return fail(CheckAlias, "TcbInfo SVN %v, the manifest says %d", info.SVN, m.SVN)
	}
	if info.Flags != nil && *info.Flags&(dice.FlagDebug|dice.FlagNotSecure|dice.FlagNotConfigured) != 0 {
		return fail(CheckAlias, "TcbInfo operational flags %#x", uint32(*info.Flags))
	}
	want := make([][]byte, 0, len(m.Components)+1)
	for _, c := range m.Components {
		want = append(want, c.SHA384[:])
	}
	if len(info.FWIDs) == len(want)+1 {
		md := manifest.Digest(res.SignedManifest)
		want = append(want, md[:])
	}
	if len(info.FWIDs) != len(want) {
		return fail(CheckAlias, "%d FWIDs for %d components", len(info.FWIDs), len(m.Components))
	}
	for i, f := range info.FWIDs {
		if !f.HashAlg.Equal(dice.OIDSHA384()) || !bytes.Equal(f.Digest, want[i]) {
			return fail(CheckAlias, "FWID %d does not match the measured firmware", i)
		}
	}
	return nil
}

// DeviceMode is the DMTF device mode measurement (DSP0274 1.2/1.3 table
// "DMTF measurement device mode"): four little-endian u32.
type DeviceMode struct {
	OperationalModeCapabilities uint32
	OperationalModeState        uint32
	DeviceModeCapabilities      uint32
	DeviceModeState             uint32
}

// Operational mode bits.
const (
	OpModeManufacturing  uint32 = 1 << 0
	OpModeValidation     uint32 = 1 << 1
	OpModeNormal         uint32 = 1 << 2
	OpModeRecovery       uint32 = 1 << 3
	OpModeRMA            uint32 = 1 << 4
	OpModeDecommissioned uint32 = 1 << 5
)

// Device mode (debug) bits.
const (
	DebugNonInvasiveActive    uint32 = 1 << 0
	DebugInvasiveActive       uint32 = 1 << 1
	DebugNonInvasiveWasActive uint32 = 1 << 2
	DebugInvasiveWasActive    uint32 = 1 << 3
	DebugInvasiveSinceMfg     uint32 = 1 << 4
)

// ErrDebugMode reports a device in (or since reset in) a debug mode.
var ErrDebugMode = errors.New("debug mode")

// ParseDeviceMode decodes the 16-byte device mode value.
func ParseDeviceMode(b []byte) (DeviceMode, error) {
	if len(b) != 16 {
		return DeviceMode{}, fmt.Errorf("device mode is %d bytes, want 16", len(b))
	}
	return DeviceMode{
		OperationalModeCapabilities: binary.LittleEndian.Uint32(b[0:]),
		OperationalModeState:        binary.LittleEndian.Uint32(b[4:]),
		DeviceModeCapabilities:      binary.LittleEndian.Uint32(b[8:]),
		DeviceModeState:             binary.LittleEndian.Uint32(b[12:]),
	}, nil
}

// Acceptable refuses a debug mode active now or since the last reset, and
// any operational state but normal.
func (d DeviceMode) Acceptable() error {
	if dbg := d.DeviceModeState & (DebugNonInvasiveActive | DebugInvasiveActive | DebugNonInvasiveWasActive | DebugInvasiveWasActive); dbg != 0 {
		return fmt.Errorf("%w: device mode state %#x", ErrDebugMode, d.DeviceModeState)
	}
	if d.OperationalModeState != OpModeNormal {
		return fmt.Errorf("operational mode state %#x is not normal operation", d.OperationalModeState)
	}
	return nil
}
