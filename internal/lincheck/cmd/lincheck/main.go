// Command lincheck checks histories of map operations (lincheck.History,
// as JSON) for linearizability: each file named on the command line, or
// standard input when none is.
//
// Exit codes: 0 every history linearizable, 1 one is not, 3 one was
// undecided within -timeout (and none was illegal), 2 a history it cannot
// read or check.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/mapguard/mapguard/internal/lincheck"
)

func main() {
	timeout := flag.Duration("timeout", 0, "give up on a history after this long (0: never)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: lincheck [-timeout d] [history.json ...]\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() == 0 {
		os.Exit(checkOne("standard input", os.Stdin, *timeout))
	}
	illegal, undecided := false, false
	for _, name := range flag.Args() {
		f, err := os.Open(name)
		if err != nil {
			fmt.Fprintf(os.Stderr, "lincheck: %v\n", err)
			os.Exit(2)
		}
		code := checkOne(name, f, *timeout)
		f.Close()
		switch code {
		case 1:
			illegal = true
		case 2:
			os.Exit(2)
		case 3:
			undecided = true
		}
	}
	switch {
	case illegal:
		os.Exit(1)
	case undecided:
		os.Exit(3)
	}
}

// checkOne checks the history read from r and returns its exit code.
func checkOne(name string, r io.Reader, timeout time.Duration) int {
	var h lincheck.History
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&h); err != nil {
		fmt.Fprintf(os.Stderr, "lincheck: %s: reading the history: %v\n", name, err)
		return 2
	}
	res, err := lincheck.Check(h, timeout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "lincheck: %s: %s\n", name, strings.TrimPrefix(err.Error(), "lincheck: "))
		return 2
	}
	switch res {
	case porcupine.Ok:
		fmt.Printf("%s: linearizable: %d operations\n", name, len(h.Ops))
		return 0
	case porcupine.Illegal:
		fmt.Printf("%s: NOT linearizable: %d operations\n", name, len(h.Ops))
		return 1
	}
	fmt.Printf("%s: undecided within %v: %d operations\n", name, timeout, len(h.Ops))
	return 3
}
