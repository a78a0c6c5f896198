package deploy_test

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The systemd unit passes systemd-analyze verify: every key known and
// every value parsed, with the binary path pointed at the test's build.
// (Running it under systemd needs a booted systemd, which tests lack.)
func TestSystemdUnitVerifies(t *testing.T) {
	bin := need(t, "systemd-analyze")
	unit, err := os.ReadFile("systemd/herald.service")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "ExecStart=/usr/local/bin/herald serve ") {
		t.Fatal("the unit does not start /usr/local/bin/herald serve")
	}
	path := filepath.Join(t.TempDir(), "herald.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(unit), "/usr/local/bin/herald", heraldBin)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "verify", path).CombinedOutput()
	// verify reports problems of other units on the machine too; only
	// lines naming this one count.
	var ours []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, path) {
			ours = append(ours, l)
		}
	}
	if err != nil || len(ours) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, strings.Join(ours, "\n"))
	}
}

// Docker cannot run in the tests, so the container file is checked by
// hand: its build step, run as written, gives a static binary (the final
// image is scratch, with no libc), and that binary serves with the
// image's environment and entrypoint.
func TestContainerfileBuildStep(t *testing.T) {
	t.Parallel() // a cold build of its own flags takes a minute: overlap it
	cf, err := os.ReadFile("container/Containerfile")
	if err != nil {
		t.Fatal(err)
	}
	build := regexp.MustCompile(`(?m)^RUN (CGO_ENABLED=0 go build .*) -o /out/herald (\./cmd/herald)$`).FindStringSubmatch(string(cf))
	if build == nil {
		t.Fatal("no `RUN CGO_ENABLED=0 go build ... -o /out/herald ./cmd/herald` line in the Containerfile")
	}
	for _, want := range []string{"FROM scratch", "COPY --from=build /out/herald /herald", "ENV HERALD_LISTEN=0.0.0.0:8000", `ENTRYPOINT ["/herald", "serve"]`} {
		if !strings.Contains(string(cf), want) {
			t.Errorf("the Containerfile lacks %q", want)
		}
	}
	out := filepath.Join(t.TempDir(), "herald")
	cmd := exec.Command("sh", "-c", strings.ReplaceAll(build[1], "${VERSION}", "test")+" -o "+out+" "+build[2])
	cmd.Dir = ".."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, b)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Fatal("the binary needs a dynamic loader; the scratch image has none")
		}
	}
	v, err := exec.Command(out, "version").Output()
	if err != nil || strings.TrimSpace(string(v)) != "herald test" {
		t.Fatalf("herald version: %q, %v; want the version the build arg set", v, err)
	}
}
