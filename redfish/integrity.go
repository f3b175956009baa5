package redfish

// ComponentIntegrity/RoT: the SPDM view of the root of trust as the gate (the
// SPDM requester in the BMC) holds it, and the #ComponentIntegrity.SPDMGetSignedMeasurements
// action, which runs on the gate's own link and session (Gate.Link) so the caller's
// GET_MEASUREMENTS shares one transcript with the gate's re-checks.

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"github.com/ironroot-bmc/ironroot/mgmtif"
	"github.com/ironroot-bmc/ironroot/redfish/base"
	"github.com/ironroot-bmc/ironroot/spdm"
)

const (
	componentIntegrityURI    = "/redfish/v1/ComponentIntegrity"
	componentIntegrityRoTURI = componentIntegrityURI + "/" + rotID
	signedMeasurementsAction = "ComponentIntegrity.SPDMGetSignedMeasurements"
	// spdmSessionType: the gate's session encrypts and authenticates (ENCRYPT_CAP
	// and MAC_CAP; SecureSessionType "EncryptedAuthenticated").
	spdmSessionType = "EncryptedAuthenticated"
)

func (s *Service) registerIntegrityRoutes() {
	s.route("GET /redfish/v1/ComponentIntegrity", privLogin, s.getComponentIntegrityCollection)
	s.route("GET /redfish/v1/ComponentIntegrity/{id}", privLogin, s.getComponentIntegrity)
	s.route("POST /redfish/v1/ComponentIntegrity/{id}/Actions/"+signedMeasurementsAction, privConfigureManager, s.spdmGetSignedMeasurements)
}

type componentIntegrity struct {
	resHeader
	Description                   string         `json:"Description"`
	ComponentIntegrityType        string         `json:"ComponentIntegrityType"`
	ComponentIntegrityTypeVersion string         `json:"ComponentIntegrityTypeVersion"`
	ComponentIntegrityEnabled     bool           `json:"ComponentIntegrityEnabled"`
	TargetComponentURI            string         `json:"TargetComponentURI"`
	LastUpdated                   *string        `json:"LastUpdated"`
	Status                        resStatus      `json:"Status"`
	SPDM                          integritySPDM  `json:"SPDM"`
	Links                         integrityLinks `json:"Links"`
	Actions                       struct {
		SPDMGetSignedMeasurements resActionTarget `json:"#ComponentIntegrity.SPDMGetSignedMeasurements"`
	} `json:"Actions"`
}

type integrityLinks struct {
	ComponentsProtected []odataID `json:"ComponentsProtected"`
}

type integritySPDM struct {
	Requester              odataID           `json:"Requester"`
	IdentityAuthentication spdmIdentity      `json:"IdentityAuthentication"`
	MeasurementSet         *spdmMeasurements `json:"MeasurementSet"`
	ComponentCommunication spdmCommunication `json:"ComponentCommunication"`
}

type spdmIdentity struct {
	ResponderAuthentication spdmResponderAuth `json:"ResponderAuthentication"`
}

type spdmResponderAuth struct {
	ComponentCertificate *odataID `json:"ComponentCertificate,omitempty"`
	VerificationStatus   string   `json:"VerificationStatus"`
}

type spdmMeasurements struct {
	MeasurementSpecification string            `json:"MeasurementSpecification"`
	Measurements             []spdmMeasurement `json:"Measurements"`
}

type spdmMeasurement struct {
	MeasurementIndex         int     `json:"MeasurementIndex"`
	MeasurementType          *string `json:"MeasurementType"`
	Measurement              string  `json:"Measurement"`
	MeasurementHashAlgorithm string  `json:"MeasurementHashAlgorithm"`
	SecurityVersionNumber    string  `json:"SecurityVersionNumber,omitempty"`
	LastUpdated              string  `json:"LastUpdated"`
}

type spdmCommunication struct {
	Sessions []spdmSession `json:"Sessions"`
}

type spdmSession struct {
	SessionID   uint32 `json:"SessionId"`
	SessionType string `json:"SessionType"`
}

func (s *Service) getComponentIntegrityCollection(*request) (any, error) {
	return newCollection(componentIntegrityURI, "ComponentIntegrityCollection", "Component Integrity Collection",
		[]string{componentIntegrityRoTURI}), nil
}

func checkComponentIntegrity(r *request) error {
	if id := r.PathValue("id"); id != rotID {
		return errorf(http.StatusNotFound, base.ResourceNotFound("ComponentIntegrity", id))
	}
	return nil
}

// linkInfo is what the gate's requester negotiated and its session.
type linkInfo struct {
	neg       spdm.Negotiated
	sessionID uint32
}

// link reads the negotiated parameters of the gate's link (no traffic).
func (s *Service) link(r *request) (linkInfo, error) {
	var li linkInfo
	if s.cfg.Attestation == nil {
		return li, mgmtif.ErrNotOpen
	}
	err := s.cfg.Attestation.Link(r.Context(), func(_ context.Context, rq *spdm.Requester, ss *spdm.Session) error {
		li.neg = rq.Negotiated()
		li.sessionID = ss.ID
		return nil
	})
	return li, err
}

// getComponentIntegrity shows the RoT as the gate last appraised it. While the gate
// is not Open (or bmcd runs without a gate) the responder is reported unverified:
// VerificationStatus Failed, no measurements, no session.
func (s *Service) getComponentIntegrity(r *request) (any, error) {
	if err := checkComponentIntegrity(r); err != nil {
		return nil, err
	}
	ci := componentIntegrity{
		resHeader:                 resHeader{ODataID: componentIntegrityRoTURI, ODataType: odataType("ComponentIntegrity"), ID: rotID, Name: "Root of Trust SPDM integrity"},
		Description:               "The root of trust as attested by the management-interface gate, the BMC's SPDM requester",
		ComponentIntegrityType:    "SPDM",
		ComponentIntegrityEnabled: true,
		TargetComponentURI:        rotURI,
		Status:                    resStatus{State: "Enabled", Health: "Critical"},
		SPDM: integritySPDM{
			Requester: odataID{managerURI},
			IdentityAuthentication: spdmIdentity{
				ResponderAuthentication: spdmResponderAuth{VerificationStatus: "Failed"},
			},
			ComponentCommunication: spdmCommunication{Sessions: []spdmSession{}},
		},
		Links: integrityLinks{ComponentsProtected: []odataID{{managerURI}}},
	}
	ci.Actions.SPDMGetSignedMeasurements = resActionTarget{Target: componentIntegrityRoTURI + "/Actions/" + signedMeasurementsAction}
	st := s.attested()
	if st == nil {
		return ci, nil
	}
	li, err := s.link(r)
	if err != nil {
		// The gate left Open between the snapshot and now: not verified.
		return ci, nil
	}
	updated := s.gateTime(st.Checked)
	ci.LastUpdated = &updated
	ci.ComponentIntegrityTypeVersion = fmt.Sprintf("%d.%d.0", li.neg.Version.Major(), li.neg.Version.Minor())
	ci.Status.Health = "OK"
	ci.SPDM.IdentityAuthentication.ResponderAuthentication = spdmResponderAuth{
		ComponentCertificate: &odataID{aliasCertURI}, VerificationStatus: "Success",
	}
	ci.SPDM.ComponentCommunication.Sessions = []spdmSession{{SessionID: li.sessionID, SessionType: spdmSessionType}}
	ms, err := measurementSet(st.Result.Blocks, li.neg.MeasurementHash, updated)
	if err != nil {
		return nil, fmt.Errorf("component integrity %s: %w", rotID, err)
	}
	ci.SPDM.MeasurementSet = ms
	return ci, nil
}

// dmtfMeasurementType names a DMTF measurement value type as the ComponentIntegrity
// schema's DMTFmeasurementTypes does; the types the schema has no name for (device
// mode, hash-extended) are null.
func dmtfMeasurementType(valueType uint8) *string {
	var n string
	switch valueType &^ spdm.MeasTypeRaw {
	case spdm.MeasTypeImmutableROM:
		n = "ImmutableROM"
	case spdm.MeasTypeMutableFirmware:
		n = "MutableFirmware"
	case spdm.MeasTypeHWConfig:
		n = "HardwareConfiguration"
	case spdm.MeasTypeFWConfig:
		n = "FirmwareConfiguration"
	case spdm.MeasTypeManifest:
		n = "MeasurementManifest"
	case spdm.MeasTypeVersion:
		n = "MutableFirmwareVersion"
	case spdm.MeasTypeSVN:
		n = "MutableFirmwareSecurityVersionNumber"
	default:
		return nil
	}
	return &n
}

// hashName is a DSP0274 hash algorithm name (BaseHashAlgo / MeasurementHashAlgo).
func hashName(bits int) string {
	return "TPM_ALG_SHA_" + strconv.Itoa(bits)
}

// measurementSet renders measurement blocks as digests: a digest block as measured,
// a raw block hashed with the negotiated measurement hash.
func measurementSet(blocks []spdm.MeasurementBlock, mh spdm.MeasurementHashAlgo, updated string) (*spdmMeasurements, error) {
	h := mh.CryptoHash()
	if h == 0 {
		return nil, fmt.Errorf("measurement hash %#x has no digest algorithm", uint32(mh))
	}
	set := &spdmMeasurements{MeasurementSpecification: "DMTF", Measurements: []spdmMeasurement{}}
	for _, b := range blocks {
		digest := b.Value
		if b.Raw() {
			d := h.New()
			d.Write(b.Value)
			digest = d.Sum(nil)
		}
		m := spdmMeasurement{
			MeasurementIndex:         int(b.Index),
			MeasurementType:          dmtfMeasurementType(b.ValueType),
			Measurement:              base64.StdEncoding.EncodeToString(digest),
			MeasurementHashAlgorithm: hashName(h.Size() * 8),
			LastUpdated:              updated,
		}
		if b.ValueType&^spdm.MeasTypeRaw == spdm.MeasTypeSVN && b.Raw() && len(b.Value) == 8 {
			// The SVN as a 64-bit number in 16 hex digits (the block is 8 bytes, little-endian).
			m.SecurityVersionNumber = fmt.Sprintf("%016X", binary.LittleEndian.Uint64(b.Value))
		}
		set.Measurements = append(set.Measurements, m)
	}
	return set, nil
}

// ---- #ComponentIntegrity.SPDMGetSignedMeasurements ----

type signedMeasurementsParams struct {
	Nonce              *string `json:"Nonce"`
	SlotID             *int    `json:"SlotId"`
	MeasurementIndices []int   `json:"MeasurementIndices"`
}

type signedMeasurementsResponse struct {
	SignedMeasurements string   `json:"SignedMeasurements"`
	Version            string   `json:"Version"`
	HashingAlgorithm   string   `json:"HashingAlgorithm"`
	SigningAlgorithm   string   `json:"SigningAlgorithm"`
	Certificate        *odataID `json:"Certificate,omitempty"`
}

// isNonce reports whether s is a SPDMGetSignedMeasurements nonce: exactly 64 hex digits
// (32 bytes), either case.
func isNonce(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// spdmGetSignedMeasurements runs the action on the gate's link inside its secured
// session: one GET_MEASUREMENTS per requested index, the last one signed with the
// caller's nonce (or a fresh one), and answers with SignedMeasurements = L1 (VCA,
// then those requests and responses) followed by the last response's signature, so
// the caller can verify it offline with the alias key.
func (s *Service) spdmGetSignedMeasurements(r *request) (any, error) {
	if err := checkComponentIntegrity(r); err != nil {
		return nil, err
	}
	var p signedMeasurementsParams
	if err := r.decodeAction(signedMeasurementsAction, &p); err != nil {
		return nil, err
	}
	var nonce [32]byte
	if p.Nonce != nil {
		if !isNonce(*p.Nonce) {
			return nil, errorf(http.StatusBadRequest, base.ActionParameterValueFormatError(*p.Nonce, "Nonce", signedMeasurementsAction))
		}
		hex.Decode(nonce[:], []byte(*p.Nonce)) // cannot fail: isNonce decoded it
	} else if _, err := rand.Read(nonce[:]); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	slot := 0
	if p.SlotID != nil {
		slot = *p.SlotID
	}
	if slot < 0 || slot > 15 {
		return nil, errorf(http.StatusBadRequest, base.ActionParameterValueOutOfRange(strconv.Itoa(slot), "SlotId", signedMeasurementsAction))
	}
	indices := p.MeasurementIndices
	if indices == nil {
		indices = []int{int(spdm.MeasOpAll)}
	}
	st := s.attested()
	if err := checkIndices(indices, st); err != nil {
		return nil, err
	}
	if s.cfg.Attestation == nil || st == nil {
		return nil, serviceUnavailable()
	}

	var (
		ev  *spdm.Evidence
		neg spdm.Negotiated
	)
	errSlot := errors.New("no verified certificate chain in the slot")
	err := s.cfg.Attestation.Link(r.Context(), func(ctx context.Context, rq *spdm.Requester, ss *spdm.Session) error {
		neg = rq.Negotiated()
		if rq.Chain(uint8(slot)) == nil {
			return errSlot
		}
		for i, idx := range indices {
			mr := spdm.MeasurementRequest{Operation: uint8(idx), SlotID: uint8(slot)}
			if i == len(indices)-1 {
				mr.Signed, mr.Nonce = true, &nonce
			}
			res, err := ss.Measurements(ctx, mr)
			if err != nil {
				return fmt.Errorf("measurement index %d: %w", idx, err)
			}
			ev = res.Evidence
		}
		return nil
	})
	switch {
	case errors.Is(err, errSlot):
		return nil, errorf(http.StatusBadRequest, base.ActionParameterValueNotInList(strconv.Itoa(slot), "SlotId", signedMeasurementsAction))
	case errors.Is(err, mgmtif.ErrNotOpen):
		return nil, serviceUnavailable()
	case err != nil:
		return nil, fmt.Errorf("%s: %w", signedMeasurementsAction, err)
	case ev == nil:
		return nil, fmt.Errorf("%s: no signed MEASUREMENTS", signedMeasurementsAction)
	}
	signed := make([]byte, 0, len(ev.Transcript)+len(ev.Signature))
	signed = append(append(signed, ev.Transcript...), ev.Signature...)
	out := signedMeasurementsResponse{
		SignedMeasurements: base64.StdEncoding.EncodeToString(signed),
		Version:            neg.Version.String(),
		HashingAlgorithm:   hashName(neg.Hash().Size() * 8),
		SigningAlgorithm:   asymName(neg.BaseAsym),
	}
	if slot == 0 {
		out.Certificate = &odataID{aliasCertURI}
	}
	return out, nil
}

// checkIndices enforces the schema: one or more unique indices 0..254, or exactly
// [255]; an index must be one the RoT measures (the gate's last appraisal saw every
// block).
func checkIndices(indices []int, st *mgmtif.Status) error {
	bad := func(v int) error {
		return errorf(http.StatusBadRequest, base.ActionParameterValueOutOfRange(strconv.Itoa(v), "MeasurementIndices", signedMeasurementsAction))
	}
	if len(indices) == 0 {
		return errorf(http.StatusBadRequest, base.ActionParameterValueError("MeasurementIndices", signedMeasurementsAction))
	}
	for i, v := range indices {
		switch {
		case v < 0 || v > 255:
			return bad(v)
		case v == 255 && len(indices) != 1:
			return bad(v)
		case slices.Contains(indices[:i], v):
			return errorf(http.StatusBadRequest, base.ActionParameterValueError("MeasurementIndices", signedMeasurementsAction))
		}
		if v == 0 || v == 255 || st == nil {
			continue
		}
		if !slices.ContainsFunc(st.Result.Blocks, func(b spdm.MeasurementBlock) bool { return int(b.Index) == v }) {
			return errorf(http.StatusBadRequest, base.ActionParameterValueNotInList(strconv.Itoa(v), "MeasurementIndices", signedMeasurementsAction))
		}
	}
	return nil
}

// asymName is the DSP0274 name of an asymmetric signature algorithm.
func asymName(a spdm.BaseAsymAlgo) string {
	switch a {
	case spdm.AsymECDSAP256:
		return "TPM_ALG_ECDSA_ECC_NIST_P256"
	case spdm.AsymECDSAP384:
		return "TPM_ALG_ECDSA_ECC_NIST_P384"
	}
	return "OEM"
}
