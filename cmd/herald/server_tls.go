package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// certReloader serves the certificate in tls.cert_file and tls.key_file,
// read again on reload: new handshakes get the new one, connections
// already open keep theirs.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	mu                sync.RWMutex
	cert              *tls.Certificate
}

func newCertReloader(c TLSConfig, log *slog.Logger) (*certReloader, error) {
	r := &certReloader{certFile: c.CertFile, keyFile: c.KeyFile, log: log}
	cert, err := r.read()
	if err != nil {
		return nil, err
	}
	r.cert = cert
	return r, nil
}

func (r *certReloader) read() (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return nil, fmt.Errorf("tls: load certificate %s and key %s: %w (set them with --tls-cert/--tls-key or tls.cert_file/tls.key_file)", r.certFile, r.keyFile, err)
	}
	if cert.Leaf == nil {
		cert.Leaf, _ = x509.ParseCertificate(cert.Certificate[0])
	}
	return &cert, nil
}

// reload re-reads the files; a broken pair keeps the current certificate,
// so a SIGHUP in the middle of a renewal cannot take the server down.
func (r *certReloader) reload() {
	cert, err := r.read()
	if err != nil {
		r.log.Error("TLS certificate not reloaded, still serving the previous one", "err", err)
		return
	}
	r.mu.Lock()
	r.cert = cert
	r.mu.Unlock()
	r.log.Info("TLS certificate reloaded", certAttrs(cert)...)
}

func (r *certReloader) getCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.cert, nil
}

func (r *certReloader) config() *tls.Config {
	return &tls.Config{GetCertificate: r.getCertificate, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
}

func certAttrs(c *tls.Certificate) []any {
	if c.Leaf == nil {
		return nil
	}
	return []any{"subject", c.Leaf.Subject.String(), "serial", c.Leaf.SerialNumber.String(), "not_after", c.Leaf.NotAfter}
}

// watchReload reloads the certificate on every SIGHUP until stop is called.
func (r *certReloader) watchReload() (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		for {
			select {
			case <-hup:
				r.reload()
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
		<-finished
	}
}

// wrapTLS makes ln serve TLS when a certificate is configured, reloaded on
// SIGHUP until the returned stop; it returns the URL schemes to log.
func (s *server) wrapTLS(ln net.Listener) (l net.Listener, httpScheme, wsScheme string, stop func()) {
	if s.tls == nil {
		return ln, "http", "ws", func() {}
	}
	s.log.Info("serving TLS", append([]any{"cert_file", s.cfg.TLS.CertFile}, certAttrs(s.tls.cert)...)...)
	return tls.NewListener(ln, s.tls.config()), "https", "wss", s.tls.watchReload()
}
