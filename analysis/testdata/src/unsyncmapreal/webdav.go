package unsyncmapreal

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"strings"
	"time"
)

// hacdias/webdav, lib/webdav.go and lib/log.go at 9a4b378 ("add source
// request log", v4.1.0): Config.ServeHTTP, the handler every request
// runs, records each authorized client in the package-level map
// authorizedSource, which LastRequestLogIndex (a goroutine main starts)
// ranges over and deletes from every 5 s. Two requests at once crashed
// the server: fatal error: concurrent map writes at
// (*Config).ServeHTTP webdav.go:103,
// https://github.com/hacdias/webdav/issues/84. The fix (8a8650d,
// "introduce structured, field logging") dropped the map and logs each
// attempt instead (ConfigFixed below).

// User is a WebDAV user.
type User struct {
	Username string
	Password string
	Scope    string
	Modify   bool
}

// Allowed reports whether u may access url.
func (u *User) Allowed(url string, noModification bool) bool {
	return noModification || u.Modify
}

func checkPassword(saved, input string) bool { return saved == input }

// map[reqHost:username]lastRequestSuccessTime
var authorizedSource = make(map[string]time.Time, 1)

// LastRequestLogIndex forgets clients idle for two minutes.
func LastRequestLogIndex(ctx context.Context) {
	updateInterval := 5 * time.Second
	ticker := time.NewTicker(updateInterval)
	for {
		ticker.Reset(updateInterval)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
			for v, k := range authorizedSource {
				if k.Unix()+(60*2) < time.Now().Unix() {
					delete(authorizedSource, v)
				}
			}
		}
	}
}

// Config is the configuration of a WebDAV instance.
type Config struct {
	*User
	Auth    bool
	NoSniff bool
	Users   map[string]*User
}

// ServeHTTP determines if the request is for this plugin, and if all
// prerequisites are met.
func (c *Config) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u := c.User
	if c.Auth {
		w.Header().Set("WWW-Authenticate", `Basic realm="Restricted"`)
		username, password, ok := r.BasicAuth()
		reqHost := func() string {
			hArr := strings.Split(r.RemoteAddr, ":")
			return hArr[0]
		}
		reqMark := fmt.Sprintf("%s:%s", reqHost(), username)
		if _, found := authorizedSource[reqMark]; !found {
			log.Printf("%s tried to verify account , username is [%s]", r.RemoteAddr, username)
		}
		if !ok {
			http.Error(w, "Not authorized", 401)
			return
		}
		user, ok := c.Users[username]
		if !ok {
			http.Error(w, "Not authorized", 401)
			return
		}
		if !checkPassword(user.Password, password) {
			http.Error(w, "Not authorized", 401)
			return
		} else {
			authorizedSource[reqMark] = time.Now() // want `Config.ServeHTTP writes authorizedSource with no lock held, and net/http runs a handler once per request`
		}
		u = user
	}
	if !u.Allowed(r.URL.Path, r.Method == "GET") {
		w.WriteHeader(http.StatusForbidden)
		return
	}
}

// ConfigFixed is Config after the fix: no shared map, each attempt is
// logged.
type ConfigFixed struct {
	*User
	Auth  bool
	Users map[string]*User
}

func (c *ConfigFixed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u := c.User
	if c.Auth {
		w.Header().Set("WWW-Authenticate", `Basic realm="Restricted"`)
		username, password, ok := r.BasicAuth()
		if !ok {
			http.Error(w, "Not authorized", 401)
			return
		}
		user, ok := c.Users[username]
		if !ok {
			http.Error(w, "Not authorized", 401)
			return
		}
		if !checkPassword(user.Password, password) {
			log.Printf("invalid password: username=%s remote=%s", username, r.RemoteAddr)
			http.Error(w, "Not authorized", 401)
			return
		}
		log.Printf("user authorized: username=%s", username)
		u = user
	}
	if !u.Allowed(r.URL.Path, r.Method == "GET") {
		w.WriteHeader(http.StatusForbidden)
		return
	}
}
