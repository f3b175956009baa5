package images

import (
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"io"
	"time"

	"github.com/ironroot-bmc/ironroot/images/manifest"
	"github.com/veraison/go-cose"
)

// Meta is the manifest metadata a vendor chooses for a build.
type Meta struct {
	BoardID         string
	FirmwareVersion string
	SVN             uint64
	// BuildTime is truncated to whole seconds, UTC.
	BuildTime time.Time
}

// ComponentSource is one component to put in a bundle. Content is read
// twice (once to hash, once to copy); *os.File and *bytes.Reader fit.
type ComponentSource struct {
	Name    string
	Version string
	Content io.ReaderAt
	Size    int64
}

// Build writes a signed bundle to w: header, signed manifest, then the
// components in the given order. Components are streamed (hashed in a
// first pass, copied and hashed again in a second); if a component changes
// between the passes Build fails and w holds a partial bundle the caller
// must discard. signers must be exactly one ES384 and one ML-DSA-87 key.
func Build(w io.Writer, meta Meta, components []ComponentSource, signers []manifest.Signer) (*manifest.Manifest, error) {
	if err := checkVendorSigners(signers); err != nil {
		return nil, fmt.Errorf("building bundle: %w", err)
	}
	m := &manifest.Manifest{
		FormatVersion:   manifest.FormatVersion,
		BoardID:         meta.BoardID,
		FirmwareVersion: meta.FirmwareVersion,
		SVN:             meta.SVN,
		BuildTime:       meta.BuildTime.UTC().Truncate(time.Second),
	}
	buf := make([]byte, readChunk)
	for _, cs := range components {
		if cs.Size < 0 || cs.Content == nil {
			return nil, fmt.Errorf("building bundle: component %q: no content or negative size", cs.Name)
		}
		sum, err := hashSection(cs, buf, nil)
		if err != nil {
			return nil, fmt.Errorf("building bundle: hashing component %q: %w", cs.Name, err)
		}
		m.Components = append(m.Components, manifest.Component{Name: cs.Name, Version: cs.Version, Size: uint64(cs.Size), SHA384: sum})
	}
	signed, err := manifest.Sign(m, signers...)
	if err != nil {
		return nil, fmt.Errorf("building bundle: %w", err)
	}
	if err := writeHeader(w, signed); err != nil {
		return nil, fmt.Errorf("building bundle: %w", err)
	}
	for i, cs := range components {
		sum, err := hashSection(cs, buf, w)
		if err != nil {
			return nil, fmt.Errorf("building bundle: copying component %q: %w", cs.Name, err)
		}
		if sum != m.Components[i].SHA384 {
			return nil, fmt.Errorf("building bundle: component %q changed while building: %w", cs.Name, ErrDigestMismatch)
		}
	}
	return m, nil
}

func checkVendorSigners(signers []manifest.Signer) error {
	if len(signers) != 2 {
		return fmt.Errorf("want one ES384 and one ML-DSA-87 signer, have %d signers", len(signers))
	}
	a, b := signers[0].Algorithm(), signers[1].Algorithm()
	if !(a == cose.AlgorithmES384 && b == manifest.AlgorithmMLDSA87 || a == manifest.AlgorithmMLDSA87 && b == cose.AlgorithmES384) {
		return fmt.Errorf("want one ES384 and one ML-DSA-87 signer, have %s and %s", manifest.AlgorithmName(a), manifest.AlgorithmName(b))
	}
	return nil
}

// writeHeader writes the container header and the signed manifest.
func writeHeader(w io.Writer, signed []byte) error {
	if len(signed) > manifest.MaxSignedSize {
		return fmt.Errorf("signed manifest is %d bytes (max %d): %w", len(signed), manifest.MaxSignedSize, manifest.ErrOversized)
	}
	var hdr [HeaderSize]byte
	copy(hdr[:8], Magic)
	binary.BigEndian.PutUint16(hdr[8:10], ContainerVersion)
	binary.BigEndian.PutUint32(hdr[12:16], uint32(len(signed)))
	if _, err := w.Write(hdr[:]); err != nil {
		return fmt.Errorf("writing header: %w", err)
	}
	if _, err := w.Write(signed); err != nil {
		return fmt.Errorf("writing signed manifest: %w", err)
	}
	return nil
}

// hashSection reads a component once, hashing it and, when w is not nil,
// copying it to w.
func hashSection(cs ComponentSource, buf []byte, w io.Writer) ([manifest.DigestSize]byte, error) {
	var sum [manifest.DigestSize]byte
	h := sha512.New384()
	for off := int64(0); off < cs.Size; {
		n := min(cs.Size-off, int64(len(buf)))
		if err := readFullAt(cs.Content, buf[:n], off); err != nil {
			return sum, fmt.Errorf("reading at %d: %w", off, err)
		}
		h.Write(buf[:n])
		if w != nil {
			if _, err := w.Write(buf[:n]); err != nil {
				return sum, fmt.Errorf("writing: %w", err)
			}
		}
		off += n
	}
	h.Sum(sum[:0])
	return sum, nil
}
