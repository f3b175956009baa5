// Command barehttps is the baseline of BenchmarkBMCDRSS: the least a Go HTTPS server
// with bmcd's kind of TLS identity can be. It serves one fixed JSON document to every GET,
// over TLS 1.2+, on the listening socket it inherits as fd 3, with the certificate and
// key in the PEM files its -cert and -key flags name. It uses the standard library only.
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	certFile := flag.String("cert", "", "certificate (PEM)")
	keyFile := flag.String("key", "", "private key (PEM)")
	flag.Parse()
	if err := serve(*certFile, *keyFile); err != nil {
		fmt.Fprintln(os.Stderr, "barehttps:", err)
		os.Exit(1)
	}
}

func serve(certFile, keyFile string) error {
	ln, err := net.FileListener(os.NewFile(3, "listener"))
	if err != nil {
		return fmt.Errorf("listener on fd 3: %w", err)
	}
	body := []byte(`{"@odata.id":"/redfish/v1/Systems/1","Id":"1","Name":"System","PowerState":"Off"}`)
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write(body)
		}),
		TLSConfig:         &tls.Config{MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
	}
	return srv.ServeTLS(ln, certFile, keyFile)
}
