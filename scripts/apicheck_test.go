package scripts_test

import (
	"bytes"
	"errors"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestAPICheck runs scripts/apicheck on a copy of the root package (the
// maps: quick to build, standard library only) with a baseline written by
// -update, then on deliberately changed copies of it.
func TestAPICheck(t *testing.T) {
	requireAPIDiff(t)
	template := t.TempDir()
	copyRootModule(t, template)
	if out, err := apicheck(template, "-update"); err != nil {
		t.Fatalf("apicheck -update on a pristine copy: %v\n%s", err, out)
	}
	if out, err := apicheck(template); err != nil || !strings.Contains(out, "API unchanged") || !strings.Contains(out, "not a git checkout") {
		t.Fatalf("apicheck on the copy it has just recorded: err %v; want success saying the API is unchanged and that git history was not checked; output:\n%s", err, out)
	}

	t.Run("removed method fails", func(t *testing.T) {
		dir := t.TempDir()
		copyDir(t, template, dir)
		renameMethod(t, dir, "Map", "Size", "sizeRemovedByTest")
		out, err := apicheck(dir)
		if exitCode(err) != 1 {
			t.Fatalf("apicheck with (*Map).Size removed: %v; want exit status 1; output:\n%s", err, out)
		}
		if !strings.Contains(out, "(*Map[K, V]).Size: removed") || !strings.Contains(out, "incompatible") {
			t.Errorf("apicheck's output does not name the removed method (*Map).Size as an incompatible change:\n%s", out)
		}
		if n := strings.Count(out, "Size: removed"); n != 1 {
			t.Errorf("apicheck names the removed method %d times; want once:\n%s", n, out)
		}
		if !strings.Contains(out, "scripts/apicheck -update") || !strings.Contains(out, "### Removed") {
			t.Errorf("apicheck's output does not say how to record an intended change:\n%s", out)
		}
	})

	t.Run("added method passes", func(t *testing.T) {
		dir := t.TempDir()
		copyDir(t, template, dir)
		appendFile(t, filepath.Join(dir, "map.go"), "\n// APICheckAdded is new.\nfunc (m *Map[K, V]) APICheckAdded() int { return 0 }\n")
		out, err := apicheck(dir)
		if err != nil {
			t.Fatalf("apicheck with a method added: %v; want success; output:\n%s", err, out)
		}
		if !strings.Contains(out, "(*Map[K, V]).APICheckAdded: added") {
			t.Errorf("apicheck's output does not list the added method as a compatible change:\n%s", out)
		}
	})

	t.Run("a changed baseline needs a CHANGELOG entry", func(t *testing.T) {
		if _, err := exec.LookPath("git"); err != nil {
			t.Skipf("git not found (%v): the commit check cannot be tested", err)
		}
		dir := t.TempDir()
		copyDir(t, template, dir)
		changelog := filepath.Join(dir, "CHANGELOG.md")
		writeFile(t, changelog, "# Changelog\n\n## [Unreleased]\n\n### Added\n\n- Maps.\n\n### Changed\n\n### Removed\n")
		git(t, dir, "init", "-q")
		git(t, dir, "add", ".")
		git(t, dir, "commit", "-q", "-m", "maps")
		if out, err := apicheck(dir); err != nil || !strings.Contains(out, "HEAD has no parent") {
			t.Fatalf("apicheck on a first commit: %v; want success saying the CHANGELOG was not checked; output:\n%s", err, out)
		}

		// An intended removal: the baseline is updated in the commit, the
		// CHANGELOG is not.
		renameMethod(t, dir, "Map", "Size", "sizeRemovedByTest")
		if out, err := apicheck(dir, "-update"); err != nil {
			t.Fatalf("apicheck -update after removing (*Map).Size: %v\n%s", err, out)
		}
		git(t, dir, "commit", "-q", "-a", "-m", "remove Size")
		out, err := apicheck(dir)
		if exitCode(err) != 1 || !strings.Contains(out, "(*Map[K, V]).Size: removed") || !strings.Contains(out, "CHANGELOG.md") {
			t.Fatalf("apicheck on a commit that removes (*Map).Size without a CHANGELOG entry: %v; want exit status 1 naming the method and CHANGELOG.md; output:\n%s", err, out)
		}

		// An entry under another heading is not enough.
		replaceInFile(t, changelog, "- Maps.\n", "- Maps.\n- Size was removed.\n")
		git(t, dir, "commit", "-q", "-a", "--amend", "-m", "remove Size")
		if out, err := apicheck(dir); exitCode(err) != 1 {
			t.Fatalf("apicheck with the removal listed under Added: %v; want exit status 1; output:\n%s", err, out)
		}

		replaceInFile(t, changelog, "### Removed\n", "### Removed\n\n- `Map.Size`: use `Stats().Entries`.\n")
		git(t, dir, "commit", "-q", "-a", "--amend", "-m", "remove Size")
		if out, err := apicheck(dir); err != nil || !strings.Contains(out, "CHANGELOG.md lists it") {
			t.Fatalf("apicheck with the removal listed under Removed: %v; want success; output:\n%s", err, out)
		}
	})
}

// requireAPIDiff installs the pinned apidiff through scripts/apicheck, and
// skips the test if that fails, unless MAPGUARD_REQUIRE_APIDIFF is set (as
// scripts/test sets it).
func requireAPIDiff(t *testing.T) {
	t.Helper()
	out, err := exec.Command("./apicheck", "-install").CombinedOutput()
	if err == nil {
		return
	}
	if os.Getenv("MAPGUARD_REQUIRE_APIDIFF") != "" {
		t.Fatalf("apicheck -install: %v\n%s", err, out)
	}
	t.Skipf("apidiff cannot be installed (%v: %s); set MAPGUARD_REQUIRE_APIDIFF=1 to make this a failure", err, bytes.TrimSpace(out))
}

// copyRootModule copies go.mod, go.sum, the root package's non-test files
// and scripts/apicheck into dir.
func copyRootModule(t *testing.T, dir string) {
	t.Helper()
	files, err := filepath.Glob("../*.go")
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, "../go.mod")
	if _, err := os.Stat("../go.sum"); err == nil {
		files = append(files, "../go.sum") // the maps' module requires nothing: no go.sum
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		copyFile(t, f, filepath.Join(dir, filepath.Base(f)))
	}
	if err := os.Mkdir(filepath.Join(dir, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, "apicheck", filepath.Join(dir, "scripts", "apicheck"))
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		copyFile(t, path, filepath.Join(to, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	info, err := os.Stat(from)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, info.Mode().Perm()); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, string(b)+s)
}

func replaceInFile(t *testing.T, path, old, new string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("%s does not contain %q", path, old)
	}
	writeFile(t, path, strings.Replace(string(b), old, new, 1))
}

// renameMethod renames the method recv.name of the package in dir, and
// every use of it, to newName: the method leaves the exported API and the
// package still builds, whoever calls it.
func renameMethod(t *testing.T, dir, recv, name, newName string) {
	t.Helper()
	fset := token.NewFileSet()
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, p := range paths {
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	info := &types.Info{Defs: map[*ast.Ident]types.Object{}, Uses: map[*ast.Ident]types.Object{}}
	pkg, err := (&types.Config{Importer: importer.Default()}).Check("github.com/mapguard/mapguard", fset, files, info)
	if err != nil {
		t.Fatal(err)
	}
	named, ok := pkg.Scope().Lookup(recv).(*types.TypeName)
	if !ok {
		t.Fatalf("no type %s in the root package", recv)
	}
	method, _, _ := types.LookupFieldOrMethod(types.NewPointer(named.Type()), true, pkg, name)
	target, ok := method.(*types.Func)
	if !ok {
		t.Fatalf("no method %s.%s in the root package", recv, name)
	}
	offsets := map[string][]int{} // file name to the offsets of target's identifiers
	for _, m := range []map[*ast.Ident]types.Object{info.Defs, info.Uses} {
		for id, obj := range m {
			if f, ok := obj.(*types.Func); ok && f.Origin() == target {
				pos := fset.Position(id.Pos())
				offsets[pos.Filename] = append(offsets[pos.Filename], pos.Offset)
			}
		}
	}
	for file, offs := range offsets {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(offs)
		for _, off := range slices.Backward(offs) {
			b = slices.Concat(b[:off], []byte(newName), b[off+len(name):])
		}
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// apicheck runs dir/scripts/apicheck with args, outside any enclosing git
// repository and with no git configuration but the committer's name.
func apicheck(dir string, args ...string) (string, error) {
	cmd := exec.Command(filepath.Join(dir, "scripts", "apicheck"), args...)
	cmd.Env = gitEnv(dir)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func git(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "init.defaultBranch=main", "-c", "commit.gpgsign=false"}, args...)...)
	cmd.Dir = dir
	cmd.Env = gitEnv(dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

func gitEnv(dir string) []string {
	return append(os.Environ(),
		"GIT_CEILING_DIRECTORIES="+filepath.Dir(dir),
		"GIT_CONFIG_GLOBAL="+os.DevNull, "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=apicheck test", "GIT_AUTHOR_EMAIL=apicheck@example.com",
		"GIT_COMMITTER_NAME=apicheck test", "GIT_COMMITTER_EMAIL=apicheck@example.com",
	)
}

func exitCode(err error) int {
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
