package mapcapture

import (
	"fmt"
	"net/http"
)

const greetingKey = "greeting"

// Positives.

func handler(cfg map[string]string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { // want `closure outlives its function and captures the whole map cfg to read only cfg\["greeting"\]`
		fmt.Fprint(w, cfg["greeting"])
	}
}

type server struct{ onTick func() int }

func (s *server) install(limits map[string]int) {
	s.onTick = func() int { // want `captures the whole map limits to read only limits\["burst"\], limits\["rate"\]`
		return limits["rate"] + limits["burst"]
	}
}

func background(table map[int]string) {
	go func() { // want `captures the whole map table to read only table\[1\]`
		fmt.Println(table[1])
	}()
}

var hooks []func() string

func register(names map[string]string) {
	hooks = append(hooks, nil)
	hooks[0] = func() string { return names[greetingKey] } // want `captures the whole map names to read only names\[greetingKey\]`
}

func genericGetter[K comparable, V any](m map[K]V, zero K) func() V {
	return func() V { return m[zero] }
}

func genericConst[V any](m map[string]V) func() V {
	return func() V { return m["only"] } // want `captures the whole map m to read only m\["only"\]`
}

// Negatives.

func variableKey(cfg map[string]string) func(string) string {
	return func(k string) string { return cfg[k] }
}

func iterates(cfg map[string]string) func() int {
	return func() int {
		n := 0
		for range cfg {
			n++
		}
		return n
	}
}

func writes(counts map[string]int) func() {
	return func() { counts["calls"]++ }
}

func localUse(cfg map[string]string) string {
	get := func() string { return cfg["greeting"] } // does not outlive the function
	return get()
}

func readsFirst(cfg map[string]string) func() string {
	greeting := cfg["greeting"]
	return func() string { return greeting }
}

func passesOn(cfg map[string]string, use func(map[string]string)) func() {
	return func() { use(cfg); _ = cfg["x"] }
}

func lenOnly(cfg map[string]string) func() int {
	return func() int { return len(cfg) }
}

func ownMap() func() int {
	return func() int {
		m := map[string]int{"a": 1}
		return m["a"]
	}
}

func immediately(cfg map[string]string) {
	func() { fmt.Println(cfg["a"]) }()
}
