package attest

import (
	"bytes"
	"crypto/x509"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/ironroot-bmc/ironroot/spdm"
)

// Checks of evidence that arrives as one blob (Redfish SPDMGetSignedMeasurements).
const (
	CheckFormat Check = "evidence format"
	CheckNonce  Check = "nonce"
)

// measurementsContext is the SPDM 1.2+ signing context of MEASUREMENTS.
const measurementsContext = "responder-measurements signing"

// SignedMeasurements is the SignedMeasurements value of Redfish's
// #ComponentIntegrity.SPDMGetSignedMeasurements, parsed: for SPDM 1.2 and
// later the concatenation of VCA (GET_VERSION, VERSION, GET_CAPABILITIES,
// CAPABILITIES, NEGOTIATE_ALGORITHMS, ALGORITHMS) and GET_MEASUREMENTS with
// its MEASUREMENTS response, whose trailing signature covers everything
// before it (L1).
type SignedMeasurements struct {
	Version spdm.Version
	Hash    spdm.BaseHashAlgo
	Asym    spdm.BaseAsymAlgo
	// Request is the GET_MEASUREMENTS request; its Nonce is the one the
	// requester sent.
	Request spdm.GetMeasurements
	// Response is the MEASUREMENTS response, signature included.
	Response spdm.Measurements
	// Evidence is the signed response in the form Appraise takes.
	Evidence *spdm.Evidence
}

// SPDM request and response codes of VCA.
const (
	codeGetVersion          = 0x84
	codeVersion             = 0x04
	codeGetCapabilities     = 0xE1
	codeCapabilities        = 0x61
	codeNegotiateAlgorithms = 0xE3
	codeAlgorithms          = 0x63
	codeGetMeasurements     = 0xE0
)

// ParseSignedMeasurements splits a SignedMeasurements blob into its
// messages. It checks the framing only; Appraise checks the signature.
func ParseSignedMeasurements(blob []byte) (*SignedMeasurements, error) {
	sm, err := parseSignedMeasurements(blob)
	if err != nil {
		return nil, &Failure{Check: CheckFormat, Err: err}
	}
	return sm, nil
}

func parseSignedMeasurements(blob []byte) (*SignedMeasurements, error) {
	rest := blob
	take := func(code byte, n int) ([]byte, error) {
		if n < 4 || len(rest) < n {
			return nil, fmt.Errorf("message %#02x: %d bytes left, want %d", code, len(rest), n)
		}
		if rest[1] != code {
			return nil, fmt.Errorf("message %#02x where %#02x belongs", rest[1], code)
		}
		m := rest[:n]
		rest = rest[n:]
		return m, nil
	}
	// lengthAt reads a message's own 16-bit length field at offset 4.
	lengthAt := func() int {
		if len(rest) < 6 {
			return 0
		}
		return int(binary.LittleEndian.Uint16(rest[4:6]))
	}

	if _, err := take(codeGetVersion, 4); err != nil {
		return nil, fmt.Errorf("GET_VERSION: %w", err)
	}
	if len(rest) < 6 {
		return nil, fmt.Errorf("VERSION: truncated")
	}
	vb, err := take(codeVersion, 6+2*int(rest[5]))
	if err != nil {
		return nil, fmt.Errorf("VERSION: %w", err)
	}
	var vr spdm.VersionResponse
	if err := vr.Unmarshal(vb); err != nil {
		return nil, fmt.Errorf("VERSION: %w", err)
	}
	if len(rest) < 1 {
		return nil, fmt.Errorf("GET_CAPABILITIES: truncated")
	}
	ver := spdm.Version(rest[0])
	if ver < spdm.Version12 {
		return nil, fmt.Errorf("SPDM version %#02x: only 1.2 and later carry VCA in L1", uint8(ver))
	}
	if _, err := take(codeGetCapabilities, 20); err != nil {
		return nil, fmt.Errorf("GET_CAPABILITIES: %w", err)
	}
	if len(rest) > 2 && rest[2]&1 != 0 {
		return nil, fmt.Errorf("CAPABILITIES with supported algorithms (Param1 bit 0) is not supported")
	}
	if _, err := take(codeCapabilities, 20); err != nil {
		return nil, fmt.Errorf("CAPABILITIES: %w", err)
	}
	if _, err := take(codeNegotiateAlgorithms, lengthAt()); err != nil {
		return nil, fmt.Errorf("NEGOTIATE_ALGORITHMS: %w", err)
	}
	ab, err := take(codeAlgorithms, lengthAt())
	if err != nil {
		return nil, fmt.Errorf("ALGORITHMS: %w", err)
	}
	var alg spdm.Algorithms
	if err := alg.Unmarshal(ab); err != nil {
		return nil, fmt.Errorf("ALGORITHMS: %w", err)
	}
	if alg.Version != ver {
		return nil, fmt.Errorf("ALGORITHMS in version %#02x, the exchange is %#02x", uint8(alg.Version), uint8(ver))
	}
	h := alg.BaseHash.CryptoHash()
	if h == 0 {
		return nil, fmt.Errorf("unsupported hash %#x", uint32(alg.BaseHash))
	}
	sigSize := alg.BaseAsym.SignatureSize()
	if sigSize == 0 {
		return nil, fmt.Errorf("unsupported signing algorithm %#x", uint32(alg.BaseAsym))
	}

	// Then GET_MEASUREMENTS and MEASUREMENTS pairs; only the last is signed.
	// A request is its header, then Nonce + SlotIDParam when signed, then
	// RequesterContext in 1.3.
	var (
		req  spdm.GetMeasurements
		reqb []byte
		rsp  spdm.Measurements
	)
	hl := spdm.Layout{HashSize: h.Size(), SignatureSize: sigSize}
	for pair := 0; ; pair++ {
		if pair >= 256 {
			return nil, fmt.Errorf("more than 256 GET_MEASUREMENTS")
		}
		if len(rest) < 4 {
			return nil, fmt.Errorf("GET_MEASUREMENTS: truncated")
		}
		n := 4
		signed := spdm.MeasurementAttributes(rest[2])&spdm.MeasSignatureRequested != 0
		if signed {
			n += 32 + 1
		}
		if ver >= spdm.Version13 {
			n += 8
		}
		if reqb, err = take(codeGetMeasurements, n); err != nil {
			return nil, fmt.Errorf("GET_MEASUREMENTS: %w", err)
		}
		if err := req.Unmarshal(reqb); err != nil {
			return nil, fmt.Errorf("GET_MEASUREMENTS: %w", err)
		}
		if req.Version != ver {
			return nil, fmt.Errorf("GET_MEASUREMENTS in version %#02x, the exchange is %#02x", uint8(req.Version), uint8(ver))
		}
		l := hl
		l.Signed = signed
		rsp = spdm.Measurements{}
		if err := rsp.Unmarshal(rest, l); err != nil {
			return nil, fmt.Errorf("MEASUREMENTS: %w", err)
		}
		if rsp.Version != ver {
			return nil, fmt.Errorf("MEASUREMENTS in version %#02x, the exchange is %#02x", uint8(rsp.Version), uint8(ver))
		}
		got := len(rsp.Marshal())
		if signed {
			if got != len(rest) {
				return nil, fmt.Errorf("MEASUREMENTS: %d bytes follow the signed response", len(rest)-got)
			}
			break
		}
		if _, err := take(byte(spdm.ResponseMeasurements), got); err != nil {
			return nil, fmt.Errorf("MEASUREMENTS: %w", err)
		}
		if len(rest) == 0 {
			return nil, fmt.Errorf("no signed MEASUREMENTS at the end")
		}
	}
	signed := len(blob) - sigSize
	return &SignedMeasurements{
		Version: ver, Hash: alg.BaseHash, Asym: alg.BaseAsym, Request: req, Response: rsp,
		Evidence: &spdm.Evidence{
			Version: ver, Hash: alg.BaseHash, Asym: alg.BaseAsym, Context: measurementsContext,
			Request: reqb, Response: bytes.Clone(rest), Transcript: bytes.Clone(blob[:signed]),
			Signature: bytes.Clone(blob[signed:]), SlotID: req.SlotID,
		},
	}, nil
}

// AppraiseSignedMeasurements appraises a SignedMeasurements blob from an
// untrusted transport (bmcctl attest): the blob must be the answer to nonce,
// chain is the responder's certificate chain (root first; the identity root
// is put in front when it is missing), and then every check of Appraise
// applies. The Result's DeviceID is the certificate whose serial the caller
// compares with the board it meant to attest.
func AppraiseSignedMeasurements(blob []byte, nonce [32]byte, chain []*x509.Certificate, a Anchors, p Policy, at time.Time) (*Result, error) {
	sm, err := ParseSignedMeasurements(blob)
	if err != nil {
		return nil, err
	}
	if sm.Request.Nonce != nonce {
		return nil, fail(CheckNonce, "the measurements answer nonce %x…, not the %x… this request sent", sm.Request.Nonce[:8], nonce[:8])
	}
	if len(chain) == 0 {
		return nil, fail(CheckChain, "no certificate chain")
	}
	certs := chain
	if !isIdentityRoot(chain[0], a) && len(a.IdentityRoots) > 0 {
		certs = append([]*x509.Certificate{a.IdentityRoots[0]}, chain...)
	}
	ders := make([][]byte, len(certs))
	for i, c := range certs {
		ders[i] = c.Raw
	}
	h := sm.Hash.CryptoHash()
	raw, err := spdm.BuildCertChain(h, ders)
	if err != nil {
		return nil, &Failure{Check: CheckChain, Err: err}
	}
	cc, err := spdm.ParseCertChain(h, raw)
	if err != nil {
		return nil, &Failure{Check: CheckChain, Err: err}
	}
	return Appraise(Evidence{Chain: cc, Hash: sm.Hash, Measurements: sm.Evidence}, a, p, at)
}

func isIdentityRoot(c *x509.Certificate, a Anchors) bool {
	for _, r := range a.IdentityRoots {
		if bytes.Equal(r.Raw, c.Raw) {
			return true
		}
	}
	return false
}
