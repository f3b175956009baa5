package measure

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/ironroot-bmc/ironroot/spdm"
)

func sampleLog(t testing.TB) *Log {
	l, err := NewLog([]crypto.Hash{crypto.SHA256, crypto.SHA384})
	if err != nil {
		t.Fatal(err)
	}
	for i, data := range [][]byte{[]byte("rotd test"), []byte("bmcd 1.0"), {0, 0, 0, 0}} {
		if err := l.Append(uint32(i), EvNonhostCode, l.Digests(data), data); err != nil {
			t.Fatal(err)
		}
	}
	return l
}

func TestRoundTripAndReplay(t *testing.T) {
	l := sampleLog(t)
	b, err := l.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	b2, _ := got.MarshalBinary()
	if !bytes.Equal(b, b2) {
		t.Fatal("encode(parse(log)) != log")
	}
	// The first record is the Spec ID event in the SHA-1 format.
	if binary.LittleEndian.Uint32(b[4:8]) != uint32(EvNoAction) || string(b[32:48]) != specIDSignature {
		t.Fatalf("header = %x", b[:48])
	}
	// Replay by hand for PCR 1, SHA-256.
	d := sha256.Sum256([]byte("bmcd 1.0"))
	want := sha256.Sum256(append(make([]byte, 32), d[:]...))
	if r := got.Replay()[crypto.SHA256][1]; !bytes.Equal(r, want[:]) {
		t.Fatalf("replay PCR1 = %x, want %x", r, want)
	}
	d384 := sha512.Sum384([]byte("rotd test"))
	want384 := sha512.Sum384(append(make([]byte, 48), d384[:]...))
	if r := got.Replay()[crypto.SHA384][0]; !bytes.Equal(r, want384[:]) {
		t.Fatalf("replay PCR0 = %x, want %x", r, want384)
	}
}

func TestParseRejects(t *testing.T) {
	b, _ := sampleLog(t).MarshalBinary()
	for name, mut := range map[string]func([]byte) []byte{
		"truncated":        func(b []byte) []byte { return b[:len(b)-1] },
		"no spec id":       func(b []byte) []byte { c := bytes.Clone(b); c[32] = 'X'; return c },
		"digest count":     func(b []byte) []byte { c := bytes.Clone(b); c[headerLen(b)+8] = 3; return c },
		"trailing garbage": func(b []byte) []byte { c := bytes.Clone(b); return append(c, make([]byte, 8)...) },
	} {
		if _, err := Parse(mut(b)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Parse = %v, want ErrMalformed", name, err)
		}
	}
	if _, err := (&Log{}).MarshalBinary(); err != nil {
		t.Fatal(err)
	}
}

func headerLen(b []byte) int { return 32 + int(binary.LittleEndian.Uint32(b[28:32])) }

func FuzzParse(f *testing.F) {
	b, _ := sampleLog(f).MarshalBinary()
	f.Add(b)
	f.Add(b[:40])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := Parse(b)
		if err != nil {
			return
		}
		enc, err := l.MarshalBinary()
		if err != nil {
			t.Fatalf("a parsed log does not encode: %v", err)
		}
		l2, err := Parse(enc)
		if err != nil {
			t.Fatalf("re-encoded log does not parse: %v", err)
		}
		enc2, _ := l2.MarshalBinary()
		if !bytes.Equal(enc, enc2) {
			t.Fatal("encoding is not stable")
		}
		l.Replay()
	})
}

func TestBlocksLayout(t *testing.T) {
	d256 := sha256.Sum256([]byte("bmcd"))
	d384 := sha512.Sum384([]byte("bmcd"))
	bs, err := NewBlocks([]Component{{Name: "bmcd", Digests: map[crypto.Hash][]byte{crypto.SHA256: d256[:], crypto.SHA384: d384[:]}}},
		"1.2.3", 7, []byte("signed manifest"), false)
	if err != nil {
		t.Fatal(err)
	}
	got, err := bs.MeasurementBlocks(context.Background(), crypto.SHA384, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []spdm.MeasurementBlock{
		{Index: 1, Spec: spdm.MeasurementSpecDMTF, ValueType: spdm.MeasTypeMutableFirmware, Value: d384[:]},
		{Index: IndexVersion, Spec: spdm.MeasurementSpecDMTF, ValueType: spdm.MeasTypeVersion | spdm.MeasTypeRaw, Value: []byte("1.2.3")},
		{Index: IndexSVN, Spec: spdm.MeasurementSpecDMTF, ValueType: spdm.MeasTypeSVN | spdm.MeasTypeRaw, Value: []byte{7, 0, 0, 0, 0, 0, 0, 0}},
		{Index: IndexManifest, Spec: spdm.MeasurementSpecDMTF, ValueType: spdm.MeasTypeManifest | spdm.MeasTypeRaw, Value: []byte("signed manifest")},
		{Index: IndexDeviceMode, Spec: spdm.MeasurementSpecDMTF, ValueType: spdm.MeasTypeDeviceMode | spdm.MeasTypeRaw, Value: DeviceMode(false)},
	}
	if len(got) != len(want) {
		t.Fatalf("%d blocks, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Index != want[i].Index || got[i].ValueType != want[i].ValueType || !bytes.Equal(got[i].Value, want[i].Value) {
			t.Errorf("block %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if len(DeviceMode(true)) != 16 || binary.LittleEndian.Uint32(DeviceMode(true)[4:]) != OpModeRecovery {
		t.Fatal("device mode")
	}
	if s256, _ := bs.MeasurementBlocks(context.Background(), crypto.SHA256, false); !bytes.Equal(s256[0].Value, d256[:]) {
		t.Fatal("SHA-256 component digest")
	}
	if _, err := bs.MeasurementBlocks(context.Background(), crypto.SHA512, false); err == nil {
		t.Fatal("SHA-512 digests invented")
	}
}
