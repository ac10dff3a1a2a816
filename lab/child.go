package lab

import (
	"encoding/json"
	"fmt"
	"os"
)

// ChildMain runs one variant of scenario id in this process, prints its
// measurements as the result line on standard output, and exits 0; or
// the process dies of what the scenario provokes. Binaries that launch
// children (cmd/mapguard, the race-built lab child, the tests) call it in
// child mode.
func ChildMain(id int, variant string, short bool) {
	var s *Scenario
	for i := range scenarios {
		if scenarios[i].ID == id {
			s = &scenarios[i]
		}
	}
	if s == nil {
		fmt.Fprintf(os.Stderr, "lab: no scenario %d\n", id)
		os.Exit(2)
	}
	out := &Output{Metrics: map[string]float64{}, Notes: map[string]string{}}
	s.Child(variant, short, out)
	b, err := json.Marshal(out)
	if err != nil {
		fmt.Fprintf(os.Stderr, "lab: encoding the result: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%s%s\n", resultPrefix, b)
	os.Exit(0)
}
