package manifest

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/fxamacker/cbor/v2"
	"github.com/veraison/go-cose"
)

// COSE header labels this format knows (IANA "COSE Header Parameters").
const (
	labelAlg             int64 = 1  // protected, per signature
	labelContentType     int64 = 3  // protected, body
	labelKid             int64 = 4  // protected, per signature
	labelCounterSigV1    int64 = 7  // RFC 8152 countersignature
	labelCounterSig0V1   int64 = 9  // RFC 8152 countersignature0
	labelCounterSigV2    int64 = 11 // RFC 9338 COSE_Countersignature: the owner countersignature
	labelCounterSig0V2   int64 = 12 // RFC 9338 abbreviated countersignature
	labelReceipts        int64 = 394
	maxKidLen                  = 64
	coseSignTag                = 98
	coseSignTagPrefixLen       = 2 // 0xd8 0x62
)

// HeaderLabelReceipts is the COSE header label of transparency receipts
// (COSE receipts, draft-ietf-cose-merkle-tree-proofs): reserved in the
// body's unprotected header, must be absent for now.
const HeaderLabelReceipts = labelReceipts

// HeaderLabelOwnerCountersignature is the label (RFC 9338 COSE
// countersignature, version 2) of the board owner's countersignature over
// the vendor's COSE_Sign: reserved in the body's unprotected header, must be
// absent for now.
const HeaderLabelOwnerCountersignature = labelCounterSigV2

// ContentType is the body's protected content type (label 3).
const ContentType = "application/vnd.ironroot.manifest+cbor"

// SignatureInfo describes one COSE_Signature of the envelope.
type SignatureInfo struct {
	Algorithm cose.Algorithm
	KeyID     []byte
}

// AlgorithmName names the signature algorithms of this format.
func AlgorithmName(alg cose.Algorithm) string {
	switch alg {
	case cose.AlgorithmES384:
		return "ES384"
	case AlgorithmMLDSA87:
		return "ML-DSA-87"
	}
	return fmt.Sprintf("alg(%d)", int64(alg))
}

type rawSign struct {
	_           struct{} `cbor:",toarray"`
	Protected   cbor.RawMessage
	Unprotected cbor.RawMessage
	Payload     cbor.RawMessage
	Signatures  []rawSignature
}

type rawSignature struct {
	_           struct{} `cbor:",toarray"`
	Protected   cbor.RawMessage
	Unprotected cbor.RawMessage
	Signature   cbor.RawMessage
}

// envelope is a structurally checked COSE_Sign: canonical encoding, known
// header labels only, no countersignature or receipt. Signature policy
// (which algorithms, how many) is checked separately.
type envelope struct {
	payload    []byte
	signatures []parsedSignature
}

type parsedSignature struct {
	alg cose.Algorithm
	kid []byte
}

// parseEnvelope checks the structure of a COSE_Sign_Tagged message.
func parseEnvelope(c codec, signed []byte) (*envelope, error) {
	if len(signed) > MaxSignedSize {
		return nil, fmt.Errorf("COSE_Sign is %d bytes (max %d): %w", len(signed), MaxSignedSize, ErrOversized)
	}
	if len(signed) < coseSignTagPrefixLen {
		return nil, fmt.Errorf("COSE_Sign: %w", ErrTruncated)
	}
	if signed[0] != 0xd8 || signed[1] != coseSignTag {
		return nil, fmt.Errorf("COSE_Sign: want tag 98: %w", ErrMalformed)
	}
	body := signed[coseSignTagPrefixLen:]
	var raw rawSign
	if err := c.dec.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("decoding COSE_Sign: %w", cborError(err))
	}
	again, err := c.enc.Marshal(raw)
	if err != nil {
		return nil, fmt.Errorf("re-encoding COSE_Sign: %w", err)
	}
	if !bytes.Equal(again, body) {
		return nil, fmt.Errorf("COSE_Sign is not in deterministic encoding: %w", ErrMalformed)
	}

	prot, err := decodeProtected(c, raw.Protected)
	if err != nil {
		return nil, fmt.Errorf("body protected header: %w", err)
	}
	if err := checkLabels(prot, labelContentType); err != nil {
		return nil, fmt.Errorf("body protected header: %w", err)
	}
	var ct string
	if v, ok := prot[labelContentType]; !ok || c.dec.Unmarshal(v, &ct) != nil || ct != ContentType {
		return nil, fmt.Errorf("body protected header: content type must be %q: %w", ContentType, ErrMalformed)
	}
	unprot, err := decodeHeaderMap(c, raw.Unprotected)
	if err != nil {
		return nil, fmt.Errorf("body unprotected header: %w", err)
	}
	if err := checkLabels(unprot); err != nil {
		return nil, fmt.Errorf("body unprotected header: %w", err)
	}

	env := &envelope{}
	if env.payload, err = decodeBstr(c, raw.Payload); err != nil {
		return nil, fmt.Errorf("COSE_Sign payload (must be attached): %w", err)
	}
	if len(env.payload) > MaxManifestSize {
		return nil, fmt.Errorf("manifest is %d bytes (max %d): %w", len(env.payload), MaxManifestSize, ErrOversized)
	}
	for i, rs := range raw.Signatures {
		ps, err := parseSignature(c, rs)
		if err != nil {
			return nil, fmt.Errorf("signature %d: %w", i, err)
		}
		env.signatures = append(env.signatures, ps)
	}
	return env, nil
}

func parseSignature(c codec, rs rawSignature) (parsedSignature, error) {
	prot, err := decodeProtected(c, rs.Protected)
	if err != nil {
		return parsedSignature{}, fmt.Errorf("protected header: %w", err)
	}
	if err := checkLabels(prot, labelAlg, labelKid); err != nil {
		return parsedSignature{}, fmt.Errorf("protected header: %w", err)
	}
	unprot, err := decodeHeaderMap(c, rs.Unprotected)
	if err != nil {
		return parsedSignature{}, fmt.Errorf("unprotected header: %w", err)
	}
	if err := checkLabels(unprot); err != nil {
		return parsedSignature{}, fmt.Errorf("unprotected header: %w", err)
	}
	var ps parsedSignature
	var alg int64
	if v, ok := prot[labelAlg]; !ok || c.dec.Unmarshal(v, &alg) != nil {
		return parsedSignature{}, fmt.Errorf("protected header: alg missing or not an integer: %w", ErrMalformed)
	}
	ps.alg = cose.Algorithm(alg)
	v, ok := prot[labelKid]
	if !ok {
		return parsedSignature{}, fmt.Errorf("protected header: kid missing: %w", ErrMalformed)
	}
	if ps.kid, err = decodeBstr(c, v); err != nil {
		return parsedSignature{}, fmt.Errorf("protected header: kid: %w", err)
	}
	if len(ps.kid) == 0 || len(ps.kid) > maxKidLen {
		return parsedSignature{}, fmt.Errorf("protected header: kid is %d bytes (1..%d): %w", len(ps.kid), maxKidLen, ErrMalformed)
	}
	sig, err := decodeBstr(c, rs.Signature)
	if err != nil {
		return parsedSignature{}, fmt.Errorf("signature bytes: %w", err)
	}
	if len(sig) == 0 {
		return parsedSignature{}, fmt.Errorf("empty signature: %w", ErrMalformed)
	}
	return ps, nil
}

// decodeBstr decodes a definite-length, minimally encoded byte string.
func decodeBstr(c codec, item cbor.RawMessage) ([]byte, error) {
	if len(item) == 0 || item[0]>>5 != 2 {
		return nil, fmt.Errorf("want a byte string: %w", ErrMalformed)
	}
	var b []byte
	if err := c.dec.Unmarshal(item, &b); err != nil {
		return nil, cborError(err)
	}
	// The outer re-encoding check copies raw items verbatim, so the
	// minimal length encoding of each bstr is checked here.
	again, err := c.enc.Marshal(b)
	if err != nil || !bytes.Equal(again, item) {
		return nil, fmt.Errorf("byte string not in deterministic encoding: %w", ErrMalformed)
	}
	return b, nil
}

// decodeProtected decodes a protected header: a bstr wrapping a non-empty
// header map.
func decodeProtected(c codec, item cbor.RawMessage) (map[any]cbor.RawMessage, error) {
	inner, err := decodeBstr(c, item)
	if err != nil {
		return nil, err
	}
	if len(inner) == 0 {
		return nil, fmt.Errorf("empty protected header: %w", ErrMalformed)
	}
	return decodeHeaderMap(c, inner)
}

// decodeHeaderMap decodes a header map in deterministic encoding.
func decodeHeaderMap(c codec, item []byte) (map[any]cbor.RawMessage, error) {
	if len(item) == 0 || item[0]>>5 != 5 {
		return nil, fmt.Errorf("want a map: %w", ErrMalformed)
	}
	var h map[any]cbor.RawMessage
	if err := c.dec.Unmarshal(item, &h); err != nil {
		return nil, cborError(err)
	}
	for _, v := range h {
		if err := c.dec.Wellformed(v); err != nil {
			return nil, cborError(err)
		}
	}
	again, err := c.enc.Marshal(h)
	if err != nil || !bytes.Equal(again, item) {
		return nil, fmt.Errorf("header map not in deterministic encoding: %w", ErrMalformed)
	}
	return h, nil
}

// checkLabels rejects every label of h outside allowed, naming the
// countersignature and receipt labels distinctly. Labels are checked in a
// fixed order so the reported error does not depend on map iteration.
func checkLabels(h map[any]cbor.RawMessage, allowed ...int64) error {
	var ints []int64
	for label := range h {
		l, ok := label.(int64)
		if !ok {
			return fmt.Errorf("label %v: %w", label, ErrUnknownHeader)
		}
		ints = append(ints, l)
	}
	slices.SortFunc(ints, cmp.Compare[int64])
	var errs []error
	for _, l := range ints {
		switch {
		case slices.Contains(allowed, l):
		case l == labelCounterSigV1 || l == labelCounterSig0V1 || l == labelCounterSigV2 || l == labelCounterSig0V2:
			errs = append(errs, fmt.Errorf("label %d (must be absent until verified): %w", l, ErrCountersignaturePresent))
		case l == labelReceipts:
			errs = append(errs, fmt.Errorf("label %d (must be absent until verified): %w", l, ErrReceiptPresent))
		default:
			errs = append(errs, fmt.Errorf("label %d: %w", l, ErrUnknownHeader))
		}
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// checkSignatureSet enforces "exactly one ES384 and one ML-DSA-87".
func checkSignatureSet(sigs []parsedSignature) error {
	if len(sigs) > 2 {
		return fmt.Errorf("%d signatures (want ES384 + ML-DSA-87): %w", len(sigs), ErrExtraSignature)
	}
	var haveES, haveML bool
	for i, s := range sigs {
		switch s.alg {
		case cose.AlgorithmES384:
			if haveES {
				return fmt.Errorf("signature %d: second ES384 signature: %w", i, ErrExtraSignature)
			}
			haveES = true
		case AlgorithmMLDSA87:
			if haveML {
				return fmt.Errorf("signature %d: second ML-DSA-87 signature: %w", i, ErrExtraSignature)
			}
			haveML = true
		default:
			return fmt.Errorf("signature %d: algorithm %s: %w", i, AlgorithmName(s.alg), ErrUnsupportedAlgorithm)
		}
	}
	var errs []error
	if !haveES {
		errs = append(errs, ErrMissingES384)
	}
	if !haveML {
		errs = append(errs, ErrMissingMLDSA)
	}
	if len(errs) > 0 {
		return fmt.Errorf("signature set: %w", errors.Join(errs...))
	}
	return nil
}
