package spdm

import (
	"bytes"
	"crypto"
	"crypto/hkdf"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"testing"
)

// The values below are those of DMTF libspdm's spdm12_session recording
// (spdm12_session.session_secrets.json): the DHE secret libspdm's Debug build
// printed, the TH1 and TH2 hashes, and every secret libspdm derived from them.
const (
	ksDHE          = "9b34ab84e72b1cd735ac2cd1f45ea146adf6a4239020f1437940d81a1770bad1054eb88e3fbb93147464b137b30c57f5"
	ksTH1          = "b776c2ba23b0789bfe53d82e3e76b981b201c2b77831a385142edd66298be59c714dcfcde61e94e6745751d9ef05afa5"
	ksTH2          = "bb97521bf35ce6b79253d7c0270ba9e8bbdaefcfb60ec6e9da3fc5a4327d1e5aae4ce21a80f2a4567a4526d30ccab9e7"
	ksHS           = "ab955a8b03fd3b08b87065ccff4629812dd8177ddae9d0b773b588a8afba7802044d150c9d71a4b6eb5aeb748fec6160"
	ksReqHS        = "0d3dfcdd23f1c7e2746d3dfbdf6e7f81b7dad730dc33e062bc77b0ee29f4eb9345f49a95d5b28d13813e50cc006107c0"
	ksRspHS        = "2c8ad9bd9ff7bf69ede29bcde49cd83ff6ed3c1a61b506946c142729607b893178a7ee02309d492f3e855083fc8e61aa"
	ksReqFinished  = "23593690eaf2cd7558440fec01d9af13a7cb2a7d69c0cf794d1de2faf36b180ddca825faae8fd59bfdf81e3a27f131de"
	ksRspFinished  = "ba48cb9236cdc868a22639786442fd384648cc76e082fb75f0caba78711ddc00ce29ff9b80fa40241d62b20179653282"
	ksReqHSKey     = "31d7bd12b6d2dce30ec8295f9bc03b6ac8826a1311b18a2dfb5c2f59e0b98bc2"
	ksReqHSIV      = "61f696ded5344c1ef1b914c2"
	ksRspHSKey     = "a9ed4650418422d4606b9fed77be56c7d35ffe4709da7b57138b520e86d71641"
	ksRspHSIV      = "f65391f4824ed27726f3d3a4"
	ksMaster       = "b273699077c5965d4e178f3e11684f6240c8b49b812857c1cc34778b2c0c7b34b6edb63213aebf79b0f96d64626584b9"
	ksReqData      = "08748e2c64f9c869a0e3b00a5d24f3bffe7252d07632c1a7eb5f010b52e6422c87b2977b90efa32542b60e2d4f150fc5"
	ksRspData      = "ce467c6e5ee00ebaa7c53b2433b329cc4a9788ef76c13117b299891d9d5e4f3968b86b0a407261d07c3e4b38591d885d"
	ksExportMaster = "dad917dadac6f48aa856603d3a28a7ffea5b436f53194363b980b717d3094e9f0f7807cf51f56bceff64b27691e2a717"
	ksReqDataKey   = "6bb20f0ab6d487e95b676c65f7c66f945eb35d9b21c01320bf94b87226096516"
	ksReqDataIV    = "01fb4c1f5dbcd52afc607df7"
	ksRspDataKey   = "869f3eb990761835c775a38cdfc718bd67b7ba735b575b00281bb0575a521e43"
	ksRspDataIV    = "ba500e5f995dae0f19287ba8"
)

func cryptCheckHex(t *testing.T, name string, got []byte, want string) {
	t.Helper()
	if !bytes.Equal(got, cryptHex(t, want)) {
		t.Errorf("%s = %x, want %s", name, got, want)
	}
}

func TestKeyScheduleRecordedSession(t *testing.T) {
	ks := newKeySchedule(crypto.SHA384, Version12, cryptHex(t, ksDHE))
	cryptCheckHex(t, "handshake_secret", ks.handshakeSecret, ksHS)

	req, rsp, err := ks.handshakeKeys(cryptHex(t, ksTH1), 32, 12)
	if err != nil {
		t.Fatal(err)
	}
	cryptCheckHex(t, "request handshake secret", req.secret, ksReqHS)
	cryptCheckHex(t, "response handshake secret", rsp.secret, ksRspHS)
	cryptCheckHex(t, "request finished key", req.finishedKey, ksReqFinished)
	cryptCheckHex(t, "response finished key", rsp.finishedKey, ksRspFinished)
	cryptCheckHex(t, "request handshake key", req.key, ksReqHSKey)
	cryptCheckHex(t, "request handshake iv", req.iv, ksReqHSIV)
	cryptCheckHex(t, "response handshake key", rsp.key, ksRspHSKey)
	cryptCheckHex(t, "response handshake iv", rsp.iv, ksRspHSIV)

	ms, err := ks.masterSecret()
	if err != nil {
		t.Fatal(err)
	}
	cryptCheckHex(t, "master secret", ms, ksMaster)

	req, rsp, err = ks.dataKeys(cryptHex(t, ksTH2), 32, 12)
	if err != nil {
		t.Fatal(err)
	}
	cryptCheckHex(t, "request data secret", req.secret, ksReqData)
	cryptCheckHex(t, "response data secret", rsp.secret, ksRspData)
	cryptCheckHex(t, "request data key", req.key, ksReqDataKey)
	cryptCheckHex(t, "request data iv", req.iv, ksReqDataIV)
	cryptCheckHex(t, "response data key", rsp.key, ksRspDataKey)
	cryptCheckHex(t, "response data iv", rsp.iv, ksRspDataIV)
	if req.finishedKey != nil || rsp.finishedKey != nil {
		t.Error("data keys carry a finished key")
	}
	exp, err := ks.exportMasterSecret(cryptHex(t, ksTH2))
	if err != nil {
		t.Fatal(err)
	}
	cryptCheckHex(t, "export master secret", exp, ksExportMaster)

	ks.forgetHandshake()
	if _, _, err := ks.dataKeys(cryptHex(t, ksTH2), 32, 12); !errors.Is(err, errKeySchedule) {
		t.Errorf("dataKeys after forgetHandshake: err = %v", err)
	}
}

// TestKeyScheduleBinConcat checks the BinConcat layout byte by byte and the
// version label of SPDM 1.3.
func TestKeyScheduleBinConcat(t *testing.T) {
	ks := newKeySchedule(crypto.SHA384, Version13, make([]byte, 48))
	got := ks.binConcat(48, labelReqHS, []byte{0xAA, 0xBB})
	want := "\x30\x00spdm1.3 req hs data\xaa\xbb"
	if got != want {
		t.Fatalf("BinConcat = %q, want %q", got, want)
	}
	if got := newKeySchedule(crypto.SHA256, Version12, nil).binConcat(12, labelIV, nil); got != "\x0c\x00spdm1.2 iv" {
		t.Fatalf("BinConcat(12, iv) = %q", got)
	}
}

// TestKeyScheduleVersionLabel shows the version label reaches every secret:
// a 1.3 schedule over the recorded inputs must differ from libspdm's 1.2
// values, and match an independent HKDF computation with "spdm1.3 ".
func TestKeyScheduleVersionLabel(t *testing.T) {
	ks := newKeySchedule(crypto.SHA384, Version13, cryptHex(t, ksDHE))
	req, _, err := ks.handshakeKeys(cryptHex(t, ksTH1), 32, 12)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(req.secret, cryptHex(t, ksReqHS)) {
		t.Fatal("1.3 request handshake secret equals the 1.2 one")
	}
	info := binary.LittleEndian.AppendUint16(nil, 48)
	info = append(info, "spdm1.3 req hs data"...)
	info = append(info, cryptHex(t, ksTH1)...)
	want, err := hkdf.Expand(sha512.New384, cryptHex(t, ksHS), string(info), 48)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(req.secret, want) {
		t.Fatalf("1.3 request handshake secret = %x, want %x", req.secret, want)
	}
}

func TestKeyScheduleSHA256(t *testing.T) {
	dhe := bytes.Repeat([]byte{0x42}, 32)
	th := sha256.Sum256([]byte("TH1"))
	ks := newKeySchedule(crypto.SHA256, Version12, dhe)
	req, rsp, err := ks.handshakeKeys(th[:], 16, 12)
	if err != nil {
		t.Fatal(err)
	}
	if len(req.secret) != 32 || len(req.finishedKey) != 32 || len(req.key) != 16 || len(req.iv) != 12 {
		t.Fatalf("sizes: secret %d finished %d key %d iv %d", len(req.secret), len(req.finishedKey), len(req.key), len(req.iv))
	}
	if bytes.Equal(req.key, rsp.key) || bytes.Equal(req.iv, rsp.iv) || bytes.Equal(req.finishedKey, rsp.finishedKey) {
		t.Fatal("request and response keys are equal")
	}
	hs, err := hkdf.Extract(sha256.New, dhe, make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ks.handshakeSecret, hs) {
		t.Fatal("handshake secret is not HKDF-Extract(zeros, DHE)")
	}
}

func TestKeyScheduleRefusesBadInput(t *testing.T) {
	ks := newKeySchedule(crypto.SHA384, Version12, cryptHex(t, ksDHE))
	if _, _, err := ks.handshakeKeys(make([]byte, 32), 32, 12); !errors.Is(err, errKeySchedule) {
		t.Errorf("32-byte TH1 hash under SHA-384: err = %v", err)
	}
	if _, _, err := ks.dataKeys(make([]byte, 48), 0, 12); !errors.Is(err, errKeySchedule) {
		t.Errorf("zero key length: err = %v", err)
	}
	if _, err := ks.updateKeys(directionKeys{}, 32, 12); !errors.Is(err, errKeySchedule) {
		t.Errorf("update without a secret: err = %v", err)
	}
	bad := newKeySchedule(crypto.Hash(0), Version12, []byte{1})
	if _, _, err := bad.handshakeKeys(nil, 32, 12); !errors.Is(err, errKeySchedule) {
		t.Errorf("unavailable hash: err = %v", err)
	}
}

func TestKeyScheduleUpdate(t *testing.T) {
	ks := newKeySchedule(crypto.SHA384, Version12, cryptHex(t, ksDHE))
	req, _, err := ks.dataKeys(cryptHex(t, ksTH2), 32, 12)
	if err != nil {
		t.Fatal(err)
	}
	next, err := ks.updateKeys(req, 32, 12)
	if err != nil {
		t.Fatal(err)
	}
	info := binary.LittleEndian.AppendUint16(nil, 48)
	info = append(info, "spdm1.2 traffic upd"...)
	want, err := hkdf.Expand(sha512.New384, req.secret, string(info), 48)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(next.secret, want) {
		t.Fatalf("updated secret = %x, want %x", next.secret, want)
	}
	if bytes.Equal(next.key, req.key) || bytes.Equal(next.iv, req.iv) || len(next.key) != 32 || len(next.iv) != 12 {
		t.Fatal("key update did not produce a fresh key and IV")
	}
}

func TestKeyScheduleVerifyData(t *testing.T) {
	// RFC 4231 test case 2 for HMAC-SHA-384, as a check of the HMAC wiring.
	got := verifyData(crypto.SHA384, []byte("Jefe"), []byte("what do ya want for nothing?"))
	cryptCheckHex(t, "HMAC-SHA-384", got, "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649")
	if got := verifyData(crypto.Hash(0), []byte("k"), []byte("m")); got != nil {
		t.Errorf("unavailable hash: %x, want nil", got)
	}
}
