package tpm

import (
	"crypto"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// supportedBanks maps the PCR bank algorithms rotd can extend.
var supportedBanks = []struct {
	alg  tpm2.TPMAlgID
	hash crypto.Hash
}{
	{tpm2.TPMAlgSHA1, crypto.SHA1},
	{tpm2.TPMAlgSHA256, crypto.SHA256},
	{tpm2.TPMAlgSHA384, crypto.SHA384},
	{tpm2.TPMAlgSHA512, crypto.SHA512},
}

// RequiredBanks are the banks provisioning allocates and a boot insists on.
var RequiredBanks = []crypto.Hash{crypto.SHA256, crypto.SHA384}

func algOf(h crypto.Hash) (tpm2.TPMAlgID, error) {
	for _, b := range supportedBanks {
		if b.hash == h {
			return b.alg, nil
		}
	}
	return 0, fmt.Errorf("no TPM algorithm for %v", h)
}

// Banks returns the allocated PCR banks (those with at least one PCR
// selected), in TPM algorithm order. A bank whose algorithm rotd does not
// know is an error: rotd would leave it unextended.
func (t *TPM) Banks() ([]crypto.Hash, error) {
	rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapPCRs, PropertyCount: 1}.Execute(t.tr)
	if err != nil {
		return nil, fmt.Errorf("reading PCR allocation: %w", err)
	}
	sel, err := rsp.CapabilityData.Data.AssignedPCR()
	if err != nil {
		return nil, fmt.Errorf("reading PCR allocation: %w", err)
	}
	var out []crypto.Hash
	for _, s := range sel.PCRSelections {
		if allZero(s.PCRSelect) {
			continue
		}
		known := false
		for _, b := range supportedBanks {
			if b.alg == s.Hash {
				out = append(out, b.hash)
				known = true
			}
		}
		if !known {
			return nil, fmt.Errorf("PCR bank with algorithm %#x is allocated and rotd cannot extend it", uint16(s.Hash))
		}
	}
	return out, nil
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

// Extend extends PCR pcr with one digest per bank (TPM2_PCR_Extend with a
// TPML_DIGEST_VALUES). digests must hold a digest for every allocated bank.
func (t *TPM) Extend(pcr int, digests map[crypto.Hash][]byte) error {
	var list tpm2.TPMLDigestValues
	for _, b := range supportedBanks {
		d, ok := digests[b.hash]
		if !ok {
			continue
		}
		if len(d) != b.hash.Size() {
			return fmt.Errorf("extending PCR %d: %v digest is %d bytes", pcr, b.hash, len(d))
		}
		list.Digests = append(list.Digests, tpm2.TPMTHA{HashAlg: b.alg, Digest: d})
	}
	_, err := tpm2.PCRExtend{
		PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(pcr), Auth: tpm2.PasswordAuth(nil)},
		Digests:   list,
	}.Execute(t.tr)
	if err != nil {
		return fmt.Errorf("extending PCR %d: %w", pcr, err)
	}
	return nil
}

// ReadPCR reads one PCR of one bank.
func (t *TPM) ReadPCR(pcr int, h crypto.Hash) ([]byte, error) {
	alg, err := algOf(h)
	if err != nil {
		return nil, fmt.Errorf("reading PCR %d: %w", pcr, err)
	}
	rsp, err := tpm2.PCRRead{PCRSelectionIn: tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{
		{Hash: alg, PCRSelect: tpm2.PCClientCompatible.PCRs(uint(pcr))},
	}}}.Execute(t.tr)
	if err != nil {
		return nil, fmt.Errorf("reading PCR %d (%v): %w", pcr, h, err)
	}
	if len(rsp.PCRValues.Digests) != 1 {
		return nil, fmt.Errorf("reading PCR %d (%v): bank not allocated", pcr, h)
	}
	return rsp.PCRValues.Digests[0].Buffer, nil
}
