package images

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/images/manifest"
)

// writeRandomFile writes size pseudo-random bytes (ChaCha8, fixed seed).
func writeRandomFile(tb testing.TB, path string, size int64, seed byte) {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	rng := rand.NewChaCha8([32]byte{seed})
	if _, err := io.CopyN(f, rng, size); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkVerifyAndMeasure64MiB verifies and measures a 64 MiB bundle
// from a file (the path rotd takes: VerifyAndCopy, one read and one
// SHA-384 per component), and in the same run times `openssl dgst
// -sha384` computing the same set of component digests over the same
// bytes. Runs alternate (ours, openssl, ours, ...) so that load from other
// processes hits both alike. Reported: ours-MB/s, openssl-MB/s and their
// ratio (goal >= 0.85).
func BenchmarkVerifyAndMeasure64MiB(b *testing.B) {
	opensslPath, err := exec.LookPath("openssl")
	if err != nil {
		b.Fatalf("openssl not found (%v): this benchmark compares against `openssl dgst -sha384`; install it (Debian: apt-get install openssl)", err)
	}
	dir := b.TempDir()
	v := newTestVendor(b)
	const total = 64 << 20
	parts := []struct {
		name string
		size int64
	}{
		{manifest.ComponentBMCKernel, 12 << 20},
		{manifest.ComponentBMCInitramfs, 40 << 20},
		{manifest.ComponentBMCConfig, 64 << 10},
	}
	parts = append(parts, struct {
		name string
		size int64
	}{manifest.ComponentBMCD, total - HeaderSize - 6<<10 - (12<<20 + 40<<20 + 64<<10)})

	var sources []ComponentSource
	var paths []string
	for i, p := range parts {
		path := filepath.Join(dir, p.name)
		writeRandomFile(b, path, p.size, byte(i+1))
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		sources = append(sources, ComponentSource{Name: p.name, Version: "1", Content: f, Size: p.size})
		paths = append(paths, path)
	}
	bundlePath := filepath.Join(dir, "fw.bundle")
	out, err := os.Create(bundlePath)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriterSize(out, 1<<20)
	m, err := Build(w, testMeta(), sources, v.signers)
	if err != nil {
		b.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	out.Close()
	fi, _ := os.Stat(bundlePath)
	bundleSize := fi.Size()
	componentBytes := int64(m.TotalSize())

	// cost is one run's wall time and CPU time (user + system).
	type cost struct{ wall, cpu time.Duration }
	ours := func() cost {
		before := selfCPU(b)
		start := time.Now()
		f, err := os.Open(bundlePath)
		if err != nil {
			b.Fatal(err)
		}
		defer f.Close()
		bd, err := Open(f, bundleSize)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := bd.VerifyAndCopy(v.keys, testPolicy(), func(manifest.Component) (io.Writer, error) { return io.Discard, nil }); err != nil {
			b.Fatal(err)
		}
		return cost{wall: time.Since(start), cpu: selfCPU(b) - before}
	}
	openssl := func() cost {
		start := time.Now()
		cmd := exec.Command(opensslPath, append([]string{"dgst", "-sha384", "-r"}, paths...)...)
		outBytes, err := cmd.Output()
		wall := time.Since(start)
		if err != nil {
			b.Fatalf("openssl dgst: %v", err)
		}
		// Same set of digests: openssl's must equal the signed ones.
		lines := strings.Split(strings.TrimSpace(string(outBytes)), "\n")
		if len(lines) != len(m.Components) {
			b.Fatalf("openssl printed %d digests, want %d", len(lines), len(m.Components))
		}
		for i, line := range lines {
			got, _ := hex.DecodeString(strings.Fields(line)[0])
			if !bytes.Equal(got, m.Components[i].SHA384[:]) {
				b.Fatalf("openssl digest of %s differs from the manifest", m.Components[i].Name)
			}
		}
		return cost{wall: wall, cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}
	}
	// Warm the page cache and both code paths.
	ours()
	openssl()

	// The machine may be shared: runs alternate so load hits both alike,
	// and the headline ratio uses CPU time (what each spends hashing,
	// independent of how long it waited for a core). Wall-time figures use
	// the best run of each.
	var oursCPU, opensslCPU time.Duration
	bestOurs, bestOpenssl := time.Duration(1<<62), time.Duration(1<<62)
	b.SetBytes(bundleSize)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		o := ours()
		b.StopTimer()
		s := openssl()
		b.StartTimer()
		oursCPU += o.cpu
		opensslCPU += s.cpu
		bestOurs = min(bestOurs, o.wall)
		bestOpenssl = min(bestOpenssl, s.wall)
	}
	b.StopTimer()
	mbps := func(n int64, d time.Duration) float64 { return float64(n) / d.Seconds() / 1e6 }
	n := int64(b.N)
	oursCPUMBps := mbps(bundleSize*n, oursCPU)
	opensslCPUMBps := mbps(componentBytes*n, opensslCPU)
	oursWallMBps := mbps(bundleSize, bestOurs)
	opensslWallMBps := mbps(componentBytes, bestOpenssl)
	b.ReportMetric(oursCPUMBps, "ours-cpu-MB/s")
	b.ReportMetric(opensslCPUMBps, "openssl-cpu-MB/s")
	b.ReportMetric(oursCPUMBps/opensslCPUMBps, "ratio-cpu")
	b.ReportMetric(oursWallMBps/opensslWallMBps, "ratio-best-wall")
	if testing.Verbose() {
		b.Logf("bundle %d bytes (%d component bytes in %d components), N=%d: CPU time: ours %.1f MB/s, openssl %.1f MB/s, ratio %.3f; best wall: ours %.1f MB/s (%v), openssl %.1f MB/s (%v), ratio %.3f",
			bundleSize, componentBytes, len(m.Components), b.N, oursCPUMBps, opensslCPUMBps, oursCPUMBps/opensslCPUMBps,
			oursWallMBps, bestOurs, opensslWallMBps, bestOpenssl, oursWallMBps/opensslWallMBps)
	}
}

// selfCPU is the CPU time (user + system) this process has used.
func selfCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
