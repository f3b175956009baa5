package rot

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha512"
	"crypto/x509"
	"encoding/binary"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"slices"
	"sync"

	"github.com/ironroot-bmc/ironroot/dice"
	"github.com/ironroot-bmc/ironroot/images"
	"github.com/ironroot-bmc/ironroot/images/manifest"
	"github.com/ironroot-bmc/ironroot/rot/control"
	"github.com/ironroot-bmc/ironroot/rot/identity"
	"github.com/ironroot-bmc/ironroot/rot/measure"
	"github.com/ironroot-bmc/ironroot/rot/record"
	"github.com/ironroot-bmc/ironroot/rot/slot"
	"github.com/ironroot-bmc/ironroot/rot/supervise"
	"github.com/ironroot-bmc/ironroot/rot/tpm"
)

// ErrRecovery: no slot verifies; the BMC stays in reset.
var ErrRecovery = errors.New("recovery: no slot holds a bundle that verifies")

// Device is one provisioned board's root of trust.
type Device struct {
	cfg          Config
	uds          identity.UDS
	auth         tpm.Auth
	fuses        tpm.Fuses
	keys         manifest.KeySet
	deviceID     *ecdsa.PrivateKey
	deviceIDCert *x509.Certificate
	rootCert     *x509.Certificate

	mu     sync.Mutex // guards slots, status, floor
	slots  *slot.Store
	status control.Status
	floor  uint64

	healthCh  chan struct{}
	installCh chan struct{}
}

// newDevice loads a provisioned board. The TPM must be started.
func newDevice(cfg Config) (*Device, error) {
	cfg.defaults()
	idDir := cfg.path(IdentityDir)
	uds, err := identity.LoadUDS(idDir)
	if err != nil {
		return nil, fmt.Errorf("loading identity: %w", err)
	}
	auth, err := identity.UnsealTPMAuth(idDir, uds)
	if err != nil {
		return nil, fmt.Errorf("loading identity: %w", err)
	}
	fuses, err := cfg.TPM.Fuses()
	if err != nil {
		return nil, fmt.Errorf("loading fuses: %w", err)
	}
	keys, err := images.LoadVendorKeySet(cfg.path(VendorKeysDir))
	if err != nil {
		return nil, err
	}
	if h := keys.Hash(); h != fuses.KeySetHash {
		return nil, fmt.Errorf("vendor key set in %s hashes to %x, the fuses say %x: refusing to use it", cfg.path(VendorKeysDir), h[:8], fuses.KeySetHash[:8])
	}
	key, err := identity.DeviceIDKey(uds)
	if err != nil {
		return nil, err
	}
	var cert *x509.Certificate
	if c, err := identity.ReadCertificate(cfg.path(IdentityDir, identity.DeviceIDCert)); err == nil {
		if !key.PublicKey.Equal(c.PublicKey) {
			return nil, fmt.Errorf("DeviceID certificate does not match the key derived from the UDS")
		}
		cert = c
	} else {
		return nil, err
	}
	root, err := identity.ReadCertificate(cfg.path(IdentityDir, identity.IdentityRootCA))
	if err != nil {
		return nil, err
	}
	if err := cert.CheckSignatureFrom(root); err != nil {
		return nil, fmt.Errorf("DeviceID certificate is not signed by the stored identity root: %w", err)
	}
	slots, err := openSlots(cfg)
	if err != nil {
		return nil, err
	}
	floor, err := cfg.TPM.Floor(fuses)
	if err != nil {
		return nil, err
	}
	return &Device{
		cfg: cfg, uds: uds, auth: auth, fuses: fuses, keys: keys, deviceID: key, deviceIDCert: cert, rootCert: root,
		slots: slots, floor: floor,
		status:    control.Status{State: "provisioned", BoardID: fuses.BoardID, SVNFloor: floor},
		healthCh:  make(chan struct{}, 1),
		installCh: make(chan struct{}, 1),
	}, nil
}

// policy is the verification policy of this board now.
func (d *Device) policy(floor uint64, report func(check, detail string)) manifest.Policy {
	return manifest.Policy{
		BoardID:    d.fuses.BoardID,
		MinSVN:     floor,
		KeySetHash: d.fuses.KeySetHash[:],
		Report:     report,
	}
}

// checkSlot verifies a freshly written slot file completely (signatures,
// policy, every component's digest) and says what the slot record keeps.
func (d *Device) checkSlot(path string) (slot.Info, error) {
	floor, err := d.cfg.TPM.Floor(d.fuses)
	if err != nil {
		return slot.Info{}, err
	}
	f, err := os.Open(path)
	if err != nil {
		return slot.Info{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return slot.Info{}, err
	}
	b, err := images.Open(f, fi.Size())
	if err != nil {
		return slot.Info{}, err
	}
	var cfg bytes.Buffer
	v, err := b.VerifyAndCopy(d.keys, d.policy(floor, nil), func(c manifest.Component) (io.Writer, error) {
		if c.Name == manifest.ComponentBMCConfig {
			return &cfg, nil
		}
		return io.Discard, nil
	})
	if err != nil {
		return slot.Info{}, err
	}
	if err := d.checkBundleContent(v.Manifest, cfg.Bytes()); err != nil {
		return slot.Info{}, err
	}
	dg := manifest.Digest(v.Signed)
	return slot.Info{ManifestDigest: hex.EncodeToString(dg[:]), FirmwareVersion: v.Manifest.FirmwareVersion, SVN: v.Manifest.SVN}, nil
}

// commit records slot n healthy and raises the SVN floor to its SVN.
func (d *Device) commit(n slot.Name) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.slots.Commit(n); err != nil {
		return fmt.Errorf("committing slot %s: %w", n, err)
	}
	return d.raiseFloorLocked(n)
}

func (d *Device) raiseFloorLocked(n slot.Name) error {
	svn := d.slots.Meta().Slots[n].SVN
	floor, err := d.cfg.TPM.RaiseFloor(d.fuses, svn, d.auth.Owner)
	if err != nil {
		return fmt.Errorf("raising SVN floor for slot %s: %w", n, err)
	}
	if floor != d.floor {
		d.cfg.Log.Info("SVN floor raised in the TPM NV counter", "slot", n, "floor", floor)
	}
	d.floor = floor
	d.status.SVNFloor = floor
	return nil
}

// Booted is the outcome of a boot that verified: the sealed images and
// what was measured.
type Booted struct {
	Slot     slot.Name
	Info     slot.Info
	Manifest *manifest.Manifest
	// Images are the sealed memfds, by component name.
	Images    map[string]*supervise.Image
	Blocks    measure.Blocks
	EventLog  *measure.Log
	AliasCert *x509.Certificate
	AliasKey  *ecdsa.PrivateKey
}

// Close releases the images.
func (b *Booted) Close() {
	for _, img := range b.Images {
		img.Close()
	}
}

// Boot is one board power-on: reset the RoT TPM, then try the slots in
// boot order; the first whose bundle verifies completely is measured and
// returned, ready to release. A slot that fails is rejected and the next
// one tried; none left is ErrRecovery. Nothing is extended for a bundle
// that did not verify.
func (d *Device) Boot(ctx context.Context) (*Booted, error) {
	log := d.cfg.Log
	d.setState("booting", "")
	if err := d.cfg.TPM.PowerOn(ctx); err != nil {
		return nil, fmt.Errorf("board power-on: %w", err)
	}
	if d.cfg.TPM.CanReset() {
		log.Info("RoT TPM reset (CMD_INIT + TPM2_Startup(CLEAR)): PCRs and event log start empty")
	}
	banks, err := d.cfg.TPM.Banks()
	if err != nil {
		return nil, err
	}
	for _, want := range tpm.RequiredBanks {
		if !slices.Contains(banks, want) {
			return nil, fmt.Errorf("RoT TPM has no %v PCR bank allocated", want)
		}
	}
	d.mu.Lock()
	order := d.slots.BootOrder()
	d.mu.Unlock()
	for _, n := range order {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b, err := d.bootSlot(n, banks)
		if err == nil {
			return b, nil
		}
		log.Error("slot not booted", "slot", n, "err", err)
	}
	d.mu.Lock()
	meta := d.slots.Meta()
	d.mu.Unlock()
	reason := "no slot holds a verified bundle"
	if len(order) == 0 {
		reason = "no bootable slot (install a bundle)"
	}
	log.Error("RECOVERY: the BMC stays in reset; install a signed bundle with `rotd install BUNDLE`",
		"reason", reason, "slot_a", meta.Slots[slot.A].State, "slot_b", meta.Slots[slot.B].State)
	d.setState("recovery", reason)
	return nil, ErrRecovery
}

// bootSlot counts the boot, verifies and measures one slot.
func (d *Device) bootSlot(n slot.Name, banks []crypto.Hash) (*Booted, error) {
	log := d.cfg.Log
	d.mu.Lock()
	info, err := d.slots.Booting(n)
	if err == nil && info.State == slot.Trial && info.Boots > d.cfg.MaxTrialBoots {
		reason := fmt.Sprintf("trial slot booted %d times without proving healthy", info.Boots-1)
		err = errors.New(reason)
		if rerr := d.slots.Revert(n, reason); rerr != nil {
			err = rerr
		}
		log.Warn("reverting trial slot", "slot", n, "reason", reason)
	}
	floor := d.floor
	d.mu.Unlock()
	if err != nil {
		return nil, err
	}
	log.Info("verifying slot", "slot", n, "state", info.State, "boot", info.Boots, "svn_floor", floor)

	v, imgs, sums, err := d.verify(n, floor, banks)
	if err != nil {
		d.mu.Lock()
		if rerr := d.slots.Reject(n, err.Error()); rerr != nil {
			log.Error("recording rejected slot", "slot", n, "err", rerr)
		}
		d.mu.Unlock()
		return nil, fmt.Errorf("verifying slot %s: %w", n, err)
	}
	b := &Booted{Slot: n, Info: info, Manifest: v.Manifest, Images: imgs}
	if info.State == slot.Committed {
		// A crash between commit and the floor update is caught up here.
		d.mu.Lock()
		err := d.raiseFloorLocked(n)
		d.mu.Unlock()
		if err != nil {
			b.Close()
			return nil, err
		}
	}
	if err := d.measure(b, v, sums, banks); err != nil {
		b.Close()
		return nil, fmt.Errorf("measuring slot %s: %w", n, err)
	}
	if err := d.deriveAlias(b, v); err != nil {
		b.Close()
		return nil, err
	}
	d.mu.Lock()
	d.status.Slot = string(n)
	d.status.Measurements = statusMeasurements(b.Blocks)
	d.status.PCRs = d.readPCRs(banks)
	d.status.Alias = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.AliasCert.Raw}))
	d.mu.Unlock()
	return b, nil
}

// verify reads slot n's bundle once: signatures and policy first, then
// every component streamed into its own memfd while it is hashed (SHA-384
// by images, the other banks here). Only if everything verified are the
// memfds sealed and returned.
func (d *Device) verify(n slot.Name, floor uint64, banks []crypto.Hash) (*images.Verified, map[string]*supervise.Image, map[string]map[crypto.Hash][]byte, error) {
	log := d.cfg.Log
	d.mu.Lock()
	path := d.slots.Path(n)
	d.mu.Unlock()
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, nil, err
	}
	bundle, err := images.Open(f, fi.Size())
	if err != nil {
		return nil, nil, nil, err
	}
	report := func(check, detail string) {
		log.Info("verified", "slot", n, "check", check, "detail", detail)
	}
	memfds := map[string]*supervise.Memfd{}
	hashers := map[string]map[crypto.Hash]hash.Hash{}
	discard := func() {
		for _, m := range memfds {
			m.Close()
		}
	}
	dst := func(c manifest.Component) (io.Writer, error) {
		if _, dup := memfds[c.Name]; dup {
			return nil, fmt.Errorf("component %q twice", c.Name)
		}
		m, err := supervise.NewMemfd(c.Name)
		if err != nil {
			return nil, err
		}
		memfds[c.Name] = m
		ws := []io.Writer{m}
		hashers[c.Name] = map[crypto.Hash]hash.Hash{}
		for _, bank := range banks {
			if bank == crypto.SHA384 {
				continue // images hashes SHA-384 itself
			}
			h := bank.New()
			hashers[c.Name][bank] = h
			ws = append(ws, h)
		}
		return io.MultiWriter(ws...), nil
	}
	v, err := bundle.VerifyAndCopy(d.keys, d.policy(floor, report), dst)
	if err != nil {
		discard()
		return nil, nil, nil, err
	}
	imgs := map[string]*supervise.Image{}
	sums := map[string]map[crypto.Hash][]byte{}
	closeAll := func() {
		discard()
		for _, i := range imgs {
			i.Close()
		}
	}
	for _, c := range v.Components {
		img, err := memfds[c.Name].Seal()
		delete(memfds, c.Name)
		if err != nil {
			closeAll()
			return nil, nil, nil, err
		}
		imgs[c.Name] = img
		s := map[crypto.Hash][]byte{crypto.SHA384: bytes.Clone(c.SHA384[:])}
		for bank, h := range hashers[c.Name] {
			s[bank] = h.Sum(nil)
		}
		sums[c.Name] = s
		log.Info("verified", "slot", n, "check", "component", "detail",
			fmt.Sprintf("%s %s: %d bytes, SHA-384 %x matches the signed manifest; sealed in memfd", c.Name, c.Version, c.Size, c.SHA384[:12]))
	}
	var cfg []byte
	if img, ok := imgs[manifest.ComponentBMCConfig]; ok {
		if cfg, err = img.ReadAll(); err != nil {
			closeAll()
			return nil, nil, nil, err
		}
	}
	if err := d.checkBundleContent(v.Manifest, cfg); err != nil {
		closeAll()
		return nil, nil, nil, err
	}
	log.Info("verified", "slot", n, "check", "bmc-config", "detail", "parses, names this board")
	return v, imgs, sums, nil
}

// ErrIncomplete: a bundle lacks what a BMC boot needs.
var ErrIncomplete = errors.New("bundle incomplete")

// checkBundleContent checks what the signature cannot: the bundle carries
// what this board's platform releases (bmcd on the sim board; kernel,
// initramfs and modules on a QEMU board) and a bmc-config that parses and
// names the manifest's board.
func (d *Device) checkBundleContent(m *manifest.Manifest, bmcConfig []byte) error {
	for _, name := range append(d.cfg.Platform.Components(), manifest.ComponentBMCConfig) {
		if _, ok := m.Component(name); !ok {
			return fmt.Errorf("no %s component: %w", name, ErrIncomplete)
		}
	}
	cfg, err := manifest.ParseBMCConfig(bmcConfig)
	if err != nil {
		return fmt.Errorf("bmc-config: %w", err)
	}
	if cfg.BoardID != m.BoardID {
		return fmt.Errorf("bmc-config names board %q, the manifest %q: %w", cfg.BoardID, m.BoardID, manifest.ErrWrongBoard)
	}
	return nil
}

// measure extends the measurement plan into the TPM and the event log and
// lays out the measurement blocks.
func (d *Device) measure(b *Booted, v *images.Verified, sums map[string]map[crypto.Hash][]byte, banks []crypto.Hash) error {
	log := d.cfg.Log
	ml, err := measure.NewLog(banks)
	if err != nil {
		return err
	}
	extend := func(pcr int, typ measure.EventType, digests map[crypto.Hash][]byte, data []byte, what string) error {
		if err := d.cfg.TPM.Extend(pcr, digests); err != nil {
			return err
		}
		if err := ml.Append(uint32(pcr), typ, digests, data); err != nil {
			return err
		}
		log.Info("measured", "pcr", pcr, "event", eventName(typ), "what", what,
			"sha256", fmt.Sprintf("%x", digests[crypto.SHA256][:12]), "sha384", fmt.Sprintf("%x", digests[crypto.SHA384][:12]))
		return nil
	}
	crtm := []byte("rotd " + d.cfg.Version)
	if err := extend(PCRCode, measure.EvSCRTMVersion, ml.Digests(crtm), crtm, string(crtm)); err != nil {
		return err
	}
	var comps []measure.Component
	for _, c := range v.Components {
		pcr, typ := PCRCode, measure.EvNonhostCode
		if c.Name == manifest.ComponentBMCConfig {
			pcr, typ = PCRConfig, measure.EvNonhostConfig
		}
		data := []byte(c.Name + " " + c.Version)
		if err := extend(pcr, typ, sums[c.Name], data, c.Name); err != nil {
			return err
		}
		comps = append(comps, measure.Component{Name: c.Name, Digests: sums[c.Name]})
	}
	if err := extend(PCRPolicy, measure.EvNonhostInfo, ml.Digests(v.Signed), v.Signed, "signed manifest"); err != nil {
		return err
	}
	d.mu.Lock()
	floor := d.floor
	d.mu.Unlock()
	pol := fmt.Appendf(nil, "board=%s svn=%d floor=%d key-set=%x", v.Manifest.BoardID, v.Manifest.SVN, floor, d.fuses.KeySetHash)
	if err := extend(PCRPolicy, measure.EvNonhostInfo, ml.Digests(pol), pol, "policy"); err != nil {
		return err
	}
	sep := []byte{0, 0, 0, 0}
	for _, pcr := range []int{PCRCode, PCRConfig, PCRPolicy} {
		if err := extend(pcr, measure.EvSeparator, ml.Digests(sep), sep, "separator"); err != nil {
			return err
		}
	}
	enc, err := ml.MarshalBinary()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(d.cfg.path(BootDir), 0o700); err != nil {
		return err
	}
	if err := record.WriteFile(d.cfg.path(BootDir, EventLogFile), enc, 0o644); err != nil {
		return err
	}
	blocks, err := measure.NewBlocks(comps, v.Manifest.FirmwareVersion, v.Manifest.SVN, v.Signed, false)
	if err != nil {
		return err
	}
	b.EventLog, b.Blocks = ml, blocks
	return nil
}

func eventName(t measure.EventType) string {
	switch t {
	case measure.EvSCRTMVersion:
		return "EV_S_CRTM_VERSION"
	case measure.EvNonhostCode:
		return "EV_NONHOST_CODE"
	case measure.EvNonhostConfig:
		return "EV_NONHOST_CONFIG"
	case measure.EvNonhostInfo:
		return "EV_NONHOST_INFO"
	case measure.EvSeparator:
		return "EV_SEPARATOR"
	}
	return fmt.Sprintf("%#x", uint32(t))
}

// tcbDigest is what the CDI mixes in: the firmware as signed — board,
// version, SVN and every component's name and SHA-384 — so the same
// firmware gives the same alias key even when re-signed or rebuilt with
// another build time, and any changed byte gives another key.
func tcbDigest(m *manifest.Manifest) []byte {
	h := sha512.New384()
	field := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	field([]byte("ironroot TCB v1"))
	field([]byte(m.BoardID))
	field([]byte(m.FirmwareVersion))
	field(binary.BigEndian.AppendUint64(nil, m.SVN))
	for _, c := range m.Components {
		field([]byte(c.Name))
		field(c.SHA384[:])
	}
	return h.Sum(nil)
}

// deriveAlias derives this boot's alias key from CDI = KDF(UDS, TCB) and
// issues its certificate.
func (d *Device) deriveAlias(b *Booted, v *images.Verified) error {
	cdi, err := identity.DeriveCDI(d.uds, tcbDigest(v.Manifest))
	if err != nil {
		return err
	}
	key, err := identity.AliasKey(cdi)
	if err != nil {
		return err
	}
	var fwids []dice.FWID
	for _, c := range v.Components {
		fwids = append(fwids, dice.FWID{HashAlg: dice.OIDSHA384(), Digest: bytes.Clone(c.SHA384[:])})
	}
	md := manifest.Digest(v.Signed)
	fwids = append(fwids, dice.FWID{HashAlg: dice.OIDSHA384(), Digest: md[:]})
	cert, err := identity.IssueAlias(d.deviceID, d.deviceIDCert, &key.PublicKey, identity.AliasRequest{
		BoardID: d.fuses.BoardID, FirmwareVersion: v.Manifest.FirmwareVersion, SVN: v.Manifest.SVN,
		FWIDs: fwids, NotBefore: v.Manifest.BuildTime,
	})
	if err != nil {
		return err
	}
	if err := identity.WriteCertificate(d.cfg.path(BootDir, AliasCertFile), cert); err != nil {
		return err
	}
	d.cfg.Log.Info("alias key derived from CDI = KDF(UDS, measurements); certificate issued by DeviceID",
		"subject", cert.Subject.CommonName, "tcb_fwids", len(fwids))
	b.AliasKey, b.AliasCert = key, cert
	return nil
}

func (d *Device) readPCRs(banks []crypto.Hash) map[string]map[string]string {
	out := map[string]map[string]string{}
	for _, bank := range banks {
		m := map[string]string{}
		for _, pcr := range []int{PCRCode, PCRConfig, PCRPolicy} {
			if v, err := d.cfg.TPM.ReadPCR(pcr, bank); err == nil {
				m[fmt.Sprint(pcr)] = hex.EncodeToString(v)
			}
		}
		out[bank.String()] = m
	}
	return out
}

func statusMeasurements(bs measure.Blocks) []control.Measurement {
	var out []control.Measurement
	for _, b := range bs {
		m := control.Measurement{Index: b.Index, Type: b.Type, Name: b.Name}
		switch {
		case b.Digests != nil:
			m.Value = hex.EncodeToString(b.Digests[crypto.SHA384])
		case b.Index == measure.IndexManifest:
			s := sha512.Sum384(b.Raw)
			m.Value = "sha384:" + hex.EncodeToString(s[:])
		default:
			m.Value = hex.EncodeToString(b.Raw)
		}
		out = append(out, m)
	}
	return out
}

func (d *Device) setState(state, recovery string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.status.State = state
	d.status.Recovery = recovery
	if state != "running" {
		d.status.BMCPID = 0
		d.status.Probation = ""
	}
}
