package deploy_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// startNginx runs nginx in the foreground, as the current user, with the
// shipped deploy/nginx/upstream.conf (the nodes replaced by upstreams) and
// herald.conf.
func startNginx(t *testing.T, upstreams []string, readTimeout string) string {
	t.Helper()
	return startNginxWith(t, upstreams, readTimeout, nil)
}

// startNginxWith is startNginx with more config: extra(dir), given the
// nginx directory, returns lines for the http block and the server block.
func startNginxWith(t *testing.T, upstreams []string, readTimeout string, extra func(dir string) (httpConf, serverConf string)) string {
	t.Helper()
	bin := need(t, "nginx")
	dir := t.TempDir()
	snippet, err := os.ReadFile("nginx/herald.conf")
	if err != nil {
		t.Fatal(err)
	}
	// The test shortens the read timeout so that the idle test is quick;
	// everything else is the shipped config.
	conf := strings.ReplaceAll(string(snippet), "proxy_read_timeout 60s;", "proxy_read_timeout "+readTimeout+";")
	if err := os.WriteFile(filepath.Join(dir, "herald.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	upstream, err := os.ReadFile("nginx/upstream.conf")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "upstream.conf"), []byte(withServers(t, string(upstream), upstreams)), 0o644); err != nil {
		t.Fatal(err)
	}
	var httpConf, serverConf string
	if extra != nil {
		httpConf, serverConf = extra(dir)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	main := fmt.Sprintf(`daemon off;
master_process off;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  include %[1]s/upstream.conf;
%[3]s
  server {
    listen %[2]s;
    include %[1]s/herald.conf;
%[4]s
  }
}
`, dir, addr, httpConf, serverConf)
	confPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(confPath, []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	runDaemon(t, "nginx", filepath.Join(dir, "error.log"), bin, "-c", confPath, "-p", dir, "-e", filepath.Join(dir, "error.log"))
	waitHTTP(t, "http://"+addr+"/healthz")
	return addr
}

// Through nginx, a client subscribes and receives what the backend
// publishes through the same proxy, and a browser-style same-origin
// handshake passes Herald's Origin check.
func TestNginxProxiesWebSocketAndAPI(t *testing.T) {
	herald := startHerald(t)
	proxy := startNginx(t, []string{herald}, "60s")
	checkProxied(t, proxy, "nginx")

	// Metrics are for the inside, not the proxy's public side.
	res, err := http.Get("http://" + proxy + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /metrics through nginx: %d, want 404", res.StatusCode)
	}
}

// nginx cuts a proxied connection that stays silent for proxy_read_timeout.
// Herald's pings (and the client's pongs) keep a healthy, otherwise idle
// connection from ever being that silent.
func TestNginxIdleTimeoutDoesNotCutHealthyConnection(t *testing.T) {
	herald := startHerald(t, "HERALD_CLIENT_PING_INTERVAL=1s", "HERALD_CLIENT_PONG_TIMEOUT=1s")
	proxy := startNginx(t, []string{herald}, "3s")
	checkIdleSurvives(t, proxy, herald)
}
