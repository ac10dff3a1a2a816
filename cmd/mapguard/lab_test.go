package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
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
