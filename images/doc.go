// Package images owns the ironroot firmware bundle container: building a
// bundle from component files and vendor keys (streaming, never holding a
// component in memory), opening one, and verifying it so that every
// component is read once, hashed, and handed out only as the bytes that
// were hashed. It also owns the vendor key files.
//
// The signed manifest itself (CBOR, COSE_Sign, key set, policy) belongs to
// the leaf package images/manifest; what is done with verified bytes
// (measurement into the TPM, release to the BMC) belongs to rot/.
//
// The format is specified in docs/bundle-format.md.
package images
