//go:build conformance

// Conformance of signing.go, keyschedule.go and secured.go with DMTF
// libspdm, from the recordings in $IRONROOT_SHARED/spdm-vectors (see its
// README): every recorded responder signature, the SPDM 1.2 session's TH1 /
// TH2, both FINISH verify-data fields and the secured END_SESSION /
// END_SESSION_ACK frames.

package spdm

import (
	"bytes"
	"crypto"
	"crypto/hmac"
	"crypto/sha512"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// cryptVectorDir returns $IRONROOT_SHARED/spdm-vectors, with
// IRONROOT_SHARED defaulting to ../shared next to the repository root (the
// directory holding go.mod).
func cryptVectorDir(t *testing.T) string {
	t.Helper()
	shared := os.Getenv("IRONROOT_SHARED")
	if shared == "" {
		dir, err := os.Getwd()
		if err != nil {
			t.Fatalf("working directory: %v", err)
		}
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				t.Fatalf("no go.mod above the package directory; set IRONROOT_SHARED to the shared directory holding spdm-vectors/")
			}
			dir = parent
		}
		shared = filepath.Join(dir, "..", "shared")
	}
	vectors := filepath.Join(shared, "spdm-vectors")
	if st, err := os.Stat(vectors); err != nil || !st.IsDir() {
		t.Fatalf("SPDM golden vectors not found at %s: set IRONROOT_SHARED to the directory that holds spdm-vectors/ (default ../shared next to the repository root)", vectors)
	}
	return vectors
}

type cryptVectorFile struct {
	Negotiated struct {
		SPDMVersionByte string `json:"spdm_version_byte"`
	} `json:"negotiated"`
	Messages []struct {
		I                   int     `json:"i"`
		Dir                 string  `json:"dir"`
		TransportPayloadHex string  `json:"transport_payload_hex"`
		SPDMHex             *string `json:"spdm_hex"`
		SPDMName            *string `json:"spdm_name"`
	} `json:"messages"`
	SignatureChecks []struct {
		Name            string `json:"name"`
		MessageIndex    int    `json:"message_index"`
		TranscriptParts []struct {
			Source       string `json:"source"`
			MessageIndex *int   `json:"message_index"`
			Offset       *int   `json:"offset"`
			Length       int    `json:"length"`
			Hex          string `json:"hex"`
		} `json:"transcript_parts"`
		TranscriptLength int    `json:"transcript_length"`
		TranscriptSHA384 string `json:"transcript_sha384"`
		SigningContext   string `json:"signing_context_hex"`
		SignatureOffset  int    `json:"signature_offset_in_spdm"`
		R                string `json:"r_hex"`
		S                string `json:"s_hex"`
		LeafFromSlot     int    `json:"leaf_from_slot"`
	} `json:"signature_checks"`
}

type cryptSecretsFile struct {
	SPDMVersionForBinStr string `json:"spdm_version_for_bin_str"`
	DHESecretHex         string `json:"dhe_secret_hex"`
	Derivations          []struct {
		Name string `json:"name"`
		Hex  string `json:"hex"`
	} `json:"derivations"`
	Decrypted []struct {
		MessageIndex   int    `json:"message_index"`
		Dir            string `json:"dir"`
		SequenceNumber uint64 `json:"sequence_number"`
		AEADNonceHex   string `json:"aead_nonce_hex"`
		AADHex         string `json:"aad_hex"`
		PlaintextHex   string `json:"plaintext_hex"`
		AppLength      int    `json:"application_data_length"`
		SPDMHex        string `json:"spdm_hex"`
		PaddingLength  int    `json:"random_padding_length"`
	} `json:"decrypted_secured_messages"`
}

func cryptLoadJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read vector: %v", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decode %s: %v", path, err)
	}
}

func cryptDecodeHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex in vector: %v", err)
	}
	return b
}

// spdmBytes returns message i's SPDM message (without the MCTP type byte).
func (v *cryptVectorFile) spdmBytes(t *testing.T, i int) []byte {
	t.Helper()
	if i < 0 || i >= len(v.Messages) || v.Messages[i].I != i || v.Messages[i].SPDMHex == nil {
		t.Fatalf("vector message %d is not a plain SPDM message", i)
	}
	return cryptDecodeHex(t, *v.Messages[i].SPDMHex)
}

func cryptLeafKey(t *testing.T, dir string, slot int) crypto.PublicKey {
	t.Helper()
	der, err := os.ReadFile(filepath.Join(dir, "certs", fmt.Sprintf("slot%d_leaf.der", slot)))
	if err != nil {
		t.Fatalf("leaf certificate: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("parse slot %d leaf: %v", slot, err)
	}
	return cert.PublicKey
}

func cryptSHA384(parts ...[]byte) []byte {
	h := sha512.New384()
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

// TestConformanceSigning verifies every signature_checks[] entry of every
// recording with verifyTranscript, from the transcript rebuilt out of the
// recorded messages, and compares the recorded signing context with
// signingPrefix.
func TestConformanceSigning(t *testing.T) {
	dir := cryptVectorDir(t)
	files := []string{
		"spdm12_auth_meas.json",
		"spdm13_auth_meas.json",
		"spdm13_auth_meas_multikey.json",
		"spdm12_session.json",
		"spdm12_meas_raw.json",
	}
	total := 0
	for _, name := range files {
		t.Run(name, func(t *testing.T) {
			var v cryptVectorFile
			cryptLoadJSON(t, filepath.Join(dir, name), &v)
			negotiated, err := strconv.ParseUint(v.Negotiated.SPDMVersionByte, 0, 8)
			if err != nil {
				t.Fatalf("negotiated version %q: %v", v.Negotiated.SPDMVersionByte, err)
			}
			if len(v.SignatureChecks) == 0 {
				t.Fatal("no signature checks")
			}
			for _, sc := range v.SignatureChecks {
				total++
				var transcript []byte
				for _, p := range sc.TranscriptParts {
					switch p.Source {
					case "cert_chain_hash":
						transcript = append(transcript, cryptDecodeHex(t, p.Hex)...)
					case "message":
						m := v.spdmBytes(t, *p.MessageIndex)
						transcript = append(transcript, m[*p.Offset:*p.Offset+p.Length]...)
					default:
						t.Fatalf("%s: unknown transcript part %q", sc.Name, p.Source)
					}
				}
				if len(transcript) != sc.TranscriptLength {
					t.Fatalf("%s: transcript %d bytes, recorded %d", sc.Name, len(transcript), sc.TranscriptLength)
				}
				th := cryptSHA384(transcript)
				if hex.EncodeToString(th) != sc.TranscriptSHA384 {
					t.Fatalf("%s: transcript hash %x, recorded %s", sc.Name, th, sc.TranscriptSHA384)
				}

				msg := v.spdmBytes(t, sc.MessageIndex)
				version := Version(msg[0])
				if uint64(version) != negotiated {
					t.Fatalf("%s: message version %#x, negotiated %#x", sc.Name, msg[0], negotiated)
				}
				var context string
				switch msg[1] {
				case 0x03:
					context = contextChallengeAuth
				case 0x60:
					context = contextMeasurements
				case 0x64:
					context = contextKeyExchangeRsp
				default:
					t.Fatalf("%s: unexpected response code %#x", sc.Name, msg[1])
				}
				if got := hex.EncodeToString(signingPrefix(version, context)); got != sc.SigningContext {
					t.Fatalf("%s: signingPrefix = %s, recorded %s", sc.Name, got, sc.SigningContext)
				}
				sig := append(cryptDecodeHex(t, sc.R), cryptDecodeHex(t, sc.S)...)
				if !bytes.Equal(msg[sc.SignatureOffset:sc.SignatureOffset+len(sig)], sig) {
					t.Fatalf("%s: r||s differ from the message's Signature field", sc.Name)
				}
				pub := cryptLeafKey(t, dir, sc.LeafFromSlot)
				if err := verifyTranscript(pub, crypto.SHA384, version, context, th, sig); err != nil {
					t.Fatalf("%s (message %d): %v", sc.Name, sc.MessageIndex, err)
				}

				// Negative variants.
				other := Version12
				if version == Version12 {
					other = Version13
				}
				bad := map[string]error{
					"other version prefix": verifyTranscript(pub, crypto.SHA384, other, context, th, sig),
					"flipped transcript":   verifyTranscript(pub, crypto.SHA384, version, context, cryptSHA384(cryptFlip(transcript, len(transcript)/2)), sig),
					"raw transcript hash":  verifyTranscript(pub, crypto.SHA384, version, contextFinish, th, sig),
					"flipped signature":    verifyTranscript(pub, crypto.SHA384, version, context, th, cryptFlip(sig, 10)),
					"with signature bytes": verifyTranscript(pub, crypto.SHA384, version, context, cryptSHA384(transcript, sig), sig),
				}
				for what, err := range bad {
					if !errors.Is(err, errSignatureInvalid) {
						t.Errorf("%s %s: err = %v, want errSignatureInvalid", sc.Name, what, err)
					}
				}
			}
		})
	}
	if total != 16 {
		t.Errorf("checked %d signatures, the README lists 16", total)
	}
}

// cryptSessionVectors loads spdm12_session.json and its session secrets.
func cryptSessionVectors(t *testing.T) (string, *cryptVectorFile, *cryptSecretsFile) {
	dir := cryptVectorDir(t)
	var v cryptVectorFile
	cryptLoadJSON(t, filepath.Join(dir, "spdm12_session.json"), &v)
	var s cryptSecretsFile
	cryptLoadJSON(t, filepath.Join(dir, "spdm12_session.session_secrets.json"), &s)
	return dir, &v, &s
}

// Message indices of spdm12_session.json.
const (
	ksMsgGetVersion     = 2
	ksMsgAlgorithms     = 7
	ksMsgCertificate    = 11 // the second CERTIFICATE (slot 0, whole chain)
	ksMsgKeyExchange    = 12
	ksMsgKeyExchangeRsp = 13
	ksMsgFinish         = 14
	ksMsgFinishRsp      = 15
	ksMsgEndSession     = 16
	ksMsgEndSessionAck  = 17
)

// cryptSessionTranscripts rebuilds TH1's messages (A || cert chain hash ||
// KEY_EXCHANGE || KEY_EXCHANGE_RSP) and returns them with the messages.
func cryptSessionTranscripts(t *testing.T, dir string, v *cryptVectorFile) (th1 []byte, finish, finishRsp []byte) {
	t.Helper()
	for i := ksMsgGetVersion; i <= ksMsgAlgorithms; i++ {
		th1 = append(th1, v.spdmBytes(t, i)...)
	}
	// The chain as CERTIFICATE carried it: after the 8-byte header
	// (PortionLength, RemainderLength), RemainderLength 0.
	cert := v.spdmBytes(t, ksMsgCertificate)
	if cert[1] != 0x02 || cert[6] != 0 || cert[7] != 0 {
		t.Fatalf("message %d is not a complete CERTIFICATE", ksMsgCertificate)
	}
	chain := cert[8:]
	file, err := os.ReadFile(filepath.Join(dir, "certs", "slot0_spdm_cert_chain.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(chain, file) {
		t.Fatal("CERTIFICATE chain differs from certs/slot0_spdm_cert_chain.bin")
	}
	th1 = append(th1, cryptSHA384(chain)...)
	th1 = append(th1, v.spdmBytes(t, ksMsgKeyExchange)...)
	th1 = append(th1, v.spdmBytes(t, ksMsgKeyExchangeRsp)...)
	return th1, v.spdmBytes(t, ksMsgFinish), v.spdmBytes(t, ksMsgFinishRsp)
}

func cryptDerivation(t *testing.T, s *cryptSecretsFile, name string) []byte {
	t.Helper()
	for _, d := range s.Derivations {
		if d.Name == name {
			return cryptDecodeHex(t, d.Hex)
		}
	}
	t.Fatalf("no cryptDerivation %q in the secrets file", name)
	return nil
}

// cryptSecuredRecord returns a 0x06 frame's record (without the type byte).
func cryptSecuredRecord(t *testing.T, v *cryptVectorFile, i int) []byte {
	t.Helper()
	p := cryptDecodeHex(t, v.Messages[i].TransportPayloadHex)
	if len(p) == 0 || p[0] != 0x06 {
		t.Fatalf("message %d is not a secured MCTP message", i)
	}
	return p[1:]
}

// TestConformanceKeySchedule drives the key schedule from the recorded DHE
// secret and transcripts, recomputes both FINISH verify-data fields byte for
// byte, derives the data keys and opens the recorded END_SESSION and
// END_SESSION_ACK.
func TestConformanceKeySchedule(t *testing.T) {
	dir, v, s := cryptSessionVectors(t)
	if s.SPDMVersionForBinStr != "spdm1.2 " {
		t.Fatalf("secrets file uses version label %q", s.SPDMVersionForBinStr)
	}
	th1, finish, finishRsp := cryptSessionTranscripts(t, dir, v)
	ker := v.spdmBytes(t, ksMsgKeyExchangeRsp)
	version := Version(ker[0])
	if version != Version12 {
		t.Fatalf("session version %s", version)
	}

	// The KEY_EXCHANGE_RSP signature over TH up to its Signature field.
	const sigLen = 96
	sigTH := cryptSHA384(th1[:len(th1)-sigLen])
	if err := verifyTranscript(cryptLeafKey(t, dir, 0), crypto.SHA384, version, contextKeyExchangeRsp, sigTH, ker[len(ker)-sigLen:]); err != nil {
		t.Fatalf("KEY_EXCHANGE_RSP signature: %v", err)
	}

	th1Hash := cryptSHA384(th1)
	if !bytes.Equal(th1Hash, cryptDerivation(t, s, "TH1 hash")) {
		t.Fatalf("TH1 hash %x differs from libspdm's", th1Hash)
	}
	ks := newKeySchedule(crypto.SHA384, version, cryptDecodeHex(t, s.DHESecretHex))
	if !bytes.Equal(ks.handshakeSecret, cryptDerivation(t, s, "handshake_secret")) {
		t.Fatal("handshake_secret differs from libspdm's")
	}
	req, rsp, err := ks.handshakeKeys(th1Hash, AEADAES256GCM.KeySize(), aeadIVSize)
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]byte{
		"request_handshake_secret":  req.secret,
		"response_handshake_secret": rsp.secret,
		"request_finished_key":      req.finishedKey,
		"response_finished_key":     rsp.finishedKey,
		"request_handshake_key":     req.key,
		"request_handshake_iv":      req.iv,
		"response_handshake_key":    rsp.key,
		"response_handshake_iv":     rsp.iv,
	} {
		if !bytes.Equal(got, cryptDerivation(t, s, name)) {
			t.Errorf("%s = %x differs from libspdm's", name, got)
		}
	}

	// FINISH: RequesterVerifyData = HMAC(request finished key,
	// Hash(TH1 messages || FINISH header)); no signature (no mutual auth).
	const hashLen = 48
	if len(finish) != 4+hashLen || finish[2] != 0 {
		t.Fatalf("FINISH is %d bytes with Param1 %#x", len(finish), finish[2])
	}
	gotReq := verifyData(crypto.SHA384, req.finishedKey, cryptSHA384(th1, finish[:4]))
	if !hmac.Equal(gotReq, finish[4:]) {
		t.Fatalf("RequesterVerifyData %x, recorded %x", gotReq, finish[4:])
	}
	// FINISH_RSP: ResponderVerifyData = HMAC(response finished key,
	// Hash(TH1 messages || FINISH || FINISH_RSP header)).
	if len(finishRsp) != 4+hashLen {
		t.Fatalf("FINISH_RSP is %d bytes", len(finishRsp))
	}
	gotRsp := verifyData(crypto.SHA384, rsp.finishedKey, cryptSHA384(th1, finish, finishRsp[:4]))
	if !hmac.Equal(gotRsp, finishRsp[4:]) {
		t.Fatalf("ResponderVerifyData %x, recorded %x", gotRsp, finishRsp[4:])
	}

	th2Hash := cryptSHA384(th1, finish, finishRsp)
	if !bytes.Equal(th2Hash, cryptDerivation(t, s, "TH2 hash")) {
		t.Fatalf("TH2 hash %x differs from libspdm's", th2Hash)
	}
	ms, err := ks.masterSecret()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ms, cryptDerivation(t, s, "master_secret")) {
		t.Error("master_secret differs from libspdm's")
	}
	exp, err := ks.exportMasterSecret(th2Hash)
	if err != nil || !bytes.Equal(exp, cryptDerivation(t, s, "export_master_secret")) {
		t.Errorf("export_master_secret %x, %v", exp, err)
	}
	dreq, drsp, err := ks.dataKeys(th2Hash, AEADAES256GCM.KeySize(), aeadIVSize)
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string][]byte{
		"request_data_secret":  dreq.secret,
		"response_data_secret": drsp.secret,
		"request_data_key":     dreq.key,
		"request_data_iv":      dreq.iv,
		"response_data_key":    drsp.key,
		"response_data_iv":     drsp.iv,
	} {
		if !bytes.Equal(got, cryptDerivation(t, s, name)) {
			t.Errorf("%s = %x differs from libspdm's", name, got)
		}
	}

	// The two secured frames, each the first (sequence number 0) of its
	// direction under the data keys.
	const sessionID = 0xFFFFFFFF
	frames := map[int]directionKeys{ksMsgEndSession: dreq, ksMsgEndSessionAck: drsp}
	if len(s.Decrypted) != 2 {
		t.Fatalf("%d decrypted messages in the secrets file", len(s.Decrypted))
	}
	for _, d := range s.Decrypted {
		keys, ok := frames[d.MessageIndex]
		if !ok {
			t.Fatalf("unexpected decrypted message %d", d.MessageIndex)
		}
		record := cryptSecuredRecord(t, v, d.MessageIndex)
		if hex.EncodeToString(record[:8]) != d.AADHex {
			t.Fatalf("message %d: header %x, recorded AAD %s", d.MessageIndex, record[:8], d.AADHex)
		}
		rx, err := newSecuredDirection(AEADAES256GCM, keys, sessionID, mctpSeqNumSize, nil)
		if err != nil {
			t.Fatal(err)
		}
		rx.seq = d.SequenceNumber
		if got := hex.EncodeToString(rx.nonce(rx.seq)); got != d.AEADNonceHex {
			t.Fatalf("message %d: nonce %s, recorded %s", d.MessageIndex, got, d.AEADNonceHex)
		}
		app, err := rx.open(record)
		if err != nil {
			t.Fatalf("message %d: %v", d.MessageIndex, err)
		}
		want := append([]byte{0x05}, cryptDecodeHex(t, d.SPDMHex)...)
		if !bytes.Equal(app, want) || len(app) != d.AppLength {
			t.Fatalf("message %d: application data %x, recorded %x", d.MessageIndex, app, want)
		}
		// Resealing with the recorded padding reproduces the frame.
		pt := cryptDecodeHex(t, d.PlaintextHex)
		pad := pt[2+len(app):]
		if len(pad) != d.PaddingLength {
			t.Fatalf("message %d: %d padding bytes, recorded %d", d.MessageIndex, len(pad), d.PaddingLength)
		}
		tx, err := newSecuredDirection(AEADAES256GCM, keys, sessionID, mctpSeqNumSize,
			bytes.NewReader(append([]byte{byte(len(pad) - 1)}, pad...)))
		if err != nil {
			t.Fatal(err)
		}
		tx.seq = d.SequenceNumber
		resealed, err := tx.seal(app)
		if err != nil || !bytes.Equal(resealed, record) {
			t.Fatalf("message %d: resealed %x (%v), recorded %x", d.MessageIndex, resealed, err, record)
		}
	}
}

// TestConformanceKeyScheduleNegative shows that each rule is needed: a
// wrong version label, a wrong TH, a wrong sequence number, a flipped MAC
// byte or the other direction's keys do not reproduce the recording.
func TestConformanceKeyScheduleNegative(t *testing.T) {
	dir, v, s := cryptSessionVectors(t)
	th1, finish, finishRsp := cryptSessionTranscripts(t, dir, v)
	dhe := cryptDecodeHex(t, s.DHESecretHex)
	endSession := cryptSecuredRecord(t, v, ksMsgEndSession)

	// finishAndOpen reports whether a schedule built from (version, th1
	// messages) reproduces RequesterVerifyData and opens END_SESSION.
	finishAndOpen := func(version Version, th1 []byte) (bool, error) {
		ks := newKeySchedule(crypto.SHA384, version, dhe)
		req, _, err := ks.handshakeKeys(cryptSHA384(th1), 32, 12)
		if err != nil {
			t.Fatal(err)
		}
		okFinish := hmac.Equal(verifyData(crypto.SHA384, req.finishedKey, cryptSHA384(th1, finish[:4])), finish[4:])
		dreq, _, err := ks.dataKeys(cryptSHA384(th1, finish, finishRsp), 32, 12)
		if err != nil {
			t.Fatal(err)
		}
		rx, err := newSecuredDirection(AEADAES256GCM, dreq, 0xFFFFFFFF, mctpSeqNumSize, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = rx.open(endSession)
		return okFinish, err
	}

	if ok, err := finishAndOpen(Version12, th1); !ok || err != nil {
		t.Fatalf("positive control failed: finish %v, open %v", ok, err)
	}
	if ok, err := finishAndOpen(Version13, th1); ok || !errors.Is(err, errSecuredAuth) {
		t.Errorf("version label spdm1.3: finish %v, open %v", ok, err)
	}
	if ok, err := finishAndOpen(Version12, cryptFlip(th1, 100)); ok || !errors.Is(err, errSecuredAuth) {
		t.Errorf("flipped TH1 byte: finish %v, open %v", ok, err)
	}
	// TH1 with the signature left out (the TH of the signature, not TH1).
	if ok, err := finishAndOpen(Version12, th1[:len(th1)-96]); ok || !errors.Is(err, errSecuredAuth) {
		t.Errorf("TH1 without the signature: finish %v, open %v", ok, err)
	}

	ks := newKeySchedule(crypto.SHA384, Version12, dhe)
	dreq, drsp, err := ks.dataKeys(cryptSHA384(th1, finish, finishRsp), 32, 12)
	if err != nil {
		t.Fatal(err)
	}
	// The TH2 hash in place of TH1 for the finished key.
	req, _, _ := ks.handshakeKeys(cryptSHA384(th1, finish, finishRsp), 32, 12)
	if hmac.Equal(verifyData(crypto.SHA384, req.finishedKey, cryptSHA384(th1, finish[:4])), finish[4:]) {
		t.Error("finished key from TH2 reproduces RequesterVerifyData")
	}
	open := func(keys directionKeys, seq uint64, record []byte) error {
		rx, err := newSecuredDirection(AEADAES256GCM, keys, 0xFFFFFFFF, mctpSeqNumSize, nil)
		if err != nil {
			t.Fatal(err)
		}
		rx.seq = seq
		_, err = rx.open(record)
		return err
	}
	if err := open(dreq, 1, endSession); !errors.Is(err, errSecuredSequence) {
		t.Errorf("sequence number 1: err = %v, want errSecuredSequence", err)
	}
	if err := open(dreq, 1<<16, endSession); !errors.Is(err, errSecuredAuth) {
		t.Errorf("sequence number 65536 (same wire bytes): err = %v, want errSecuredAuth", err)
	}
	if err := open(dreq, 0, cryptFlip(endSession, len(endSession)-1)); !errors.Is(err, errSecuredAuth) {
		t.Errorf("flipped MAC byte: err = %v, want errSecuredAuth", err)
	}
	if err := open(drsp, 0, endSession); !errors.Is(err, errSecuredAuth) {
		t.Errorf("response keys on a request: err = %v, want errSecuredAuth", err)
	}
	if err := open(directionKeys{key: cryptDerivation(t, s, "request_handshake_key"), iv: cryptDerivation(t, s, "request_handshake_iv")}, 0, endSession); !errors.Is(err, errSecuredAuth) {
		t.Errorf("handshake keys on a data-phase record: err = %v, want errSecuredAuth", err)
	}
	rx, _ := newSecuredDirection(AEADAES256GCM, dreq, 0xFFFEFFFF, mctpSeqNumSize, nil)
	if _, err := rx.open(endSession); !errors.Is(err, errSecuredSessionID) {
		t.Errorf("other session ID: err = %v, want errSecuredSessionID", err)
	}
}
