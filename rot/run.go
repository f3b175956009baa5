package rot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/ironroot-bmc/ironroot/images"
	"github.com/ironroot-bmc/ironroot/images/manifest"
	"github.com/ironroot-bmc/ironroot/rot/attestation"
	"github.com/ironroot-bmc/ironroot/rot/control"
	"github.com/ironroot-bmc/ironroot/rot/record"
	"github.com/ironroot-bmc/ironroot/rot/slot"
	"github.com/ironroot-bmc/ironroot/rot/supervise"
	"github.com/ironroot-bmc/ironroot/rotlink"
)

// BMCExitError: the BMC exited with a status other than a reset request
// while its slot was committed; the board stops (as it did before rotd).
type BMCExitError struct{ Code int }

func (e *BMCExitError) Error() string { return fmt.Sprintf("bmcd exited with status %d", e.Code) }

// Open loads a provisioned board for running: it takes the state lock,
// starts the RoT TPM and reads the fuses. Close the returned lock file
// when done.
func Open(ctx context.Context, cfg Config) (*Device, *os.File, error) {
	cfg.defaults()
	lock, err := Lock(cfg.StateDir)
	if err != nil {
		return nil, nil, err
	}
	if err := cfg.TPM.PowerOn(ctx); err != nil {
		lock.Close()
		return nil, nil, fmt.Errorf("starting RoT TPM: %w", err)
	}
	d, err := newDevice(cfg)
	if err != nil {
		lock.Close()
		return nil, nil, err
	}
	return d, lock, nil
}

// Run is `rotd run`: end a BMC left by an earlier rotd, serve the control
// socket, optionally stage a bundle, then boot and supervise the BMC until
// ctx ends (nil) or the BMC stops the board (*BMCExitError).
func (d *Device) Run(ctx context.Context, stage string) error {
	log := d.cfg.Log
	if err := supervise.EndStale(d.cfg.path(BMCPIDFile), 10*time.Second, log); err != nil {
		return err
	}
	srv, err := control.Listen(d.cfg.path(ControlSocket), d, log)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go srv.Serve(ctx)
	log.Info("control socket ready", "path", d.cfg.path(ControlSocket))
	att, err := d.serveRotLink(ctx)
	if err != nil {
		return err
	}

	if stage != "" {
		if err := d.stage(stage); err != nil {
			log.Error("staging bundle", "bundle", stage, "err", err)
		}
	}
	for {
		b, err := d.Boot(ctx)
		if errors.Is(err, ErrRecovery) {
			select {
			case <-d.installCh:
				log.Info("bundle installed while in recovery: booting it")
				continue
			case <-ctx.Done():
				d.setState("stopped", "")
				return nil
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if att != nil {
			err := att.SetBoot(attestation.Boot{
				IdentityRoot: d.rootCert, DeviceID: d.deviceIDCert, Alias: b.AliasCert, AliasKey: b.AliasKey,
				Measurements: b.Blocks, BootLog: b.EventLog.MarshalBinary,
			})
			if err != nil {
				log.Error("SPDM responder cannot speak for this boot", "err", err)
			}
		}
		again, err := d.supervise(ctx, b, att)
		if att != nil {
			att.ClearBoot()
		}
		b.Close()
		if err != nil || !again {
			d.setState("stopped", "")
			return err
		}
	}
}

// serveRotLink starts the SPDM responder on the RoT link (nil when no
// address is configured).
func (d *Device) serveRotLink(ctx context.Context) (*attestation.Server, error) {
	if d.cfg.SPDMAddr == "" {
		return nil, nil
	}
	seal, err := attestation.SealingKey(d.uds, d.keys)
	if err != nil {
		return nil, err
	}
	att := attestation.NewServer(attestation.Config{
		SealingKey:      seal,
		Healthy:         d.Health,
		Status:          d.linkStatus,
		HeartbeatPeriod: d.cfg.HeartbeatPeriod,
		SerialLine:      d.cfg.SPDMSerial,
		Logger:          d.cfg.Log,
	})
	network, address := "tcp", d.cfg.SPDMAddr
	if p, ok := strings.CutPrefix(address, "unix:"); ok {
		network, address = "unix", p
		os.Remove(p) // a socket left by an earlier rotd; the state lock says none runs
	}
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, network, address)
	if err != nil {
		return nil, fmt.Errorf("RoT link: %w", err)
	}
	addr := l.Addr().String()
	if err := record.WriteFile(d.cfg.path(RotLinkAddr), []byte(addr+"\n"), 0o644); err != nil {
		l.Close()
		return nil, err
	}
	d.cfg.Log.Info("SPDM responder listening on the RoT link", "addr", addr)
	go func() {
		if err := att.Serve(ctx, l); err != nil {
			d.cfg.Log.Error("RoT link", "err", err)
		}
	}()
	return att, nil
}

// linkStatus answers GetStatus on the RoT link.
func (d *Device) linkStatus(context.Context) (rotlink.DeviceStatus, error) {
	st := d.Status()
	ds := rotlink.DeviceStatus{State: st.State, BoardID: st.BoardID, Slot: st.Slot, SVNFloor: st.SVNFloor, Trial: st.Probation != ""}
	for _, s := range st.Slots {
		if s.Name == st.Slot {
			ds.FirmwareVersion, ds.SVN = s.FirmwareVersion, s.SVN
		}
	}
	return ds, nil
}

// supervise releases the BMC of a verified boot and watches it. It returns
// again=true when the board must boot again (BMC reset, revert).
func (d *Device) supervise(ctx context.Context, b *Booted, att *attestation.Server) (again bool, err error) {
	log := d.cfg.Log
	released := time.Now()
	bmc, err := d.cfg.Platform.Release(ctx, b)
	if err != nil {
		return false, err
	}
	pidfile := d.cfg.path(BMCPIDFile)
	if err := supervise.WritePIDFile(pidfile, bmc.PID()); err != nil {
		bmc.Stop()
		return false, err
	}
	stop := func() {
		bmc.Stop()
		os.Remove(pidfile)
	}
	log.Info("BMC released from sealed memfds of the verified bytes",
		"slot", b.Slot, "firmware", b.Manifest.FirmwareVersion, "svn", b.Manifest.SVN, "pid", bmc.PID())
	var probation <-chan time.Time
	d.mu.Lock()
	d.status.State, d.status.BMCPID, d.status.Recovery = "running", bmc.PID(), ""
	if b.Info.State == slot.Trial {
		t := time.NewTimer(d.cfg.Probation)
		defer t.Stop()
		probation = t.C
		d.status.Probation = fmt.Sprintf("slot %s on probation for %v (boot %d of %d)", b.Slot, d.cfg.Probation, b.Info.Boots, d.cfg.MaxTrialBoots)
		log.Info("trial slot on probation", "slot", b.Slot, "probation", d.cfg.Probation, "require_health_report", d.cfg.RequireHealthReport)
	}
	d.mu.Unlock()
	// Drop health reports meant for an earlier boot.
	select {
	case <-d.healthCh:
	default:
	}
	// The link watchdog: once this BMC has spoken on the RoT link, three
	// heartbeat periods of silence mean it hangs.
	var watchdog <-chan time.Time
	silence := 3 * time.Duration(d.cfg.HeartbeatPeriod) * time.Second
	if att != nil && silence > 0 {
		t := time.NewTicker(silence / 6)
		defer t.Stop()
		watchdog = t.C
	}
	for {
		select {
		case <-bmc.Done():
			code := bmc.ExitCode()
			stop() // ended already; removes the pidfile
			if ctx.Err() != nil {
				return false, nil // rotd is stopping (a Ctrl-C reaches bmcd too)
			}
			if code == ExitBMCReset {
				log.Info("BMC reset: re-verifying before starting it again")
				return true, nil
			}
			if probation != nil {
				d.revert(b.Slot, fmt.Sprintf("bmcd exited with status %d on probation", code))
				return true, nil
			}
			log.Error("bmcd exited; the board is stopped", "status", code)
			return false, &BMCExitError{Code: code}
		case now := <-watchdog:
			last := att.LastActivity()
			if last.Before(released) || now.Sub(last) < silence {
				continue
			}
			log.Error("RoT link silent for three heartbeat periods: the BMC hangs; resetting it",
				"silent", now.Sub(last).Round(time.Second), "heartbeat", time.Duration(d.cfg.HeartbeatPeriod)*time.Second)
			stop()
			return true, nil
		case <-probation:
			probation = nil
			if d.cfg.RequireHealthReport {
				stop()
				d.revert(b.Slot, fmt.Sprintf("no health report within %v", d.cfg.Probation))
				return true, nil
			}
			log.Info("trial slot healthy: the BMC ran the whole probation without exiting", "slot", b.Slot)
			d.commitHealthy(b.Slot)
		case <-d.healthCh:
			if probation == nil {
				continue
			}
			probation = nil
			log.Info("trial slot healthy: health report received", "slot", b.Slot)
			d.commitHealthy(b.Slot)
		case <-ctx.Done():
			log.Info("stopping the BMC")
			stop()
			return false, nil
		}
	}
}

// commitHealthy commits a trial slot that proved healthy.
func (d *Device) commitHealthy(n slot.Name) {
	if err := d.commit(n); err != nil {
		d.cfg.Log.Error("committing slot", "slot", n, "err", err)
	} else {
		d.cfg.Log.Info("slot committed", "slot", n)
	}
	d.clearProbation()
}

func (d *Device) clearProbation() {
	d.mu.Lock()
	d.status.Probation = ""
	d.mu.Unlock()
}

func (d *Device) revert(n slot.Name, reason string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cfg.Log.Warn("reverting trial slot", "slot", n, "reason", reason)
	if err := d.slots.Revert(n, reason); err != nil {
		d.cfg.Log.Error("reverting slot", "slot", n, "err", err)
	}
}

// install writes and verifies a bundle into the install target slot.
func (d *Device) install(r io.Reader) (slot.Name, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	n, err := d.slots.Install(r, d.checkSlot)
	if err != nil {
		return n, err
	}
	info := d.slots.Meta().Slots[n]
	d.cfg.Log.Info("bundle verified and installed as a trial", "slot", n, "firmware", info.FirmwareVersion, "svn", info.SVN)
	select {
	case d.installCh <- struct{}{}:
	default:
	}
	return n, nil
}

// stage installs bundle unless the active slot already holds the same
// firmware (same version, SVN and component digests; the build time and
// signatures may differ).
func (d *Device) stage(path string) error {
	nm, err := unverifiedManifest(path)
	if err != nil {
		return err
	}
	d.mu.Lock()
	meta := d.slots.Meta()
	cur, curErr := unverifiedManifest(d.slots.Path(meta.Active))
	d.mu.Unlock()
	if curErr == nil && meta.Slots[meta.Active].State.Bootable() && sameFirmware(cur, nm) {
		d.cfg.Log.Info("staged bundle is the firmware the active slot holds; nothing to install", "slot", meta.Active, "bundle", path)
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = d.install(f)
	return err
}

func unverifiedManifest(path string) (*manifest.Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b, err := images.Open(f, fi.Size())
	if err != nil {
		return nil, err
	}
	return b.Unverified(), nil
}

func sameFirmware(a, b *manifest.Manifest) bool {
	return a.BoardID == b.BoardID && a.FirmwareVersion == b.FirmwareVersion && a.SVN == b.SVN &&
		slices.Equal(a.Components, b.Components)
}

// Status implements control.Handler.
func (d *Device) Status() control.Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.status
	meta := d.slots.Meta()
	st.Slots = nil
	for _, n := range []slot.Name{slot.A, slot.B} {
		i := meta.Slots[n]
		st.Slots = append(st.Slots, control.SlotStatus{
			Name: string(n), State: string(i.State), Active: meta.Active == n, Committed: meta.Committed == n,
			FirmwareVersion: i.FirmwareVersion, SVN: i.SVN, Boots: i.Boots, ManifestDigest: i.ManifestDigest, Reason: i.Reason,
		})
	}
	return st
}

// Health implements control.Handler: the running BMC reports healthy.
func (d *Device) Health(context.Context) (string, error) {
	d.mu.Lock()
	st := d.status
	d.mu.Unlock()
	if st.State != "running" {
		return "", fmt.Errorf("no BMC is running (state %s)", st.State)
	}
	if st.Probation == "" {
		return "slot " + st.Slot + " is already committed", nil
	}
	select {
	case d.healthCh <- struct{}{}:
	default:
	}
	return "health report accepted for slot " + st.Slot, nil
}

// Install implements control.Handler.
func (d *Device) Install(_ context.Context, r io.Reader, _ int64) (string, error) {
	n, err := d.install(r)
	if err != nil {
		return "", err
	}
	d.mu.Lock()
	state := d.status.State
	d.mu.Unlock()
	if state == "recovery" {
		return fmt.Sprintf("bundle verified and installed into slot %s; booting it now", n), nil
	}
	return fmt.Sprintf("bundle verified and installed into slot %s as a trial; it boots at the next BMC reset", n), nil
}
