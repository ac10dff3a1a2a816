// Package scripts_test tests the shell scripts in scripts/ by running them
// against fake system commands: a fake apt-get that records how it was
// called and "installs" fake programs, and a fake id that says who runs.
package scripts_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A test binary started with fakeServiceEnv set is a fake service: it
// listens on that port until killed, as a package's daemon would.
const fakeServiceEnv = "MAPGUARD_FAKE_SERVICE_PORT"

func TestMain(m *testing.M) {
	if port := os.Getenv(fakeServiceEnv); port != "" {
		l, err := net.Listen("tcp", "127.0.0.1:"+port)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer l.Close()
		if err := os.WriteFile(os.Getenv("FAKE_BIN")+"/service.ready", nil, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		time.Sleep(time.Minute)
		return
	}
	os.Exit(m.Run())
}

// fakeAptGet records each call (who ran it, DEBIAN_FRONTEND, whether the
// policy-rc.d forbade services, the arguments) and, for install, creates
// an executable for each program the packages provide. With FAKE_SERVICE
// set, installing starts it in the background, as a package that starts
// its daemon would.
const fakeAptGet = `#!/bin/bash
echo "uid=$(id -u) frontend=$DEBIAN_FRONTEND policy=$([ -x "$POLICY_RC_D" ] && echo forbids || echo none) $*" >> "$APT_LOG"
if [ "$1" = install ]; then
	for p in "$@"; do
		case $p in
		gcc) progs=gcc ;;
		prometheus) progs="promtool prometheus" ;;
		chromium) progs=chromium ;;
		qemu-user) progs="qemu-aarch64 qemu-i386" ;;
		*) progs= ;;
		esac
		for prog in $progs; do printf '#!/bin/sh\n' > "$FAKE_BIN/$prog"; chmod 755 "$FAKE_BIN/$prog"; done
	done
	if [ -n "${FAKE_SERVICE:-}" ]; then
		"$FAKE_SERVICE" </dev/null >/dev/null 2>&1 &
		echo $! > "$FAKE_BIN/service.pid"
		for _ in $(seq 100); do [ -e "$FAKE_BIN/service.ready" ] && break; sleep 0.1; done
	fi
fi
`

type fakeMachine struct {
	bin, aptLog, policy string
	env                 []string
}

// newFakeMachine makes a PATH holding only the shell tools the script
// uses, fake id (printing uid) and apt-get, and, if sudo is set, a sudo
// that runs its arguments as uid 0; the programs in have exist already.
func newFakeMachine(t *testing.T, uid int, sudo bool, have ...string) *fakeMachine {
	t.Helper()
	dir := t.TempDir()
	f := &fakeMachine{bin: filepath.Join(dir, "bin"), aptLog: filepath.Join(dir, "apt.log"), policy: filepath.Join(dir, "policy-rc.d")}
	if err := os.Mkdir(f.bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tool := range []string{"bash", "awk", "cat", "tee", "chmod", "rm", "env", "grep", "sleep", "seq"} {
		path, err := exec.LookPath(tool)
		if err != nil {
			t.Skipf("%s not found: %v", tool, err)
		}
		if err := os.Symlink(path, filepath.Join(f.bin, tool)); err != nil {
			t.Fatal(err)
		}
	}
	write := func(name, script string) {
		if err := os.WriteFile(filepath.Join(f.bin, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write("id", fmt.Sprintf("#!/bin/bash\necho ${FAKE_UID:-%d}\n", uid))
	write("apt-get", fakeAptGet)
	if sudo {
		write("sudo", "#!/bin/bash\nFAKE_UID=0 exec \"$@\"\n")
	}
	for _, prog := range have {
		write(prog, "#!/bin/sh\n")
	}
	f.env = []string{
		"PATH=" + f.bin, "FAKE_BIN=" + f.bin, "APT_LOG=" + f.aptLog,
		"POLICY_RC_D=" + f.policy, "CHECK_PORTS=" + strconv.Itoa(freePort(t)),
	}
	return f
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// run runs scripts/install-test-deps on the fake machine and returns its
// output and the apt-get calls it made.
func (f *fakeMachine) run(t *testing.T, extraEnv ...string) (out string, apt []string, err error) {
	t.Helper()
	cmd := exec.Command("./install-test-deps")
	cmd.Env = append(f.env, extraEnv...)
	b, err := cmd.CombinedOutput()
	if log, rerr := os.ReadFile(f.aptLog); rerr == nil {
		apt = strings.Split(strings.TrimSpace(string(log)), "\n")
	}
	return string(b), apt, err
}

// TestInstallAsRootWithoutSudo pins scripts/test on a minimal Debian or a
// root container: no sudo there, and it must not be needed.
func TestInstallAsRootWithoutSudo(t *testing.T) {
	f := newFakeMachine(t, 0, false)
	out, apt, err := f.run(t)
	if err != nil {
		t.Fatalf("install-test-deps as root without sudo: %v\n%s", err, out)
	}
	if len(apt) != 2 || !strings.HasSuffix(apt[0], "update -qq") {
		t.Fatalf("apt-get calls = %q; want update, then install", apt)
	}
	install := apt[1]
	for _, want := range []string{
		"uid=0", "frontend=noninteractive",
		"policy=forbids", // no package may start its service
		"--no-install-recommends",
		" gcc ", " libc6-dev ", " prometheus ", " chromium ", " qemu-user",
	} {
		if !strings.Contains(install+" ", want) {
			t.Errorf("apt-get install call %q lacks %q", install, want)
		}
	}
	if _, err := os.Stat(f.policy); !os.IsNotExist(err) {
		t.Errorf("the policy-rc.d written for the install is still there (%v)", err)
	}
}

func TestInstallThroughSudo(t *testing.T) {
	f := newFakeMachine(t, 1000, true, "gcc", "chromium", "qemu-aarch64", "qemu-i386")
	out, apt, err := f.run(t)
	if err != nil {
		t.Fatalf("install-test-deps with sudo: %v\n%s", err, out)
	}
	if len(apt) != 2 || !strings.Contains(apt[1], "uid=0") || !strings.HasSuffix(apt[1], "--no-install-recommends prometheus") {
		t.Errorf("apt-get calls = %q; want an install of prometheus alone, as root through sudo", apt)
	}
}

func TestInstallNeitherRootNorSudoFails(t *testing.T) {
	f := newFakeMachine(t, 1000, false)
	out, apt, err := f.run(t)
	if err == nil {
		t.Fatalf("install-test-deps succeeded as a user without sudo:\n%s", out)
	}
	if !strings.Contains(out, "not root and no sudo") {
		t.Errorf("output %q does not say why it cannot install", out)
	}
	if len(apt) != 0 {
		t.Errorf("apt-get ran: %q", apt)
	}
}

func TestInstallNothingMissingRunsNoAptGet(t *testing.T) {
	for _, browser := range []string{"chromium", "google-chrome"} {
		f := newFakeMachine(t, 1000, false, "gcc", "promtool", "prometheus", browser, "qemu-aarch64", "qemu-i386")
		out, apt, err := f.run(t)
		if err != nil || len(apt) != 0 {
			t.Errorf("with everything installed (%s): err %v, apt-get calls %q, output %q; want no apt-get and success", browser, err, apt, out)
		}
	}
}

// TestInstallLeavesNoServiceListening pins that a package whose install
// starts a server (Debian's prometheus and node-exporter did, on 9090 and
// 9100) is an error, not a machine quietly left serving.
func TestInstallLeavesNoServiceListening(t *testing.T) {
	f := newFakeMachine(t, 0, false, "gcc", "chromium")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	out, _, err := f.run(t, "CHECK_PORTS="+strconv.Itoa(port), "FAKE_SERVICE="+self, fakeServiceEnv+"="+strconv.Itoa(port))
	if b, rerr := os.ReadFile(filepath.Join(f.bin, "service.pid")); rerr == nil {
		if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
			if p, ferr := os.FindProcess(pid); ferr == nil {
				p.Kill()
			}
		}
	}
	if err == nil {
		t.Fatalf("install-test-deps succeeded although port %d was left listening:\n%s", port, out)
	}
	if !strings.Contains(out, "listens on port "+strconv.Itoa(port)) {
		t.Errorf("output %q does not name the port left listening", out)
	}
}
