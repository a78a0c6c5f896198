package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// selfSigned makes a certificate for 127.0.0.1 with the given serial and
// writes it and its key to dir/cert.pem and dir/key.pem.
func selfSigned(t *testing.T, dir string, serial int64) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "herald test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	// Written to temporary names and renamed, as a certificate renewal
	// does, so the server never reads half a file.
	write := func(name, typ string, b []byte) {
		tmp := filepath.Join(dir, name+".tmp")
		if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	write("key.pem", "PRIVATE KEY", keyDER)
	write("cert.pem", "CERTIFICATE", der)
	cert, _ := x509.ParseCertificate(der)
	return cert
}

// servedSerial makes a new TLS connection and returns the serial of the
// certificate the server presents.
func servedSerial(t *testing.T, addr string) int64 {
	t.Helper()
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: waitTimeout}, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("TLS dial: %v", err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// TestServeTLSReloadsOnSIGHUP: serve terminates TLS with the configured
// certificate, and a SIGHUP after the files changed serves the new one to
// new connections while a WebSocket opened before keeps working.
func TestServeTLSReloadsOnSIGHUP(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := selfSigned(t, dir, 1)
	addr := freeAddr(t)
	p := startHerald(t, []string{"HERALD_SHUTDOWN_DRAIN=100ms"}, "serve", "--dev", "--api-key", testAPIKey, "--listen", addr,
		"--tls-cert", filepath.Join(dir, "cert.pem"), "--tls-key", filepath.Join(dir, "key.pem"))
	p.waitFor(t, p.stderr, "serving over TLS", func(s string) bool { return strings.Contains(s, "wss://"+addr) })

	pool := x509.NewCertPool()
	pool.AddCert(first)
	client := &http.Client{Timeout: waitTimeout, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	res, err := client.Get("https://" + addr + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz over TLS: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz over TLS: HTTP %d", res.StatusCode)
	}
	// Plain HTTP on the TLS port gets nowhere.
	if res, err := (&http.Client{Timeout: waitTimeout}).Get("http://" + addr + "/healthz"); err == nil {
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP was served on the TLS port")
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "wss://"+addr+"/connection/websocket", &websocket.DialOptions{HTTPClient: client})
	if err != nil {
		t.Fatalf("wss dial: %v", err)
	}
	defer ws.CloseNow()
	call := func(id int, cmd string) string {
		t.Helper()
		if err := ws.Write(ctx, websocket.MessageText, []byte(`{"id":`+strconv.Itoa(id)+`,`+cmd+`}`)); err != nil {
			t.Fatalf("write over the old connection: %v", err)
		}
		for {
			_, b, err := ws.Read(ctx)
			if err != nil {
				t.Fatalf("read over the old connection: %v", err)
			}
			if strings.Contains(string(b), `"id":`+strconv.Itoa(id)+`,`) {
				return string(b)
			}
		}
	}
	if r := call(1, `"connect":{}`); !strings.Contains(r, `"connect"`) {
		t.Fatalf("connect over wss: %s", r)
	}

	selfSigned(t, dir, 2)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitFor(t, p.stderr, "the reload logged", func(s string) bool { return strings.Contains(s, "TLS certificate reloaded") })
	if got := servedSerial(t, addr); got != 2 {
		t.Fatalf("after SIGHUP a new connection got certificate %d, want 2", got)
	}
	if r := call(2, `"rpc":{"method":"echo","data":"still here"}`); !strings.Contains(r, "still here") {
		t.Fatalf("the WebSocket opened before the reload: %s", r)
	}

	// A broken file on SIGHUP keeps the certificate that works.
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	p.waitFor(t, p.stderr, "the failed reload logged", func(s string) bool { return strings.Contains(s, "TLS certificate not reloaded") })
	if got := servedSerial(t, addr); got != 2 {
		t.Fatalf("after a failed reload the server presents certificate %d, want 2 still", got)
	}
}

// TestServeTLSBadFiles: a missing key file is a startup error that names
// the settings, not a server that cannot complete a handshake.
func TestServeTLSBadFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	selfSigned(t, dir, 1)
	_, stderr, code := runHerald(t, nil, "", "serve", "--listen", freeAddr(t), "--dev",
		"--tls-cert", filepath.Join(dir, "cert.pem"), "--tls-key", filepath.Join(dir, "missing.pem"))
	if code == 0 || !strings.Contains(stderr, "--tls-key") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	_, stderr, code = runHerald(t, nil, "", "serve", "--listen", freeAddr(t), "--tls-cert", filepath.Join(dir, "cert.pem"))
	if code != 2 || !strings.Contains(stderr, "key_file") {
		t.Fatalf("cert without key: exit %d, stderr:\n%s", code, stderr)
	}
}
