// Command mapvet reports map concurrency bugs: self-deadlocking writes in
// iterations and callbacks (rangelock), check-then-act races on
// concurrent maps (checkthenact), builtin maps shared with a goroutine
// without synchronization (unsyncmap), and closures that keep a whole map
// alive for a few constant keys (mapcapture).
//
// Standalone:
//
//	mapvet ./...
//	mapvet -checkthenact.fix ./...        (apply suggested fixes: -fix)
//	mapvet -mapcapture=false ./...        (disable one analyzer)
//
// As a go vet tool:
//
//	go vet -vettool=$(which mapvet) ./...
//
// Exit codes follow go vet: 0 when clean, 1 on errors, and 3 when it
// reports findings (go vet itself exits 1 then).
package main

import (
	"golang.org/x/tools/go/analysis/multichecker"

	"github.com/mapguard/mapguard/analysis/suite"
)

func main() { multichecker.Main(suite.Analyzers()...) }
