package unsyncmapreal

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// tizbac/pmoxs3backuproxy, cmd/pmoxs3backuproxy/main.go at 1b58ea8^:
// Server.ServeHTTP, which the HTTP/2 server runs once per stream, at
// once, registers a new index writer in s.Writers on every
// POST /fixed_index and /dynamic_index. proxmox-backup-client opens two
// writers at the same moment: fatal error: concurrent map writes at
// (*Server).ServeHTTP main.go:401,
// https://github.com/tizbac/pmoxs3backuproxy/issues/36. The fix
// (1b58ea8, "slap mutex around s.Writers") locks a package-level
// writer_mux around both writes (ServerFixed below).

// Writer is one index being written.
type Writer struct {
	Assignments map[int64][]byte
	FidxName    string
	Size        uint64
	Chunksize   uint64
	ReuseCSUM   string
}

// Response is the JSON envelope of a reply.
type Response struct {
	Data any `json:"data"`
}

// Server serves one backup session.
type Server struct {
	Auth      sync.Map
	H2Ticket  *struct{}
	Writers   map[int32]*Writer
	CurWriter int32
	Finished  bool
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.RequestURI, "/fixed_index?") && s.H2Ticket != nil && r.Method == "POST" {
		fidxname := r.URL.Query().Get("archive-name")
		reusecsum := r.URL.Query().Get("reuse-csum")
		S, _ := strconv.ParseUint(r.URL.Query().Get("size"), 10, 64)
		wid := atomic.AddInt32(&s.CurWriter, 1)
		resp, _ := json.Marshal(Response{Data: wid})
		s.Writers[wid] = &Writer{Assignments: make(map[int64][]byte), FidxName: fidxname, Size: S, ReuseCSUM: reusecsum} // want `Server.ServeHTTP writes s.Writers with no lock held`
		w.Header().Add("Content-Type", "application/json")
		w.Write(resp)
	}
	if strings.HasPrefix(r.RequestURI, "/dynamic_index?") && s.H2Ticket != nil && r.Method == "POST" {
		fidxname := r.URL.Query().Get("archive-name")
		wid := atomic.AddInt32(&s.CurWriter, 1)
		resp, _ := json.Marshal(Response{Data: wid})
		s.Writers[wid] = &Writer{Assignments: make(map[int64][]byte), FidxName: fidxname} // want `Server.ServeHTTP writes s.Writers with no lock held`
		w.Header().Add("Content-Type", "application/json")
		w.Write(resp)
	}
	if strings.HasPrefix(r.RequestURI, "/fixed_close?") && s.H2Ticket != nil && r.Method == "POST" {
		wid, _ := strconv.ParseInt(r.URL.Query().Get("wid"), 10, 32)
		if s.Writers[int32(wid)].ReuseCSUM != "" {
			s.Writers[int32(wid)].Chunksize = s.Writers[int32(wid)].Size
		}
		w.WriteHeader(http.StatusOK)
	}
}

var writer_mux sync.RWMutex

// ServerFixed is Server after the fix.
type ServerFixed struct {
	H2Ticket  *struct{}
	Writers   map[int32]*Writer
	CurWriter int32
}

func (s *ServerFixed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.RequestURI, "/fixed_index?") && s.H2Ticket != nil && r.Method == "POST" {
		fidxname := r.URL.Query().Get("archive-name")
		reusecsum := r.URL.Query().Get("reuse-csum")
		S, _ := strconv.ParseUint(r.URL.Query().Get("size"), 10, 64)
		wid := atomic.AddInt32(&s.CurWriter, 1)
		resp, _ := json.Marshal(Response{Data: wid})
		writer_mux.Lock()
		s.Writers[wid] = &Writer{Assignments: make(map[int64][]byte), FidxName: fidxname, Size: S, ReuseCSUM: reusecsum}
		writer_mux.Unlock()
		w.Header().Add("Content-Type", "application/json")
		w.Write(resp)
	}
	if strings.HasPrefix(r.RequestURI, "/dynamic_index?") && s.H2Ticket != nil && r.Method == "POST" {
		fidxname := r.URL.Query().Get("archive-name")
		wid := atomic.AddInt32(&s.CurWriter, 1)
		resp, _ := json.Marshal(Response{Data: wid})
		writer_mux.Lock()
		s.Writers[wid] = &Writer{Assignments: make(map[int64][]byte), FidxName: fidxname}
		writer_mux.Unlock()
		w.Header().Add("Content-Type", "application/json")
		w.Write(resp)
	}
}
