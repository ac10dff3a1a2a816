package lab

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// ChildMain runs one variant of scenario id in this process, prints its
// measurements as the result line on standard output, and exits 0; or
// the process dies of what the scenario provokes. Binaries that launch
// children (cmd/mapguard, the race-built lab child, the tests) call it in
// child mode.
func ChildMain(id int, variant string, short bool) {
	if err := RunChild(id, variant, short, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "lab: %v\n", err)
		os.Exit(2)
	}
	os.Exit(0)
}

// RunChild is ChildMain without the exit: it runs one variant of scenario
// id in this process and writes the result line to w, for a child that
// has something to finish before it exits (cmd/mapguard writes its CPU
// profile). The scenario may still crash the process.
func RunChild(id int, variant string, short bool, w io.Writer) error {
	var s *Scenario
	for i := range scenarios {
		if scenarios[i].ID == id {
			s = &scenarios[i]
		}
	}
	if s == nil {
		return fmt.Errorf("no scenario %d", id)
	}
	out := &Output{Metrics: map[string]float64{}, Notes: map[string]string{}}
	s.Child(variant, short, out)
	b, err := json.Marshal(out)
	if err != nil {
		return fmt.Errorf("encoding the result: %w", err)
	}
	_, err = fmt.Fprintf(w, "%s%s\n", resultPrefix, b)
	return err
}
