package testboard

import (
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"strings"
	"testing"
)

func TestStart(t *testing.T) {
	tb := Start(t)
	if !strings.HasPrefix(tb.URL, "https://127.0.0.1:") || strings.HasSuffix(tb.URL, "/") {
		t.Fatalf("URL = %q", tb.URL)
	}
	resp := tb.Do(t, tb.NewRequest(t, http.MethodGet, "/redfish/v1/AccountService", nil))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("admin GET: %d %s", resp.StatusCode, resp.Body)
	}
	admin, err := tb.Board.Accounts.ByName(tb.AdminUser)
	if err != nil || admin.PasswordChangeRequired || tb.AdminPassword != AdminPassword {
		t.Fatalf("admin = %+v, %v", admin, err)
	}
	block, _ := pem.Decode(tb.CertPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil || cert.PublicKeyAlgorithm != x509.ECDSA {
		t.Fatalf("certificate: %v", err)
	}
	token, loc := tb.Login(t, tb.AdminUser, tb.AdminPassword)
	if token == "" || loc == "" {
		t.Fatal("Login")
	}
	if !tb.Clock.Now().Equal(Epoch) {
		t.Fatalf("clock at %v", tb.Clock.Now())
	}
}

func TestStartFirstBoot(t *testing.T) {
	tb := Start(t, FirstBoot())
	admin, err := tb.Board.Accounts.ByName(tb.AdminUser)
	if err != nil || !admin.PasswordChangeRequired || tb.AdminPassword == AdminPassword {
		t.Fatalf("first boot admin = %+v, %v", admin, err)
	}
}
