package redfish_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/attest"
	"github.com/ironroot-bmc/ironroot/bmc/account"
	"github.com/ironroot-bmc/ironroot/mgmtif"
	"github.com/ironroot-bmc/ironroot/spdm"
)

const signedMeasURI = integrityURI + "/Actions/ComponentIntegrity.SPDMGetSignedMeasurements"

func TestComponentIntegrityRoT(t *testing.T) {
	c := newResClient(t)
	if got := link(t, c.get("/redfish/v1"), "ComponentIntegrity"); got != "/redfish/v1/ComponentIntegrity" {
		t.Fatalf("ServiceRoot ComponentIntegrity %q", got)
	}
	if got := members(t, c.get("/redfish/v1/ComponentIntegrity")); !slices.Equal(got, []string{integrityURI}) {
		t.Fatalf("ComponentIntegrity members %v", got)
	}
	ci := c.get(integrityURI)
	for k, want := range map[string]any{
		"@odata.type": "#ComponentIntegrity.v1_3_2.ComponentIntegrity", "ComponentIntegrityType": "SPDM",
		"ComponentIntegrityEnabled": true, "TargetComponentURI": rotURI,
	} {
		if ci[k] != want {
			t.Errorf("%s = %v, want %v", k, ci[k], want)
		}
	}
	if v, _ := ci["ComponentIntegrityTypeVersion"].(string); !regexp.MustCompile(`^1\.[23]\.0$`).MatchString(v) {
		t.Errorf("ComponentIntegrityTypeVersion %q", v)
	}
	if ci["LastUpdated"] != "2026-11-27T00:00:00+00:00" {
		t.Errorf("LastUpdated %v (the gate passed at the fake clock's epoch)", ci["LastUpdated"])
	}
	spdmInfo := ci["SPDM"]
	if link(t, spdmInfo, "Requester") != "/redfish/v1/Managers/bmc" {
		t.Errorf("SPDM.Requester %v", path(spdmInfo, "Requester"))
	}
	auth := path(spdmInfo, "IdentityAuthentication", "ResponderAuthentication")
	if path(auth, "VerificationStatus") != "Success" || link(t, auth, "ComponentCertificate") != aliasCertURI {
		t.Errorf("ResponderAuthentication %v", auth)
	}
	sessions, _ := path(spdmInfo, "ComponentCommunication", "Sessions").([]any)
	if len(sessions) != 1 || path(sessions[0], "SessionType") != "EncryptedAuthenticated" {
		t.Errorf("Sessions %v", sessions)
	} else if id, _ := path(sessions[0], "SessionId").(float64); id == 0 {
		t.Errorf("SessionId %v", path(sessions[0], "SessionId"))
	}
	if link(t, path(ci, "Links", "ComponentsProtected").([]any)[0]) != "/redfish/v1/Managers/bmc" {
		t.Errorf("Links %v", ci["Links"])
	}
	if got := path(ci, "Actions", "#ComponentIntegrity.SPDMGetSignedMeasurements", "target"); got != signedMeasURI {
		t.Errorf("action target %v", got)
	}

	set := path(spdmInfo, "MeasurementSet")
	if path(set, "MeasurementSpecification") != "DMTF" {
		t.Errorf("MeasurementSpecification %v", path(set, "MeasurementSpecification"))
	}
	ms, _ := path(set, "Measurements").([]any)
	blocks := c.tb.Gate.Status().Result.Blocks
	if len(ms) != len(blocks) || len(blocks) < 4 {
		t.Fatalf("%d measurements for %d blocks", len(ms), len(blocks))
	}
	types := map[float64]any{}
	for i, m := range ms {
		b := blocks[i]
		idx, _ := path(m, "MeasurementIndex").(float64)
		types[idx] = path(m, "MeasurementType")
		if int(idx) != int(b.Index) || path(m, "MeasurementHashAlgorithm") != "TPM_ALG_SHA_384" || path(m, "LastUpdated") != ci["LastUpdated"] {
			t.Errorf("measurement %d: %v", i, m)
		}
		want := b.Value
		if b.Raw() {
			d := sha512.Sum384(b.Value)
			want = d[:]
		}
		if got := path(m, "Measurement"); got != base64.StdEncoding.EncodeToString(want) {
			t.Errorf("measurement %d (index %d, raw %v): %v", i, b.Index, b.Raw(), got)
		}
		svn, hasSVN := m.(map[string]any)["SecurityVersionNumber"]
		if isSVN := b.ValueType&^spdm.MeasTypeRaw == spdm.MeasTypeSVN; isSVN != hasSVN {
			t.Errorf("measurement %d: SecurityVersionNumber %v", i, svn)
		} else if isSVN && svn != fmt.Sprintf("%016X", binary.LittleEndian.Uint64(b.Value)) {
			t.Errorf("SecurityVersionNumber %v", svn)
		}
	}
	for idx, want := range map[float64]any{1: "MutableFirmware", 0xFD: "MeasurementManifest", 0xFE: nil} {
		if got, ok := types[idx]; !ok || got != want {
			t.Errorf("index %#x: MeasurementType %v (present %v), want %v", int(idx), got, ok, want)
		}
	}
	if !slices.Contains(slices.Collect(func(yield func(any) bool) {
		for _, v := range types {
			if !yield(v) {
				return
			}
		}
	}), any("MutableFirmwareSecurityVersionNumber")) {
		t.Errorf("no SVN measurement: %v", types)
	}
	if r := c.do(http.MethodPatch, integrityURI, map[string]any{"ComponentIntegrityEnabled": false}); r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("PATCH ComponentIntegrity: %d", r.StatusCode)
	}
	if r := c.do(http.MethodGet, "/redfish/v1/ComponentIntegrity/TPM", nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("GET an unknown ComponentIntegrity: %d", r.StatusCode)
	}
}

// signedMeasurements posts the action and returns its decoded answer.
func signedMeasurements(t *testing.T, c *resClient, body any) (map[string]any, []byte) {
	t.Helper()
	r := c.do(http.MethodPost, signedMeasURI, body)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("POST %s %v: %d %s", signedMeasURI, body, r.StatusCode, r.Body)
	}
	out := r.JSON(t)
	blob, err := base64.StdEncoding.DecodeString(out["SignedMeasurements"].(string))
	if err != nil {
		t.Fatalf("SignedMeasurements: %v", err)
	}
	return out, blob
}

// TestSPDMGetSignedMeasurementsVerifiesOffline takes the action's answer as a remote
// verifier would: the blob, the algorithms named, the PEM chain of the Certificate
// link and the caller's own nonce, and appraises it with attest/. One flipped byte
// anywhere fails the signature.
func TestSPDMGetSignedMeasurementsVerifiesOffline(t *testing.T) {
	c := newResClient(t)
	var nonce [32]byte
	if _, err := rand.Read(nonce[:]); err != nil {
		t.Fatal(err)
	}
	passes := c.tb.Gate.Status().Passes
	out, blob := signedMeasurements(t, c, map[string]any{"Nonce": strings.ToUpper(hex.EncodeToString(nonce[:]))})
	if out["HashingAlgorithm"] != "TPM_ALG_SHA_384" || out["SigningAlgorithm"] != "TPM_ALG_ECDSA_ECC_NIST_P384" {
		t.Errorf("algorithms %v %v", out["HashingAlgorithm"], out["SigningAlgorithm"])
	}
	ci := c.get(integrityURI)
	if v := out["Version"]; v != strings.TrimSuffix(ci["ComponentIntegrityTypeVersion"].(string), ".0") {
		t.Errorf("Version %v, ComponentIntegrityTypeVersion %v", v, ci["ComponentIntegrityTypeVersion"])
	}
	certURI := link(t, out, "Certificate")
	cert := c.get(certURI)
	if certURI != aliasCertURI || cert["CertificateType"] != "PEMchain" {
		t.Fatalf("Certificate %s of type %v", certURI, cert["CertificateType"])
	}
	chain := pemCerts(t, cert["CertificateString"].(string))
	slices.Reverse(chain) // root side first, as attest takes it
	rot := c.tb.RoT
	anchors, policy := attest.AnchorsFrom(rot.BMCConfig), attest.PolicyFrom(rot.BMCConfig)

	res, err := attest.AppraiseSignedMeasurements(blob, nonce, chain, anchors, policy, time.Now())
	if err != nil {
		t.Fatalf("offline appraisal of the action's answer: %v", err)
	}
	if !res.DeviceID.Equal(rot.Boot.DeviceID) || res.DeviceID.Subject.SerialNumber != c.get(rotURI)["SerialNumber"] {
		t.Errorf("appraised DeviceID %s; the TrustedComponent says %v", res.DeviceID.Subject, c.get(rotURI)["SerialNumber"])
	}
	sm, err := attest.ParseSignedMeasurements(blob)
	if err != nil {
		t.Fatal(err)
	}
	if sm.Request.Operation != spdm.MeasOpAll || sm.Request.SlotID != 0 || sm.Request.Nonce != nonce {
		t.Errorf("GET_MEASUREMENTS operation %#x slot %d nonce %x", sm.Request.Operation, sm.Request.SlotID, sm.Request.Nonce)
	}

	// Another nonce than the one this verifier sent: refused.
	other := nonce
	other[0] ^= 1
	if _, err := attest.AppraiseSignedMeasurements(blob, other, chain, anchors, policy, time.Now()); !isCheck(err, attest.CheckNonce) {
		t.Errorf("a different nonce: %v", err)
	}
	// One byte flipped in VCA, in the request, in a measurement block, in the signature.
	for _, at := range []int{10, len(blob) - len(sm.Evidence.Response) - 5, len(blob) - 200, len(blob) - 1} {
		bad := bytes.Clone(blob)
		bad[at] ^= 0x01
		_, err := attest.AppraiseSignedMeasurements(bad, nonce, chain, anchors, policy, time.Now())
		if err == nil {
			t.Errorf("byte %d of %d flipped: the appraisal passed", at, len(blob))
		} else if !isCheck(err, attest.CheckSignature) && !isCheck(err, attest.CheckFormat) && !isCheck(err, attest.CheckNonce) {
			t.Errorf("byte %d flipped: %v, want a signature failure", at, err)
		}
	}

	// The action shared the gate's session: the gate's next re-check passes.
	c.tb.Clock.Advance(rot.BMCConfig.Gate.MeasurementInterval)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := c.tb.Gate.Wait(ctx, func(s mgmtif.Status) bool { return s.Passes > passes || s.State != mgmtif.Open })
	if err != nil || st.State != mgmtif.Open {
		t.Fatalf("gate after the action: %v %v (%s)", st.State, err, st.Reason)
	}
	// And a second action answers a fresh transcript for a fresh nonce.
	_, blob2 := signedMeasurements(t, c, map[string]any{})
	if bytes.Equal(blob, blob2) {
		t.Error("two actions answered the same evidence")
	}
}

func isCheck(err error, c attest.Check) bool {
	var f *attest.Failure
	return errors.As(err, &f) && f.Check == c
}

// TestSPDMGetSignedMeasurementsIndices: several indices are several GET_MEASUREMENTS
// in one transcript, only the last signed (with the nonce); the signature covers
// them all.
func TestSPDMGetSignedMeasurementsIndices(t *testing.T) {
	c := newResClient(t)
	nonce := bytes.Repeat([]byte{0xA5}, 32)
	out, blob := signedMeasurements(t, c, map[string]any{"Nonce": hex.EncodeToString(nonce), "SlotId": 0, "MeasurementIndices": []int{1, 0xFD, 0xFE}})
	if bytes.Count(blob, nonce) != 1 {
		t.Errorf("the nonce appears %d times in the transcript", bytes.Count(blob, nonce))
	}
	asym := spdm.AsymECDSAP384
	sig := asym.SignatureSize()
	ver := spdm.Version12
	if out["Version"] == "1.3" {
		ver = spdm.Version13
	}
	ev := &spdm.Evidence{Version: ver, Hash: spdm.HashSHA384, Asym: asym, Context: "responder-measurements signing",
		Transcript: blob[:len(blob)-sig], Signature: blob[len(blob)-sig:]}
	alias := c.tb.RoT.Boot.Alias
	if err := ev.Verify(alias.PublicKey); err != nil {
		t.Fatalf("signature over the three-request transcript: %v", err)
	}
	// Three GET_MEASUREMENTS (0xE0) for indices 1, 0xFD, 0xFE, the last signed.
	var ops []byte
	for i := 0; i+3 < len(blob); i++ {
		if blob[i] == byte(ver) && blob[i+1] == 0xE0 && (blob[i+3] == 1 || blob[i+3] == 0xFD || blob[i+3] == 0xFE) {
			ops = append(ops, blob[i+3])
		}
	}
	if !slices.Equal(ops, []byte{1, 0xFD, 0xFE}) {
		t.Errorf("GET_MEASUREMENTS operations in the transcript %x", ops)
	}
	bad := bytes.Clone(ev.Transcript)
	bad[len(bad)/2] ^= 0x80
	ev.Transcript = bad
	if ev.Verify(alias.PublicKey) == nil {
		t.Error("a flipped byte in the unsigned requests still verifies")
	}
}

func TestSPDMGetSignedMeasurementsParameters(t *testing.T) {
	c := newResClient(t)
	good := strings.Repeat("0f", 32)
	for _, tc := range []struct {
		body   any
		status int
		msg    string
	}{
		{map[string]any{"Nonce": good[:63]}, 400, "ActionParameterValueFormatError"},
		{map[string]any{"Nonce": good + "00"}, 400, "ActionParameterValueFormatError"},
		{map[string]any{"Nonce": strings.Repeat("g", 64)}, 400, "ActionParameterValueFormatError"},
		{map[string]any{"Nonce": 7}, 400, "ActionParameterValueTypeError"},
		{map[string]any{"MeasurementIndices": []int{}}, 400, "ActionParameterValueError"},
		{map[string]any{"MeasurementIndices": []int{255, 1}}, 400, "ActionParameterValueOutOfRange"},
		{map[string]any{"MeasurementIndices": []int{1, 1}}, 400, "ActionParameterValueError"},
		{map[string]any{"MeasurementIndices": []int{256}}, 400, "ActionParameterValueOutOfRange"},
		{map[string]any{"MeasurementIndices": []int{-1}}, 400, "ActionParameterValueOutOfRange"},
		{map[string]any{"MeasurementIndices": []int{0x50}}, 400, "ActionParameterValueNotInList"},
		{map[string]any{"SlotId": 3}, 400, "ActionParameterValueNotInList"},
		{map[string]any{"SlotId": 16}, 400, "ActionParameterValueOutOfRange"},
		{map[string]any{"Slot": 0}, 400, "ActionParameterUnknown"},
	} {
		r := c.do(http.MethodPost, signedMeasURI, tc.body)
		if r.StatusCode != tc.status || !strings.Contains(string(r.Body), tc.msg) {
			t.Errorf("%v: %d %s, want %d %s", tc.body, r.StatusCode, r.Body, tc.status, tc.msg)
		}
	}
	// The gate still holds after the refused requests; the default parameters, the
	// count (index 0) and a single index work.
	signedMeasurements(t, c, nil)
	signedMeasurements(t, c, map[string]any{"MeasurementIndices": []int{0}})
	signedMeasurements(t, c, map[string]any{"MeasurementIndices": []int{1}, "SlotId": 0})

	// ConfigureManager (DMTF privilege registry: POST on ComponentIntegrity).
	for _, role := range []account.Role{account.Operator, account.ReadOnly} {
		u := c.as("u"+strings.ToLower(string(role)), role)
		if r := u.do(http.MethodPost, signedMeasURI, map[string]any{}); r.StatusCode != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", role, r.StatusCode)
		}
		if r := u.do(http.MethodGet, integrityURI, nil); r.StatusCode != http.StatusOK {
			t.Errorf("%s GET %s: %d", role, integrityURI, r.StatusCode)
		}
	}
}

// TestSPDMGetSignedMeasurementsConcurrent: actions from several clients interleave
// with the gate's own re-checks on one link; each answer verifies and the gate stays
// Open (one transcript, serialized by Gate.Link).
func TestSPDMGetSignedMeasurementsConcurrent(t *testing.T) {
	c := newResClient(t)
	rot := c.tb.RoT
	anchors, policy := attest.AnchorsFrom(rot.BMCConfig), attest.PolicyFrom(rot.BMCConfig)
	chain := []*x509.Certificate{rot.Boot.DeviceID, rot.Boot.Alias}
	const n = 6
	errs := make(chan error, n)
	for i := range n {
		go func() {
			var nonce [32]byte
			nonce[0] = byte(i + 1)
			r := c.do(http.MethodPost, signedMeasURI, map[string]any{"Nonce": hex.EncodeToString(nonce[:])})
			if r.StatusCode != http.StatusOK {
				errs <- fmt.Errorf("action %d: %d %s", i, r.StatusCode, r.Body)
				return
			}
			var out struct{ SignedMeasurements []byte }
			if err := json.Unmarshal(r.Body, &out); err != nil {
				errs <- err
				return
			}
			_, err := attest.AppraiseSignedMeasurements(out.SignedMeasurements, nonce, chain, anchors, policy, time.Now())
			errs <- err
		}()
	}
	passes := c.tb.Gate.Status().Passes
	for range 3 {
		c.tb.Clock.Advance(rot.BMCConfig.Gate.MeasurementInterval)
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := c.tb.Gate.Wait(ctx, func(s mgmtif.Status) bool { return s.Passes > passes || s.State != mgmtif.Open })
	if err != nil || st.State != mgmtif.Open {
		t.Fatalf("gate after concurrent actions: %v %v (%s)", st.State, err, st.Reason)
	}
}
