package images

import (
	"bytes"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/ironroot-bmc/ironroot/images/manifest"
)

// Container layout (docs/bundle-format.md, "Container").
const (
	// Magic opens every bundle.
	Magic = "IRFWBNDL"
	// ContainerVersion is the container layout this package reads.
	ContainerVersion = 1
	// HeaderSize is the fixed header: magic, version (u16 BE), reserved
	// (u16, zero), envelope length (u32 BE).
	HeaderSize = 16
)

// Errors of the container; errors of the signed manifest come from
// images/manifest (ErrTruncated, ErrOversized, ErrBadSignature, ...).
var (
	// ErrBadMagic: the file is not a bundle.
	ErrBadMagic = errors.New("not an ironroot bundle (bad magic)")
	// ErrTrailingData: bytes after the last component.
	ErrTrailingData = errors.New("trailing data after the last component")
	// ErrDigestMismatch: a component's bytes do not hash to the signed
	// digest.
	ErrDigestMismatch = errors.New("component digest mismatch")
)

// readChunk is the unit in which component bytes are read, hashed and
// copied when they go to a caller's writer.
const readChunk = 128 << 10

// Bundle is an opened, not yet verified, bundle. It does not change after
// Open; its methods may be called concurrently if the ReaderAt allows it
// (*os.File does).
type Bundle struct {
	r          io.ReaderAt
	size       int64
	signed     []byte
	unverified *manifest.Manifest
}

// Open reads the header and the signed manifest of a bundle of the given
// size and checks the layout (the file is exactly header + envelope + the
// declared component sizes). It verifies no signature: use Verify,
// VerifyAndRead or VerifyAndCopy before trusting anything.
func Open(r io.ReaderAt, size int64) (*Bundle, error) {
	if size < HeaderSize {
		return nil, fmt.Errorf("opening bundle: %d bytes, header is %d: %w", size, HeaderSize, manifest.ErrTruncated)
	}
	var hdr [HeaderSize]byte
	if err := readFullAt(r, hdr[:], 0); err != nil {
		return nil, fmt.Errorf("opening bundle: reading header: %w", readError(err))
	}
	if !bytes.Equal(hdr[:8], []byte(Magic)) {
		return nil, fmt.Errorf("opening bundle: %w", ErrBadMagic)
	}
	if v := binary.BigEndian.Uint16(hdr[8:10]); v != ContainerVersion {
		return nil, fmt.Errorf("opening bundle: container version %d (want %d): %w", v, ContainerVersion, manifest.ErrUnsupportedVersion)
	}
	if rsv := binary.BigEndian.Uint16(hdr[10:12]); rsv != 0 {
		return nil, fmt.Errorf("opening bundle: reserved header field is %#x: %w", rsv, manifest.ErrMalformed)
	}
	envLen := int64(binary.BigEndian.Uint32(hdr[12:16]))
	if envLen > manifest.MaxSignedSize {
		return nil, fmt.Errorf("opening bundle: signed manifest is %d bytes (max %d): %w", envLen, manifest.MaxSignedSize, manifest.ErrOversized)
	}
	if size < HeaderSize+envLen {
		return nil, fmt.Errorf("opening bundle: %d bytes, signed manifest ends at %d: %w", size, HeaderSize+envLen, manifest.ErrTruncated)
	}
	signed := make([]byte, envLen)
	if err := readFullAt(r, signed, HeaderSize); err != nil {
		return nil, fmt.Errorf("opening bundle: reading signed manifest: %w", readError(err))
	}
	m, err := manifest.ParseUnverified(signed)
	if err != nil {
		return nil, fmt.Errorf("opening bundle: %w", err)
	}
	b := &Bundle{r: r, size: size, signed: signed, unverified: m}
	if err := b.checkLayout(m); err != nil {
		return nil, fmt.Errorf("opening bundle: %w", err)
	}
	return b, nil
}

// checkLayout checks that the bundle is exactly as long as m says.
func (b *Bundle) checkLayout(m *manifest.Manifest) error {
	// A parsed manifest has at most 32 components of at most 2^40 bytes
	// each; the check keeps the int64 arithmetic safe even so.
	total := m.TotalSize()
	if total > manifest.MaxComponents*manifest.MaxComponentSize {
		return fmt.Errorf("components total %d bytes: %w", total, manifest.ErrOversized)
	}
	want := HeaderSize + int64(len(b.signed)) + int64(total)
	switch {
	case b.size < want:
		return fmt.Errorf("%d bytes, components end at %d: %w", b.size, want, manifest.ErrTruncated)
	case b.size > want:
		return fmt.Errorf("%d bytes, components end at %d: %w", b.size, want, ErrTrailingData)
	}
	return nil
}

// Signed returns the signed manifest (COSE_Sign_Tagged) bytes.
func (b *Bundle) Signed() []byte { return bytes.Clone(b.signed) }

// Unverified returns the manifest as parsed, without any signature check:
// for display only.
func (b *Bundle) Unverified() *manifest.Manifest { return b.unverified }

// Size is the bundle's size in bytes.
func (b *Bundle) Size() int64 { return b.size }

// Verify checks the signed manifest against keys and policy and the
// layout against the verified manifest. It reads no component: a caller
// that releases components must use VerifyAndRead or VerifyAndCopy.
func (b *Bundle) Verify(keys manifest.KeySet, policy manifest.Policy) (*manifest.Manifest, error) {
	m, err := manifest.Verify(b.signed, keys, policy)
	if err != nil {
		return nil, fmt.Errorf("verifying bundle: %w", err)
	}
	if err := b.checkLayout(m); err != nil {
		return nil, fmt.Errorf("verifying bundle: %w", err)
	}
	return m, nil
}

// Verified is a bundle whose signatures, policy and component digests all
// checked out.
type Verified struct {
	// Manifest is the verified manifest.
	Manifest *manifest.Manifest
	// Signed is the COSE_Sign envelope exactly as verified (measurement
	// block 0xFD).
	Signed []byte
	// Components are in bundle order, each with the digest measured while
	// reading (equal to the signed one).
	Components []VerifiedComponent
}

// VerifiedComponent is one component as read and measured.
type VerifiedComponent struct {
	manifest.Component
	// Offset of the component in the bundle.
	Offset int64
	// Data holds the verified bytes (VerifyAndRead); nil when the bytes
	// went to a caller's writer (VerifyAndCopy).
	Data []byte
}

// Component returns the verified component with the given name.
func (v *Verified) Component(name string) (VerifiedComponent, bool) {
	for _, c := range v.Components {
		if c.Name == name {
			return c, true
		}
	}
	return VerifiedComponent{}, false
}

// VerifyAndRead verifies the signed manifest, then reads every component
// once into memory, hashing exactly the bytes it returns. It fails on the
// first digest mismatch and returns no bytes in that case.
func (b *Bundle) VerifyAndRead(keys manifest.KeySet, policy manifest.Policy) (*Verified, error) {
	return b.verifyAndMeasure(keys, policy, nil)
}

// Destination returns where the bytes of a component go (rotd: a memfd).
type Destination func(c manifest.Component) (io.Writer, error)

// VerifyAndCopy verifies the signed manifest, then streams every component
// once, in bundle order, into the writer dst returns for it, hashing the
// same buffer it writes. The writer sees bytes before their digest is
// checked: nothing written may be used (executed, sealed, released) unless
// VerifyAndCopy returns nil. A caller that also needs another digest of
// the same bytes (a SHA-256 PCR bank) wraps its writer in io.MultiWriter.
func (b *Bundle) VerifyAndCopy(keys manifest.KeySet, policy manifest.Policy, dst Destination) (*Verified, error) {
	if dst == nil {
		return nil, fmt.Errorf("verifying bundle: nil destination")
	}
	return b.verifyAndMeasure(keys, policy, dst)
}

func (b *Bundle) verifyAndMeasure(keys manifest.KeySet, policy manifest.Policy, dst Destination) (*Verified, error) {
	m, err := b.Verify(keys, policy)
	if err != nil {
		return nil, err
	}
	v := &Verified{Manifest: m, Signed: bytes.Clone(b.signed), Components: make([]VerifiedComponent, len(m.Components))}
	off := HeaderSize + int64(len(b.signed))
	var buf []byte
	if dst != nil {
		buf = make([]byte, readChunk)
	}
	for i, c := range m.Components {
		vc := VerifiedComponent{Component: c, Offset: off}
		var sum [manifest.DigestSize]byte
		if dst == nil {
			vc.Data, sum, err = b.readComponent(c, off)
		} else {
			sum, err = b.copyComponent(c, off, dst, buf)
		}
		if err != nil {
			return nil, fmt.Errorf("verifying bundle: component %q: %w", c.Name, err)
		}
		if sum != c.SHA384 {
			return nil, fmt.Errorf("verifying bundle: component %q: SHA-384 %x, signed %x: %w", c.Name, sum[:8], c.SHA384[:8], ErrDigestMismatch)
		}
		v.Components[i] = vc
		off += int64(c.Size)
	}
	return v, nil
}

func (b *Bundle) readComponent(c manifest.Component, off int64) ([]byte, [manifest.DigestSize]byte, error) {
	data := make([]byte, c.Size)
	if _, err := io.ReadFull(io.NewSectionReader(b.r, off, int64(c.Size)), data); err != nil {
		return nil, [manifest.DigestSize]byte{}, fmt.Errorf("reading: %w", readError(err))
	}
	return data, sha512.Sum384(data), nil
}

func (b *Bundle) copyComponent(c manifest.Component, off int64, dst Destination, buf []byte) ([manifest.DigestSize]byte, error) {
	var sum [manifest.DigestSize]byte
	w, err := dst(c)
	if err != nil {
		return sum, fmt.Errorf("opening destination: %w", err)
	}
	h := sha512.New384()
	sr := io.NewSectionReader(b.r, off, int64(c.Size))
	for remaining := int64(c.Size); remaining > 0; {
		n := min(remaining, int64(len(buf)))
		if _, err := io.ReadFull(sr, buf[:n]); err != nil {
			return sum, fmt.Errorf("reading: %w", readError(err))
		}
		h.Write(buf[:n])
		if _, err := w.Write(buf[:n]); err != nil {
			return sum, fmt.Errorf("writing to destination: %w", err)
		}
		remaining -= n
	}
	h.Sum(sum[:0])
	return sum, nil
}

// readError marks a short read (the file shrank since Open) as truncation.
func readError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %v", manifest.ErrTruncated, err)
	}
	return err
}

// readFullAt fills p from r at off; a ReaderAt may return io.EOF together
// with a full read at the end of its input, which is success.
func readFullAt(r io.ReaderAt, p []byte, off int64) error {
	n, err := r.ReadAt(p, off)
	if n == len(p) {
		return nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF
	}
	return readError(err)
}
