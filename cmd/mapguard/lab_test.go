package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/mapguard/mapguard/lab"
)

// The lab re-executes its own binary as the child; in tests that binary is
// the test binary, whose TestMain (e2e_test.go) runs the command instead
// of the tests when MAPGUARD_TEST_AS_COMMAND is set, as the children
// inherit it.
func TestLabShortJSONAndMarkdown(t *testing.T) {
	t.Setenv("MAPGUARD_TEST_AS_COMMAND", "1")
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"lab", "-short", "-race", "off", "-json", "-scenario", "read-while-write,8,12"}, &out, &errOut)
	if err != nil {
		t.Fatalf("lab: %v\n%s", err, errOut.String())
	}
	var rep struct {
		Machine machine
		Results []lab.Result
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("-json output: %v\n%s", err, out.String())
	}
	if len(rep.Results) != 3 || rep.Machine.GoVersion == "" {
		t.Fatalf("results %+v", rep)
	}
	for _, r := range rep.Results {
		if r.Verdict == "" || r.Evidence == "" || len(r.Runs) == 0 || r.GoVersion == "" {
			t.Errorf("incomplete result %+v", r)
		}
		if r.ID == 3 && r.RaceNote != "no -race run: -race off" {
			t.Errorf("race note %q", r.RaceNote)
		}
	}

	out.Reset()
	if err := run(context.Background(), []string{"lab", "-short", "-race", "off", "-md", "-scenario", "12"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# Go map pitfalls, measured", "| 12 |", "## 12. map-memory-back:", "**Evidence**", "**Instead:**"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, out.String())
		}
	}
}

func TestLabUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"lab", "-scenario", "99"},
		{"lab", "-runs", "-1"},
		{"lab", "-race", "maybe"},
		{"lab", "-json", "-md"},
		{"lab", "extra"},
	} {
		err := run(context.Background(), args, io.Discard, io.Discard)
		var ue *usageError
		if !errors.As(err, &ue) || exitCode(err, io.Discard) != 2 {
			t.Errorf("run(%q) = %v; want a usage error (exit 2)", args, err)
		}
	}
}

// TestLabHelp pins the -h text: the internal -child and -variant flags,
// with which the lab re-executes itself as a scenario's child (exercised
// by TestLabShortJSONAndMarkdown), are not listed, and -short says what it
// trades: the claims it leaves too few runs for a verdict.
func TestLabHelp(t *testing.T) {
	var errOut bytes.Buffer
	err := run(context.Background(), []string{"lab", "-short", "-h"}, io.Discard, &errOut)
	if !errors.Is(err, flag.ErrHelp) || exitCode(err, io.Discard) != 0 {
		t.Fatalf("lab -h: %v; want flag.ErrHelp (exit 0)", err)
	}
	help := errOut.String()
	for _, hidden := range []string{"-child", "-variant", "internal"} {
		if strings.Contains(help, hidden) {
			t.Errorf("lab -h lists %q:\n%s", hidden, help)
		}
	}
	var starved []string
	for _, s := range lab.Scenarios() {
		if s.ShortRuns < s.MinRuns.Runs {
			starved = append(starved, fmt.Sprint(s.ID))
		}
		if want := fmt.Sprintf("a verdict needs %d", s.MinRuns.Runs); !strings.Contains(help, s.Name) || !strings.Contains(help, want) {
			t.Errorf("lab -h lacks scenario %s with %q:\n%s", s.Name, want, help)
		}
	}
	if len(starved) == 0 {
		t.Fatal("every claim gets enough runs with -short; this test expects -short to trade some verdicts for time")
	}
	short := regexp.MustCompile(`(?m)^  -short\n((?:    \t.*\n?)+)`).FindStringSubmatch(help)
	if short == nil {
		t.Fatalf("lab -h has no -short:\n%s", help)
	}
	if want := "claims " + strings.Join(starved, ", ") + " get too few runs and come out inconclusive"; !strings.Contains(short[1], want) {
		t.Errorf("-short's help %q does not say %q", short[1], want)
	}
	if !strings.Contains(help, "(default \"auto\")") || strings.Contains(help, "(default true)") {
		t.Errorf("lab -h shows the parsed values as defaults, not the defaults:\n%s", help)
	}
}

// TestLabCounts pins the plurals of the text and Markdown reports: one
// claim, one core and one run each read in the singular, and race-built
// runs are counted apart from the runs the verdict counts.
func TestLabCounts(t *testing.T) {
	m := machine{CPU: "test", Cores: 1, GoVersion: "go1.test", GOOS: "linux", GOARCH: "amd64"}
	res := []lab.Result{{ID: 3, Name: "read-while-write", Verdict: lab.Inconclusive, Evidence: "e",
		Runs: []lab.Run{{Variant: "lookup"}, {Variant: "lookup", Race: true}}}}
	var text, md bytes.Buffer
	if err := writeLabText(&text, m, res); err != nil {
		t.Fatal(err)
	}
	if err := writeLabMarkdown(&md, m, res); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{text.String(), md.String()} {
		if bad := regexp.MustCompile(`\b1 (claims|cores|runs|-race runs)\b`).FindString(out); bad != "" {
			t.Errorf("report says %q:\n%s", bad, out)
		}
		if !strings.Contains(out, "1 run and 1 -race run") {
			t.Errorf("report does not count 1 run and 1 -race run apart:\n%s", out)
		}
	}
	if !strings.Contains(text.String(), "1 claim about Go maps") || !strings.Contains(text.String(), "1 core)") {
		t.Errorf("text report:\n%s", text.String())
	}
}
