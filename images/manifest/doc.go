// Package manifest owns the signed firmware manifest of an ironroot bundle:
// its CBOR encoding, the COSE_Sign envelope with the vendor's ES384 and
// ML-DSA-87 signatures, the accepted vendor key set and its hash, the
// bmc-config component format, and the verification policy.
//
// It is a leaf: it works on byte slices only (no files, no network, no TPM)
// and imports nothing from ironroot. The bundle container and component
// payloads belong to package images; what a verified manifest is used for
// (measurement, release, attestation) belongs to rot/ and attest/.
//
// The format is specified in docs/bundle-format.md.
package manifest
