package redfish

// The root of trust as Redfish shows it: Chassis/1/TrustedComponents/RoT
// (TrustedComponent) with the certificates of its SPDM slot 0 chain, and
// Managers/bmc/SecurityPolicy with the gate's SPDM policy, read-only.
// Everything comes from the gate's last good appraisal (AttestationSource);
// without one, the resources say so instead of inventing values.

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ironroot-bmc/ironroot/dice"
	"github.com/ironroot-bmc/ironroot/mgmtif"
	"github.com/ironroot-bmc/ironroot/redfish/base"
	"github.com/ironroot-bmc/ironroot/spdm"
)

// AttestationSource is the management-interface gate as the Redfish service sees it:
// a snapshot of its state and last good appraisal, and serialized use of the attested
// SPDM link (the SPDMGetSignedMeasurements action shares the gate's transcript).
// *mgmtif.Gate implements it.
type AttestationSource interface {
	Status() mgmtif.Status
	Link(ctx context.Context, f func(ctx context.Context, r *spdm.Requester, s *spdm.Session) error) error
}

const (
	trustedComponentsURI = chassisURI + "/TrustedComponents"
	rotID                = "RoT"
	rotURI               = trustedComponentsURI + "/" + rotID
	rotCertificatesURI   = rotURI + "/Certificates"
	// The certificates of the RoT: the DeviceID certificate (PEM) and the alias
	// certificate, the leaf of SPDM slot 0 (PEMchain: alias, then DeviceID; the
	// identity root is the verifier's own anchor).
	deviceIDCertID    = "DeviceID"
	aliasCertID       = "Alias"
	deviceIDCertURI   = rotCertificatesURI + "/" + deviceIDCertID
	aliasCertURI      = rotCertificatesURI + "/" + aliasCertID
	securityPolicyURI = managerURI + "/SecurityPolicy"
	// rotModel is the model of the trusted component: rotd, the RoT of the design.
	rotModel = "ironroot RoT"
)

func (s *Service) registerTrustedRoutes() {
	s.route("GET /redfish/v1/Chassis/{id}/TrustedComponents", privLogin, s.getTrustedComponents)
	s.route("GET /redfish/v1/Chassis/{id}/TrustedComponents/{tc}", privLogin, s.getTrustedComponent)
	s.route("GET /redfish/v1/Chassis/{id}/TrustedComponents/{tc}/Certificates", privConfigureManager, s.getRoTCertificates)
	s.route("GET /redfish/v1/Chassis/{id}/TrustedComponents/{tc}/Certificates/{cert}", privConfigureManager, s.getRoTCertificate)
	s.route("GET /redfish/v1/Managers/{id}/SecurityPolicy", privLogin, s.getSecurityPolicy)
}

// attestation returns the gate's status; ok is false without a gate.
func (s *Service) attestation() (mgmtif.Status, bool) {
	if s.cfg.Attestation == nil {
		return mgmtif.Status{}, false
	}
	return s.cfg.Attestation.Status(), true
}

// attested returns the gate's last good appraisal, nil unless the gate is Open.
func (s *Service) attested() *mgmtif.Status {
	st, ok := s.attestation()
	if !ok || st.State != mgmtif.Open || st.Result == nil {
		return nil
	}
	return &st
}

// gateTime renders an instant of the gate's clock in board time (the gate's clock
// is the board's clock without the DateTime offset).
func (s *Service) gateTime(t time.Time) string {
	b := s.cfg.Board
	return boardTime(b.Now().Add(-b.Clock.Now().Sub(t)))
}

type trustedComponent struct {
	resHeader
	Description          string           `json:"Description"`
	TrustedComponentType string           `json:"TrustedComponentType"`
	Manufacturer         *string          `json:"Manufacturer"`
	Model                string           `json:"Model"`
	SerialNumber         *string          `json:"SerialNumber"`
	UUID                 *string          `json:"UUID"`
	FirmwareVersion      *string          `json:"FirmwareVersion"`
	Status               resStatus        `json:"Status"`
	Certificates         odataID          `json:"Certificates"`
	Links                trustedCompLinks `json:"Links"`
}

type trustedCompLinks struct {
	ComponentIntegrity  []odataID `json:"ComponentIntegrity"`
	ComponentsProtected []odataID `json:"ComponentsProtected"`
}

func checkTrustedComponent(r *request) error {
	if err := checkChassis(r); err != nil {
		return err
	}
	if tc := r.PathValue("tc"); tc != rotID {
		return errorf(http.StatusNotFound, base.ResourceNotFound("TrustedComponent", tc))
	}
	return nil
}

func (s *Service) getTrustedComponents(r *request) (any, error) {
	if err := checkChassis(r); err != nil {
		return nil, err
	}
	return newCollection(trustedComponentsURI, "TrustedComponentCollection", "Trusted Component Collection", []string{rotURI}), nil
}

// getTrustedComponent is the RoT. Its identity comes from the DeviceID certificate
// the gate verified: SerialNumber is the certificate subject's serialNumber attribute
// (X.520: the device's serial number; rotd puts the board ID there at provisioning,
// and `bmcctl attest` checks the same attribute), or the certificate's own serial
// number where the subject has none. UUID is a name-based (SHA-1, version 5) UUID of
// the DeviceID public key, so it is stable for the life of the device identity.
// FirmwareVersion is null: the SPDM link does not carry rotd's own version (the
// alias certificate's TcbInfo describes the BMC firmware rotd measured).
func (s *Service) getTrustedComponent(r *request) (any, error) {
	if err := checkTrustedComponent(r); err != nil {
		return nil, err
	}
	tc := trustedComponent{
		resHeader:            resHeader{ODataID: rotURI, ODataType: odataType("TrustedComponent"), ID: rotID, Name: "Root of Trust"},
		Description:          "The board's root of trust, attested over SPDM by the management-interface gate",
		TrustedComponentType: "Discrete",
		Model:                rotModel,
		Status:               resStatus{State: "Enabled", Health: "Critical"},
		Certificates:         odataID{rotCertificatesURI},
		Links: trustedCompLinks{
			ComponentIntegrity:  []odataID{{componentIntegrityRoTURI}},
			ComponentsProtected: []odataID{{managerURI}},
		},
	}
	if st := s.attested(); st != nil {
		dev := st.Result.DeviceID
		tc.Status.Health = "OK"
		tc.SerialNumber = ptr(deviceSerial(dev))
		tc.UUID = ptr(keyUUID(dev))
		if len(dev.Subject.Organization) > 0 {
			tc.Manufacturer = ptr(dev.Subject.Organization[0])
		}
		if info, ok, err := dice.FromCertificate(st.Result.Alias); err == nil && ok && info.Vendor != "" {
			tc.Manufacturer = ptr(info.Vendor)
		}
	} else if _, ok := s.attestation(); !ok {
		tc.Status = resStatus{State: "Absent"}
	}
	return tc, nil
}

func ptr[T any](v T) *T { return &v }

// deviceSerial is the serial number a DeviceID certificate gives its device.
func deviceSerial(c *x509.Certificate) string {
	if c.Subject.SerialNumber != "" {
		return c.Subject.SerialNumber
	}
	return colonHex(c.SerialNumber.Bytes())
}

// keyUUID is the version 5 UUID of a certificate's SubjectPublicKeyInfo in the
// RFC 9562 X.500 namespace.
func keyUUID(c *x509.Certificate) string {
	ns := [16]byte{0x6b, 0xa7, 0xb8, 0x14, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8}
	h := sha1.New()
	h.Write(ns[:])
	h.Write(c.RawSubjectPublicKeyInfo)
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	x := hex.EncodeToString(u)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:32]
}

func colonHex(b []byte) string {
	if len(b) == 0 {
		return "00"
	}
	var sb strings.Builder
	for i, c := range b {
		if i > 0 {
			sb.WriteByte(':')
		}
		fmt.Fprintf(&sb, "%02X", c)
	}
	return sb.String()
}

// ---- Certificates ----

type certificate struct {
	resHeader
	Description              string            `json:"Description"`
	CertificateString        string            `json:"CertificateString"`
	CertificateType          string            `json:"CertificateType"`
	CertificateUsageTypes    []string          `json:"CertificateUsageTypes"`
	Issuer                   certIdentifier    `json:"Issuer"`
	Subject                  certIdentifier    `json:"Subject"`
	ValidNotBefore           string            `json:"ValidNotBefore"`
	ValidNotAfter            string            `json:"ValidNotAfter"`
	KeyUsage                 []string          `json:"KeyUsage"`
	SerialNumber             string            `json:"SerialNumber"`
	Fingerprint              string            `json:"Fingerprint"`
	FingerprintHashAlgorithm string            `json:"FingerprintHashAlgorithm"`
	SignatureAlgorithm       string            `json:"SignatureAlgorithm"`
	SPDM                     *certificateSPDM  `json:"SPDM,omitempty"`
	Links                    *certificateLinks `json:"Links,omitempty"`
}

// certIdentifier is Certificate.Identifier; the schema types its string properties
// as non-nullable, so absent attributes are omitted.
type certIdentifier struct {
	DisplayString      string `json:"DisplayString"`
	CommonName         string `json:"CommonName,omitempty"`
	Organization       string `json:"Organization,omitempty"`
	OrganizationalUnit string `json:"OrganizationalUnit,omitempty"`
	City               string `json:"City,omitempty"`
	State              string `json:"State,omitempty"`
	Country            string `json:"Country,omitempty"`
}

type certificateSPDM struct {
	SlotID int `json:"SlotId"`
}

type certificateLinks struct {
	Issuer odataID `json:"Issuer"`
}

// rotCertificates returns the RoT's certificates by Id, from the last good
// appraisal (none while the gate is not Open).
func (s *Service) rotCertificates() map[string]certificate {
	st := s.attested()
	if st == nil {
		return nil
	}
	dev, alias := st.Result.DeviceID, st.Result.Alias
	d := newCertificate(deviceIDCertURI, deviceIDCertID, "DeviceID certificate", dev, "PEM", pemOf(dev))
	d.Description = "The RoT's DeviceID certificate, issued by the identity root at provisioning"
	d.CertificateUsageTypes = []string{"IDevID"}
	a := newCertificate(aliasCertURI, aliasCertID, "Alias certificate", alias, "PEMchain", pemOf(alias)+pemOf(dev))
	a.Description = "The RoT's alias certificate, the leaf of SPDM slot 0, issued by DeviceID for the measured firmware; " +
		"CertificateString is the chain alias, DeviceID (the identity root is the verifier's anchor)"
	a.CertificateUsageTypes = []string{"Device"}
	a.SPDM = &certificateSPDM{SlotID: 0}
	a.Links = &certificateLinks{Issuer: odataID{deviceIDCertURI}}
	return map[string]certificate{deviceIDCertID: d, aliasCertID: a}
}

func pemOf(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

func newCertificate(uri, id, name string, c *x509.Certificate, typ, text string) certificate {
	fp := sha256.Sum256(c.Raw)
	return certificate{
		resHeader:                resHeader{ODataID: uri, ODataType: odataType("Certificate"), ID: id, Name: name},
		CertificateString:        text,
		CertificateType:          typ,
		Issuer:                   identifier(c.Issuer),
		Subject:                  identifier(c.Subject),
		ValidNotBefore:           boardTime(c.NotBefore.UTC()),
		ValidNotAfter:            boardTime(c.NotAfter.UTC()),
		KeyUsage:                 keyUsages(c),
		SerialNumber:             colonHex(c.SerialNumber.Bytes()),
		Fingerprint:              colonHex(fp[:]),
		FingerprintHashAlgorithm: "TPM_ALG_SHA256",
		SignatureAlgorithm:       signatureOID(c.SignatureAlgorithm),
	}
}

func identifier(n pkix.Name) certIdentifier {
	first := func(v []string) string {
		if len(v) == 0 {
			return ""
		}
		return v[0]
	}
	return certIdentifier{
		DisplayString:      n.String(),
		CommonName:         n.CommonName,
		Organization:       first(n.Organization),
		OrganizationalUnit: first(n.OrganizationalUnit),
		City:               first(n.Locality),
		State:              first(n.Province),
		Country:            first(n.Country),
	}
}

// keyUsages lists a certificate's key usages and extended key usages by the
// Certificate schema's KeyUsage names.
func keyUsages(c *x509.Certificate) []string {
	names := []struct {
		bit  x509.KeyUsage
		name string
	}{
		{x509.KeyUsageDigitalSignature, "DigitalSignature"}, {x509.KeyUsageContentCommitment, "NonRepudiation"},
		{x509.KeyUsageKeyEncipherment, "KeyEncipherment"}, {x509.KeyUsageDataEncipherment, "DataEncipherment"},
		{x509.KeyUsageKeyAgreement, "KeyAgreement"}, {x509.KeyUsageCertSign, "KeyCertSign"},
		{x509.KeyUsageCRLSign, "CRLSigning"}, {x509.KeyUsageEncipherOnly, "EncipherOnly"},
		{x509.KeyUsageDecipherOnly, "DecipherOnly"},
	}
	out := []string{}
	for _, n := range names {
		if c.KeyUsage&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	for _, e := range c.ExtKeyUsage {
		switch e {
		case x509.ExtKeyUsageServerAuth:
			out = append(out, "ServerAuthentication")
		case x509.ExtKeyUsageClientAuth:
			out = append(out, "ClientAuthentication")
		case x509.ExtKeyUsageCodeSigning:
			out = append(out, "CodeSigning")
		case x509.ExtKeyUsageEmailProtection:
			out = append(out, "EmailProtection")
		case x509.ExtKeyUsageTimeStamping:
			out = append(out, "Timestamping")
		case x509.ExtKeyUsageOCSPSigning:
			out = append(out, "OCSPSigning")
		}
	}
	return out
}

// signatureOID is the ASN.1 OID of a certificate signature algorithm (RFC 5758,
// RFC 4055), as the Certificate schema asks.
func signatureOID(a x509.SignatureAlgorithm) string {
	switch a {
	case x509.ECDSAWithSHA256:
		return "1.2.840.10045.4.3.2"
	case x509.ECDSAWithSHA384:
		return "1.2.840.10045.4.3.3"
	case x509.ECDSAWithSHA512:
		return "1.2.840.10045.4.3.4"
	case x509.SHA256WithRSA:
		return "1.2.840.113549.1.1.11"
	case x509.SHA384WithRSA:
		return "1.2.840.113549.1.1.12"
	case x509.SHA512WithRSA:
		return "1.2.840.113549.1.1.13"
	case x509.PureEd25519:
		return "1.3.101.112"
	}
	return a.String()
}

func (s *Service) getRoTCertificates(r *request) (any, error) {
	if err := checkTrustedComponent(r); err != nil {
		return nil, err
	}
	var ids []string
	if certs := s.rotCertificates(); certs != nil {
		ids = []string{deviceIDCertURI, aliasCertURI}
	}
	return newCollection(rotCertificatesURI, "CertificateCollection", "Root of Trust Certificates", ids), nil
}

func (s *Service) getRoTCertificate(r *request) (any, error) {
	if err := checkTrustedComponent(r); err != nil {
		return nil, err
	}
	id := r.PathValue("cert")
	c, ok := s.rotCertificates()[id]
	if !ok {
		return nil, errorf(http.StatusNotFound, base.ResourceNotFound("Certificate", id))
	}
	return c, nil
}

// ---- SecurityPolicy ----

type securityPolicy struct {
	resHeader
	Description string     `json:"Description"`
	SPDM        spdmPolicy `json:"SPDM"`
}

type spdmPolicy struct {
	Enabled                 bool           `json:"Enabled"`
	SecureSessionEnabled    bool           `json:"SecureSessionEnabled"`
	VerifyCertificate       bool           `json:"VerifyCertificate"`
	AllowExtendedAlgorithms bool           `json:"AllowExtendedAlgorithms"`
	Allowed                 spdmParameters `json:"Allowed"`
	Denied                  spdmParameters `json:"Denied"`
}

type spdmParameters struct {
	Versions   []string       `json:"Versions"`
	Algorithms spdmAlgorithms `json:"Algorithms"`
}

type spdmAlgorithms struct {
	AEAD     []string `json:"AEAD"`
	BaseAsym []string `json:"BaseAsym"`
	BaseHash []string `json:"BaseHash"`
}

// getSecurityPolicy shows the gate's SPDM policy, read-only (it comes from the
// signed bmc-config and spdm's requester, never from Redfish): SPDM 1.2 and 1.3,
// the algorithms the requester offers, certificate verification against the
// identity root, and every re-check inside a secured session.
func (s *Service) getSecurityPolicy(r *request) (any, error) {
	if err := checkManager(r); err != nil {
		return nil, err
	}
	versions := []string{}
	for _, v := range spdm.SupportedVersions {
		versions = append(versions, v.String())
	}
	_, gated := s.attestation()
	return securityPolicy{
		resHeader: resHeader{ODataID: securityPolicyURI, ODataType: odataType("SecurityPolicy"), ID: "SecurityPolicy", Name: "Security Policy"},
		Description: "The management-interface gate's SPDM policy toward the root of trust, from the signed bmc-config " +
			"(read-only): every interface opens only while the RoT's signed measurements appraise good",
		SPDM: spdmPolicy{
			Enabled:              gated,
			SecureSessionEnabled: gated,
			VerifyCertificate:    gated,
			Allowed: spdmParameters{
				Versions: versions,
				Algorithms: spdmAlgorithms{
					AEAD:     []string{"AES-256-GCM", "CHACHA20_POLY1305", "AES-128-GCM"},
					BaseAsym: []string{"TPM_ALG_ECDSA_ECC_NIST_P384", "TPM_ALG_ECDSA_ECC_NIST_P256"},
					BaseHash: []string{"TPM_ALG_SHA_384", "TPM_ALG_SHA_256"},
				},
			},
			Denied: spdmParameters{Versions: []string{"1.0", "1.1"}, Algorithms: spdmAlgorithms{AEAD: []string{}, BaseAsym: []string{}, BaseHash: []string{}}},
		},
	}, nil
}
