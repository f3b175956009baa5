package manifest

import "errors"

// Sentinel errors. Every rejection wraps exactly one of these (two for a
// COSE_Sign with no signature at all), so callers and tests can tell the
// reasons apart with errors.Is.
var (
	// ErrMalformed: the bytes are not the canonical encoding the format
	// requires (not well-formed CBOR, wrong structure, non-deterministic
	// encoding, wrong tag).
	ErrMalformed = errors.New("malformed")
	// ErrTruncated: the input ends before the structure it declares.
	ErrTruncated = errors.New("truncated")
	// ErrOversized: a size, count or length is above the format's bounds.
	ErrOversized = errors.New("oversized")
	// ErrUnsupportedVersion: the format version is not one this code knows.
	ErrUnsupportedVersion = errors.New("unsupported format version")
	// ErrUnknownHeader: a COSE header label outside the allowed set.
	ErrUnknownHeader = errors.New("unknown COSE header label")
	// ErrCountersignaturePresent: an (owner) countersignature header is
	// present; it must be absent until it is verified.
	ErrCountersignaturePresent = errors.New("countersignature present")
	// ErrReceiptPresent: a transparency receipts header (label 394) is
	// present; it must be absent until it is verified.
	ErrReceiptPresent = errors.New("transparency receipt present")
	// ErrUnsupportedAlgorithm: a signature uses an algorithm other than
	// ES384 or ML-DSA-87.
	ErrUnsupportedAlgorithm = errors.New("unsupported signature algorithm")
	// ErrMissingES384: no ES384 signature.
	ErrMissingES384 = errors.New("missing ES384 signature")
	// ErrMissingMLDSA: no ML-DSA-87 signature.
	ErrMissingMLDSA = errors.New("missing ML-DSA-87 signature")
	// ErrExtraSignature: more signatures than exactly one ES384 and one
	// ML-DSA-87.
	ErrExtraSignature = errors.New("extra signature")
	// ErrUnknownKid: a signature's kid is not in the accepted key set (or
	// names a key of another algorithm).
	ErrUnknownKid = errors.New("unknown key ID")
	// ErrBadSignature: a signature does not verify.
	ErrBadSignature = errors.New("bad signature")
	// ErrBadManifest: the manifest decodes but its content is invalid
	// (empty or duplicate component name, bad digest length, ...).
	ErrBadManifest = errors.New("invalid manifest")
	// ErrWrongBoard: the manifest is for another board.
	ErrWrongBoard = errors.New("wrong board")
	// ErrSVNTooOld: the manifest's SVN is below the policy's floor.
	ErrSVNTooOld = errors.New("SVN below floor")
	// ErrBadPolicy: the caller's policy or key set cannot be used.
	ErrBadPolicy = errors.New("invalid verification policy")
	// ErrBadKey: a key or key file is not a valid vendor key.
	ErrBadKey = errors.New("invalid vendor key")
)
