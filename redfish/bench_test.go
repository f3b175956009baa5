package redfish_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/internal/testboard"
)

// benchClients is how many concurrent keep-alive clients the GET benchmark runs.
const benchClients = 32

// keepAliveClients makes n HTTP/1.1 clients, each with its own transport (so its own
// TLS keep-alive connection), trusting pool.
func keepAliveClients(n int, pool *x509.CertPool) []*http.Client {
	out := make([]*http.Client, n)
	for i := range out {
		out[i] = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			MaxIdleConnsPerHost: 1,
			ForceAttemptHTTP2:   false,
		}}
	}
	return out
}

// hammer runs total GETs of url with token from the clients concurrently (a shared work
// counter) and returns the elapsed time. Every response must be 200 with a body.
func hammer(b *testing.B, clients []*http.Client, url, token string, total int) time.Duration {
	b.Helper()
	var next atomic.Int64
	var failed atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest(http.MethodGet, url, nil)
			req.Header.Set("X-Auth-Token", token)
			for next.Add(1) <= int64(total) {
				resp, err := c.Do(req)
				if err != nil {
					failed.Store(err.Error())
					return
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || n == 0 {
					failed.Store(resp.Status)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if f := failed.Load(); f != nil {
		b.Fatalf("GET %s: %v", url, f)
	}
	return elapsed
}

// bareServer serves body with header on every request: a plain Go TLS server with the
// same TLS settings and certificate type (ECDSA P-384) as the board, doing no work.
func bareServer(b *testing.B, header http.Header, body []byte) (*httptest.Server, *x509.CertPool) {
	b.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bare"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		b.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	h := header.Clone()
	h.Del("Date")
	h.Del("Content-Length")
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		for k, v := range h {
			w.Header()[k] = v
		}
		w.Write(body)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	b.Cleanup(srv.Close)
	return srv, pool
}

// BenchmarkGetSystem measures GET /redfish/v1/Systems/1 with X-Auth-Token over HTTPS
// keep-alive from 32 concurrent clients against the Redfish service (ns/op), and the
// same number of requests in the same run, in alternating rounds, against a bare Go TLS server that returns the
// same bytes with the same headers (bare-ns/op). ratio = bare-ns/op ÷ ns/op, the
// service's throughput as a fraction of the bare server's (goal ≥ 0.85).
func BenchmarkGetSystem(b *testing.B) {
	tb := testboard.Start(b)
	token, _ := tb.Login(b, tb.AdminUser, tb.AdminPassword)
	const path = "/redfish/v1/Systems/1"

	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(tb.CertPEM) {
		b.Fatal("testboard CertPEM holds no certificate")
	}
	req := tb.NewRequest(b, http.MethodGet, path, nil)
	req.Header.Del("Authorization")
	req.Header.Set("X-Auth-Token", token)
	sample := tb.Do(b, req)
	if sample.StatusCode != http.StatusOK {
		b.Fatalf("GET %s: %d %s", path, sample.StatusCode, sample.Body)
	}
	bare, barePool := bareServer(b, sample.Header, sample.Body)

	svcClients := keepAliveClients(benchClients, pool)
	bareClients := keepAliveClients(benchClients, barePool)
	// Warm up: every client opens its connection (TLS handshake) before timing.
	hammer(b, svcClients, tb.URL+path, token, benchClients)
	hammer(b, bareClients, bare.URL+path, token, benchClients)

	// Alternate the two servers in rounds, and which of them goes first in a round, so
	// that drift (GC of the other's garbage, CPU frequency, other load) falls on both
	// alike; only the service's rounds count towards ns/op.
	const rounds = 8
	b.ResetTimer()
	b.StopTimer()
	var svc, bareTime time.Duration
	for r := 0; r < rounds; r++ {
		n := b.N/rounds + boolInt(r < b.N%rounds)
		if n == 0 {
			continue
		}
		runSvc := func() {
			b.StartTimer()
			svc += hammer(b, svcClients, tb.URL+path, token, n)
			b.StopTimer()
		}
		if r%2 == 0 {
			runSvc()
			bareTime += hammer(b, bareClients, bare.URL+path, token, n)
		} else {
			bareTime += hammer(b, bareClients, bare.URL+path, token, n)
			runSvc()
		}
	}

	bareNs := float64(bareTime.Nanoseconds()) / float64(b.N)
	svcNs := float64(svc.Nanoseconds()) / float64(b.N)
	b.ReportMetric(bareNs, "bare-ns/op")
	b.ReportMetric(bareNs/svcNs, "ratio")
	for _, c := range append(svcClients, bareClients...) {
		c.CloseIdleConnections()
	}
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}
