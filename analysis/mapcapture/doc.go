// Package mapcapture defines an Analyzer that reports closures which keep
// a whole map alive to read a few constant keys.
//
// # Analyzer mapcapture
//
// mapcapture: report long-lived closures that capture a map for constant keys
//
// A closure that outlives its function (returned, stored in a field, a
// global or a container, or run by a go statement) keeps every variable
// it captures reachable. Capturing a large map to read m["timeout"] keeps
// the whole map, and everything its values point to, alive for as long as
// the closure lives, and reads the key at call time rather than at
// creation time.
//
// Wrong:
//
//	func handler(cfg map[string]string) http.HandlerFunc {
//		return func(w http.ResponseWriter, r *http.Request) {
//			fmt.Fprint(w, cfg["greeting"]) // keeps all of cfg alive
//		}
//	}
//
// Right:
//
//	func handler(cfg map[string]string) http.HandlerFunc {
//		greeting := cfg["greeting"]
//		return func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, greeting) }
//	}
//
// Closures that write the map, iterate it, read it at variable keys, or
// pass it on are not reported: they need the map itself.
package mapcapture
