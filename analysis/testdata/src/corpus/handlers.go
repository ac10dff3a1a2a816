package corpus

import (
	"fmt"
	"net/http"
)

// Routes builds handlers from a large configuration map.
func Routes(cfg map[string]string) map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{
		"/hello": func(w http.ResponseWriter, r *http.Request) { // want `captures the whole map cfg to read only cfg\["greeting"\]`
			fmt.Fprintln(w, cfg["greeting"])
		},
		"/config": func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintln(w, cfg[r.URL.Query().Get("key")]) // needs the map: key chosen per request
		},
	}
}
