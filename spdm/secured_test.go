package spdm

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	"math"
	"testing"
)

// Fixed parameters of the known-answer tests.
var (
	katKey = cryptHexStatic("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	katIV  = cryptHexStatic("a0a1a2a3a4a5a6a7a8a9aaab")
	// HEARTBEAT (SPDM 1.2) behind its MCTP message type byte.
	katApp = cryptHexStatic("0512e80000")
)

const katSessionID = 0x44332211

func cryptHexStatic(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// katPadding returns a padding reader that makes every record carry the
// three bytes e0 e1 e2: the length byte 0x02 selects 0x02 % 32 + 1 = 3.
func katPadding(records int) io.Reader {
	return bytes.NewReader(bytes.Repeat([]byte{0x02, 0xe0, 0xe1, 0xe2}, records))
}

func newKATDirection(t testing.TB, padding io.Reader) *securedDirection {
	t.Helper()
	d, err := newSecuredDirection(AEADAES256GCM, directionKeys{key: katKey, iv: katIV}, katSessionID, mctpSeqNumSize, padding)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestSecuredKnownAnswer derives the records for sequence numbers 0, 1 and
// 2 by hand from DSP0277 1.2 and DSP0276 (MCTP):
//
//	header    = SessionID u32 LE | SequenceNumber u16 LE | Length u16 LE
//	plaintext = ApplicationDataLength u16 LE | 05 12 e8 00 00 | e0 e1 e2
//	Length    = 10 bytes of plaintext + 16 bytes of MAC = 26 = 0x1a
//	nonce     = IV XOR the 64-bit sequence number, little-endian, in IV[0:8]
//
// and seals them with the standard library's AES-256-GCM as the reference.
func TestSecuredKnownAnswer(t *testing.T) {
	cases := []struct {
		seq    uint64
		header string
		nonce  string
	}{
		{0, "11223344" + "0000" + "1a00", "a0a1a2a3a4a5a6a7a8a9aaab"},
		{1, "11223344" + "0100" + "1a00", "a1a1a2a3a4a5a6a7a8a9aaab"},
		{2, "11223344" + "0200" + "1a00", "a2a1a2a3a4a5a6a7a8a9aaab"},
	}
	block, err := aes.NewCipher(katKey)
	if err != nil {
		t.Fatal(err)
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	plaintext := cryptHexStatic("0500" + "0512e80000" + "e0e1e2")

	sender := newKATDirection(t, katPadding(3))
	records := make([][]byte, len(cases))
	for i, c := range cases {
		if got := sender.nonce(c.seq); !bytes.Equal(got, cryptHexStatic(c.nonce)) {
			t.Fatalf("seq %d: nonce %x, want %s", c.seq, got, c.nonce)
		}
		header := cryptHexStatic(c.header)
		want := gcm.Seal(append([]byte(nil), header...), cryptHexStatic(c.nonce), plaintext, header)
		got, err := sender.seal(katApp)
		if err != nil {
			t.Fatalf("seal seq %d: %v", c.seq, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("seq %d: record\n got %x\nwant %x", c.seq, got, want)
		}
		records[i] = got
	}

	// A record sealed at sequence number N opens only at N.
	for n, rec := range records {
		for at := range uint64(3) {
			r := newKATDirection(t, nil)
			r.seq = at
			app, err := r.open(rec)
			if at == uint64(n) {
				if err != nil || !bytes.Equal(app, katApp) {
					t.Errorf("record %d at %d: %x, %v", n, at, app, err)
				}
				if r.seq != at+1 {
					t.Errorf("record %d: sequence number %d after open, want %d", n, r.seq, at+1)
				}
				continue
			}
			if !errors.Is(err, errSecuredSequence) {
				t.Errorf("record %d opened at %d: err = %v, want errSecuredSequence", n, at, err)
			}
		}
		// Same 16 bits on the wire, different 64-bit sequence number: the
		// header matches but the nonce does not, so the MAC fails.
		r := newKATDirection(t, nil)
		r.seq = uint64(n) + 1<<16
		if _, err := r.open(rec); !errors.Is(err, errSecuredAuth) {
			t.Errorf("record %d at %d: err = %v, want errSecuredAuth", n, r.seq, err)
		}
	}
}

// TestSecuredNonceBigEndian pins the DSP0277 1.0/1.1 big-endian alternative:
// the sequence number lands in the last eight bytes of the IV.
func TestSecuredNonceBigEndian(t *testing.T) {
	d := newKATDirection(t, nil)
	d.seqBigEndian = true
	for seq, want := range []string{
		"a0a1a2a3a4a5a6a7a8a9aaab",
		"a0a1a2a3a4a5a6a7a8a9aaaa",
		"a0a1a2a3a4a5a6a7a8a9aaa9",
	} {
		if got := d.nonce(uint64(seq)); !bytes.Equal(got, cryptHexStatic(want)) {
			t.Errorf("seq %d: nonce %x, want %s", seq, got, want)
		}
	}
	if got := d.nonce(0x0102); !bytes.Equal(got, cryptHexStatic("a0a1a2a3a4a5a6a7a8a9aba9")) {
		t.Errorf("seq 0x0102 big-endian: nonce %x", got)
	}
	d.seqBigEndian = false
	if got := d.nonce(0x0102); !bytes.Equal(got, cryptHexStatic("a2a0a2a3a4a5a6a7a8a9aaab")) {
		t.Errorf("seq 0x0102 little-endian: nonce %x", got)
	}
	// A little-endian sender and a big-endian receiver disagree from seq 1 on.
	tx := newKATDirection(t, katPadding(2))
	rx := newKATDirection(t, nil)
	rx.seqBigEndian = true
	for seq := range 2 {
		rec, err := tx.seal(katApp)
		if err != nil {
			t.Fatal(err)
		}
		_, err = rx.open(rec)
		if seq == 0 && err != nil {
			t.Fatalf("seq 0 must not depend on the byte order: %v", err)
		}
		if seq == 1 && !errors.Is(err, errSecuredAuth) {
			t.Fatalf("seq 1 with mismatched byte order: err = %v", err)
		}
	}
}

// Recorded END_SESSION / END_SESSION_ACK of DMTF libspdm's spdm12_session
// recording (transport payload without the 0x06 type byte) and the data keys
// and plaintexts of spdm12_session.session_secrets.json.
const (
	recEndSession       = "ffffffff00001e002c85bc6f81b35098eb8cba7abd2e8f0218c7bbf40af165b71afada0847d5"
	recEndSessionPT     = "05000512ec0100dbd80e4e61ed81"
	recEndSessionAck    = "ffffffff00002600720a35db24e7ade157019ee02f58ccea83831f1e6378f079ec1881851ee90c636358df5cf930"
	recEndSessionAckPT  = "050005126c0000de7dbe6a32f934296c1716408179cf"
	recSessionID        = 0xFFFFFFFF
	recEndSessionApp    = "0512ec0100"
	recEndSessionAckApp = "05126c0000"
)

func TestSecuredRecordedEndSession(t *testing.T) {
	cases := []struct {
		name, key, iv, record, plaintext, app string
	}{
		{"END_SESSION", ksReqDataKey, ksReqDataIV, recEndSession, recEndSessionPT, recEndSessionApp},
		{"END_SESSION_ACK", ksRspDataKey, ksRspDataIV, recEndSessionAck, recEndSessionAckPT, recEndSessionAckApp},
	}
	for _, c := range cases {
		keys := directionKeys{key: cryptHex(t, c.key), iv: cryptHex(t, c.iv)}
		rx, err := newSecuredDirection(AEADAES256GCM, keys, recSessionID, mctpSeqNumSize, nil)
		if err != nil {
			t.Fatal(err)
		}
		app, err := rx.open(cryptHex(t, c.record))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		cryptCheckHex(t, c.name, app, c.app)

		// Reseal with libspdm's padding: the recorded frame comes back.
		pt := cryptHex(t, c.plaintext)
		pad := pt[2+len(app):]
		tx, err := newSecuredDirection(AEADAES256GCM, keys, recSessionID, mctpSeqNumSize,
			bytes.NewReader(append([]byte{byte(len(pad) - 1)}, pad...)))
		if err != nil {
			t.Fatal(err)
		}
		rec, err := tx.seal(app)
		if err != nil {
			t.Fatal(err)
		}
		cryptCheckHex(t, c.name+" resealed", rec, c.record)
	}
}

func TestSecuredRoundTripSuites(t *testing.T) {
	for _, suite := range []AEADSuite{AEADAES128GCM, AEADAES256GCM, AEADChaCha20Poly1305} {
		keys := directionKeys{key: bytes.Repeat([]byte{7}, suite.KeySize()), iv: katIV}
		tx, err := newSecuredDirection(suite, keys, 0x00010002, mctpSeqNumSize, nil)
		if err != nil {
			t.Fatalf("suite %#x: %v", suite, err)
		}
		rx, err := newSecuredDirection(suite, keys, 0x00010002, mctpSeqNumSize, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 300 { // crosses the 8-bit boundary of the sequence number
			msg := bytes.Repeat([]byte{byte(i)}, i)
			rec, err := tx.seal(msg)
			if err != nil {
				t.Fatal(err)
			}
			pad := len(rec) - 8 - 2 - len(msg) - 16
			if pad < 1 || pad > 32 {
				t.Fatalf("suite %#x: %d bytes of padding", suite, pad)
			}
			got, err := rx.open(rec)
			if err != nil || !bytes.Equal(got, msg) {
				t.Fatalf("suite %#x message %d: %v", suite, i, err)
			}
		}
	}
}

func TestSecuredRejects(t *testing.T) {
	tx := newKATDirection(t, katPadding(1))
	rec, err := tx.seal(katApp)
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func([]byte) []byte) []byte { return f(append([]byte(nil), rec...)) }
	cases := []struct {
		name   string
		record []byte
		want   error
	}{
		{"empty", nil, errSecuredLength},
		{"header only", rec[:8], errSecuredLength},
		{"wrong session", mutate(func(b []byte) []byte { b[0] ^= 1; return b }), errSecuredSessionID},
		{"future sequence", mutate(func(b []byte) []byte { b[4] = 1; return b }), errSecuredSequence},
		{"Length too long", mutate(func(b []byte) []byte { b[6]++; return b }), errSecuredLength},
		{"Length too short", mutate(func(b []byte) []byte { b[6], b[7] = 17, 0; return b }), errSecuredLength},
		{"Length shorter", mutate(func(b []byte) []byte { b[6]--; return b[:len(b)-1] }), errSecuredAuth},
		{"truncated", rec[:len(rec)-1], errSecuredLength},
		{"flipped MAC", mutate(func(b []byte) []byte { b[len(b)-1] ^= 0x80; return b }), errSecuredAuth},
		{"flipped ciphertext", mutate(func(b []byte) []byte { b[8] ^= 1; return b }), errSecuredAuth},
	}
	for _, c := range cases {
		rx := newKATDirection(t, nil)
		if _, err := rx.open(c.record); !errors.Is(err, c.want) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
		if rx.seq != 0 {
			t.Errorf("%s: a refused record advanced the sequence number", c.name)
		}
	}

	// Transport padding after the record is ignored.
	rx := newKATDirection(t, nil)
	if app, err := rx.open(append(append([]byte(nil), rec...), 0, 0, 0)); err != nil || !bytes.Equal(app, katApp) {
		t.Errorf("record with trailing transport padding: %x, %v", app, err)
	}
	// Replay of an accepted record.
	if _, err := rx.open(rec); !errors.Is(err, errSecuredSequence) {
		t.Errorf("replay: err = %v, want errSecuredSequence", err)
	}

	// An authentic record whose ApplicationDataLength overruns the plaintext.
	block, _ := aes.NewCipher(katKey)
	gcm, _ := cipher.NewGCM(block)
	header := cryptHexStatic("11223344" + "0000" + "1400") // 4 + 16
	bad := gcm.Seal(append([]byte(nil), header...), katIV, cryptHexStatic("0300"+"0512"), header)
	rx = newKATDirection(t, nil)
	if _, err := rx.open(bad); !errors.Is(err, errSecuredLength) {
		t.Errorf("ApplicationDataLength overrun: err = %v, want errSecuredLength", err)
	}
}

func TestSecuredSealLimits(t *testing.T) {
	d := newKATDirection(t, katPadding(2))
	if _, err := d.seal(make([]byte, math.MaxUint16)); !errors.Is(err, errSecuredLength) {
		t.Errorf("oversized application data: err = %v", err)
	}
	if d.seq != 0 {
		t.Error("a refused seal advanced the sequence number")
	}
	d.seq = math.MaxUint64
	if _, err := d.seal(katApp); !errors.Is(err, errSecuredExhausted) {
		t.Errorf("exhausted sequence: err = %v", err)
	}
	if _, err := d.open(make([]byte, 40)); err == nil {
		t.Error("open at an exhausted sequence number succeeded")
	}
	short := newKATDirection(t, bytes.NewReader([]byte{0x05, 1, 2}))
	if _, err := short.seal(katApp); err == nil || errors.Is(err, errSecuredLength) {
		t.Errorf("short padding source: err = %v", err)
	}
	// Every length byte maps into 1..32.
	for b := range 256 {
		p := newKATDirection(t, bytes.NewReader(append([]byte{byte(b)}, make([]byte, 32)...)))
		rec, err := p.seal(nil)
		if err != nil {
			t.Fatal(err)
		}
		if pad := len(rec) - 8 - 2 - 16; pad != b%32+1 {
			t.Fatalf("length byte %d: %d bytes of padding", b, pad)
		}
	}
}

func TestSecuredSetup(t *testing.T) {
	cases := []struct {
		name  string
		suite AEADSuite
		keys  directionKeys
		size  int
	}{
		{"short key", AEADAES256GCM, directionKeys{key: katKey[:16], iv: katIV}, 2},
		{"no suite", 0, directionKeys{key: katKey, iv: katIV}, 2},
		{"SM4", AEADSM4GCM, directionKeys{key: katKey[:16], iv: katIV}, 2},
		{"two suites", AEADAES256GCM | AEADChaCha20Poly1305, directionKeys{key: katKey, iv: katIV}, 2},
		{"short IV", AEADAES256GCM, directionKeys{key: katKey, iv: katIV[:8]}, 2},
		{"sequence size 9", AEADAES256GCM, directionKeys{key: katKey, iv: katIV}, 9},
	}
	for _, c := range cases {
		if _, err := newSecuredDirection(c.suite, c.keys, 1, c.size, nil); !errors.Is(err, errSecuredSetup) {
			t.Errorf("%s: err = %v, want errSecuredSetup", c.name, err)
		}
	}
	// A transport without a sequence number on the wire (seqNumSize 0).
	tx, err := newSecuredDirection(AEADAES128GCM, directionKeys{key: katKey[:16], iv: katIV}, 9, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	rx, _ := newSecuredDirection(AEADAES128GCM, directionKeys{key: katKey[:16], iv: katIV}, 9, 0, nil)
	rec, err := tx.seal(katApp)
	if err != nil {
		t.Fatal(err)
	}
	if binary.LittleEndian.Uint16(rec[4:]) != uint16(len(rec)-6) {
		t.Fatalf("seqNumSize 0: Length field %x in %d bytes", rec[4:6], len(rec))
	}
	if app, err := rx.open(rec); err != nil || !bytes.Equal(app, katApp) {
		t.Fatalf("seqNumSize 0: %x, %v", app, err)
	}
}

func TestSecuredRekey(t *testing.T) {
	ks := newKeySchedule(crypto.SHA384, Version12, cryptHexStatic(ksDHE))
	req, _, err := ks.dataKeys(cryptHexStatic(ksTH2), 32, 12)
	if err != nil {
		t.Fatal(err)
	}
	tx, _ := newSecuredDirection(AEADAES256GCM, req, 5, mctpSeqNumSize, nil)
	rx, _ := newSecuredDirection(AEADAES256GCM, req, 5, mctpSeqNumSize, nil)
	for range 3 {
		rec, _ := tx.seal(katApp)
		if _, err := rx.open(rec); err != nil {
			t.Fatal(err)
		}
	}
	next, err := ks.updateKeys(req, 32, 12)
	if err != nil {
		t.Fatal(err)
	}
	old, _ := tx.seal(katApp) // still under the old key at seq 3
	if err := tx.rekey(AEADAES256GCM, next); err != nil {
		t.Fatal(err)
	}
	if err := rx.rekey(AEADAES256GCM, next); err != nil {
		t.Fatal(err)
	}
	rec, _ := tx.seal(katApp)
	if rec[4] != 0 || rec[5] != 0 {
		t.Fatalf("sequence number after rekey: %x", rec[4:6])
	}
	if _, err := rx.open(old); err == nil {
		t.Fatal("record under the old key opened after rekey")
	}
	if app, err := rx.open(rec); err != nil || !bytes.Equal(app, katApp) {
		t.Fatalf("after rekey: %x, %v", app, err)
	}
}

func FuzzSecuredOpen(f *testing.F) {
	tx := newKATDirection(f, katPadding(2))
	rec0, _ := tx.seal(katApp)
	rec1, _ := tx.seal(nil)
	f.Add(rec0, uint8(0))
	f.Add(rec1, uint8(1))
	f.Add(rec0[:8], uint8(0))
	f.Add(rec0[:len(rec0)-1], uint8(0))
	f.Add([]byte{}, uint8(0))
	f.Add(cryptHexStatic(recEndSession), uint8(0))
	f.Add(cryptHexStatic("112233440000ffff"), uint8(0))
	f.Add(cryptHexStatic("1122334400001200"+"00000000000000000000000000000000"+"0000"), uint8(0))
	f.Fuzz(func(t *testing.T, record []byte, seq uint8) {
		rx := newKATDirection(t, nil)
		rx.seq = uint64(seq)
		app, err := rx.open(record)
		if err != nil {
			if rx.seq != uint64(seq) {
				t.Fatal("refused record advanced the sequence number")
			}
			return
		}
		if rx.seq != uint64(seq)+1 || len(app) > len(record) {
			t.Fatalf("accepted record: seq %d, %d bytes from %d", rx.seq, len(app), len(record))
		}
	})
}

func FuzzSecuredRoundTrip(f *testing.F) {
	f.Add(katApp, uint8(0), uint16(0))
	f.Add([]byte{}, uint8(31), uint16(255))
	f.Add(bytes.Repeat([]byte{0x05}, 1024), uint8(200), uint16(65535))
	f.Fuzz(func(t *testing.T, app []byte, padLen uint8, seq uint16) {
		pad := append([]byte{padLen}, make([]byte, 32)...)
		tx := newKATDirection(t, bytes.NewReader(pad))
		rx := newKATDirection(t, nil)
		tx.seq, rx.seq = uint64(seq), uint64(seq)
		rec, err := tx.seal(app)
		if err != nil {
			if errors.Is(err, errSecuredLength) {
				return
			}
			t.Fatal(err)
		}
		got, err := rx.open(rec)
		if err != nil || !bytes.Equal(got, app) {
			t.Fatalf("round trip: %v", err)
		}
	})
}
