// Package supervise owns the BMC as rotd's supervised child: the sealed
// memory files (memfds) holding exactly the verified bytes of a component,
// starting the BMC from one of them (/proc/self/fd/3 of the child, so no
// file on disk is ever executed or re-read after verification), waiting for
// its exit (a BMC reset), stopping it, and the pidfile through which a
// restarted rotd ends a BMC left over from an earlier run.
//
// It does not decide what may run: rotd hands it an image only after every
// check passed.
package supervise

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// Memfd is a memory file being filled with a component's bytes. Nothing
// written to it may be used before Seal, and Seal only after the bytes
// verified.
type Memfd struct {
	name string
	f    *os.File
	size int64
}

// NewMemfd creates an empty, sealable memory file.
func NewMemfd(name string) (*Memfd, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("creating memfd %s: %w", name, err)
	}
	return &Memfd{name: name, f: os.NewFile(uintptr(fd), "memfd:"+name)}, nil
}

// Write implements io.Writer.
func (m *Memfd) Write(p []byte) (int, error) {
	n, err := m.f.Write(p)
	m.size += int64(n)
	return n, err
}

// Close discards the memory file.
func (m *Memfd) Close() error { return m.f.Close() }

// Seal makes the contents immutable (no write, grow or shrink, and no
// further seal changes), reopens it read-only and closes the writable
// descriptor, so the image can be executed and nobody can change it.
func (m *Memfd) Seal() (*Image, error) {
	seals := unix.F_SEAL_WRITE | unix.F_SEAL_GROW | unix.F_SEAL_SHRINK | unix.F_SEAL_SEAL
	if _, err := unix.FcntlInt(m.f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		m.f.Close()
		return nil, fmt.Errorf("sealing memfd %s: %w", m.name, err)
	}
	ro, err := os.Open(fmt.Sprintf("/proc/self/fd/%d", m.f.Fd()))
	m.f.Close()
	if err != nil {
		return nil, fmt.Errorf("reopening sealed memfd %s: %w", m.name, err)
	}
	got, err := unix.FcntlInt(ro.Fd(), unix.F_GET_SEALS, 0)
	if err != nil || got&seals != seals {
		ro.Close()
		return nil, fmt.Errorf("sealed memfd %s: seals %#x, want %#x: %v", m.name, got, seals, err)
	}
	return &Image{Name: m.name, Size: m.size, f: ro}, nil
}

// Seal copies everything r yields into a new memory file and seals it: for images
// assembled from other sealed images, or from bytes the caller verified.
func Seal(name string, r io.Reader) (*Image, error) {
	m, err := NewMemfd(name)
	if err != nil {
		return nil, err
	}
	if _, err := io.Copy(m, r); err != nil {
		m.Close()
		return nil, fmt.Errorf("filling memfd %s: %w", name, err)
	}
	return m.Seal()
}

// Image is a sealed, read-only memory file with a verified component.
type Image struct {
	Name string
	Size int64
	f    *os.File
}

// File is the image's read-only descriptor (to hand to a child).
func (i *Image) File() *os.File { return i.f }

// ReadAll returns the image's bytes (tests, and components rotd itself
// consumes).
func (i *Image) ReadAll() ([]byte, error) {
	b := make([]byte, i.Size)
	if _, err := i.f.ReadAt(b, 0); err != nil && int64(len(b)) != i.Size {
		return nil, fmt.Errorf("reading image %s: %w", i.Name, err)
	}
	return b, nil
}

// Reader reads the image from its start (each call is independent).
func (i *Image) Reader() io.Reader { return io.NewSectionReader(i.f, 0, i.Size) }

// Close releases the image.
func (i *Image) Close() error { return i.f.Close() }
