package manifest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
	"github.com/veraison/go-cose"
)

// testVendor is a vendor key pair generated for one test.
type testVendor struct {
	es, ml Signer
	keys   KeySet
}

func newTestVendor(t testing.TB) testVendor {
	t.Helper()
	ec, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	es, err := NewES384Signer(ec)
	if err != nil {
		t.Fatal(err)
	}
	_, mlKey, err := mldsa87.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ml, err := NewMLDSA87Signer(mlKey)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := NewKeySet(es.Public(), ml.Public())
	if err != nil {
		t.Fatal(err)
	}
	return testVendor{es: es, ml: ml, keys: keys}
}

func sampleManifest() *Manifest {
	m := &Manifest{
		FormatVersion:   FormatVersion,
		BoardID:         "test-board",
		FirmwareVersion: "1.2.3",
		SVN:             7,
		BuildTime:       time.Date(2026, 11, 27, 1, 2, 3, 0, time.UTC),
	}
	for i, name := range []string{ComponentBMCKernel, ComponentBMCInitramfs, ComponentBMCD, ComponentBMCConfig} {
		data := []byte(strings.Repeat(name, i+1))
		m.Components = append(m.Components, Component{Name: name, Version: "v" + name, Size: uint64(len(data)), SHA384: sha512.Sum384(data)})
	}
	return m
}

func testPolicy() Policy { return Policy{BoardID: "test-board", MinSVN: 7} }

func TestSignVerifyRoundTrip(t *testing.T) {
	v := newTestVendor(t)
	m := sampleManifest()
	signed, err := Sign(m, v.es, v.ml)
	if err != nil {
		t.Fatal(err)
	}
	var checks []string
	p := testPolicy()
	p.Report = func(check, detail string) { checks = append(checks, check) }
	h := v.keys.Hash()
	p.KeySetHash = h[:]
	got, err := Verify(signed, v.keys, p)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got.BoardID != m.BoardID || got.SVN != m.SVN || got.FirmwareVersion != m.FirmwareVersion || !got.BuildTime.Equal(m.BuildTime) {
		t.Errorf("metadata: got %+v, want %+v", got, m)
	}
	if len(got.Components) != len(m.Components) {
		t.Fatalf("components: got %d, want %d", len(got.Components), len(m.Components))
	}
	for i := range m.Components {
		if got.Components[i] != m.Components[i] {
			t.Errorf("component %d: got %+v, want %+v", i, got.Components[i], m.Components[i])
		}
	}
	if len(got.Signatures) != 2 || got.Signatures[0].Algorithm != cose.AlgorithmES384 || got.Signatures[1].Algorithm != AlgorithmMLDSA87 {
		t.Errorf("signatures: %+v", got.Signatures)
	}
	want := "key set,envelope,signature,signature,manifest,board,svn"
	if s := strings.Join(checks, ","); s != want {
		t.Errorf("checks reported: %s, want %s", s, want)
	}
	// Signature order does not matter.
	signed2, err := Sign(m, v.ml, v.es)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(signed2, v.keys, testPolicy()); err != nil {
		t.Errorf("ML-DSA first: %v", err)
	}
	// Unverified parse agrees.
	u, err := ParseUnverified(signed)
	if err != nil || u.SVN != m.SVN {
		t.Errorf("ParseUnverified: %v %+v", err, u)
	}
}

// sentinels are the distinct rejection reasons; each negative test must
// match its own and no other.
var sentinels = []error{
	ErrMalformed, ErrTruncated, ErrOversized, ErrUnsupportedVersion, ErrUnknownHeader,
	ErrCountersignaturePresent, ErrReceiptPresent, ErrUnsupportedAlgorithm, ErrMissingES384,
	ErrMissingMLDSA, ErrExtraSignature, ErrUnknownKid, ErrBadSignature, ErrBadManifest,
	ErrWrongBoard, ErrSVNTooOld, ErrBadPolicy, ErrBadKey,
}

func checkOnly(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got %v, want %v", err, want)
	}
	for _, s := range sentinels {
		if s != want && errors.Is(err, s) {
			t.Errorf("error %q also matches %v", err, s)
		}
	}
}

// rawSig describes one COSE_Signature for signRaw.
type rawSigSpec struct {
	signer      cose.Signer
	kid         []byte
	protExtra   map[any]any
	unprotected map[any]any
}

// signRaw builds a COSE_Sign over an arbitrary payload with arbitrary
// headers, bypassing Sign's checks.
func signRaw(t *testing.T, payload []byte, bodyProt, bodyUnprot map[any]any, sigs ...rawSigSpec) []byte {
	t.Helper()
	msg := cose.NewSignMessage()
	msg.Headers.Protected[cose.HeaderLabelContentType] = ContentType
	for k, v := range bodyProt {
		msg.Headers.Protected[k] = v
	}
	for k, v := range bodyUnprot {
		msg.Headers.Unprotected[k] = v
	}
	msg.Payload = payload
	var signers []cose.Signer
	for _, s := range sigs {
		sig := cose.NewSignature()
		sig.Headers.Protected.SetAlgorithm(s.signer.Algorithm())
		sig.Headers.Protected[cose.HeaderLabelKeyID] = s.kid
		for k, v := range s.protExtra {
			sig.Headers.Protected[k] = v
		}
		for k, v := range s.unprotected {
			sig.Headers.Unprotected[k] = v
		}
		msg.Signatures = append(msg.Signatures, sig)
		signers = append(signers, s.signer)
	}
	if err := msg.Sign(rand.Reader, nil, signers...); err != nil {
		t.Fatal(err)
	}
	b, err := msg.MarshalCBOR()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (v testVendor) specs() []rawSigSpec {
	return []rawSigSpec{{signer: v.es.signer, kid: v.es.public.kid}, {signer: v.ml.signer, kid: v.ml.public.kid}}
}

func encodeWire(t *testing.T, w wireManifest) []byte {
	t.Helper()
	b, err := newCodec().enc.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func wireOf(m *Manifest) wireManifest {
	w := wireManifest{FormatVersion: m.FormatVersion, BoardID: m.BoardID, FirmwareVersion: m.FirmwareVersion, SVN: m.SVN, BuildTime: uint64(m.BuildTime.Unix())}
	for _, c := range m.Components {
		w.Components = append(w.Components, wireComponent{Name: c.Name, Size: c.Size, SHA384: append([]byte(nil), c.SHA384[:]...), Version: c.Version})
	}
	return w
}

func TestVerifyRejects(t *testing.T) {
	v := newTestVendor(t)
	other := newTestVendor(t)
	m := sampleManifest()
	good, err := Sign(m, v.es, v.ml)
	if err != nil {
		t.Fatal(err)
	}
	es256Key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	es256, _ := cose.NewSigner(cose.AlgorithmES256, es256Key)
	specs := v.specs()

	tests := []struct {
		name   string
		signed func() []byte
		keys   KeySet
		policy Policy
		want   error
	}{
		{name: "wrong board", policy: Policy{BoardID: "other-board"}, want: ErrWrongBoard},
		{name: "older SVN", policy: Policy{BoardID: "test-board", MinSVN: 8}, want: ErrSVNTooOld},
		{name: "wrong kid ES384", signed: func() []byte { return must(Sign(m, other.es, v.ml)) }, want: ErrUnknownKid},
		{name: "wrong kid ML-DSA", signed: func() []byte { return must(Sign(m, v.es, other.ml)) }, want: ErrUnknownKid},
		{name: "revoked kid", keys: v.keys.Without(v.ml.public.kid), want: ErrUnknownKid},
		{name: "kid of the other algorithm", signed: func() []byte {
			return signRaw(t, must(m.Encode()), nil, nil, rawSigSpec{signer: v.es.signer, kid: v.ml.public.kid}, specs[1])
		}, want: ErrUnknownKid},
		{name: "missing ML-DSA", signed: func() []byte { return must(Sign(m, v.es)) }, want: ErrMissingMLDSA},
		{name: "missing ES384", signed: func() []byte { return must(Sign(m, v.ml)) }, want: ErrMissingES384},
		{name: "extra third signature", signed: func() []byte { return must(Sign(m, v.es, v.ml, other.es)) }, want: ErrExtraSignature},
		{name: "two ES384", signed: func() []byte { return must(Sign(m, v.es, other.es)) }, want: ErrExtraSignature},
		{name: "ES256 instead of ES384", signed: func() []byte {
			return signRaw(t, must(m.Encode()), nil, nil, rawSigSpec{signer: es256, kid: []byte("k")}, specs[1])
		}, want: ErrUnsupportedAlgorithm},
		{name: "bad ES384 signature", signed: func() []byte { return flipInSignature(t, good, 0) }, want: ErrBadSignature},
		{name: "bad ML-DSA signature", signed: func() []byte { return flipInSignature(t, good, 1) }, want: ErrBadSignature},
		{name: "high-S ES384 signature", signed: func() []byte { return highS(t, v, good) }, want: ErrBadSignature},
		{name: "truncated", signed: func() []byte { return good[:len(good)-100] }, want: ErrTruncated},
		{name: "truncated to tag", signed: func() []byte { return good[:1] }, want: ErrTruncated},
		{name: "oversized envelope", signed: func() []byte { return append(bytes.Clone(good), make([]byte, MaxSignedSize)...) }, want: ErrOversized},
		{name: "oversized board ID", signed: func() []byte {
			w := wireOf(m)
			w.BoardID = strings.Repeat("b", MaxBoardIDLen+1)
			return signRaw(t, encodeWire(t, w), nil, nil, specs...)
		}, policy: Policy{AnyBoard: true}, want: ErrOversized},
		{name: "oversized component name", signed: func() []byte {
			w := wireOf(m)
			w.Components[0].Name = strings.Repeat("a", MaxNameLen+1)
			return signRaw(t, encodeWire(t, w), nil, nil, specs...)
		}, want: ErrOversized},
		{name: "too many components", signed: func() []byte {
			w := wireOf(m)
			for i := len(w.Components); i <= MaxComponents; i++ {
				w.Components = append(w.Components, wireComponent{Name: fmt.Sprintf("c%d", i), SHA384: make([]byte, 48)})
			}
			return signRaw(t, encodeWire(t, w), nil, nil, specs...)
		}, want: ErrOversized},
		{name: "oversized total", policy: Policy{BoardID: "test-board", MaxTotalSize: 10}, want: ErrOversized},
		{name: "oversized manifest", signed: func() []byte {
			w := wireOf(m)
			w.FirmwareVersion = strings.Repeat("v", MaxManifestSize)
			return signRaw(t, encodeWire(t, w), nil, nil, specs...)
		}, want: ErrOversized},
		{name: "unknown body unprotected label", signed: func() []byte {
			return signRaw(t, must(m.Encode()), nil, map[any]any{int64(99): "x"}, specs...)
		}, want: ErrUnknownHeader},
		{name: "unknown body protected label", signed: func() []byte {
			return signRaw(t, must(m.Encode()), map[any]any{int64(-65537): "x"}, nil, specs...)
		}, want: ErrUnknownHeader},
		{name: "text label", signed: func() []byte {
			return signRaw(t, must(m.Encode()), nil, map[any]any{"note": "x"}, specs...)
		}, want: ErrUnknownHeader},
		{name: "unknown signature protected label", signed: func() []byte {
			s := specs
			s0 := s[0]
			s0.protExtra = map[any]any{cose.HeaderLabelContentType: "text/plain"}
			return signRaw(t, must(m.Encode()), nil, nil, s0, s[1])
		}, want: ErrUnknownHeader},
		{name: "signature unprotected label", signed: func() []byte {
			s1 := specs[1]
			s1.unprotected = map[any]any{int64(33): []byte{1}}
			return signRaw(t, must(m.Encode()), nil, nil, specs[0], s1)
		}, want: ErrUnknownHeader},
		{name: "receipts present", signed: func() []byte {
			return signRaw(t, must(m.Encode()), nil, map[any]any{HeaderLabelReceipts: []any{[]byte{0xd2}}}, specs...)
		}, want: ErrReceiptPresent},
		{name: "owner countersignature present", signed: func() []byte {
			return signRaw(t, must(m.Encode()), nil, map[any]any{int64(12): []byte{1, 2, 3}}, specs...)
		}, want: ErrCountersignaturePresent},
		{name: "wrong format version", signed: func() []byte {
			w := wireOf(m)
			w.FormatVersion = 2
			return signRaw(t, encodeWire(t, w), nil, nil, specs...)
		}, want: ErrUnsupportedVersion},
		{name: "duplicate component", signed: func() []byte {
			w := wireOf(m)
			w.Components[1].Name = w.Components[0].Name
			return signRaw(t, encodeWire(t, w), nil, nil, specs...)
		}, want: ErrBadManifest},
		{name: "short digest", signed: func() []byte {
			w := wireOf(m)
			w.Components[1].SHA384 = w.Components[1].SHA384[:32]
			return signRaw(t, encodeWire(t, w), nil, nil, specs...)
		}, want: ErrBadManifest},
		{name: "missing field", signed: func() []byte {
			payload := must(newCodec().enc.Marshal(map[int]any{1: 1, 2: "test-board"}))
			return signRaw(t, payload, nil, nil, specs...)
		}, want: ErrMalformed},
		{name: "unknown field", signed: func() []byte {
			payload := must(newCodec().enc.Marshal(map[int]any{1: 1, 2: "test-board", 9: 1}))
			return signRaw(t, payload, nil, nil, specs...)
		}, want: ErrMalformed},
		{name: "untagged", signed: func() []byte { return good[2:] }, want: ErrMalformed},
		{name: "no board in policy", policy: Policy{}, want: ErrBadPolicy},
		{name: "empty key set", keys: KeySet{}.Without(), want: ErrBadPolicy},
		{name: "key set hash mismatch", policy: Policy{BoardID: "test-board", KeySetHash: make([]byte, 48)}, want: ErrBadPolicy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			signed := good
			if tc.signed != nil {
				signed = tc.signed()
			}
			keys := v.keys
			if tc.keys.Len() != 0 || tc.name == "empty key set" {
				keys = tc.keys
			}
			policy := testPolicy()
			if tc.policy.BoardID != "" || tc.policy.AnyBoard || tc.name == "no board in policy" {
				policy = tc.policy
			}
			_, err := Verify(signed, keys, policy)
			checkOnly(t, err, tc.want)
		})
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// flipInSignature flips one bit in the middle of signature i's bytes.
func flipInSignature(t *testing.T, signed []byte, i int) []byte {
	t.Helper()
	var raw rawSign
	if err := newCodec().dec.Unmarshal(signed[2:], &raw); err != nil {
		t.Fatal(err)
	}
	sig := raw.Signatures[i].Signature
	idx := bytes.Index(signed, sig)
	out := bytes.Clone(signed)
	out[idx+len(sig)/2] ^= 0x10
	return out
}

func TestMissingBoth(t *testing.T) {
	v := newTestVendor(t)
	m := sampleManifest()
	payload := must(m.Encode())
	// A COSE_Sign with an empty signature array.
	body := must(newCodec().enc.Marshal(rawSign{
		Protected:   must(newCodec().enc.Marshal(must(newCodec().enc.Marshal(map[int64]string{3: ContentType})))),
		Unprotected: []byte{0xa0},
		Payload:     must(newCodec().enc.Marshal(payload)),
		Signatures:  []rawSignature{},
	}))
	_, err := Verify(append([]byte{0xd8, 0x62}, body...), v.keys, testPolicy())
	if !errors.Is(err, ErrMissingES384) || !errors.Is(err, ErrMissingMLDSA) {
		t.Fatalf("got %v, want both missing", err)
	}
}

func TestKeySetHash(t *testing.T) {
	v := newTestVendor(t)
	a, _ := NewKeySet(v.es.Public(), v.ml.Public())
	b, _ := NewKeySet(v.ml.Public(), v.es.Public())
	if a.Hash() != b.Hash() {
		t.Error("hash depends on key order")
	}
	c, _ := NewKeySet(v.es.Public())
	if a.Hash() == c.Hash() {
		t.Error("hash ignores a key")
	}
	if _, err := NewKeySet(v.es.Public(), v.es.Public()); !errors.Is(err, ErrBadKey) {
		t.Errorf("duplicate kid: %v", err)
	}
	if len(v.es.Public().KeyID()) != KeyIDSize {
		t.Error("kid size")
	}
}

func TestPublicKeyPEMRoundTrip(t *testing.T) {
	v := newTestVendor(t)
	for _, k := range v.keys.Keys() {
		p, err := k.MarshalPEM()
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParsePublicKeyPEM(p)
		if err != nil {
			t.Fatalf("%s: %v", AlgorithmName(k.Algorithm()), err)
		}
		if !got.Equal(k) || !bytes.Equal(got.KeyID(), k.KeyID()) {
			t.Errorf("%s: round trip changed the key", AlgorithmName(k.Algorithm()))
		}
	}
	if _, err := ParsePublicKeyPEM([]byte("nope")); !errors.Is(err, ErrBadKey) {
		t.Errorf("garbage: %v", err)
	}
}

func TestSignRefusesInvalidManifest(t *testing.T) {
	v := newTestVendor(t)
	m := sampleManifest()
	m.BoardID = ""
	if _, err := Sign(m, v.es, v.ml); !errors.Is(err, ErrBadManifest) {
		t.Errorf("empty board: %v", err)
	}
	m = sampleManifest()
	m.Components[0].Name = "Bad Name"
	if _, err := Sign(m, v.es, v.ml); !errors.Is(err, ErrBadManifest) {
		t.Errorf("bad name: %v", err)
	}
}

func FuzzVerifyManifest(f *testing.F) {
	v := newTestVendor(f)
	m := sampleManifest()
	good := must(Sign(m, v.es, v.ml))
	f.Add(good)
	f.Add(must(Sign(m, v.es)))
	f.Add(must(Sign(m, v.ml, v.es)))
	f.Add(good[:len(good)/2])
	f.Add([]byte{0xd8, 0x62, 0x84, 0x40, 0xa0, 0xf6, 0x80})
	f.Add(must(m.Encode()))
	f.Fuzz(func(t *testing.T, signed []byte) {
		got, err := Verify(signed, v.keys, testPolicy())
		if err == nil {
			// Nothing but what the vendor signed may verify.
			if got.BoardID != m.BoardID || got.SVN != m.SVN || len(got.Components) != len(m.Components) {
				t.Fatalf("forged manifest verified: %+v", got)
			}
			for i := range m.Components {
				if got.Components[i] != m.Components[i] {
					t.Fatalf("forged component %d verified", i)
				}
			}
		}
		if u, err := ParseUnverified(signed); err == nil {
			// What parses must re-encode to the signed payload's form.
			if _, err := u.Encode(); err != nil {
				t.Fatalf("parsed manifest does not re-encode: %v", err)
			}
		}
		if _, err := ParseBMCConfig(signed); err == nil {
			t.Logf("input parses as bmc-config")
		}
	})
}

// highS replaces the ES384 signature's s by n-s: valid ECDSA, but not the
// one encoding this format admits.
func highS(t *testing.T, v testVendor, signed []byte) []byte {
	t.Helper()
	var raw rawSign
	if err := newCodec().dec.Unmarshal(signed[2:], &raw); err != nil {
		t.Fatal(err)
	}
	for _, rs := range raw.Signatures {
		var sig []byte
		if err := newCodec().dec.Unmarshal(rs.Signature, &sig); err != nil || len(sig) != 96 {
			continue
		}
		idx := bytes.Index(signed, sig)
		out := bytes.Clone(signed)
		sv := new(big.Int).SetBytes(sig[48:])
		sv.Sub(elliptic.P384().Params().N, sv)
		sv.FillBytes(out[idx+48 : idx+96])
		// The high-S form verifies with plain ECDSA: only the format's
		// rule rejects it.
		msg := &cose.SignMessage{}
		if err := msg.UnmarshalCBOR(out); err != nil {
			t.Fatal(err)
		}
		plain, err := cose.NewVerifier(cose.AlgorithmES384, v.es.public.ecdsa)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range msg.Signatures {
			if alg, _ := s.Headers.Protected.Algorithm(); alg == cose.AlgorithmES384 {
				if err := s.Verify(plain, msg.Headers.RawProtected, msg.Payload, nil); err != nil {
					t.Fatalf("high-S signature does not verify with plain ECDSA: %v", err)
				}
			}
		}
		return out
	}
	t.Fatal("no ES384 signature")
	return nil
}

func testCACert(t *testing.T, isCA bool) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "identity root"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		IsCA: isCA, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestBMCConfig(t *testing.T) {
	v := newTestVendor(t)
	cfg := BMCConfig{
		BoardID: "test-board", IdentityRoots: []*x509.Certificate{testCACert(t, true)}, VendorKeys: v.keys,
		Gate: GatePolicy{MeasurementInterval: 30 * time.Second, HeartbeatPeriod: 10 * time.Second, MinSVN: 2},
	}
	b, err := cfg.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseBMCConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.BoardID != cfg.BoardID || got.Gate != cfg.Gate || got.VendorKeys.Hash() != v.keys.Hash() ||
		len(got.IdentityRoots) != 1 || !got.IdentityRoots[0].Equal(cfg.IdentityRoots[0]) {
		t.Errorf("round trip: %+v", got)
	}

	bad := cfg
	bad.IdentityRoots = []*x509.Certificate{testCACert(t, false)}
	if _, err := bad.Encode(); !errors.Is(err, ErrBadManifest) {
		t.Errorf("non-CA identity root: %v", err)
	}
	bad = cfg
	bad.Gate.MeasurementInterval = 0
	if _, err := bad.Encode(); !errors.Is(err, ErrBadManifest) {
		t.Errorf("zero interval: %v", err)
	}
	// A kid that does not match its key.
	var w wireBMCConfig
	if err := newCodec().dec.Unmarshal(b, &w); err != nil {
		t.Fatal(err)
	}
	w.VendorKeys[0].Kid = bytes.Repeat([]byte{1}, KeyIDSize)
	if _, err := ParseBMCConfig(must(newCodec().enc.Marshal(w))); !errors.Is(err, ErrBadKey) {
		t.Errorf("wrong kid: %v", err)
	}
	// Trailing or non-canonical bytes.
	if _, err := ParseBMCConfig(append(bytes.Clone(b), 0)); err == nil {
		t.Error("trailing byte accepted")
	}
}
