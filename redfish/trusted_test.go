package redfish_test

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ironroot-bmc/ironroot/bmc/account"
	"github.com/ironroot-bmc/ironroot/internal/rotsim"
	"github.com/ironroot-bmc/ironroot/internal/testboard"
)

const (
	rotURI         = "/redfish/v1/Chassis/1/TrustedComponents/RoT"
	rotCertsURI    = rotURI + "/Certificates"
	aliasCertURI   = rotCertsURI + "/Alias"
	deviceCertURI  = rotCertsURI + "/DeviceID"
	integrityURI   = "/redfish/v1/ComponentIntegrity/RoT"
	securityPolURI = "/redfish/v1/Managers/bmc/SecurityPolicy"
)

func link(t *testing.T, v any, keys ...string) string {
	t.Helper()
	id, _ := path(v, append(keys, "@odata.id")...).(string)
	if id == "" {
		t.Errorf("no link at %v in %v", keys, v)
	}
	return id
}

func pemCerts(t *testing.T, s string) []*x509.Certificate {
	t.Helper()
	var out []*x509.Certificate
	b := []byte(s)
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatalf("certificate: %v", err)
		}
		out = append(out, c)
	}
	if len(strings.TrimSpace(string(b))) != 0 {
		t.Errorf("trailing data after the PEM certificates: %q", b)
	}
	return out
}

func colonHex(b []byte) string {
	parts := make([]string, len(b))
	for i, c := range b {
		parts[i] = fmt.Sprintf("%02X", c)
	}
	return strings.Join(parts, ":")
}

func TestTrustedComponentRoT(t *testing.T) {
	c := newResClient(t)
	boot := c.tb.RoT.Boot
	if got := link(t, c.get("/redfish/v1/Chassis/1"), "TrustedComponents"); got != "/redfish/v1/Chassis/1/TrustedComponents" {
		t.Fatalf("Chassis TrustedComponents %q", got)
	}
	if got := members(t, c.get("/redfish/v1/Chassis/1/TrustedComponents")); !slices.Equal(got, []string{rotURI}) {
		t.Fatalf("TrustedComponents members %v", got)
	}
	tc := c.get(rotURI)
	for k, want := range map[string]any{
		"@odata.type": "#TrustedComponent.v1_4_0.TrustedComponent", "TrustedComponentType": "Discrete",
		"SerialNumber": rotsim.Board, "Manufacturer": "ironroot", "FirmwareVersion": nil,
	} {
		if tc[k] != want {
			t.Errorf("%s = %v, want %v", k, tc[k], want)
		}
	}
	if boot.DeviceID.Subject.SerialNumber != rotsim.Board {
		t.Fatalf("the test identity's DeviceID subject serial is %q", boot.DeviceID.Subject.SerialNumber)
	}
	uuid, _ := tc["UUID"].(string)
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(uuid) {
		t.Errorf("UUID %q is not a version 5 UUID", uuid)
	}
	if again := c.get(rotURI)["UUID"]; again != uuid {
		t.Errorf("UUID changed: %v, then %v", uuid, again)
	}
	if h := path(tc, "Status", "Health"); h != "OK" {
		t.Errorf("Status %v", tc["Status"])
	}
	if got := link(t, path(tc, "Links", "ComponentIntegrity").([]any)[0]); got != integrityURI {
		t.Errorf("Links.ComponentIntegrity %v", got)
	}
	if got := link(t, path(tc, "Links", "ComponentsProtected").([]any)[0]); got != "/redfish/v1/Managers/bmc" {
		t.Errorf("Links.ComponentsProtected %v", got)
	}

	if got := members(t, c.get(link(t, tc, "Certificates"))); !slices.Equal(got, []string{deviceCertURI, aliasCertURI}) {
		t.Fatalf("Certificates members %v", got)
	}
	dev := c.get(deviceCertURI)
	alias := c.get(aliasCertURI)
	for _, tc := range []struct {
		res   map[string]any
		typ   string
		chain []*x509.Certificate
	}{
		{dev, "PEM", []*x509.Certificate{boot.DeviceID}},
		{alias, "PEMchain", []*x509.Certificate{boot.Alias, boot.DeviceID}},
	} {
		id := tc.res["@odata.id"]
		if tc.res["@odata.type"] != "#Certificate.v1_11_0.Certificate" || tc.res["CertificateType"] != tc.typ {
			t.Errorf("%s: type %v, CertificateType %v", id, tc.res["@odata.type"], tc.res["CertificateType"])
		}
		got := pemCerts(t, tc.res["CertificateString"].(string))
		if len(got) != len(tc.chain) {
			t.Fatalf("%s: %d certificates, want %d", id, len(got), len(tc.chain))
		}
		for i := range got {
			if !got[i].Equal(tc.chain[i]) {
				t.Errorf("%s: certificate %d is %s, want %s", id, i, got[i].Subject, tc.chain[i].Subject)
			}
		}
		leaf := tc.chain[0]
		fp := sha256.Sum256(leaf.Raw)
		for k, want := range map[string]any{
			"Fingerprint": colonHex(fp[:]), "FingerprintHashAlgorithm": "TPM_ALG_SHA256",
			"SerialNumber": colonHex(leaf.SerialNumber.Bytes()), "SignatureAlgorithm": "1.2.840.10045.4.3.3",
			"ValidNotAfter": "9999-12-31T23:59:59+00:00",
		} {
			if tc.res[k] != want {
				t.Errorf("%s: %s = %v, want %v", id, k, tc.res[k], want)
			}
		}
		if path(tc.res, "Subject", "CommonName") != leaf.Subject.CommonName || path(tc.res, "Issuer", "CommonName") != leaf.Issuer.CommonName {
			t.Errorf("%s: Subject %v Issuer %v", id, tc.res["Subject"], tc.res["Issuer"])
		}
		if ku, _ := tc.res["KeyUsage"].([]any); !slices.Contains(ku, any("DigitalSignature")) {
			t.Errorf("%s: KeyUsage %v", id, tc.res["KeyUsage"])
		}
	}
	if ku, _ := dev["KeyUsage"].([]any); !slices.Contains(ku, any("KeyCertSign")) {
		t.Errorf("DeviceID KeyUsage %v", dev["KeyUsage"])
	}
	if path(alias, "SPDM", "SlotId") != float64(0) || link(t, alias, "Links", "Issuer") != deviceCertURI {
		t.Errorf("alias SPDM %v Links %v", alias["SPDM"], alias["Links"])
	}
	if r := c.do(http.MethodGet, rotCertsURI+"/Root", nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("GET an unknown certificate: %d", r.StatusCode)
	}
	if r := c.do(http.MethodGet, "/redfish/v1/Chassis/1/TrustedComponents/TPM", nil); r.StatusCode != http.StatusNotFound {
		t.Errorf("GET an unknown trusted component: %d", r.StatusCode)
	}
	if r := c.do(http.MethodPatch, rotURI, map[string]any{"SerialNumber": "x"}); r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("PATCH the trusted component: %d", r.StatusCode)
	}

	// The privilege registry: Certificate needs ConfigureManager even to read.
	ro := c.as("reader", account.ReadOnly)
	if r := ro.do(http.MethodGet, rotURI, nil); r.StatusCode != http.StatusOK {
		t.Errorf("ReadOnly GET %s: %d", rotURI, r.StatusCode)
	}
	for _, u := range []string{rotCertsURI, aliasCertURI} {
		if r := ro.do(http.MethodGet, u, nil); r.StatusCode != http.StatusForbidden {
			t.Errorf("ReadOnly GET %s: %d, want 403", u, r.StatusCode)
		}
	}
}

func TestSecurityPolicySPDM(t *testing.T) {
	c := newResClient(t)
	if got := link(t, c.get("/redfish/v1/Managers/bmc"), "SecurityPolicy"); got != securityPolURI {
		t.Fatalf("Manager SecurityPolicy %q", got)
	}
	sp := c.get(securityPolURI)
	if sp["@odata.type"] != "#SecurityPolicy.v1_0_3.SecurityPolicy" {
		t.Errorf("@odata.type %v", sp["@odata.type"])
	}
	for _, k := range []string{"Enabled", "SecureSessionEnabled", "VerifyCertificate"} {
		if path(sp, "SPDM", k) != true {
			t.Errorf("SPDM.%s = %v", k, path(sp, "SPDM", k))
		}
	}
	if v, _ := path(sp, "SPDM", "Allowed", "Versions").([]any); !slices.Contains(v, any("1.2")) || !slices.Contains(v, any("1.3")) {
		t.Errorf("Allowed.Versions %v", v)
	}
	if r := c.do(http.MethodPatch, securityPolURI, map[string]any{"SPDM": map[string]any{"Enabled": false}}); r.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("PATCH SecurityPolicy: %d, want 405 (read-only)", r.StatusCode)
	}
}

// TestRoTWithoutGate: bmcd without a gate shows the RoT honestly: not verified,
// no certificates, no measurements, and the action is unavailable.
func TestRoTWithoutGate(t *testing.T) {
	tb := testboard.Start(t, testboard.NoGate())
	get := func(uri string) map[string]any {
		t.Helper()
		r := tb.Do(t, tb.NewRequest(t, http.MethodGet, uri, nil))
		if r.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %d %s", uri, r.StatusCode, r.Body)
		}
		return r.JSON(t)
	}
	if st := get(rotURI)["Status"]; path(st, "State") != "Absent" {
		t.Errorf("RoT Status %v", st)
	}
	if n := get(rotCertsURI)["Members@odata.count"]; n != float64(0) {
		t.Errorf("certificates without a gate: %v", n)
	}
	ci := get(integrityURI)
	if ci["ComponentIntegrityEnabled"] != true || ci["ComponentIntegrityTypeVersion"] != "" || ci["LastUpdated"] != nil ||
		path(ci, "SPDM", "IdentityAuthentication", "ResponderAuthentication", "VerificationStatus") != "Failed" ||
		path(ci, "SPDM", "MeasurementSet") != nil {
		t.Errorf("ComponentIntegrity without a gate: %v", ci)
	}
	if sp := get(securityPolURI); path(sp, "SPDM", "Enabled") != false {
		t.Errorf("SecurityPolicy without a gate: %v", sp)
	}
	r := tb.Do(t, tb.NewRequest(t, http.MethodPost, integrityURI+"/Actions/ComponentIntegrity.SPDMGetSignedMeasurements", map[string]any{}))
	if r.StatusCode != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
		t.Errorf("action without a gate: %d %s", r.StatusCode, r.Body)
	}
}
