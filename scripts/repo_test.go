package scripts_test

// The tests in this file keep the repository's project files honest: the
// licence is the Apache License 2.0 for every module, the changelog keeps
// the Keep a Changelog format, the README links the project files, the
// commands CONTRIBUTING.md gives name tests and scripts that exist, and
// the hosted-CI workflow runs .ci/run on the four runner and Go
// combinations plus govulncheck. Each check is a function of the file's
// text, and a second test feeds it broken copies to show that it fails.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// root is the repository root, seen from this package's directory.
const root = ".."

// apacheSHA256 is the SHA-256 of the Apache License 2.0 text as the
// Apache Software Foundation publishes it
// (https://www.apache.org/licenses/LICENSE-2.0.txt), byte for byte the
// same as Debian's /usr/share/common-licenses/Apache-2.0. client_golang's
// LICENSE is the same text without the leading blank line.
const apacheSHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"

// apachePhrases are fixed phrases of the licence, checked apart from the
// hash so that a failure says what is missing.
var apachePhrases = []string{
	"Apache License\n                           Version 2.0, January 2004",
	"TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION",
	"4. Redistribution.",
	"7. Disclaimer of Warranty.",
	"END OF TERMS AND CONDITIONS",
	"APPENDIX: How to apply the Apache License to your work.",
	`Licensed under the Apache License, Version 2.0 (the "License");`,
}

func readRepoFile(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// checkLicense returns what is wrong with a LICENSE file's text.
func checkLicense(text string) []string {
	var problems []string
	sum := sha256.Sum256([]byte(text))
	if got := hex.EncodeToString(sum[:]); got != apacheSHA256 {
		problems = append(problems, fmt.Sprintf("SHA-256 %s; want %s, the Apache License 2.0 as published", got, apacheSHA256))
	}
	for _, p := range apachePhrases {
		if !strings.Contains(text, p) {
			problems = append(problems, fmt.Sprintf("missing %q", p))
		}
	}
	return problems
}

// modulesWithoutLicense returns the directories under dir (relative to it)
// that hold a go.mod but no LICENSE identical to license. The go command
// ignores testdata directories and those starting with "." or "_", and so
// does this walk.
func modulesWithoutLicense(dir string, license []byte) ([]string, error) {
	var missing []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != dir && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Name() != "go.mod" {
			return nil
		}
		modDir := filepath.Dir(path)
		got, err := os.ReadFile(filepath.Join(modDir, "LICENSE"))
		if err != nil || string(got) != string(license) {
			rel, _ := filepath.Rel(dir, modDir)
			missing = append(missing, rel)
		}
		return nil
	})
	return missing, err
}

// TestLicenseIsApache20 checks that LICENSE is the Apache License 2.0,
// unmodified, and that every module of the repository carries it.
func TestLicenseIsApache20(t *testing.T) {
	license := readRepoFile(t, "LICENSE")
	for _, p := range checkLicense(license) {
		t.Errorf("LICENSE: %s", p)
	}
	missing, err := modulesWithoutLicense(root, []byte(license))
	if err != nil {
		t.Fatal(err)
	}
	if len(missing) > 0 {
		t.Errorf("modules without a copy of the root LICENSE: %v", missing)
	}
}

// TestLicenseChecksCanFail feeds the licence checks a changed licence and a
// nested module without one.
func TestLicenseChecksCanFail(t *testing.T) {
	license := readRepoFile(t, "LICENSE")
	changed := strings.Replace(license, "Version 2.0, January 2004", "Version 2.0, January 2005", 1)
	if len(checkLicense(changed)) == 0 {
		t.Error("checkLicense accepts a licence with a changed date")
	}
	if len(checkLicense(strings.TrimPrefix(license, "\n"))) == 0 {
		t.Error("checkLicense accepts a licence that is not byte for byte the published text")
	}

	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/m\n")
	write("LICENSE", license)
	write("observe/go.mod", "module example.com/m/observe\n")
	write("rollout/go.mod", "module example.com/m/rollout\n")
	write("rollout/LICENSE", license)
	write("memtune/go.mod", "module example.com/m/memtune\n")
	write("memtune/LICENSE", changed)
	write("bench/testdata/go.mod", "module example.com/ignored\n")
	missing, err := modulesWithoutLicense(dir, []byte(license))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"memtune", "observe"}; !slices.Equal(missing, want) {
		t.Errorf("modulesWithoutLicense = %v; want %v", missing, want)
	}
}

// changelogKinds are Keep a Changelog 1.1.0's kinds of change.
var changelogKinds = []string{"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}

var (
	releaseHeading = regexp.MustCompile(`^## \[(v?\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?)\] - (\d{4}-\d{2}-\d{2})$`)
	linkReference  = regexp.MustCompile(`(?m)^\[([^\]]+)\]: (https://\S+)$`)
)

// checkChangelog returns what is wrong with a CHANGELOG.md in the Keep a
// Changelog 1.1.0 format: the title and the format and versioning
// references, an [Unreleased] section first, releases with a version and
// a date, newest first, only the six kinds of change as subsections, each
// at most once per release and none empty, and a link reference for
// every section.
func checkChangelog(text string) []string {
	var problems []string
	lines := strings.Split(text, "\n")
	if lines[0] != "# Changelog" {
		problems = append(problems, fmt.Sprintf("first line %q; want \"# Changelog\"", lines[0]))
	}
	for _, ref := range []string{"https://keepachangelog.com/en/1.1.0/", "https://semver.org/"} {
		if !strings.Contains(text, ref) {
			problems = append(problems, "does not reference "+ref)
		}
	}
	links := map[string]bool{}
	for _, m := range linkReference.FindAllStringSubmatch(text, -1) {
		links[m[1]] = true
	}

	var sections []string // "Unreleased" or versions, in file order
	var lastDate time.Time
	kinds := map[string]bool{}
	section, kind, bullets := "", "", 0
	endKind := func() {
		if kind != "" && bullets == 0 {
			problems = append(problems, fmt.Sprintf("[%s] has an empty %q subsection", section, kind))
		}
		kind, bullets = "", 0
	}
	for i, line := range lines {
		switch {
		case strings.HasPrefix(line, "## "):
			endKind()
			kinds = map[string]bool{}
			if line == "## [Unreleased]" {
				if len(sections) > 0 {
					problems = append(problems, fmt.Sprintf("line %d: [Unreleased] is not the first section", i+1))
				}
				section = "Unreleased"
			} else if m := releaseHeading.FindStringSubmatch(line); m != nil {
				date, err := time.Parse(time.DateOnly, m[2])
				if err != nil {
					problems = append(problems, fmt.Sprintf("line %d: bad date: %v", i+1, err))
				} else if !lastDate.IsZero() && date.After(lastDate) {
					problems = append(problems, fmt.Sprintf("line %d: release %s is dated after the one above it", i+1, m[1]))
				}
				lastDate = date
				section = m[1]
			} else {
				problems = append(problems, fmt.Sprintf("line %d: %q is neither \"## [Unreleased]\" nor \"## [version] - YYYY-MM-DD\"", i+1, line))
				section = line
			}
			sections = append(sections, section)
			if !links[section] {
				problems = append(problems, fmt.Sprintf("no link reference \"[%s]: https://...\" at the end", section))
			}
		case strings.HasPrefix(line, "### "):
			endKind()
			kind = strings.TrimPrefix(line, "### ")
			if section == "" {
				problems = append(problems, fmt.Sprintf("line %d: %q outside a release section", i+1, line))
			}
			if !slices.Contains(changelogKinds, kind) {
				problems = append(problems, fmt.Sprintf("line %d: %q is not one of %v", i+1, kind, changelogKinds))
			}
			if kinds[kind] {
				problems = append(problems, fmt.Sprintf("line %d: a second %q in [%s]", i+1, kind, section))
			}
			kinds[kind] = true
		case strings.HasPrefix(line, "- ") && kind != "":
			bullets++
		}
	}
	endKind()
	if len(sections) == 0 || sections[0] != "Unreleased" {
		problems = append(problems, "no \"## [Unreleased]\" section first")
	}
	return problems
}

// changelogParts are the parts of the repository the changelog must
// describe: the three maps and what is built around them.
var changelogParts = []string{"`Map`", "`SnapshotMap`", "`View`", "`ReadMostly`", "`Tx`",
	"**bench:**", "**`mapguard bench`:**", "**observe:**", "**deploy:**", "**`mapguard demo`:**",
	"**mapvet:**", "**lab:**", "**rollout:**", "**memtune:**", "`scripts/test`"}

// TestChangelogKeepsAChangelog checks CHANGELOG.md's format and that it
// names every part of the repository and the API check's rule.
func TestChangelogKeepsAChangelog(t *testing.T) {
	text := readRepoFile(t, "CHANGELOG.md")
	for _, p := range checkChangelog(text) {
		t.Errorf("CHANGELOG.md: %s", p)
	}
	for _, part := range changelogParts {
		if !strings.Contains(text, part) {
			t.Errorf("CHANGELOG.md does not mention %s", part)
		}
	}
	if !strings.Contains(text, "must be listed\nunder `Changed` or `Removed`") {
		t.Error("CHANGELOG.md does not say that an incompatible API change must be listed under Changed or Removed")
	}
}

// TestChangelogCheckCanFail feeds checkChangelog broken copies of the real
// CHANGELOG.md.
func TestChangelogCheckCanFail(t *testing.T) {
	text := readRepoFile(t, "CHANGELOG.md")
	if !strings.Contains(text, "### Added\n") || !strings.Contains(text, "[Unreleased]: ") {
		t.Fatal("CHANGELOG.md has no \"### Added\" or no [Unreleased] link; the mutations below would test nothing")
	}
	release := "## [0.1.0] - 2026-12-01\n\n### Added\n\n- Map.\n\n"
	olderRelease := "## [0.0.1] - 2026-12-20\n\n### Added\n\n- Nothing.\n\n"
	links := "\n[0.1.0]: https://github.com/mapguard/mapguard/releases/tag/v0.1.0\n[0.0.1]: https://github.com/mapguard/mapguard/releases/tag/v0.0.1\n"
	// withRelease adds the release sections r below [Unreleased]'s, with
	// their link references.
	withRelease := func(r string) string {
		return strings.Replace(text, "\n[Unreleased]: ", "\n"+r+"[Unreleased]: ", 1) + links
	}
	if p := checkChangelog(withRelease(release)); len(p) > 0 {
		t.Fatalf("checkChangelog rejects a well-formed release: %v", p)
	}
	for name, broken := range map[string]string{
		"unknown kind":          strings.Replace(text, "### Added\n", "### New\n", 1),
		"kind twice":            strings.Replace(text, "### Fixed\n", "### Added\n", 1),
		"no Unreleased":         strings.Replace(text, "## [Unreleased]", "## Unreleased", 1),
		"Unreleased not first":  withRelease(strings.Replace(release, "## [0.1.0]", "## [Unreleased]\n\n## [0.1.0]", 1)),
		"release without date":  withRelease(strings.Replace(release, " - 2026-12-01", "", 1)),
		"releases out of order": withRelease(release + olderRelease),
		"empty kind":            strings.Replace(text, "## [Unreleased]", "## [Unreleased]\n\n### Deprecated\n", 1),
		"no link reference":     strings.Replace(text, "[Unreleased]: ", "Unreleased: ", 1),
		"no title":              strings.Replace(text, "# Changelog\n", "# Changes\n", 1),
		"no format reference":   strings.ReplaceAll(text, "keepachangelog.com/en/1.1.0", "keepachangelog.com/en/1.0.0"),
	} {
		if p := checkChangelog(broken); len(p) == 0 {
			t.Errorf("checkChangelog accepts a changelog with %s", name)
		}
	}
}

var (
	// markdownLink matches a Markdown link's target.
	markdownLink = regexp.MustCompile(`\]\(([^)\s]+)\)`)
	// codeBlock and codeSpan match Markdown code, where "](" is not a link.
	codeBlock = regexp.MustCompile("(?ms)^```.*?^```")
	codeSpan  = regexp.MustCompile("`[^`]*`")
)

// brokenLinks returns the relative link targets in a Markdown file that
// name no file or directory of the repository.
func brokenLinks(t *testing.T, name string) []string {
	t.Helper()
	text := codeSpan.ReplaceAllString(codeBlock.ReplaceAllString(readRepoFile(t, name), ""), "")
	var broken []string
	for _, m := range markdownLink.FindAllStringSubmatch(text, -1) {
		target := m[1]
		if strings.Contains(target, "://") || strings.HasPrefix(target, "#") || strings.HasPrefix(target, "mailto:") {
			continue
		}
		target, _, _ = strings.Cut(target, "#")
		if _, err := os.Stat(filepath.Join(root, filepath.Dir(name), target)); err != nil {
			broken = append(broken, m[1])
		}
	}
	return broken
}

// TestProjectFilesLinked checks that the README links the licence, the
// changelog, the security policy and the contributing guide and carries
// the licence's header note, and that no relative link in these files is
// broken.
func TestProjectFilesLinked(t *testing.T) {
	readme := readRepoFile(t, "README.md")
	for _, f := range []string{"LICENSE", "CHANGELOG.md", "SECURITY.md", "CONTRIBUTING.md"} {
		if !strings.Contains(readme, "]("+f+")") {
			t.Errorf("README.md does not link %s", f)
		}
	}
	for _, note := range []string{"Copyright 2026 The mapguard Authors", "Licensed under the Apache License, Version 2.0"} {
		if !strings.Contains(strings.Join(strings.Fields(readme), " "), note) {
			t.Errorf("README.md lacks the licence note %q", note)
		}
	}
	for _, f := range []string{"README.md", "CHANGELOG.md", "SECURITY.md", "CONTRIBUTING.md"} {
		if b := brokenLinks(t, f); len(b) > 0 {
			t.Errorf("%s links files that do not exist: %v", f, b)
		}
	}
}

// emailAddress matches an e-mail address.
var emailAddress = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+\.[A-Za-z0-9.-]*[A-Za-z]`)

// TestSecurityPolicy checks SECURITY.md's sections, that it sends reports
// to GitHub's private reporting and gives no e-mail address, and that the
// hash functions it names are the ones hash.go uses.
func TestSecurityPolicy(t *testing.T) {
	text := readRepoFile(t, "SECURITY.md")
	for _, s := range []string{"## Supported versions", "## Reporting a vulnerability", "## What counts", "## What does not count",
		"https://github.com/mapguard/mapguard", "**Security**", "**Report a vulnerability**"} {
		if !strings.Contains(text, s) {
			t.Errorf("SECURITY.md lacks %q", s)
		}
	}
	if a := emailAddress.FindAllString(text, -1); len(a) > 0 {
		t.Errorf("SECURITY.md gives e-mail addresses %v; reports go through GitHub's private reporting", a)
	}
	hash := readRepoFile(t, "hash.go")
	for _, f := range []string{"maphash.String", "maphash.Comparable"} {
		if !strings.Contains(text, "`"+f+"`") {
			t.Errorf("SECURITY.md does not say which keys %s hashes", f)
		}
	}
	// What SECURITY.md says of the hashes: a random seed per map,
	// maphash.String for strings, a seeded multiply mix for integers,
	// maphash.Comparable for the rest.
	for _, call := range []string{"maphash.MakeSeed()", "maphash.String(h.seed,", "mixInt(h.intSeed,", "maphash.Comparable(h.seed, key)"} {
		if !strings.Contains(hash, call) {
			t.Errorf("hash.go no longer calls %s; update SECURITY.md's account of the hashes (and this test)", call)
		}
	}
}

var (
	fuzzCommand = regexp.MustCompile(`go test -run '\^\$' -fuzz '\^(\w+)\$' -fuzztime \w+ (\S+)`)
	soakCommand = regexp.MustCompile(`go test -race -run '?[\w|]+'? -soak \d+ (\S+)`)
	scriptName  = regexp.MustCompile("`(scripts/[\\w-]+|\\.ci/run)")
	fuzzFunc    = regexp.MustCompile(`(?m)^func (Fuzz\w+)\(f \*testing\.F\)`)
)

// testSources returns the text of the _test.go files of the package in
// dir, a path relative to the repository root as a command names it.
func testSources(t *testing.T, dir string) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, dir, "*_test.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files in %s (%v)", dir, err)
	}
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(data)
	}
	return b.String()
}

// TestContributingCommands checks that CONTRIBUTING.md's fuzz commands
// name fuzz tests that exist, that it documents every fuzz test of the
// root package, that its soak commands name packages whose tests take
// -soak, and that the scripts it names exist and are executable.
func TestContributingCommands(t *testing.T) {
	text := readRepoFile(t, "CONTRIBUTING.md")
	documented := map[string]bool{}
	for _, m := range fuzzCommand.FindAllStringSubmatch(text, -1) {
		documented[m[1]] = true
		if !strings.Contains(testSources(t, m[2]), "func "+m[1]+"(f *testing.F)") {
			t.Errorf("CONTRIBUTING.md fuzzes %s in %s, which has no such fuzz test", m[1], m[2])
		}
	}
	var fuzzTests []string
	for _, m := range fuzzFunc.FindAllStringSubmatch(testSources(t, "."), -1) {
		fuzzTests = append(fuzzTests, m[1])
		if !documented[m[1]] {
			t.Errorf("CONTRIBUTING.md has no long-fuzzing command for %s", m[1])
		}
	}
	if len(fuzzTests) < 3 {
		t.Errorf("found fuzz tests %v in the root package; want FuzzMapOps, FuzzSnapshotOps and FuzzReadMostlyOps at least", fuzzTests)
	}
	soaks := soakCommand.FindAllStringSubmatch(text, -1)
	if len(soaks) < 2 {
		t.Errorf("CONTRIBUTING.md has %d soak commands; want the maps' and observe's", len(soaks))
	}
	for _, m := range soaks {
		if !strings.Contains(testSources(t, m[1]), `flag.Int("soak"`) {
			t.Errorf("CONTRIBUTING.md soaks %s, whose tests have no -soak flag", m[1])
		}
	}
	scripts := map[string]bool{}
	for _, m := range scriptName.FindAllStringSubmatch(text, -1) {
		scripts[m[1]] = true
	}
	for _, want := range []string{"scripts/test", "scripts/bench", ".ci/run"} {
		if !scripts[want] {
			t.Errorf("CONTRIBUTING.md does not name %s", want)
		}
	}
	for s := range scripts {
		if fi, err := os.Stat(filepath.Join(root, s)); err != nil || fi.Mode()&0o111 == 0 {
			t.Errorf("CONTRIBUTING.md names %s, which is not an executable file (%v)", s, err)
		}
	}
}

// workflow is the part of a GitHub Actions workflow the CI check reads.
type workflow struct {
	On   map[string]any `yaml:"on"`
	Jobs map[string]struct {
		RunsOn   string `yaml:"runs-on"`
		Strategy struct {
			Matrix map[string]any `yaml:"matrix"`
		} `yaml:"strategy"`
		Steps []struct {
			Uses string            `yaml:"uses"`
			With map[string]string `yaml:"with"`
			Run  string            `yaml:"run"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

var (
	matrixRef = regexp.MustCompile(`\$\{\{\s*matrix\.(\w+)\s*\}\}`)
	majorPin  = regexp.MustCompile(`^[\w-]+/[\w-]+@v\d+$`)
)

// expandMatrix returns the combinations of a strategy matrix whose values
// are all lists of strings, in a fixed order; include and exclude are not
// supported, and are reported as a problem.
func expandMatrix(matrix map[string]any) ([]map[string]string, error) {
	var dims []string
	for k := range matrix {
		dims = append(dims, k)
	}
	sort.Strings(dims)
	combos := []map[string]string{{}}
	for _, d := range dims {
		values, ok := matrix[d].([]any)
		if !ok {
			return nil, fmt.Errorf("matrix.%s is %T, not a list (include and exclude are not supported by this check)", d, matrix[d])
		}
		var next []map[string]string
		for _, c := range combos {
			for _, v := range values {
				s, ok := v.(string)
				if !ok {
					return nil, fmt.Errorf("matrix.%s has %v (%T); quote it as a string", d, v, v)
				}
				n := maps.Clone(c)
				n[d] = s
				next = append(next, n)
			}
		}
		combos = next
	}
	return combos, nil
}

// substitute replaces ${{ matrix.X }} in s with the combination's X.
func substitute(s string, combo map[string]string) string {
	return matrixRef.ReplaceAllStringFunc(s, func(ref string) string {
		return combo[matrixRef.FindStringSubmatch(ref)[1]]
	})
}

// wantCI are the runner and Go version combinations the test job must run.
var wantCI = []string{"ubuntu-24.04 go1.26", "ubuntu-24.04 go1.27", "ubuntu-24.04-arm go1.26", "ubuntu-24.04-arm go1.27"}

// checkWorkflow returns what is wrong with the CI workflow: it must run on
// push and pull_request; a job must check out, set up Go and run .ci/run
// on each of wantCI; another job must run govulncheck over every package;
// and every action must be pinned to a major version.
func checkWorkflow(data []byte) []string {
	var w workflow
	if err := yaml.Unmarshal(data, &w); err != nil {
		return []string{"not valid YAML: " + err.Error()}
	}
	var problems []string
	for _, event := range []string{"push", "pull_request"} {
		if _, ok := w.On[event]; !ok {
			problems = append(problems, "does not run on "+event)
		}
	}
	var ran []string
	testJobs, vulnJobs := 0, 0
	for name, job := range w.Jobs {
		checkout, setupGo, ciRun, govulncheck := -1, -1, -1, -1
		for i, step := range job.Steps {
			if step.Uses != "" && !majorPin.MatchString(step.Uses) {
				problems = append(problems, fmt.Sprintf("job %s uses %q, not pinned to a major version (owner/action@vN)", name, step.Uses))
			}
			action, _, _ := strings.Cut(step.Uses, "@")
			switch {
			case action == "actions/checkout":
				checkout = i
			case action == "actions/setup-go":
				setupGo = i
			case strings.TrimSpace(step.Run) == ".ci/run":
				ciRun = i
			case strings.Contains(step.Run, "go run golang.org/x/vuln/cmd/govulncheck@") && strings.HasSuffix(strings.TrimSpace(step.Run), " "+everyModule):
				govulncheck = i
			}
		}
		last := max(ciRun, govulncheck)
		if last < 0 {
			continue
		}
		if checkout < 0 || setupGo < 0 || checkout > last || setupGo > last {
			problems = append(problems, fmt.Sprintf("job %s does not check out and set up Go before its checks", name))
			continue
		}
		if govulncheck >= 0 {
			vulnJobs++
		}
		if ciRun < 0 {
			continue
		}
		testJobs++
		combos, err := expandMatrix(job.Strategy.Matrix)
		if err != nil {
			problems = append(problems, fmt.Sprintf("job %s: %v", name, err))
			continue
		}
		for _, c := range combos {
			goVersion := strings.TrimSuffix(substitute(job.Steps[setupGo].With["go-version"], c), ".x")
			ran = append(ran, substitute(job.RunsOn, c)+" go"+goVersion)
		}
	}
	if testJobs != 1 {
		problems = append(problems, fmt.Sprintf("%d jobs run .ci/run; want one, with a matrix", testJobs))
	}
	sort.Strings(ran)
	if !slices.Equal(ran, wantCI) {
		problems = append(problems, fmt.Sprintf(".ci/run runs on %v; want %v", ran, wantCI))
	}
	if vulnJobs == 0 {
		problems = append(problems, "no job runs go run golang.org/x/vuln/cmd/govulncheck@... "+everyModule)
	}
	return problems
}

// TestCIWorkflow checks .github/workflows/ci.yml and that .ci/run, which
// it calls, runs the test command.
func TestCIWorkflow(t *testing.T) {
	for _, p := range checkWorkflow([]byte(readRepoFile(t, ".github/workflows/ci.yml"))) {
		t.Errorf(".github/workflows/ci.yml: %s", p)
	}
	if fi, err := os.Stat(filepath.Join(root, ".ci/run")); err != nil || fi.Mode()&0o111 == 0 {
		t.Errorf(".ci/run is not an executable file (%v)", err)
	}
	if run := readRepoFile(t, ".ci/run"); !strings.Contains(run, "scripts/test") {
		t.Errorf(".ci/run does not run scripts/test:\n%s", run)
	}
}

// everyModule is the package pattern of every module of the workspace,
// as the workflow's govulncheck step spells it: ./... alone stops where a
// nested module begins.
const everyModule = "$(go list -m -f '{{.Dir}}/...')"

// TestCIWorkflowCheckCanFail feeds checkWorkflow broken copies of the real
// workflow.
func TestCIWorkflowCheckCanFail(t *testing.T) {
	text := readRepoFile(t, ".github/workflows/ci.yml")
	for name, broken := range map[string]string{
		"no arm64 runner":      strings.Replace(text, "[ubuntu-24.04, ubuntu-24.04-arm]", "[ubuntu-24.04]", 1),
		"no Go 1.27":           strings.Replace(text, "['1.26.x', '1.27.x']", "['1.26.x']", 1),
		"a fixed Go version":   strings.Replace(text, "go-version: ${{ matrix.go }}", "go-version: '1.26.x'", 1),
		"a fixed runner":       strings.Replace(text, "runs-on: ${{ matrix.os }}", "runs-on: ubuntu-24.04", 1),
		"scripts/test called":  strings.Replace(text, "run: .ci/run", "run: scripts/test", 1),
		"no govulncheck":       strings.Replace(text, "govulncheck@latest "+everyModule, "govulncheck@latest ./...", 1),
		"an unpinned action":   strings.Replace(text, "actions/checkout@v4", "actions/checkout@main", 1),
		"no pull_request":      strings.Replace(text, "  pull_request:\n", "", 1),
		"no setup-go":          strings.Replace(text, "actions/setup-go@v5", "actions/cache@v4", 1),
		"a broken indentation": strings.Replace(text, "jobs:\n", "jobs:\n test: [\n", 1),
	} {
		if broken == text {
			t.Errorf("%s: the mutation changed nothing; update this test with the workflow", name)
			continue
		}
		if p := checkWorkflow([]byte(broken)); len(p) == 0 {
			t.Errorf("checkWorkflow accepts a workflow with %s", name)
		}
	}
}
