package spdm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"math/big"
	"strings"
	"testing"
)

func cryptHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func TestSigningPrefixLayout(t *testing.T) {
	// The KEY_EXCHANGE_RSP context as libspdm signed it (spdm12_session.json,
	// signing_context_hex).
	want := strings.Repeat("dmtf-spdm-v1.2.*", 4) + "\x00\x00responder-key_exchange_rsp signing"
	if got := signingPrefix(Version12, contextKeyExchangeRsp); string(got) != want {
		t.Fatalf("signingPrefix(1.2, key_exchange_rsp) = %q, want %q", got, want)
	}
	cases := []struct {
		version Version
		context string
		zeros   int
	}{
		{Version12, contextChallengeAuth, 4},
		{Version13, contextChallengeAuth, 4},
		{Version12, contextMeasurements, 6},
		{Version13, contextMeasurements, 6},
		{Version12, contextKeyExchangeRsp, 2},
		{Version13, contextMutChallengeAuth, 4},
		{Version13, contextFinish, 12},
	}
	for _, c := range cases {
		p := signingPrefix(c.version, c.context)
		if len(p) != 100 {
			t.Errorf("%s %q: %d bytes, want 100", c.version, c.context, len(p))
			continue
		}
		label := "dmtf-spdm-v" + c.version.String() + ".*"
		if got := string(p[:64]); got != strings.Repeat(label, 4) {
			t.Errorf("%s %q: version part %q", c.version, c.context, got)
		}
		if !bytes.Equal(p[64:64+c.zeros], make([]byte, c.zeros)) || string(p[64+c.zeros:]) != c.context {
			t.Errorf("%s %q: context part %q, want %d zero bytes then the string", c.version, c.context, p[64:], c.zeros)
		}
	}
}

func TestSigningPrefixRefusesBadInput(t *testing.T) {
	if _, err := buildSigningPrefix(Version11, contextChallengeAuth); !errors.Is(err, errSigningVersion) {
		t.Errorf("version 1.1: err = %v, want errSigningVersion", err)
	}
	if _, err := buildSigningPrefix(Version12, strings.Repeat("x", 37)); !errors.Is(err, errSigningContext) {
		t.Errorf("37-byte context: err = %v, want errSigningContext", err)
	}
	if p, err := buildSigningPrefix(Version12, strings.Repeat("x", 36)); err != nil || len(p) != 100 {
		t.Errorf("36-byte context: %d bytes, err %v", len(p), err)
	}
}

func TestSigningRoundTrip(t *testing.T) {
	cases := []struct {
		name   string
		curve  elliptic.Curve
		hash   crypto.Hash
		sigLen int
	}{
		{"P256-SHA256", elliptic.P256(), crypto.SHA256, 64},
		{"P384-SHA384", elliptic.P384(), crypto.SHA384, 96},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			key, err := ecdsa.GenerateKey(c.curve, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			th := c.hash.New()
			th.Write([]byte("transcript"))
			thHash := th.Sum(nil)
			for _, v := range []Version{Version12, Version13} {
				sig, err := signTranscript(key, c.hash, v, contextMeasurements, thHash, c.sigLen)
				if err != nil {
					t.Fatalf("sign %s: %v", v, err)
				}
				if len(sig) != c.sigLen {
					t.Fatalf("signature is %d bytes, want %d", len(sig), c.sigLen)
				}
				if err := verifyTranscript(&key.PublicKey, c.hash, v, contextMeasurements, thHash, sig); err != nil {
					t.Fatalf("verify %s: %v", v, err)
				}
				// The signed digest is Hash(prefix || transcript hash); check
				// r||s independently with the standard library.
				d := c.hash.New()
				d.Write(signingPrefix(v, contextMeasurements))
				d.Write(thHash)
				w := c.sigLen / 2
				r, s := new(big.Int).SetBytes(sig[:w]), new(big.Int).SetBytes(sig[w:])
				if !ecdsa.Verify(&key.PublicKey, d.Sum(nil), r, s) {
					t.Fatal("raw r||s does not verify as big-endian over Hash(prefix || TH hash)")
				}

				other := Version13
				if v == Version13 {
					other = Version12
				}
				negatives := []struct {
					name    string
					version Version
					context string
					thHash  []byte
					sig     []byte
					want    error
				}{
					{"other version", other, contextMeasurements, thHash, sig, errSignatureInvalid},
					{"other context", v, contextChallengeAuth, thHash, sig, errSignatureInvalid},
					{"flipped TH", v, contextMeasurements, cryptFlip(thHash, 0), sig, errSignatureInvalid},
					{"flipped r", v, contextMeasurements, thHash, cryptFlip(sig, 3), errSignatureInvalid},
					{"flipped s", v, contextMeasurements, thHash, cryptFlip(sig, len(sig)-1), errSignatureInvalid},
					{"short sig", v, contextMeasurements, thHash, sig[1:], errSignatureSize},
					{"short TH", v, contextMeasurements, thHash[1:], sig, errSignatureHash},
					{"1.1", Version11, contextMeasurements, thHash, sig, errSigningVersion},
				}
				for _, n := range negatives {
					err := verifyTranscript(&key.PublicKey, c.hash, n.version, n.context, n.thHash, n.sig)
					if !errors.Is(err, n.want) {
						t.Errorf("%s %s: err = %v, want %v", v, n.name, err, n.want)
					}
				}
			}
		})
	}
}

func cryptFlip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x01
	return c
}

func TestSigningRefusesMismatchedKeys(t *testing.T) {
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(nil)
	if _, err := signTranscript(p256, crypto.SHA256, Version12, contextMeasurements, h[:], 96); !errors.Is(err, errSignatureSize) {
		t.Errorf("P-256 key with a 96-byte signature: err = %v", err)
	}
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signTranscript(edKey, crypto.SHA256, Version12, contextMeasurements, h[:], 64); !errors.Is(err, errSignatureKey) {
		t.Errorf("Ed25519 signer: err = %v", err)
	}
	if err := verifyTranscript(edKey.Public(), crypto.SHA256, Version12, contextMeasurements, h[:], make([]byte, 64)); !errors.Is(err, errSignatureKey) {
		t.Errorf("Ed25519 key: err = %v", err)
	}
	h384 := sha512.Sum384(nil)
	if _, err := signTranscript(p256, crypto.SHA256, Version12, contextMeasurements, h384[:], 64); !errors.Is(err, errSignatureHash) {
		t.Errorf("SHA-384-sized hash under SHA-256: err = %v", err)
	}
	// A zero signature is well formed but never valid.
	if err := verifyTranscript(&p256.PublicKey, crypto.SHA256, Version12, contextMeasurements, h[:], make([]byte, 64)); !errors.Is(err, errSignatureInvalid) {
		t.Errorf("zero signature: err = %v", err)
	}
}

// TestSigningRecordedKeyExchangeRsp checks the KEY_EXCHANGE_RSP signature of
// DMTF libspdm's spdm12_session.json recording (transcript hash, r and s as
// recorded; the responder key is libspdm's published ecp384 sample leaf).
func TestSigningRecordedKeyExchangeRsp(t *testing.T) {
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P384(), cryptHex(t, recordedLeafPublicKeyHex))
	if err != nil {
		t.Fatalf("recorded leaf key: %v", err)
	}
	th := cryptHex(t, "a30b7247caa6eb50fc871d0e1288304197fec0681c82574c0d3fcf47e9e001d42abd61c9ae739c590749486b463368e8")
	sig := cryptHex(t, "7434269eaaae87610b5a45b3e78c5adce3506a509d1dcf362093b96648c417c022d683e569fcf1f29b4b340d91add7e9"+
		"2e14e431bd3998306f8ead5b03723d805b5bd761a8937fda4e7756426d18b40053a47c83cf7122c1c5eebc4cf8e66ef8")
	if err := verifyTranscript(pub, crypto.SHA384, Version12, contextKeyExchangeRsp, th, sig); err != nil {
		t.Fatalf("recorded KEY_EXCHANGE_RSP signature: %v", err)
	}
	if err := verifyTranscript(pub, crypto.SHA384, Version13, contextKeyExchangeRsp, th, sig); err == nil {
		t.Fatal("recorded 1.2 signature verifies under the 1.3 prefix")
	}
}

// recordedLeafPublicKeyHex is the SEC1 public key of libspdm's ecp384 sample
// responder leaf (certs/slot0_leaf.der of the shared vectors).
const recordedLeafPublicKeyHex = "040d1cb9201cdcedc864e970a36212dad4fe5994cebdaed7d294e4e3118878b988c0ed5be1414adf28db490f38815268b54c6a110b58b19cc14d4741141f6dd657aca39fd1b964de0711e83178de753ab72c1556eaf52063930f33a971a37e7819"
