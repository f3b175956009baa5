package manifest

import (
	"bytes"
	"crypto/sha512"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// Format bounds and constants (docs/bundle-format.md, "Bounds").
const (
	// FormatVersion is the manifest format this package reads and writes.
	FormatVersion = 1
	// MaxManifestSize bounds the CBOR manifest (the COSE payload).
	MaxManifestSize = 64 << 10
	// MaxSignedSize bounds the whole COSE_Sign envelope: the manifest plus
	// two signatures (an ML-DSA-87 signature is 4,627 bytes) and headers.
	MaxSignedSize = MaxManifestSize + 16<<10
	// MaxComponents bounds the number of components in one manifest.
	MaxComponents = 32
	// DefaultMaxTotalSize is the bound on the sum of the declared component
	// sizes when a Policy leaves MaxTotalSize zero.
	DefaultMaxTotalSize = 1 << 30
	// MaxComponentSize is the largest size a single component may declare,
	// whatever the policy: it keeps sums and offsets far from overflow.
	MaxComponentSize = 1 << 40
	// MaxNameLen bounds a component name; MaxVersionLen a component or
	// firmware version; MaxBoardIDLen a board ID.
	MaxNameLen    = 64
	MaxVersionLen = 128
	MaxBoardIDLen = 128
	// DigestSize is the size of a component digest (SHA-384).
	DigestSize = sha512.Size384
)

// Well-known component names. Others are allowed if they follow the name
// syntax (lowercase letters, digits, '-', starting with a letter).
const (
	ComponentBMCKernel    = "bmc-kernel"
	ComponentBMCInitramfs = "bmc-initramfs"
	ComponentBMCD         = "bmcd"
	ComponentBMCConfig    = "bmc-config"
	ComponentHostBIOS     = "host-bios"
)

// Manifest is the signed description of a firmware bundle.
type Manifest struct {
	FormatVersion   uint64
	BoardID         string
	FirmwareVersion string
	// SVN is the security version number; rotd refuses a manifest whose
	// SVN is below the board's floor.
	SVN uint64
	// BuildTime is whole seconds, UTC. It is informational: no check of
	// this package depends on a clock.
	BuildTime  time.Time
	Components []Component

	// Signatures lists the signatures that verified (filled by Verify and
	// ParseUnverified, not part of the encoding).
	Signatures []SignatureInfo
}

// Component is one payload of the bundle, in bundle order.
type Component struct {
	Name    string
	Version string
	Size    uint64
	SHA384  [DigestSize]byte
}

// TotalSize is the sum of the declared component sizes. It saturates
// instead of wrapping.
func (m *Manifest) TotalSize() uint64 {
	var total uint64
	for _, c := range m.Components {
		if total+c.Size < total {
			return ^uint64(0)
		}
		total += c.Size
	}
	return total
}

// Component returns the component with the given name.
func (m *Manifest) Component(name string) (Component, bool) {
	for _, c := range m.Components {
		if c.Name == name {
			return c, true
		}
	}
	return Component{}, false
}

// wireManifest is the CBOR encoding of Manifest: a map with integer keys.
type wireManifest struct {
	FormatVersion   uint64          `cbor:"1,keyasint"`
	BoardID         string          `cbor:"2,keyasint"`
	FirmwareVersion string          `cbor:"3,keyasint"`
	SVN             uint64          `cbor:"4,keyasint"`
	BuildTime       uint64          `cbor:"5,keyasint"`
	Components      []wireComponent `cbor:"6,keyasint"`
}

type wireComponent struct {
	Name    string `cbor:"1,keyasint"`
	Size    uint64 `cbor:"2,keyasint"`
	SHA384  []byte `cbor:"3,keyasint"`
	Version string `cbor:"4,keyasint"`
}

// codec holds the CBOR modes of the format. The modes are immutable once
// built; newCodec is cheap enough to call per operation.
type codec struct {
	enc cbor.EncMode
	dec cbor.DecMode
}

func newCodec() codec {
	enc, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(fmt.Sprintf("manifest: core deterministic CBOR options rejected: %v", err))
	}
	dec, err := cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		IntDec:            cbor.IntDecConvertSignedOrFail,
		MaxNestedLevels:   8,
		MaxArrayElements:  1024,
		MaxMapPairs:       64,
		UTF8:              cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic(fmt.Sprintf("manifest: CBOR decoding options rejected: %v", err))
	}
	return codec{enc: enc, dec: dec}
}

// Encode returns the deterministic CBOR encoding of m (the COSE payload)
// after checking that m is valid.
func (m *Manifest) Encode() ([]byte, error) {
	if err := m.validate(); err != nil {
		return nil, err
	}
	w := wireManifest{
		FormatVersion:   m.FormatVersion,
		BoardID:         m.BoardID,
		FirmwareVersion: m.FirmwareVersion,
		SVN:             m.SVN,
		BuildTime:       uint64(m.BuildTime.Unix()),
		Components:      make([]wireComponent, len(m.Components)),
	}
	for i, c := range m.Components {
		w.Components[i] = wireComponent{Name: c.Name, Size: c.Size, SHA384: c.SHA384[:], Version: c.Version}
	}
	b, err := newCodec().enc.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encoding manifest: %w", err)
	}
	if len(b) > MaxManifestSize {
		return nil, fmt.Errorf("encoding manifest: %d bytes > %d: %w", len(b), MaxManifestSize, ErrOversized)
	}
	return b, nil
}

// decodeManifest decodes a manifest payload. Only the canonical encoding is
// accepted: the payload must re-encode to exactly the same bytes.
func decodeManifest(c codec, b []byte) (*Manifest, error) {
	if len(b) > MaxManifestSize {
		return nil, fmt.Errorf("decoding manifest: %d bytes > %d: %w", len(b), MaxManifestSize, ErrOversized)
	}
	var w wireManifest
	if err := c.dec.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("decoding manifest: %w", cborError(err))
	}
	again, err := c.enc.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("re-encoding manifest: %w", err)
	}
	if !bytes.Equal(again, b) {
		return nil, fmt.Errorf("decoding manifest: not the deterministic encoding or a field is missing: %w", ErrMalformed)
	}
	if w.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("manifest format version %d (want %d): %w", w.FormatVersion, FormatVersion, ErrUnsupportedVersion)
	}
	if len(w.Components) > MaxComponents {
		return nil, fmt.Errorf("manifest has %d components (max %d): %w", len(w.Components), MaxComponents, ErrOversized)
	}
	if w.BuildTime > 1<<62 {
		return nil, fmt.Errorf("manifest build time %d out of range: %w", w.BuildTime, ErrBadManifest)
	}
	m := &Manifest{
		FormatVersion:   w.FormatVersion,
		BoardID:         w.BoardID,
		FirmwareVersion: w.FirmwareVersion,
		SVN:             w.SVN,
		BuildTime:       time.Unix(int64(w.BuildTime), 0).UTC(),
		Components:      make([]Component, len(w.Components)),
	}
	for i, wc := range w.Components {
		if len(wc.SHA384) != DigestSize {
			return nil, fmt.Errorf("component %d: digest is %d bytes (want %d): %w", i, len(wc.SHA384), DigestSize, ErrBadManifest)
		}
		m.Components[i] = Component{Name: wc.Name, Version: wc.Version, Size: wc.Size}
		copy(m.Components[i].SHA384[:], wc.SHA384)
	}
	if err := m.validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// validate checks the content rules of docs/bundle-format.md.
func (m *Manifest) validate() error {
	if m.FormatVersion != FormatVersion {
		return fmt.Errorf("manifest format version %d (want %d): %w", m.FormatVersion, FormatVersion, ErrUnsupportedVersion)
	}
	if err := checkText("board ID", m.BoardID, MaxBoardIDLen); err != nil {
		return err
	}
	if err := checkText("firmware version", m.FirmwareVersion, MaxVersionLen); err != nil {
		return err
	}
	if m.BuildTime.Unix() < 0 {
		return fmt.Errorf("build time %v before 1970: %w", m.BuildTime, ErrBadManifest)
	}
	if len(m.Components) == 0 {
		return fmt.Errorf("manifest has no components: %w", ErrBadManifest)
	}
	if len(m.Components) > MaxComponents {
		return fmt.Errorf("manifest has %d components (max %d): %w", len(m.Components), MaxComponents, ErrOversized)
	}
	seen := make(map[string]bool, len(m.Components))
	for i, c := range m.Components {
		if err := checkName(c.Name); err != nil {
			return fmt.Errorf("component %d: %w", i, err)
		}
		if seen[c.Name] {
			return fmt.Errorf("component %d: duplicate name %q: %w", i, c.Name, ErrBadManifest)
		}
		seen[c.Name] = true
		if len(c.Version) > MaxVersionLen {
			return fmt.Errorf("component %q: version is %d bytes (max %d): %w", c.Name, len(c.Version), MaxVersionLen, ErrOversized)
		}
		if c.Size > MaxComponentSize {
			return fmt.Errorf("component %q: size %d > %d: %w", c.Name, c.Size, uint64(MaxComponentSize), ErrOversized)
		}
	}
	return nil
}

func checkText(what, s string, max int) error {
	if s == "" {
		return fmt.Errorf("%s is empty: %w", what, ErrBadManifest)
	}
	if len(s) > max {
		return fmt.Errorf("%s is %d bytes (max %d): %w", what, len(s), max, ErrOversized)
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%s contains a control character: %w", what, ErrBadManifest)
		}
	}
	return nil
}

// checkName enforces the component name syntax: [a-z][a-z0-9-]*, at most
// MaxNameLen bytes.
func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("empty component name: %w", ErrBadManifest)
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("component name is %d bytes (max %d): %w", len(name), MaxNameLen, ErrOversized)
	}
	for i := 0; i < len(name); i++ {
		ch := name[i]
		ok := ch >= 'a' && ch <= 'z' || i > 0 && (ch >= '0' && ch <= '9' || ch == '-')
		if !ok {
			return fmt.Errorf("component name %q: want [a-z][a-z0-9-]*: %w", name, ErrBadManifest)
		}
	}
	return nil
}

// CheckComponentName reports whether name is a valid component name.
func CheckComponentName(name string) error { return checkName(name) }

// cborError maps a decoding error to the format's sentinel errors while
// keeping the decoder's message.
func cborError(err error) error {
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("%w: %v", ErrTruncated, err)
	}
	var maxArr *cbor.MaxArrayElementsError
	var maxMap *cbor.MaxMapPairsError
	var maxNest *cbor.MaxNestedLevelError
	if errors.As(err, &maxArr) || errors.As(err, &maxMap) || errors.As(err, &maxNest) {
		return fmt.Errorf("%w: %v", ErrOversized, err)
	}
	return fmt.Errorf("%w: %v", ErrMalformed, err)
}
