package manifest

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"fmt"

	"github.com/veraison/go-cose"
)

// Policy is what a verifier demands of a manifest beyond valid signatures.
// The zero value is refused (no board), so a caller cannot forget the
// board check by accident.
type Policy struct {
	// BoardID the manifest must name. Empty is refused unless AnyBoard.
	BoardID string
	// AnyBoard skips the board check (vendor tooling only; rotd never).
	AnyBoard bool
	// MinSVN is the SVN floor: a manifest with a lower SVN is refused.
	MinSVN uint64
	// MaxTotalSize bounds the sum of the component sizes; 0 means
	// DefaultMaxTotalSize.
	MaxTotalSize uint64
	// KeySetHash, when set, must equal the key set's Hash (rotd passes the
	// value from write-once NV, so a key file swapped on disk is caught).
	KeySetHash []byte
	// Report, when set, is called once per check that passed, in order,
	// with a short name and a detail (fwbundle verify prints them).
	Report func(check, detail string)
}

func (p Policy) report(check, detail string) {
	if p.Report != nil {
		p.Report(check, detail)
	}
}

func (p Policy) maxTotal() uint64 {
	if p.MaxTotalSize == 0 {
		return DefaultMaxTotalSize
	}
	return p.MaxTotalSize
}

// Verify checks a signed manifest (a COSE_Sign_Tagged message) against the
// accepted vendor keys and the policy, and returns the manifest only if
// every check passes, in this order: structure and canonical encoding,
// header labels, signature set (exactly ES384 + ML-DSA-87), kids, both
// signatures, manifest content, board, SVN floor, size bound.
func Verify(signed []byte, keys KeySet, policy Policy) (*Manifest, error) {
	if policy.BoardID == "" && !policy.AnyBoard {
		return nil, fmt.Errorf("verifying manifest: policy names no board: %w", ErrBadPolicy)
	}
	if keys.Len() == 0 {
		return nil, fmt.Errorf("verifying manifest: no accepted vendor keys: %w", ErrBadPolicy)
	}
	if policy.KeySetHash != nil {
		h := keys.Hash()
		if !bytes.Equal(h[:], policy.KeySetHash) {
			return nil, fmt.Errorf("verifying manifest: key set hash %x does not match the provisioned %x: %w", h[:8], policy.KeySetHash, ErrBadPolicy)
		}
		policy.report("key set", "hash matches the provisioned value")
	}
	c := newCodec()
	env, err := parseEnvelope(c, signed)
	if err != nil {
		return nil, fmt.Errorf("verifying manifest: %w", err)
	}
	policy.report("envelope", fmt.Sprintf("COSE_Sign, %d bytes, manifest %d bytes, headers known", len(signed), len(env.payload)))
	if err := checkSignatureSet(env.signatures); err != nil {
		return nil, fmt.Errorf("verifying manifest: %w", err)
	}
	verifiers := make([]cose.Verifier, len(env.signatures))
	for i, s := range env.signatures {
		k, ok := keys.Lookup(s.kid)
		if !ok || k.alg != s.alg {
			return nil, fmt.Errorf("verifying manifest: %s signature kid %x: %w", AlgorithmName(s.alg), s.kid, ErrUnknownKid)
		}
		if verifiers[i], err = k.verifier(); err != nil {
			return nil, fmt.Errorf("verifying manifest: %w", err)
		}
	}

	var msg cose.SignMessage
	if err := msg.UnmarshalCBOR(signed); err != nil {
		return nil, fmt.Errorf("verifying manifest: decoding COSE_Sign: %w: %v", ErrMalformed, err)
	}
	if len(msg.Signatures) != len(env.signatures) {
		return nil, fmt.Errorf("verifying manifest: signature count changed between parsers: %w", ErrMalformed)
	}
	// ML-DSA-87 first: it is an order of magnitude cheaper than P-384
	// here, so a forged bundle costs a verifier less. Both always run
	// before a manifest is accepted.
	order := make([]int, 0, len(msg.Signatures))
	for i := range msg.Signatures {
		if env.signatures[i].alg == AlgorithmMLDSA87 {
			order = append([]int{i}, order...)
		} else {
			order = append(order, i)
		}
	}
	for _, i := range order {
		s := msg.Signatures[i]
		if err := s.Verify(verifiers[i], msg.Headers.RawProtected, msg.Payload, nil); err != nil {
			return nil, fmt.Errorf("verifying manifest: %s signature kid %x: %w: %v", AlgorithmName(env.signatures[i].alg), env.signatures[i].kid, ErrBadSignature, err)
		}
		policy.report("signature", fmt.Sprintf("%s kid %s verified", AlgorithmName(env.signatures[i].alg), hex.EncodeToString(env.signatures[i].kid)))
	}

	m, err := decodeManifest(c, env.payload)
	if err != nil {
		return nil, fmt.Errorf("verifying manifest: %w", err)
	}
	m.Signatures = signatureInfos(env)
	policy.report("manifest", fmt.Sprintf("format %d, firmware %s, %d components", m.FormatVersion, m.FirmwareVersion, len(m.Components)))
	if err := checkPolicy(m, policy); err != nil {
		return nil, fmt.Errorf("verifying manifest: %w", err)
	}
	return m, nil
}

func checkPolicy(m *Manifest, p Policy) error {
	if !p.AnyBoard {
		if m.BoardID != p.BoardID {
			return fmt.Errorf("manifest is for board %q, this is %q: %w", m.BoardID, p.BoardID, ErrWrongBoard)
		}
		p.report("board", m.BoardID)
	}
	if m.SVN < p.MinSVN {
		return fmt.Errorf("manifest SVN %d < floor %d: %w", m.SVN, p.MinSVN, ErrSVNTooOld)
	}
	p.report("svn", fmt.Sprintf("%d >= floor %d", m.SVN, p.MinSVN))
	if total := m.TotalSize(); total > p.maxTotal() {
		return fmt.Errorf("components total %d bytes > %d: %w", total, p.maxTotal(), ErrOversized)
	}
	return nil
}

func signatureInfos(env *envelope) []SignatureInfo {
	out := make([]SignatureInfo, len(env.signatures))
	for i, s := range env.signatures {
		out[i] = SignatureInfo{Algorithm: s.alg, KeyID: bytes.Clone(s.kid)}
	}
	return out
}

// ParseUnverified decodes a signed manifest WITHOUT checking any signature
// or policy: for display (fwbundle inspect) and for laying out a bundle
// before verification. Nothing it returns may be trusted.
func ParseUnverified(signed []byte) (*Manifest, error) {
	c := newCodec()
	env, err := parseEnvelope(c, signed)
	if err != nil {
		return nil, fmt.Errorf("parsing manifest: %w", err)
	}
	m, err := decodeManifest(c, env.payload)
	if err != nil {
		return nil, fmt.Errorf("parsing manifest: %w", err)
	}
	m.Signatures = signatureInfos(env)
	return m, nil
}

// Digest is the SHA-384 of the signed manifest bytes (how rotd and attest
// name a manifest in logs).
func Digest(signed []byte) [DigestSize]byte { return sha512.Sum384(signed) }
