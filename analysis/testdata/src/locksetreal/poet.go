package locksetreal

import (
	"errors"
	"sync"
	"sync/atomic"
)

// spacemeshos/poet, service/service.go: "fatal error: concurrent map
// iteration and map write", fixed by
// https://github.com/spacemeshos/poet/pull/100 ("map iteration is
// performed without acquiring a mutex lock while concurrent writes are
// possible"). Rounds are added to and removed from executingRounds under
// the embedded mutex by the goroutines that execute them, while the
// gRPC GetInfo handler calls Info, which ranged over the map unlocked.

type poetRound struct {
	ID string
}

func (r *poetRound) execute() error { return nil }

type InfoResponse struct {
	OpenRoundID        string
	ExecutingRoundsIds []string
}

var ErrNotStarted = errors.New("service not started")

type Service struct {
	started int32

	openRound *poetRound

	// executingRounds are the rounds currently generating a proof.
	executingRounds map[string]*poetRound

	prevRound *poetRound
	errChan   chan error
	sync.Mutex
}

func NewService() *Service {
	s := new(Service)
	s.executingRounds = make(map[string]*poetRound)
	s.errChan = make(chan error, 10)
	return s
}

func (s *Service) Start() error {
	if !atomic.CompareAndSwapInt32(&s.started, 0, 1) {
		return errors.New("already started")
	}
	s.openRound = &poetRound{ID: "0"}
	go func() {
		s.prevRound = s.openRound
		go func() {
			r := s.prevRound
			if err := s.executeRound(r); err != nil {
				s.errChan <- err
			}
		}()
	}()
	return nil
}

func (s *Service) Started() bool { return atomic.LoadInt32(&s.started) == 1 }

// Recover resumes the rounds found executing on disk.
func (s *Service) Recover(found []*poetRound) {
	for _, r := range found {
		go func() {
			s.Lock()
			s.executingRounds[r.ID] = r
			s.Unlock()
			defer func() {
				s.Lock()
				delete(s.executingRounds, r.ID)
				s.Unlock()
			}()
			_ = r.execute()
		}()
	}
}

func (s *Service) executeRound(r *poetRound) error {
	s.Lock()
	s.executingRounds[r.ID] = r
	s.Unlock()

	defer func() {
		s.Lock()
		delete(s.executingRounds, r.ID)
		s.Unlock()
	}()

	return r.execute()
}

func (s *Service) Info() (*InfoResponse, error) {
	if !s.Started() {
		return nil, ErrNotStarted
	}
	res := new(InfoResponse)
	res.OpenRoundID = s.openRound.ID

	ids := make([]string, 0, len(s.executingRounds)) // want `len of s.executingRounds without s.Mutex held`
	for id := range s.executingRounds {              // want `range over s.executingRounds without s.Mutex held`
		ids = append(ids, id)
	}
	res.ExecutingRoundsIds = ids
	return res, nil
}

// ServiceFixed is Service after the fix: Info locks around the range.
type ServiceFixed struct {
	started         int32
	openRound       *poetRound
	executingRounds map[string]*poetRound
	sync.Mutex
}

func (s *ServiceFixed) Started() bool { return atomic.LoadInt32(&s.started) == 1 }

func (s *ServiceFixed) Start() {
	go func() {
		_ = s.executeRound(&poetRound{ID: "1"})
	}()
}

func (s *ServiceFixed) executeRound(r *poetRound) error {
	s.Lock()
	s.executingRounds[r.ID] = r
	s.Unlock()

	defer func() {
		s.Lock()
		delete(s.executingRounds, r.ID)
		s.Unlock()
	}()

	return r.execute()
}

func (s *ServiceFixed) Info() (*InfoResponse, error) {
	if !s.Started() {
		return nil, ErrNotStarted
	}
	res := new(InfoResponse)
	res.OpenRoundID = s.openRound.ID

	s.Lock()
	ids := make([]string, 0, len(s.executingRounds))
	for id := range s.executingRounds {
		ids = append(ids, id)
	}
	s.Unlock()
	res.ExecutingRoundsIds = ids
	return res, nil
}
