package uroot

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ModulesDir is where the modules cpio puts the modules in the guest (bmc/guest loads
// them from there, in name order).
const ModulesDir = "lib/ironroot/modules"

// Q35Modules are the modules of Debian's cloud-amd64 kernel that the QEMU q35 board
// needs, in load (dependency) order: virtio-net, virtio-blk (state disk), virtio-rng and
// softdog (the cloud kernel has no i6300esb/iTCO driver). The serial ports, ext4 and
// the TPM TIS driver are built in.
func Q35Modules() []string {
	return []string{
		"drivers/virtio/virtio_ring", "drivers/virtio/virtio",
		"drivers/virtio/virtio_pci_modern_dev", "drivers/virtio/virtio_pci_legacy_dev",
		"drivers/virtio/virtio_pci",
		"net/core/failover", "drivers/net/net_failover", "drivers/net/virtio_net",
		"drivers/block/virtio_blk",
		"drivers/char/hw_random/virtio-rng",
		"drivers/watchdog/watchdog", "drivers/watchdog/softdog",
	}
}

// AST2600Modules are the modules of Debian's armmp kernel that the QEMU ast2600-evb board
// needs, in load order: the ftgmac100 NIC with its MDIO bus and RTL8211E PHY, and the
// aspeed RTC. The UARTs and the aspeed watchdog are built in; the board has no disk.
func AST2600Modules() []string {
	return []string{
		"drivers/net/phy/libphy", "drivers/net/phy/fixed_phy", "drivers/net/mdio/fwnode_mdio",
		"drivers/net/mdio/of_mdio", "drivers/net/phy/mdio_devres", "drivers/net/mdio/mdio-aspeed",
		"drivers/net/phy/realtek", "drivers/net/ethernet/faraday/ftgmac100",
		"drivers/rtc/rtc-aspeed",
	}
}

// KernelRelease reads the ABI (uname -r) from a fetched kernel's VERSION file.
func KernelRelease(kernelDir string) (string, error) {
	f, err := os.Open(filepath.Join(kernelDir, "VERSION"))
	if err != nil {
		return "", fmt.Errorf("kernel release: %w", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "abi="); ok {
			return v, nil
		}
	}
	return "", fmt.Errorf("kernel release: no abi= in %s/VERSION", kernelDir)
}

// WriteModules writes the modules cpio: modules (paths under the kernel's
// lib/modules/<release>/kernel/, without ".ko") as ModulesDir/NN-name.ko, NN giving the
// load order. The archive is deterministic (owner 0, mtime 0).
func WriteModules(w io.Writer, kernelDir string, modules []string) error {
	rel, err := KernelRelease(kernelDir)
	if err != nil {
		return err
	}
	base := filepath.Join(kernelDir, "root", "lib", "modules", rel, "kernel")
	cw := newcWriter{w: w}
	dirs := []string{"lib", "lib/ironroot", ModulesDir}
	for _, d := range dirs {
		if err := cw.dir(d); err != nil {
			return err
		}
	}
	for i, m := range modules {
		data, err := os.ReadFile(filepath.Join(base, m+".ko"))
		if err != nil {
			return fmt.Errorf("modules cpio: %w", err)
		}
		name := fmt.Sprintf("%s/%02d-%s.ko", ModulesDir, 10+i, filepath.Base(m))
		if err := cw.file(name, data); err != nil {
			return err
		}
	}
	return cw.close()
}

// newcWriter writes a cpio archive in the "newc" (070701) format the kernel unpacks.
type newcWriter struct {
	w   io.Writer
	ino uint32
	off int64
}

func (c *newcWriter) header(name string, mode uint32, size int64) error {
	c.ino++
	hdr := fmt.Sprintf("070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		c.ino, mode, 0, 0, 1, 0, size, 0, 0, 0, 0, len(name)+1, 0)
	if err := c.write([]byte(hdr + name + "\x00")); err != nil {
		return err
	}
	return c.pad()
}

func (c *newcWriter) dir(name string) error { return c.header(name, 0o040755, 0) }

func (c *newcWriter) file(name string, data []byte) error {
	if err := c.header(name, 0o100644, int64(len(data))); err != nil {
		return err
	}
	if err := c.write(data); err != nil {
		return err
	}
	return c.pad()
}

func (c *newcWriter) close() error {
	if err := c.header("TRAILER!!!", 0, 0); err != nil {
		return err
	}
	return nil
}

func (c *newcWriter) write(p []byte) error {
	n, err := c.w.Write(p)
	c.off += int64(n)
	if err != nil {
		return fmt.Errorf("modules cpio: %w", err)
	}
	return nil
}

func (c *newcWriter) pad() error {
	if r := c.off % 4; r != 0 {
		return c.write(make([]byte, 4-r))
	}
	return nil
}

// Modules writes (or reuses) the modules cpio of a fetched kernel under
// BuildDir/image, keyed by the kernel's VERSION file and the module list.
func (b Builder) Modules(kernelDir string, modules []string) (string, error) {
	version, err := os.ReadFile(filepath.Join(kernelDir, "VERSION"))
	if err != nil {
		return "", fmt.Errorf("modules cpio: %w", err)
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n", version, strings.Join(modules, "\n"))
	dir := filepath.Join(b.BuildDir, "image")
	out := filepath.Join(dir, fmt.Sprintf("modules-%s.cpio", hex.EncodeToString(h.Sum(nil))[:16]))
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("modules cpio: %w", err)
	}
	f, err := os.Create(out + ".tmp")
	if err != nil {
		return "", fmt.Errorf("modules cpio: %w", err)
	}
	err = WriteModules(f, kernelDir, modules)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(out+".tmp", out)
	}
	if err != nil {
		os.Remove(out + ".tmp")
		return "", fmt.Errorf("modules cpio: %w", err)
	}
	return out, nil
}

// FileArchiveHeader is the start of a newc archive holding one read-only file of size
// bytes at name (parent directories first). The file's bytes follow it, then
// FileArchiveTrailer(size): a launcher wraps a verified component this way to put it into
// the initrd without copying it through a temporary file.
func FileArchiveHeader(name string, size int64) ([]byte, error) {
	var buf bytes.Buffer
	cw := newcWriter{w: &buf}
	parts := strings.Split(name, "/")
	for i := 1; i < len(parts); i++ {
		if err := cw.dir(strings.Join(parts[:i], "/")); err != nil {
			return nil, err
		}
	}
	if err := cw.header(name, 0o100444, size); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// FileArchiveTrailer ends the archive FileArchiveHeader started, after size bytes.
func FileArchiveTrailer(size int64) []byte {
	var buf bytes.Buffer
	buf.Write(make([]byte, (4-size%4)%4))
	cw := newcWriter{w: &buf}
	_ = cw.close() // a bytes.Buffer does not fail
	return buf.Bytes()
}
