// Package rotsim is a simulated root of trust for tests: a test vendor
// (ES384 + ML-DSA-87 keys), a test identity root, a DeviceID and an alias
// identity derived like rotd derives them, a signed bundle whose bmc-config
// carries the anchors, and the real SPDM responder of rot/attestation
// serving each Dial over net.Pipe. Options and methods make it misbehave
// (tampered blocks, a replayed signature, a changed chain, a vanished
// link) so the gate's failure paths can be driven.
//
// It owns no production code and must not be imported outside tests.
package rotsim

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/dice"
	"github.com/ironroot-bmc/ironroot/images"
	"github.com/ironroot-bmc/ironroot/images/manifest"
	"github.com/ironroot-bmc/ironroot/rot/attestation"
	"github.com/ironroot-bmc/ironroot/rot/identity"
	"github.com/ironroot-bmc/ironroot/rot/measure"
	"github.com/ironroot-bmc/ironroot/rot/rottest"
	"github.com/ironroot-bmc/ironroot/rotlink"
	"github.com/ironroot-bmc/ironroot/spdm"
)

// Board is the simulated board's ID.
const Board = "ironroot-test"

// Options shape the simulated RoT.
type Options struct {
	// SVN of the firmware (default 5) and the bmc-config floor (default 1).
	SVN, MinSVN uint64
	// Interval is the bmc-config measurement interval (default 60 s).
	Interval time.Duration
	// HeartbeatPeriod is the responder's heartbeat period in seconds.
	HeartbeatPeriod uint8
	// Blocks, when set, rewrites the measurement blocks before they are
	// served (a misbehaving responder).
	Blocks func([]spdm.MeasurementBlock) []spdm.MeasurementBlock
	// ConfigKeys, when set, replaces the vendor keys in bmc-config (a
	// manifest signed by a key bmc-config does not accept).
	ConfigKeys *manifest.KeySet
	// ConfigRoot, when set, replaces the identity root in bmc-config.
	ConfigRoot *x509.Certificate
	// AliasVersion, when set, is the firmware version the alias
	// certificate states instead of the measured one.
	AliasVersion string
}

// RoT is a running simulated root of trust.
type RoT struct {
	Vendor *rottest.Vendor
	// BMCConfig is the verified bmc-config of the bundle (the gate's anchors).
	BMCConfig *manifest.BMCConfig
	// BMCConfigBytes is its encoding, as the bundle component carries it.
	BMCConfigBytes []byte
	Manifest       *manifest.Manifest
	Boot           attestation.Boot
	UDS            identity.UDS
	// SealingKey is what GetSealingKey answers.
	SealingKey []byte
	// Healthy counts ReportHealthy messages.
	Healthy chan string

	rsp    *spdm.Responder
	signer *replaySigner
	devKey *ecdsa.PrivateKey
	t      testing.TB

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	down  bool
	// stalled is held (Add(1)) while the RoT does not answer.
	stalled sync.WaitGroup
}

// New builds the simulated RoT.
func New(t testing.TB, opt Options) *RoT {
	t.Helper()
	if opt.SVN == 0 {
		opt.SVN = 5
	}
	if opt.MinSVN == 0 {
		opt.MinSVN = 1
	}
	if opt.Interval == 0 {
		opt.Interval = 60 * time.Second
	}
	dir := t.TempDir()
	v := rottest.NewVendor(t, dir)
	now := time.Now()

	keys := v.Keys
	if opt.ConfigKeys != nil {
		keys = *opt.ConfigKeys
	}
	root := v.Root.Cert
	if opt.ConfigRoot != nil {
		root = opt.ConfigRoot
	}
	bc := &manifest.BMCConfig{
		BoardID: Board, IdentityRoots: []*x509.Certificate{root}, VendorKeys: keys,
		Gate: manifest.GatePolicy{MeasurementInterval: opt.Interval, HeartbeatPeriod: time.Duration(opt.HeartbeatPeriod) * time.Second, MinSVN: opt.MinSVN},
	}
	cfgBytes, err := bc.Encode()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := v.BundleBytes(rottest.Firmware{Board: Board, Version: "1.0.0-test", SVN: opt.SVN, Config: cfgBytes})
	if err != nil {
		t.Fatal(err)
	}
	bundle, err := images.Open(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	ver, err := bundle.VerifyAndRead(v.Keys, manifest.Policy{BoardID: Board})
	if err != nil {
		t.Fatal(err)
	}
	var comps []measure.Component
	var fwids []dice.FWID
	for _, c := range ver.Components {
		comps = append(comps, measure.Component{Name: c.Name, Digests: map[crypto.Hash][]byte{crypto.SHA384: bytes.Clone(c.SHA384[:])}})
		fwids = append(fwids, dice.FWID{HashAlg: dice.OIDSHA384(), Digest: bytes.Clone(c.SHA384[:])})
	}
	md := manifest.Digest(ver.Signed) // as rotd: components, then the signed manifest
	fwids = append(fwids, dice.FWID{HashAlg: dice.OIDSHA384(), Digest: md[:]})
	blocks, err := measure.NewBlocks(comps, ver.Manifest.FirmwareVersion, ver.Manifest.SVN, ver.Signed, false)
	if err != nil {
		t.Fatal(err)
	}
	cfgComp, _ := ver.Component(manifest.ComponentBMCConfig)
	parsed, err := manifest.ParseBMCConfig(cfgComp.Data)
	if err != nil {
		t.Fatal(err)
	}

	uds, err := identity.NewUDS()
	if err != nil {
		t.Fatal(err)
	}
	devKey, err := identity.DeviceIDKey(uds)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := identity.NewDeviceIDCSR(devKey, Board)
	if err != nil {
		t.Fatal(err)
	}
	devCert, err := v.Root.IssueDeviceID(csr, now)
	if err != nil {
		t.Fatal(err)
	}
	tcb := manifest.Digest(ver.Signed)
	cdi, err := identity.DeriveCDI(uds, tcb[:])
	if err != nil {
		t.Fatal(err)
	}
	aliasKey, err := identity.AliasKey(cdi)
	if err != nil {
		t.Fatal(err)
	}
	aliasVersion := ver.Manifest.FirmwareVersion
	if opt.AliasVersion != "" {
		aliasVersion = opt.AliasVersion
	}
	aliasCert, err := identity.IssueAlias(devKey, devCert, &aliasKey.PublicKey, identity.AliasRequest{
		BoardID: Board, FirmwareVersion: aliasVersion, SVN: ver.Manifest.SVN, FWIDs: fwids,
		NotBefore: now.Add(-time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	seal, err := attestation.SealingKey(uds, v.Keys)
	if err != nil {
		t.Fatal(err)
	}
	r := &RoT{
		Vendor: v, BMCConfig: parsed, BMCConfigBytes: cfgBytes, Manifest: ver.Manifest, UDS: uds, SealingKey: seal,
		Healthy: make(chan string, 16), signer: &replaySigner{Signer: aliasKey}, devKey: devKey, t: t,
		conns: map[net.Conn]struct{}{},
	}
	var prov spdm.MeasurementProvider = blocks
	if opt.Blocks != nil {
		prov = rewriter{inner: blocks, f: opt.Blocks}
	}
	r.Boot = attestation.Boot{
		IdentityRoot: v.Root.Cert, DeviceID: devCert, Alias: aliasCert, AliasKey: r.signer,
		Measurements: prov, BootLog: func() ([]byte, error) { return []byte("test event log"), nil },
	}
	rc, err := attestation.ResponderConfig(attestation.Config{
		SealingKey: seal, HeartbeatPeriod: opt.HeartbeatPeriod,
		Healthy: func(context.Context) (string, error) {
			select {
			case r.Healthy <- "healthy":
			default:
			}
			return "health report accepted", nil
		},
		Status: func(context.Context) (rotlink.DeviceStatus, error) {
			return rotlink.DeviceStatus{State: "running", BoardID: Board, FirmwareVersion: ver.Manifest.FirmwareVersion, SVN: ver.Manifest.SVN, SVNFloor: opt.MinSVN}, nil
		},
	}, r.Boot)
	if err != nil {
		t.Fatal(err)
	}
	if r.rsp, err = spdm.NewResponder(rc); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Disconnect)
	return r
}

// Dial is a mgmtif.Dialer: a net.Pipe whose far end the responder serves.
func (r *RoT) Dial(ctx context.Context) (io.ReadWriteCloser, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.down {
		return nil, errors.New("rotsim: the RoT does not answer")
	}
	near, relay := net.Pipe()
	relay2, far := net.Pipe()
	r.conns[far] = struct{}{}
	r.conns[relay] = struct{}{}
	// The relay carries the traffic; Stall holds it (a SIGSTOPped rotd).
	pump := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			r.stalled.Wait()
			if n > 0 {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					err = werr
				}
			}
			if err != nil {
				dst.Close()
				src.Close()
				return
			}
		}
	}
	go pump(relay2, relay)
	go pump(relay, relay2)
	go func() {
		_, _ = r.rsp.ServeConn(context.Background(), far)
		far.Close()
		r.mu.Lock()
		delete(r.conns, far)
		r.mu.Unlock()
	}()
	return near, nil
}

// Disconnect drops every connection and refuses new ones (the RoT is gone).
func (r *RoT) Disconnect() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.down = true
	for c := range r.conns {
		c.Close()
	}
}

// Stall stops the RoT answering without closing anything (like SIGSTOP);
// Resume lets the held traffic through.
func (r *RoT) Stall() { r.stalled.Add(1) }

// Resume ends a Stall.
func (r *RoT) Resume() { r.stalled.Done() }

// Reconnect accepts connections again.
func (r *RoT) Reconnect() {
	r.mu.Lock()
	r.down = false
	r.mu.Unlock()
}

// ReplaySignatures makes the alias key answer every later signing request
// with the last signature it made: a response whose signature was recorded
// earlier, which cannot cover the new nonce and transcript.
func (r *RoT) ReplaySignatures(on bool) { r.signer.setReplay(on) }

// ChangeChain re-issues the alias certificate (same key, new serial) and
// puts the new chain in slot 0 without dropping connections.
func (r *RoT) ChangeChain() {
	r.t.Helper()
	old := r.Boot.Alias
	c, err := identity.IssueAlias(r.devKey, r.Boot.DeviceID, old.PublicKey.(*ecdsa.PublicKey), identity.AliasRequest{
		BoardID: Board, FirmwareVersion: "changed", SVN: 1, NotBefore: old.NotBefore.Add(time.Second),
	})
	if err != nil {
		r.t.Fatal(err)
	}
	if err := r.rsp.SetSlot(0, &spdm.CertSlot{Chain: [][]byte{r.Boot.IdentityRoot.Raw, r.Boot.DeviceID.Raw, c.Raw}, Signer: r.signer, Model: spdm.CertModelAlias}); err != nil {
		r.t.Fatal(err)
	}
}

// SVNBlock returns an 8-byte SVN value.
func SVNBlock(svn uint64) []byte { return binary.LittleEndian.AppendUint64(nil, svn) }

type rewriter struct {
	inner spdm.MeasurementProvider
	f     func([]spdm.MeasurementBlock) []spdm.MeasurementBlock
}

func (w rewriter) MeasurementBlocks(ctx context.Context, h crypto.Hash, raw bool) ([]spdm.MeasurementBlock, error) {
	bs, err := w.inner.MeasurementBlocks(ctx, h, raw)
	if err != nil {
		return nil, err
	}
	return w.f(bs), nil
}

// replaySigner is the alias key, able to replay its last signature.
type replaySigner struct {
	crypto.Signer
	mu     sync.Mutex
	replay bool
	last   []byte
}

func (s *replaySigner) setReplay(on bool) {
	s.mu.Lock()
	s.replay = on
	s.mu.Unlock()
}

func (s *replaySigner) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.replay && s.last != nil {
		return bytes.Clone(s.last), nil
	}
	sig, err := s.Signer.Sign(rand, digest, opts)
	if err == nil {
		s.last = bytes.Clone(sig)
	}
	return sig, err
}
