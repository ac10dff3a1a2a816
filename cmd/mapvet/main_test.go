package main_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
	out  []byte
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// build compiles mapvet into a temporary directory, once per test binary.
// With MAPVET_BIN set it returns that binary instead, to run these tests
// against another build (an older mapvet, to see a new test fail).
func build(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("MAPVET_BIN"); bin != "" {
		return bin
	}
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "mapvet-test")
		if built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "mapvet")
		built.out, built.err = exec.Command("go", "build", "-o", built.bin, ".").CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("go build: %v\n%s", built.err, built.out)
	}
	return built.bin
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestMapvet runs the built command the three ways users do: over this
// repository (which must be clean), over the corpus of buggy snippets
// (findings, exit 3), and as go vet's tool (findings, exit 1).
func TestMapvet(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the command")
	}
	bin := build(t)
	repo := "../.."

	// Every module of the workspace: ./... alone stops where a nested
	// module begins.
	list := exec.Command("go", "list", "-m", "-f", "{{.Dir}}/...")
	list.Dir = repo
	mods, err := list.Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	patterns := strings.Fields(string(mods))
	if len(patterns) < 2 {
		t.Fatalf("go list -m in the repository: %q; want every module of go.work", patterns)
	}
	cmd := exec.Command(bin, patterns...)
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("mapvet on mapguard itself (%d modules): exit %d\n%s", len(patterns), exitCode(err), out)
	}

	corpus := "./analysis/testdata/src/corpus"
	cmd = exec.Command(bin, corpus)
	cmd.Dir = repo
	out, err := cmd.CombinedOutput()
	if exitCode(err) != 3 {
		t.Fatalf("mapvet on the corpus: exit %d; want 3 (findings)\n%s", exitCode(err), out)
	}
	for _, want := range []string{"Store of s.byID", "c.mu.Lock inside a range", "len of status", "captures the whole map cfg"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("corpus findings lack %q:\n%s", want, out)
		}
	}

	cmd = exec.Command(bin, "-rangelock=false", "-checkthenact=false", "-unsyncmap=false", "-mapcapture=false", corpus)
	cmd.Dir = repo
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("with every analyzer disabled: exit %d\n%s", exitCode(err), out)
	}

	cmd = exec.Command("go", "vet", "-vettool="+bin, corpus)
	cmd.Dir = repo
	out, err = cmd.CombinedOutput()
	if exitCode(err) != 1 || !strings.Contains(string(out), "Store of s.byID") {
		t.Fatalf("go vet -vettool: exit %d; want 1 with findings\n%s", exitCode(err), out)
	}
}

// fixable is a check-then-act that checkthenact rewrites to LoadOrStore;
// unfixable an unsynchronized map read that unsyncmap reports with no
// fix.
const (
	fixable = `package fixme

import "sync"

var sessions sync.Map

// Login stores a session unless one exists.
func Login(id string, s any) {
	if _, ok := sessions.Load(id); !ok {
		sessions.Store(id, s)
	}
}
`
	unfixable = `package fixme

import "fmt"

// Count counts in the background and prints what it has.
func Count(words []string) {
	counts := map[string]int{}
	go func() {
		for _, w := range words {
			counts[w]++
		}
	}()
	fmt.Println(len(counts))
}
`
)

// module writes a module holding files into a temporary directory.
func module(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	files["go.mod"] = "module example.com/fixme\n\ngo 1.24\n"
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func mapvet(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(build(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.CombinedOutput()
	return string(out), exitCode(err)
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFixReportsWhatRemains pins the bug where mapvet -fix printed
// nothing and exited 0 while findings without a fix remained: it applies
// the fixes, then reports the rest and exits 3 as without -fix; with
// only fixable findings it exits 0 after fixing, as x/tools' drivers do.
func TestFixReportsWhatRemains(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the command")
	}
	const lockFree = "sessions.LoadOrStore(id, s)"
	const fixableMsg, unfixableMsg = "Store of sessions after a Load", "len of counts while the goroutine"

	dir := module(t, map[string]string{"login.go": fixable, "count.go": unfixable})
	out, code := mapvet(t, dir, "-fix", "./...")
	if code != 3 || !strings.Contains(out, unfixableMsg) || strings.Contains(out, fixableMsg) {
		t.Errorf("mapvet -fix with a fixable and an unfixable finding: exit %d; want 3, reporting only the unfixable one\n%s", code, out)
	}
	if got := read(t, filepath.Join(dir, "login.go")); !strings.Contains(got, lockFree) {
		t.Errorf("login.go was not fixed:\n%s", got)
	}
	if got := read(t, filepath.Join(dir, "count.go")); got != unfixable {
		t.Errorf("count.go changed:\n%s", got)
	}

	// -fix=false is no fix: every finding, exit 3, nothing written.
	dir = module(t, map[string]string{"login.go": fixable, "count.go": unfixable})
	out, code = mapvet(t, dir, "-fix", "-fix=false", "./...")
	if code != 3 || !strings.Contains(out, fixableMsg) || !strings.Contains(out, unfixableMsg) {
		t.Errorf("mapvet -fix -fix=false: exit %d; want 3 with both findings\n%s", code, out)
	}
	if got := read(t, filepath.Join(dir, "login.go")); got != fixable {
		t.Errorf("-fix=false changed login.go:\n%s", got)
	}

	// -diff leaves the files as they are, so every finding remains.
	out, code = mapvet(t, dir, "-fix", "-diff", "./...")
	if code != 3 || !strings.Contains(out, "+\t"+lockFree) || !strings.Contains(out, fixableMsg) || !strings.Contains(out, unfixableMsg) {
		t.Errorf("mapvet -fix -diff: exit %d; want 3 with the diff and both findings\n%s", code, out)
	}
	if got := read(t, filepath.Join(dir, "login.go")); got != fixable {
		t.Errorf("-diff changed login.go:\n%s", got)
	}

	dir = module(t, map[string]string{"login.go": fixable})
	out, code = mapvet(t, dir, "-fix", "./...")
	if code != 0 || out != "" {
		t.Errorf("mapvet -fix with only fixable findings: exit %d; want 0 and no output\n%s", code, out)
	}
	if got := read(t, filepath.Join(dir, "login.go")); !strings.Contains(got, lockFree) {
		t.Errorf("login.go was not fixed:\n%s", got)
	}
	if out, code := mapvet(t, dir, "./..."); code != 0 {
		t.Errorf("mapvet after -fix: exit %d; want 0 (clean)\n%s", code, out)
	}

	// A usage error in the fixing pass stops there, with go vet's exit 2.
	if out, code := mapvet(t, dir, "-fix=maybe", "./..."); code != 2 || strings.Count(out, "invalid boolean value") != 1 {
		t.Errorf("mapvet -fix=maybe: exit %d; want 2 and one usage message\n%s", code, out)
	}
}
