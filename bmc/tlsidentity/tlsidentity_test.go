package tlsidentity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
)

func TestFirstBootCreatesP384CertificateThatPersists(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	id, err := LoadOrCreate(dir, Options{CommonName: "test-board"})
	if err != nil {
		t.Fatal(err)
	}
	if id.Leaf.Version != 3 {
		t.Errorf("certificate version %d, want X.509 v3", id.Leaf.Version)
	}
	pub, ok := id.Leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P384() {
		t.Fatalf("public key %T, want ECDSA P-384", id.Leaf.PublicKey)
	}
	if id.Leaf.SignatureAlgorithm != x509.ECDSAWithSHA384 {
		t.Errorf("signature algorithm %v, want ECDSA-SHA384", id.Leaf.SignatureAlgorithm)
	}
	if err := id.Leaf.VerifyHostname("127.0.0.1"); err != nil {
		t.Errorf("certificate does not name 127.0.0.1: %v", err)
	}
	st, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", st.Mode().Perm())
	}

	again, err := LoadOrCreate(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Leaf.Equal(id.Leaf) {
		t.Error("second boot generated a new certificate; want the persisted one")
	}
}

func TestIncompleteIdentityIsAnError(t *testing.T) {
	dir := t.TempDir()
	if _, err := LoadOrCreate(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, CertFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(dir, Options{}); err == nil {
		t.Fatal("a key without its certificate was accepted; want an error")
	}
}

func TestMismatchedKeyIsRefused(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if _, err := LoadOrCreate(a, Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(b, Options{}); err != nil {
		t.Fatal(err)
	}
	key, err := os.ReadFile(filepath.Join(b, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(a, KeyFile), key, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(a, Options{}); err == nil {
		t.Fatal("a key that does not match the certificate was accepted")
	}
}

func TestServerConfigRefusesOldTLSAndServesThroughSigner(t *testing.T) {
	id, err := LoadOrCreate(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", id.ServerConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	dial := func(cfg *tls.Config) error {
		c, err := tls.DialWithDialer(&net.Dialer{}, "tcp", ln.Addr().String(), cfg)
		if err != nil {
			return err
		}
		return c.Close()
	}
	if err := dial(&tls.Config{RootCAs: id.CertPool(), ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}); err != nil {
		t.Fatalf("TLS 1.2+ handshake against the pinned certificate: %v", err)
	}
	err = dial(&tls.Config{RootCAs: id.CertPool(), ServerName: "127.0.0.1", MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11})
	if err == nil {
		t.Fatal("TLS 1.1 handshake succeeded; want it refused")
	}
	ln.Close()
	<-done
}

func TestOnlyTLSClosesPlainHTTPWithoutAnswer(t *testing.T) {
	id, err := LoadOrCreate(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := tls.NewListener(OnlyTLS(inner), id.ServerConfig())
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if err := c.(*tls.Conn).Handshake(); err != nil {
					return
				}
				_, _ = c.Write([]byte("hello over TLS"))
			}()
		}
	}()

	plain, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := plain.Write([]byte("GET /redfish/v1 HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(plain)
	if len(got) != 0 {
		t.Fatalf("plain HTTP got %q back; want the connection closed without an answer", got)
	}

	c, err := tls.Dial("tcp", inner.Addr().String(), &tls.Config{RootCAs: id.CertPool(), ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("TLS through the filter: %v", err)
	}
	defer c.Close()
	b, err := io.ReadAll(c)
	if err != nil || string(b) != "hello over TLS" {
		t.Fatalf("TLS through the filter read %q, %v", b, err)
	}
}
