package dice

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"math/big"
	"testing"
	"time"
)

func flags(f OperationalFlags) *OperationalFlags { return &f }

func sampleTcbInfo() *TcbInfo {
	d := sha512.Sum384([]byte("bmcd"))
	return &TcbInfo{
		Vendor: "ironroot", Model: "ironroot-sim", Version: "2026.11.0",
		SVN: big.NewInt(7), Layer: big.NewInt(0), Index: big.NewInt(3),
		FWIDs:      []FWID{{HashAlg: OIDSHA384(), Digest: d[:]}},
		Flags:      flags(FlagNotSecure | FlagDebug),
		VendorInfo: []byte{1, 2, 3},
		Type:       []byte("bmc-firmware"),
		FlagsMask:  flags(FlagNotConfigured | FlagNotSecure | FlagRecovery | FlagDebug),
	}
}

func TestKnownAnswer(t *testing.T) {
	tests := []struct {
		name string
		info TcbInfo
		hex  string
	}{
		{"vendor, svn, no flags set", TcbInfo{Vendor: "a", SVN: big.NewInt(1), Flags: flags(0)}, "300980016183010187010" + "0"},
		{"layer 0 is present", TcbInfo{Layer: big.NewInt(0)}, "3003840100"},
		{"notSecure+debug", TcbInfo{Flags: flags(FlagNotSecure | FlagDebug)}, "3004870204" + "50"},
		{"notTcb spans two bytes", TcbInfo{Flags: flags(FlagNotTcb)}, "300587030700" + "80"},
		{"fixed width", TcbInfo{Flags: flags(FlagFixedWidth | FlagNotConfigured)}, "30078705008000000" + "1"},
		{"empty", TcbInfo{}, "3000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			der, err := tc.info.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(der); got != tc.hex {
				t.Fatalf("DER %s, want %s", got, tc.hex)
			}
			back, err := ParseTcbInfo(der)
			if err != nil {
				t.Fatal(err)
			}
			if !equalInfo(back, &tc.info) {
				t.Errorf("round trip: %+v, want %+v", back, tc.info)
			}
		})
	}
}

func equalInfo(a, b *TcbInfo) bool {
	bigEq := func(x, y *big.Int) bool { return x == nil && y == nil || x != nil && y != nil && x.Cmp(y) == 0 }
	flagEq := func(x, y *OperationalFlags) bool { return x == nil && y == nil || x != nil && y != nil && *x == *y }
	if a.Vendor != b.Vendor || a.Model != b.Model || a.Version != b.Version ||
		!bigEq(a.SVN, b.SVN) || !bigEq(a.Layer, b.Layer) || !bigEq(a.Index, b.Index) ||
		!flagEq(a.Flags, b.Flags) || !flagEq(a.FlagsMask, b.FlagsMask) ||
		!bytes.Equal(a.VendorInfo, b.VendorInfo) || !bytes.Equal(a.Type, b.Type) || len(a.FWIDs) != len(b.FWIDs) {
		return false
	}
	for i := range a.FWIDs {
		if !a.FWIDs[i].HashAlg.Equal(b.FWIDs[i].HashAlg) || !bytes.Equal(a.FWIDs[i].Digest, b.FWIDs[i].Digest) {
			return false
		}
	}
	return true
}

func TestRoundTripFull(t *testing.T) {
	in := sampleTcbInfo()
	der, err := in.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	out, err := ParseTcbInfo(der)
	if err != nil {
		t.Fatal(err)
	}
	if !equalInfo(in, out) {
		t.Errorf("round trip:\n got %+v\nwant %+v", out, in)
	}
	again, _ := out.Marshal()
	if !bytes.Equal(again, der) {
		t.Error("re-encoding differs")
	}
}

func TestMulti(t *testing.T) {
	a := sampleTcbInfo()
	b := &TcbInfo{Model: "bmc-kernel", Layer: big.NewInt(1), FWIDs: []FWID{{HashAlg: OIDSHA256(), Digest: make([]byte, 32)}}}
	der, err := MarshalMulti([]TcbInfo{*a, *b})
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseMulti(der)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || !equalInfo(&got[0], a) || !equalInfo(&got[1], b) {
		t.Errorf("multi round trip: %+v", got)
	}
	if _, err := MarshalMulti(nil); err == nil {
		t.Error("empty DiceTcbInfoSeq encoded")
	}
	if _, err := ParseMulti([]byte{0x30, 0x00}); !errors.Is(err, ErrMalformed) {
		t.Errorf("empty seq: %v", err)
	}
}

func TestInCertificate(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ext, err := sampleTcbInfo().Extension()
	if err != nil {
		t.Fatal(err)
	}
	if ext.Critical || !ext.Id.Equal(OIDTcbInfo()) {
		t.Fatalf("extension %v critical=%v", ext.Id, ext.Critical)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "alias"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		ExtraExtensions: []pkix.Extension{ext},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	info, ok, err := FromCertificate(cert)
	if err != nil || !ok || !equalInfo(info, sampleTcbInfo()) {
		t.Fatalf("FromCertificate: %v %v %+v", ok, err, info)
	}
	cert.Extensions = nil
	if _, ok, err := FromCertificate(cert); ok || err != nil {
		t.Errorf("no extension: ok=%v err=%v", ok, err)
	}
}

func TestParseRejects(t *testing.T) {
	for name, h := range map[string]string{
		"trailing bytes":       "300080",
		"not a sequence":       "0400",
		"non-minimal integer":  "30048302" + "0001",
		"flags padding bits":   "3004870204" + "51",
		"flags unused no data": "3003870101",
		"flags too wide":       "3008870600" + "0000000000",
		"empty fwid list":      "3002a600",
		"bad utf8":             "3003800" + "1ff",
		"truncated":            "3009800161",
	} {
		der, _ := hex.DecodeString(h)
		if _, err := ParseTcbInfo(der); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v", name, err)
		}
	}
	if _, err := (&TcbInfo{FWIDs: []FWID{}}).Marshal(); err == nil {
		t.Error("empty non-nil FWIDs encoded")
	}
}

func FuzzParseTcbInfo(f *testing.F) {
	for _, info := range []*TcbInfo{sampleTcbInfo(), {}, {Flags: flags(FlagFixedWidth)}} {
		der, err := info.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(der)
	}
	multi, _ := MarshalMulti([]TcbInfo{*sampleTcbInfo()})
	f.Add(multi)
	f.Add([]byte{0x30, 0x03, 0x87, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		if info, err := ParseTcbInfo(der); err == nil {
			// What parses re-encodes, and the re-encoding parses to the
			// same value.
			again, err := info.Marshal()
			if err != nil {
				t.Fatalf("re-encoding a parsed TcbInfo: %v", err)
			}
			back, err := ParseTcbInfo(again)
			if err != nil {
				t.Fatalf("parsing the re-encoding: %v", err)
			}
			if !equalInfo(info, back) {
				t.Fatalf("round trip changed the value")
			}
		}
		if infos, err := ParseMulti(der); err == nil {
			if _, err := MarshalMulti(infos); err != nil {
				t.Fatalf("re-encoding a parsed DiceTcbInfoSeq: %v", err)
			}
		}
	})
}
