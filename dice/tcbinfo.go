// Package dice owns the TCG DICE certificate extensions ironroot puts in
// (and reads from) alias certificates: DiceTcbInfo (2.23.133.5.4.1) and
// DiceTcbInfoSeq / MultiTcbInfo (2.23.133.5.4.5), encoded and parsed per
// the ASN.1 of the TCG DICE Attestation Architecture (IMPLICIT context
// tags). It knows nothing of bundles, TPMs or SPDM: rot/ fills a TcbInfo
// from its measurements, attest/ and the gate read it back.
package dice

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
)

// OIDTcbInfo is tcg-dice-TcbInfo, 2.23.133.5.4.1.
func OIDTcbInfo() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 23, 133, 5, 4, 1} }

// OIDMultiTcbInfo is tcg-dice-MultiTcbInfo, 2.23.133.5.4.5.
func OIDMultiTcbInfo() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 23, 133, 5, 4, 5} }

// Hash algorithm OIDs for FWID.hashAlg (NIST CSOR).
func OIDSHA256() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1} }
func OIDSHA384() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2} }
func OIDSHA512() asn1.ObjectIdentifier { return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3} }

// ErrMalformed wraps every parse failure.
var ErrMalformed = errors.New("malformed DICE extension")

// Bounds that keep a hostile certificate cheap to parse.
const (
	maxFWIDs      = 64
	maxDigestLen  = 64
	maxTcbInfos   = 64
	maxInfoBytes  = 1 << 16
	maxStringLen  = 1 << 10
	flagsBitWidth = 32
)

// OperationalFlags is the DICE OperationalFlags BIT STRING; bit n of the
// ASN.1 named bit list is 1<<n here.
type OperationalFlags uint32

// The named bits of OperationalFlags (and OperationalFlagsMask).
const (
	FlagNotConfigured         OperationalFlags = 1 << 0
	FlagNotSecure             OperationalFlags = 1 << 1
	FlagRecovery              OperationalFlags = 1 << 2
	FlagDebug                 OperationalFlags = 1 << 3
	FlagNotReplayProtected    OperationalFlags = 1 << 4
	FlagNotIntegrityProtected OperationalFlags = 1 << 5
	FlagNotRuntimeMeasured    OperationalFlags = 1 << 6
	FlagNotImmutable          OperationalFlags = 1 << 7
	FlagNotTcb                OperationalFlags = 1 << 8
	// FlagFixedWidth asks for the full 32-bit encoding instead of the DER
	// named-bit-list form with trailing zero bits removed.
	FlagFixedWidth OperationalFlags = 1 << 31
)

// FWID is one firmware digest: FWID ::= SEQUENCE { hashAlg OBJECT
// IDENTIFIER, digest OCTET STRING }.
type FWID struct {
	HashAlg asn1.ObjectIdentifier
	Digest  []byte
}

// TcbInfo is DiceTcbInfo. Every field is OPTIONAL in the ASN.1: an empty
// string, a nil pointer or a nil slice is absent.
//
//	DiceTcbInfo ::= SEQUENCE {
//	  vendor     [0] IMPLICIT UTF8String OPTIONAL,
//	  model      [1] IMPLICIT UTF8String OPTIONAL,
//	  version    [2] IMPLICIT UTF8String OPTIONAL,
//	  svn        [3] IMPLICIT INTEGER OPTIONAL,
//	  layer      [4] IMPLICIT INTEGER OPTIONAL,
//	  index      [5] IMPLICIT INTEGER OPTIONAL,
//	  fwids      [6] IMPLICIT FWIDLIST OPTIONAL,
//	  flags      [7] IMPLICIT OperationalFlags OPTIONAL,
//	  vendorInfo [8] IMPLICIT OCTET STRING OPTIONAL,
//	  type       [9] IMPLICIT OCTET STRING OPTIONAL,
//	  flagsMask  [10] IMPLICIT OperationalFlagsMask OPTIONAL }
type TcbInfo struct {
	Vendor     string
	Model      string
	Version    string
	SVN        *big.Int
	Layer      *big.Int
	Index      *big.Int
	FWIDs      []FWID
	Flags      *OperationalFlags
	VendorInfo []byte
	Type       []byte
	FlagsMask  *OperationalFlags
}

type fwidASN1 struct {
	HashAlg asn1.ObjectIdentifier
	Digest  []byte
}

type tcbInfoASN1 struct {
	Vendor     string        `asn1:"optional,tag:0,utf8"`
	Model      string        `asn1:"optional,tag:1,utf8"`
	Version    string        `asn1:"optional,tag:2,utf8"`
	SVN        *big.Int      `asn1:"optional,tag:3"`
	Layer      *big.Int      `asn1:"optional,tag:4"`
	Index      *big.Int      `asn1:"optional,tag:5"`
	FWIDs      []fwidASN1    `asn1:"optional,tag:6"`
	Flags      asn1.RawValue `asn1:"optional,tag:7"`
	VendorInfo []byte        `asn1:"optional,tag:8"`
	Type       []byte        `asn1:"optional,tag:9"`
	FlagsMask  asn1.RawValue `asn1:"optional,tag:10"`
}

// Marshal returns the DER encoding of the DiceTcbInfo SEQUENCE.
func (t *TcbInfo) Marshal() ([]byte, error) {
	a, err := t.toASN1()
	if err != nil {
		return nil, err
	}
	der, err := asn1.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("encoding DiceTcbInfo: %w", err)
	}
	return der, nil
}

func (t *TcbInfo) toASN1() (tcbInfoASN1, error) {
	a := tcbInfoASN1{
		Vendor: t.Vendor, Model: t.Model, Version: t.Version,
		SVN: t.SVN, Layer: t.Layer, Index: t.Index,
		VendorInfo: t.VendorInfo, Type: t.Type,
	}
	if t.FWIDs != nil && len(t.FWIDs) == 0 {
		return a, fmt.Errorf("encoding DiceTcbInfo: fwids is SIZE (1..MAX); use nil for absent")
	}
	for _, f := range t.FWIDs {
		if len(f.HashAlg) == 0 {
			return a, fmt.Errorf("encoding DiceTcbInfo: FWID without hash algorithm")
		}
		a.FWIDs = append(a.FWIDs, fwidASN1(f))
	}
	if t.Flags != nil {
		a.Flags = flagsRaw(7, *t.Flags)
	}
	if t.FlagsMask != nil {
		a.FlagsMask = flagsRaw(10, *t.FlagsMask)
	}
	return a, nil
}

// flagsRaw encodes flags as an IMPLICIT [tag] BIT STRING: DER named-bit
// form (trailing zero bits removed) unless FlagFixedWidth is set.
func flagsRaw(tag int, f OperationalFlags) asn1.RawValue {
	width := flagsBitWidth
	if f&FlagFixedWidth == 0 {
		width = 0
		for i := range flagsBitWidth {
			if f&(1<<i) != 0 {
				width = i + 1
			}
		}
	}
	nbytes := (width + 7) / 8
	content := make([]byte, 1+nbytes)
	content[0] = byte(nbytes*8 - width)
	for i := range width {
		if f&(1<<i) != 0 {
			content[1+i/8] |= 0x80 >> (i % 8)
		}
	}
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tag, Bytes: content}
}

func parseFlags(rv asn1.RawValue) (*OperationalFlags, error) {
	if rv.IsCompound {
		return nil, fmt.Errorf("flags: constructed BIT STRING: %w", ErrMalformed)
	}
	b := rv.Bytes
	if len(b) == 0 || b[0] > 7 || len(b) == 1 && b[0] != 0 {
		return nil, fmt.Errorf("flags: bad BIT STRING: %w", ErrMalformed)
	}
	unused := int(b[0])
	if len(b) > 1 && b[len(b)-1]&(1<<unused-1) != 0 {
		return nil, fmt.Errorf("flags: non-zero padding bits: %w", ErrMalformed)
	}
	width := 8*(len(b)-1) - unused
	if width > flagsBitWidth {
		return nil, fmt.Errorf("flags: %d bits, at most %d: %w", width, flagsBitWidth, ErrMalformed)
	}
	var f OperationalFlags
	for i := range width {
		if b[1+i/8]&(0x80>>(i%8)) != 0 {
			f |= 1 << i
		}
	}
	return &f, nil
}

// Extension returns the non-critical tcg-dice-TcbInfo certificate
// extension carrying t.
func (t *TcbInfo) Extension() (pkix.Extension, error) {
	der, err := t.Marshal()
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: OIDTcbInfo(), Critical: false, Value: der}, nil
}

// ParseTcbInfo parses the DER of a DiceTcbInfo SEQUENCE (an extension's
// value).
func ParseTcbInfo(der []byte) (*TcbInfo, error) {
	var a tcbInfoASN1
	rest, err := asn1.Unmarshal(der, &a)
	if err != nil {
		return nil, fmt.Errorf("parsing DiceTcbInfo: %w: %v", ErrMalformed, err)
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("parsing DiceTcbInfo: %d trailing bytes: %w", len(rest), ErrMalformed)
	}
	t, err := fromASN1(a)
	if err != nil {
		return nil, fmt.Errorf("parsing DiceTcbInfo: %w", err)
	}
	return t, nil
}

func fromASN1(a tcbInfoASN1) (*TcbInfo, error) {
	t := &TcbInfo{
		Vendor: a.Vendor, Model: a.Model, Version: a.Version,
		SVN: a.SVN, Layer: a.Layer, Index: a.Index,
		VendorInfo: a.VendorInfo, Type: a.Type,
	}
	for _, s := range []string{a.Vendor, a.Model, a.Version} {
		if len(s) > maxStringLen {
			return nil, fmt.Errorf("string of %d bytes: %w", len(s), ErrMalformed)
		}
	}
	if len(a.VendorInfo) > maxInfoBytes || len(a.Type) > maxInfoBytes {
		return nil, fmt.Errorf("vendorInfo or type too long: %w", ErrMalformed)
	}
	if a.FWIDs != nil && len(a.FWIDs) == 0 {
		return nil, fmt.Errorf("empty fwids list: %w", ErrMalformed)
	}
	if len(a.FWIDs) > maxFWIDs {
		return nil, fmt.Errorf("%d fwids (max %d): %w", len(a.FWIDs), maxFWIDs, ErrMalformed)
	}
	for _, f := range a.FWIDs {
		if len(f.Digest) > maxDigestLen {
			return nil, fmt.Errorf("FWID digest of %d bytes: %w", len(f.Digest), ErrMalformed)
		}
		t.FWIDs = append(t.FWIDs, FWID(f))
	}
	var err error
	if len(a.Flags.FullBytes) != 0 {
		if t.Flags, err = parseFlags(a.Flags); err != nil {
			return nil, err
		}
	}
	if len(a.FlagsMask.FullBytes) != 0 {
		if t.FlagsMask, err = parseFlags(a.FlagsMask); err != nil {
			return nil, fmt.Errorf("mask: %w", err)
		}
	}
	return t, nil
}

// MarshalMulti returns the DER of DiceTcbInfoSeq ::= SEQUENCE SIZE
// (1..MAX) OF DiceTcbInfo.
func MarshalMulti(infos []TcbInfo) ([]byte, error) {
	if len(infos) == 0 {
		return nil, fmt.Errorf("encoding DiceTcbInfoSeq: at least one TcbInfo")
	}
	seq := make([]tcbInfoASN1, len(infos))
	for i := range infos {
		a, err := infos[i].toASN1()
		if err != nil {
			return nil, fmt.Errorf("TcbInfo %d: %w", i, err)
		}
		seq[i] = a
	}
	der, err := asn1.Marshal(seq)
	if err != nil {
		return nil, fmt.Errorf("encoding DiceTcbInfoSeq: %w", err)
	}
	return der, nil
}

// MultiExtension returns the non-critical tcg-dice-MultiTcbInfo extension.
func MultiExtension(infos []TcbInfo) (pkix.Extension, error) {
	der, err := MarshalMulti(infos)
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: OIDMultiTcbInfo(), Critical: false, Value: der}, nil
}

// ParseMulti parses the DER of a DiceTcbInfoSeq.
func ParseMulti(der []byte) ([]TcbInfo, error) {
	var seq []tcbInfoASN1
	rest, err := asn1.Unmarshal(der, &seq)
	if err != nil {
		return nil, fmt.Errorf("parsing DiceTcbInfoSeq: %w: %v", ErrMalformed, err)
	}
	if len(rest) != 0 || len(seq) == 0 || len(seq) > maxTcbInfos {
		return nil, fmt.Errorf("parsing DiceTcbInfoSeq: %d entries, %d trailing bytes: %w", len(seq), len(rest), ErrMalformed)
	}
	out := make([]TcbInfo, len(seq))
	for i, a := range seq {
		t, err := fromASN1(a)
		if err != nil {
			return nil, fmt.Errorf("parsing DiceTcbInfoSeq entry %d: %w", i, err)
		}
		out[i] = *t
	}
	return out, nil
}

// FromCertificate returns the TcbInfo extension of cert. ok is false when
// the certificate has none; an extension present but malformed, or marked
// critical, is an error.
func FromCertificate(cert *x509.Certificate) (info *TcbInfo, ok bool, err error) {
	var found *pkix.Extension
	for i := range cert.Extensions {
		if cert.Extensions[i].Id.Equal(OIDTcbInfo()) {
			if found != nil {
				return nil, false, fmt.Errorf("certificate has two TcbInfo extensions: %w", ErrMalformed)
			}
			found = &cert.Extensions[i]
		}
	}
	if found == nil {
		return nil, false, nil
	}
	if found.Critical {
		return nil, false, fmt.Errorf("TcbInfo extension marked critical: %w", ErrMalformed)
	}
	info, err = ParseTcbInfo(found.Value)
	if err != nil {
		return nil, false, err
	}
	return info, true, nil
}
