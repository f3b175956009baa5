// This file holds the negotiated state of one SPDM connection after VCA
// (DSP0274 1.2/1.3 clauses 10.3-10.5: version, capabilities, selected
// algorithms, the 1.3 multi-key connection rule of clause 10.4) and the
// signed evidence a requester returns for offline re-verification of
// CHALLENGE_AUTH / MEASUREMENTS / KEY_EXCHANGE_RSP signatures (clause 15).

package spdm

import (
	"crypto"
	"fmt"
)

// Negotiated is the outcome of VCA.
type Negotiated struct {
	Version             Version
	RequesterCaps       Capabilities
	ResponderCaps       Capabilities
	MeasurementSpec     MeasurementSpec
	OtherParams         OtherParams
	BaseAsym            BaseAsymAlgo
	BaseHash            BaseHashAlgo
	MeasurementHash     MeasurementHashAlgo
	DHE                 DHEGroup
	AEAD                AEADSuite
	ReqBaseAsym         BaseAsymAlgo
	KeySchedule         KeyScheduleAlgo
	MELSpec             uint8
	MultiKey            bool // the responder side of the connection is multi-key (1.3)
	HandshakeInTheClear bool
}

// Hash returns the negotiated base hash.
func (n *Negotiated) Hash() crypto.Hash { return n.BaseHash.CryptoHash() }

// layout returns the message layout for the negotiated algorithms.
func (n *Negotiated) layout() Layout {
	return Layout{
		HashSize:      n.Hash().Size(),
		SignatureSize: n.BaseAsym.SignatureSize(),
		ExchangeSize:  n.DHE.PublicKeySize(),
		MultiKey:      n.MultiKey,
	}
}

// String summarises the negotiation.
func (n *Negotiated) String() string {
	return fmt.Sprintf("SPDM %s asym=0x%x hash=0x%x meas_hash=0x%x dhe=0x%x aead=0x%x",
		n.Version, uint32(n.BaseAsym), uint32(n.BaseHash), uint32(n.MeasurementHash), uint16(n.DHE), uint16(n.AEAD))
}

// exactlyOne reports whether v has exactly one bit set.
func exactlyOne(v uint32) bool { return v != 0 && v&(v-1) == 0 }

// pick returns the first of prefs present in offered&supported.
func pick[T ~uint16 | ~uint32](offered, supported T, prefs []T) T {
	for _, p := range prefs {
		if offered&supported&p != 0 {
			return p
		}
	}
	return 0
}

var (
	asymPrefs    = []BaseAsymAlgo{AsymECDSAP384, AsymECDSAP256}
	reqAsymPrefs = []BaseAsymAlgo{AsymECDSAP384, AsymECDSAP256, AsymRSAPSS3072, AsymRSASSA3072, AsymRSAPSS2048, AsymRSASSA2048, AsymRSAPSS4096, AsymRSASSA4096, AsymECDSAP521}
	hashPrefs    = []BaseHashAlgo{HashSHA384, HashSHA256, HashSHA512}
	dhePrefs     = []DHEGroup{DHESECP384R1, DHESECP256R1}
	aeadPrefs    = []AEADSuite{AEADAES256GCM, AEADChaCha20Poly1305, AEADAES128GCM}
)

// Evidence is a signed response together with everything needed to verify
// it again offline: the exact request and response bytes, the transcript
// the signature covers and the signature itself.
type Evidence struct {
	Version Version
	Hash    BaseHashAlgo
	Asym    BaseAsymAlgo
	// Context is the signing context string, e.g. "responder-measurements signing".
	Context string
	// Request and Response are the exact messages; Response includes the Signature.
	Request  []byte
	Response []byte
	// Transcript is the byte string whose hash was signed (M1, L1 or TH).
	Transcript []byte
	Signature  []byte
	// SlotID names the certificate slot whose leaf key signed.
	SlotID uint8
}

// Verify checks the signature with the responder's leaf public key.
func (e *Evidence) Verify(pub crypto.PublicKey) error {
	h := e.Hash.CryptoHash()
	if h == 0 {
		return fmt.Errorf("spdm: evidence hash 0x%x unsupported", uint32(e.Hash))
	}
	return verifyTranscript(pub, h, e.Version, e.Context, hashOf(h, e.Transcript), e.Signature)
}
