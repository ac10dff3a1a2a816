// Command labchild runs one lab scenario's child. `mapguard lab` builds it
// with -race to see whether the race detector flags a scenario; normal
// runs re-execute mapguard itself instead.
package main

import (
	"flag"

	"github.com/mapguard/mapguard/lab"
)

func main() {
	id := flag.Int("scenario", 0, "scenario ID")
	variant := flag.String("variant", "", "scenario variant")
	short := flag.Bool("short", false, "short mode")
	flag.Parse()
	lab.ChildMain(*id, *variant, *short)
}
