package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readmeRolloutExample returns, from the README's rollout section, its
// YAML config, the arguments of its `rollout assign` example and the
// output the README shows for it (the "# " line under the command).
func readmeRolloutExample(readme string) (config string, args []string, want string, ok bool) {
	_, section, found := strings.Cut(readme, "\n## `rollout`")
	if !found {
		return "", nil, "", false
	}
	section, _, _ = strings.Cut(section, "\n## ")
	_, rest, found := strings.Cut(section, "```yaml\n")
	if !found {
		return "", nil, "", false
	}
	config, _, _ = strings.Cut(rest, "```")
	lines := strings.Split(section, "\n")
	for i, line := range lines {
		cmd, found := strings.CutPrefix(line, "go run ./cmd/mapguard rollout assign ")
		if !found || i+1 == len(lines) {
			continue
		}
		want, found = strings.CutPrefix(lines[i+1], "# ")
		return config, append([]string{"rollout", "assign"}, strings.Fields(cmd)...), want, found
	}
	return "", nil, "", false
}

// TestReadmeRolloutAssign runs the README's `rollout assign` example
// exactly, against the README's own config, and checks that it prints
// the output the README shows, and that this output is an arm: the
// example used to omit the -attr its config's targeting requires and so
// printed no arm.
func TestReadmeRolloutAssign(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	config, args, want, ok := readmeRolloutExample(string(readme))
	if !ok {
		t.Fatal("README's rollout section lacks a YAML config, a `go run ./cmd/mapguard rollout assign` line, or the \"# output\" line under it")
	}
	dir := t.TempDir()
	for i, a := range args {
		if a == "experiments.yaml" {
			args[i] = writeFile(t, dir, "experiments.yaml", config)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "experiments.yaml")); err != nil {
		t.Fatalf("the README's assign example %q does not read experiments.yaml", args)
	}
	var out bytes.Buffer
	if err := run(context.Background(), args, &out, io.Discard); err != nil {
		t.Fatalf("README example %q: %v", args, err)
	}
	if got := strings.TrimSpace(out.String()); got != want {
		t.Fatalf("README example %q prints\n\t%s\nthe README shows\n\t%s", args, got, want)
	}
	if !strings.Contains(want, " (enrolled)") {
		t.Fatalf("the README's assign example gets no arm: %s", want)
	}
}
