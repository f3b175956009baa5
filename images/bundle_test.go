package images

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
	"github.com/ironroot-bmc/ironroot/images/manifest"
	"github.com/veraison/go-cose"
)

const testBoard = "test-board"

type testVendor struct {
	signers []manifest.Signer // ES384, ML-DSA-87
	keys    manifest.KeySet
}

func newTestVendor(t testing.TB) testVendor {
	t.Helper()
	ec, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	es, err := manifest.NewES384Signer(ec)
	if err != nil {
		t.Fatal(err)
	}
	_, mlKey, err := mldsa87.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ml, err := manifest.NewMLDSA87Signer(mlKey)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := manifest.NewKeySet(es.Public(), ml.Public())
	if err != nil {
		t.Fatal(err)
	}
	return testVendor{signers: []manifest.Signer{es, ml}, keys: keys}
}

// testComponents returns small deterministic components.
func testComponents(sizes ...int) []ComponentSource {
	names := []string{manifest.ComponentBMCKernel, manifest.ComponentBMCInitramfs, manifest.ComponentBMCD, manifest.ComponentBMCConfig, manifest.ComponentHostBIOS}
	var out []ComponentSource
	for i, size := range sizes {
		data := make([]byte, size)
		for j := range data {
			data[j] = byte(i*31 + j*7 + j>>8)
		}
		out = append(out, ComponentSource{Name: names[i], Version: fmt.Sprintf("1.%d", i), Content: bytes.NewReader(data), Size: int64(size)})
	}
	return out
}

func testMeta() Meta {
	return Meta{BoardID: testBoard, FirmwareVersion: "2026.11.0", SVN: 3, BuildTime: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)}
}

func testPolicy() manifest.Policy { return manifest.Policy{BoardID: testBoard, MinSVN: 3} }

func buildBundle(t testing.TB, v testVendor, comps []ComponentSource) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := Build(&buf, testMeta(), comps, v.signers); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func openBytes(b []byte) (*Bundle, error) { return Open(bytes.NewReader(b), int64(len(b))) }

func TestBuildOpenVerifyRoundTrip(t *testing.T) {
	v := newTestVendor(t)
	comps := testComponents(3000, 0, 1<<20+17, 5)
	bundle := buildBundle(t, v, comps)
	b, err := openBytes(bundle)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.Unverified().BoardID; got != testBoard {
		t.Errorf("unverified board %q", got)
	}
	ver, err := b.VerifyAndRead(v.keys, testPolicy())
	if err != nil {
		t.Fatalf("VerifyAndRead: %v", err)
	}
	if len(ver.Components) != len(comps) {
		t.Fatalf("%d components, want %d", len(ver.Components), len(comps))
	}
	for i, c := range comps {
		want := make([]byte, c.Size)
		c.Content.ReadAt(want, 0)
		got := ver.Components[i]
		if got.Name != c.Name || got.Version != c.Version || !bytes.Equal(got.Data, want) || got.SHA384 != sha512.Sum384(want) {
			t.Errorf("component %d (%s) differs", i, c.Name)
		}
	}
	if !bytes.Equal(ver.Signed, b.Signed()) {
		t.Error("Signed differs from the envelope")
	}

	// The streaming path hands out the same bytes.
	sinks := map[string]*bytes.Buffer{}
	ver2, err := b.VerifyAndCopy(v.keys, testPolicy(), func(c manifest.Component) (io.Writer, error) {
		sinks[c.Name] = &bytes.Buffer{}
		return sinks[c.Name], nil
	})
	if err != nil {
		t.Fatalf("VerifyAndCopy: %v", err)
	}
	for _, c := range ver.Components {
		if !bytes.Equal(sinks[c.Name].Bytes(), c.Data) {
			t.Errorf("streamed %s differs", c.Name)
		}
		if c2, ok := ver2.Component(c.Name); !ok || c2.Data != nil || c2.SHA384 != c.SHA384 {
			t.Errorf("streamed %s: %+v", c.Name, c2)
		}
	}
}

func TestBuildRefusesWrongSigners(t *testing.T) {
	v := newTestVendor(t)
	var buf bytes.Buffer
	if _, err := Build(&buf, testMeta(), testComponents(10), v.signers[:1]); err == nil {
		t.Error("one signer accepted")
	}
	if _, err := Build(&buf, testMeta(), testComponents(10), []manifest.Signer{v.signers[0], v.signers[0]}); err == nil {
		t.Error("two ES384 signers accepted")
	}
}

// writeRaw assembles a bundle around an arbitrary signed manifest (tests
// only: Build refuses invalid signer sets).
func writeRaw(t *testing.T, signed []byte, comps []ComponentSource) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := writeHeader(&buf, signed); err != nil {
		t.Fatal(err)
	}
	for _, c := range comps {
		if _, err := hashSection(c, make([]byte, 4096), &buf); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func manifestFor(comps []ComponentSource) *manifest.Manifest {
	meta := testMeta()
	m := &manifest.Manifest{FormatVersion: manifest.FormatVersion, BoardID: meta.BoardID, FirmwareVersion: meta.FirmwareVersion, SVN: meta.SVN, BuildTime: meta.BuildTime}
	for _, c := range comps {
		data := make([]byte, c.Size)
		c.Content.ReadAt(data, 0)
		m.Components = append(m.Components, manifest.Component{Name: c.Name, Version: c.Version, Size: uint64(c.Size), SHA384: sha512.Sum384(data)})
	}
	return m
}

var sentinels = []error{
	manifest.ErrMalformed, manifest.ErrTruncated, manifest.ErrOversized, manifest.ErrUnsupportedVersion,
	manifest.ErrUnknownHeader, manifest.ErrCountersignaturePresent, manifest.ErrReceiptPresent,
	manifest.ErrUnsupportedAlgorithm, manifest.ErrMissingES384, manifest.ErrMissingMLDSA,
	manifest.ErrExtraSignature, manifest.ErrUnknownKid, manifest.ErrBadSignature, manifest.ErrBadManifest,
	manifest.ErrWrongBoard, manifest.ErrSVNTooOld, manifest.ErrBadPolicy, manifest.ErrBadKey,
	ErrBadMagic, ErrTrailingData, ErrDigestMismatch,
}

func TestBundleRejects(t *testing.T) {
	v := newTestVendor(t)
	other := newTestVendor(t)
	comps := testComponents(100, 200, 300)
	good := buildBundle(t, v, comps)
	m := manifestFor(comps)
	es, ml := v.signers[0], v.signers[1]
	envLen := len(good) - HeaderSize - 600
	payloadStart := HeaderSize + envLen

	tests := []struct {
		name   string
		bundle []byte
		policy manifest.Policy
		keys   *manifest.KeySet
		want   error
	}{
		{name: "wrong board", bundle: good, policy: manifest.Policy{BoardID: "other"}, want: manifest.ErrWrongBoard},
		{name: "older SVN", bundle: good, policy: manifest.Policy{BoardID: testBoard, MinSVN: 4}, want: manifest.ErrSVNTooOld},
		{name: "wrong kid", bundle: good, keys: &other.keys, want: manifest.ErrUnknownKid},
		{name: "missing ML-DSA", bundle: writeRaw(t, must(manifest.Sign(m, es)), comps), want: manifest.ErrMissingMLDSA},
		{name: "missing ES384", bundle: writeRaw(t, must(manifest.Sign(m, ml)), comps), want: manifest.ErrMissingES384},
		{name: "extra signature", bundle: writeRaw(t, must(manifest.Sign(m, es, ml, other.signers[1])), comps), want: manifest.ErrExtraSignature},
		{name: "truncated in payload", bundle: good[:len(good)-1], want: manifest.ErrTruncated},
		{name: "truncated in envelope", bundle: good[:HeaderSize+100], want: manifest.ErrTruncated},
		{name: "truncated header", bundle: good[:10], want: manifest.ErrTruncated},
		{name: "empty", bundle: nil, want: manifest.ErrTruncated},
		{name: "trailing data", bundle: append(bytes.Clone(good), 0), want: ErrTrailingData},
		{name: "bad magic", bundle: replaceAt(good, 0, []byte("NOTABNDL")), want: ErrBadMagic},
		{name: "container version", bundle: replaceAt(good, 8, []byte{0, 2}), want: manifest.ErrUnsupportedVersion},
		{name: "reserved field", bundle: replaceAt(good, 10, []byte{0, 1}), want: manifest.ErrMalformed},
		{name: "oversized envelope length", bundle: replaceAt(good, 12, []byte{0, 2, 0, 0}), want: manifest.ErrOversized},
		{name: "oversized total", bundle: good, policy: manifest.Policy{BoardID: testBoard, MaxTotalSize: 599}, want: manifest.ErrOversized},
		{name: "receipts present", bundle: writeRaw(t, signWithHeader(t, m, v, manifest.HeaderLabelReceipts), comps), want: manifest.ErrReceiptPresent},
		{name: "owner countersignature present", bundle: writeRaw(t, signWithHeader(t, m, v, manifest.HeaderLabelOwnerCountersignature), comps), want: manifest.ErrCountersignaturePresent},
		{name: "unknown header label", bundle: writeRaw(t, signWithHeader(t, m, v, 99), comps), want: manifest.ErrUnknownHeader},
		{name: "payload bit flip", bundle: flipBit(good, 8*(payloadStart+250)), want: ErrDigestMismatch},
		{name: "payloads swapped", bundle: writeRaw(t, must(manifest.Sign(m, es, ml)), []ComponentSource{comps[0], comps[2], comps[1]}), want: ErrDigestMismatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			keys := v.keys
			if tc.keys != nil {
				keys = *tc.keys
			}
			policy := testPolicy()
			if tc.policy.BoardID != "" {
				policy = tc.policy
			}
			err := openAndVerify(tc.bundle, keys, policy)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			for _, s := range sentinels {
				if s != tc.want && errors.Is(err, s) {
					t.Errorf("error %q also matches %v", err, s)
				}
			}
		})
	}
}

// signWithHeader signs m like Build does, plus one label in the body's
// unprotected header.
func signWithHeader(t *testing.T, m *manifest.Manifest, v testVendor, label int64) []byte {
	t.Helper()
	payload, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	msg := cose.NewSignMessage()
	msg.Headers.Protected[cose.HeaderLabelContentType] = manifest.ContentType
	if label != manifest.HeaderLabelOwnerCountersignature {
		msg.Headers.Unprotected[label] = []byte{0x01}
	}
	msg.Payload = payload
	var signers []cose.Signer
	for _, s := range v.signers {
		sig := cose.NewSignature()
		sig.Headers.Protected.SetAlgorithm(s.Algorithm())
		sig.Headers.Protected[cose.HeaderLabelKeyID] = s.Public().KeyID()
		msg.Signatures = append(msg.Signatures, sig)
		signers = append(signers, s.COSE())
	}
	if err := msg.Sign(rand.Reader, nil, signers...); err != nil {
		t.Fatal(err)
	}
	if label == manifest.HeaderLabelOwnerCountersignature {
		// A well-formed RFC 9338 countersignature by an "owner" key.
		cs := cose.NewCountersignature()
		if err := cs.Sign(rand.Reader, v.signers[0].COSE(), msg, nil); err != nil {
			t.Fatal(err)
		}
		msg.Headers.Unprotected[label] = cs
	}
	out, err := msg.MarshalCBOR()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func openAndVerify(bundle []byte, keys manifest.KeySet, policy manifest.Policy) error {
	b, err := openBytes(bundle)
	if err != nil {
		return err
	}
	_, err = b.VerifyAndRead(keys, policy)
	return err
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func replaceAt(b []byte, off int, with []byte) []byte {
	out := bytes.Clone(b)
	copy(out[off:], with)
	return out
}

func flipBit(b []byte, bit int) []byte {
	out := bytes.Clone(b)
	out[bit/8] ^= 1 << (bit % 8)
	return out
}

// TestSingleBitFlips flips one bit at a time at >= 10,000 positions spread
// over the whole bundle (header, COSE headers, manifest, both signatures,
// every payload) and requires every flip to be rejected.
func TestSingleBitFlips(t *testing.T) {
	t.Parallel()
	v := newTestVendor(t)
	bundle := buildBundle(t, v, testComponents(200, 100, 150, 50))
	totalBits := 8 * len(bundle)
	// Evenly spread positions; since totalBits/n is not an integer the bit
	// offset within a byte varies. The first and last bits are included.
	const n = 10240
	positions := make([]int, 0, n+1)
	for i := range n {
		positions = append(positions, int(int64(i)*int64(totalBits)/n))
	}
	positions = append(positions, totalBits-1)
	if len(positions) < 10000 {
		t.Fatalf("only %d positions", len(positions))
	}

	var mu sync.Mutex
	reasons := map[string]int{}
	var wg sync.WaitGroup
	workers := 4
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := map[string]int{}
			for i := w; i < len(positions); i += workers {
				bit := positions[i]
				err := openAndVerify(flipBit(bundle, bit), v.keys, testPolicy())
				if err == nil {
					t.Errorf("flip of bit %d (byte %d) accepted", bit, bit/8)
					continue
				}
				local[reason(err)]++
			}
			mu.Lock()
			for k, n := range local {
				reasons[k] += n
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	var keys []string
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&sb, " %s=%d", k, reasons[k])
	}
	t.Logf("%d flips over %d bytes, all rejected:%s", len(positions), len(bundle), sb.String())
}

func reason(err error) string {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return strings.ReplaceAll(s.Error(), " ", "_")
		}
	}
	return "other"
}

func TestVerifyAndCopyDestinationError(t *testing.T) {
	v := newTestVendor(t)
	b, err := openBytes(buildBundle(t, v, testComponents(10, 10)))
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	_, err = b.VerifyAndCopy(v.keys, testPolicy(), func(manifest.Component) (io.Writer, error) { return nil, boom })
	if !errors.Is(err, boom) {
		t.Errorf("got %v", err)
	}
}

// shrinkingReader simulates a file truncated after Open.
type shrinkingReader struct {
	data []byte
	cut  int
}

func (r *shrinkingReader) ReadAt(p []byte, off int64) (int, error) {
	return bytes.NewReader(r.data[:r.cut]).ReadAt(p, off)
}

func TestFileShrinksAfterOpen(t *testing.T) {
	v := newTestVendor(t)
	bundle := buildBundle(t, v, testComponents(1000, 1000))
	r := &shrinkingReader{data: bundle, cut: len(bundle)}
	b, err := Open(r, int64(len(bundle)))
	if err != nil {
		t.Fatal(err)
	}
	r.cut = len(bundle) - 10
	if _, err := b.VerifyAndRead(v.keys, testPolicy()); !errors.Is(err, manifest.ErrTruncated) {
		t.Errorf("got %v, want truncated", err)
	}
}

func TestVendorKeyFiles(t *testing.T) {
	dir := t.TempDir()
	pubs, err := GenerateVendorKeys(dir)
	if err != nil {
		t.Fatal(err)
	}
	for name, perm := range map[string]os.FileMode{ES384KeyFile: 0o600, MLDSA87SeedFile: 0o600, ES384PubFile: 0o644, MLDSA87PubFile: 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != perm {
			t.Errorf("%s: %v %v", name, err, fi.Mode())
		}
	}
	if fi, _ := os.Stat(filepath.Join(dir, MLDSA87SeedFile)); fi.Size() != mldsa87.SeedSize {
		t.Errorf("seed file is %d bytes", fi.Size())
	}
	if _, err := GenerateVendorKeys(dir); err == nil {
		t.Error("overwrote existing keys")
	}
	signers, err := LoadVendorSigners(dir)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := LoadVendorKeySet(dir)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := manifest.NewKeySet(pubs...)
	if keys.Hash() != want.Hash() {
		t.Error("loaded key set differs from the generated one")
	}
	bundle := buildBundle(t, testVendor{signers: signers}, testComponents(10))
	if err := openAndVerify(bundle, keys, testPolicy()); err != nil {
		t.Errorf("bundle signed with loaded keys: %v", err)
	}
	os.Chmod(filepath.Join(dir, ES384KeyFile), 0o644)
	if _, err := LoadVendorSigners(dir); err == nil {
		t.Error("world-readable private key accepted")
	}
}

func FuzzOpen(f *testing.F) {
	v := newTestVendor(f)
	comps := testComponents(40, 0, 30)
	var buf bytes.Buffer
	if _, err := Build(&buf, testMeta(), comps, v.signers); err != nil {
		f.Fatal(err)
	}
	good := buf.Bytes()
	goodSigned := must(openBytes(good)).Signed()
	f.Add(good)
	f.Add(good[:HeaderSize])
	f.Add(good[:len(good)-1])
	f.Add(append(bytes.Clone(good), 1))
	f.Add(replaceAt(good, 12, []byte{0xff, 0xff, 0xff, 0xff}))
	f.Add([]byte(Magic + "\x00\x01\x00\x00\x00\x00\x00\x00"))
	wantData := make([][]byte, len(comps))
	for i, c := range comps {
		wantData[i] = make([]byte, c.Size)
		c.Content.ReadAt(wantData[i], 0)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := openBytes(data)
		if err != nil {
			return
		}
		if b.Size() != int64(len(data)) {
			t.Fatalf("size %d != %d", b.Size(), len(data))
		}
		// Signature checks are expensive under fuzzing instrumentation
		// and FuzzVerifyManifest covers the envelope; here the envelope
		// must be the vendor's, so mutations hit the container and the
		// payloads.
		if !bytes.Equal(b.Signed(), goodSigned) {
			return
		}
		ver, err := b.VerifyAndRead(v.keys, testPolicy())
		if err != nil {
			return
		}
		// Only the vendor's bytes may come out of a verified bundle.
		if len(ver.Components) != len(wantData) {
			t.Fatalf("forged bundle verified with %d components", len(ver.Components))
		}
		for i := range wantData {
			if !bytes.Equal(ver.Components[i].Data, wantData[i]) {
				t.Fatalf("forged component %d released", i)
			}
		}
	})
}
