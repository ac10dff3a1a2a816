// Package server reproduces the recursive read lock fixed by
// https://github.com/nats-io/nats-server/pull/6899 (server/memstore.go at
// 2dc14f84d^): memStore.MultiLastSeqs holds ms.mu.RLock (deferred
// RUnlock) and, when the filters cover every subject, returns
// ms.AllLastSeqs(), which read-locks ms.mu again. A StoreMsg that calls
// ms.mu.Lock in between waits for the first read lock and blocks the
// second: deadlock.
package server

import (
	"slices"
	"sync"

	"rangelocknatsmemstore/stree"
)

// StreamConfig is the part of a stream's configuration memStore reads.
type StreamConfig struct {
	Subjects []string
}

// StreamState is information about the given stream.
type StreamState struct {
	Msgs    uint64
	LastSeq uint64
}

// SimpleState for filtered subject specific state.
type SimpleState struct {
	Msgs  uint64
	First uint64
	Last  uint64
}

// StoreMsg is the stored message format for messages that are retained
// by the Store layer.
type StoreMsg struct {
	subj string
	msg  []byte
	seq  uint64
}

type memStore struct {
	mu    sync.RWMutex
	cfg   StreamConfig
	state StreamState
	msgs  map[uint64]*StoreMsg
	fss   *stree.SubjectTree[SimpleState]
}

// StoreMsg is the writer: it takes ms.mu.Lock.
func (ms *memStore) StoreMsg(subj string, msg []byte) uint64 { // want StoreMsg:`^Lock\(recv\.mu\)$`
	ms.mu.Lock()
	seq := ms.state.LastSeq + 1
	ms.msgs[seq] = &StoreMsg{subj: subj, msg: msg, seq: seq}
	ms.fss.Insert([]byte(subj), SimpleState{Msgs: 1, First: seq, Last: seq})
	ms.state.Msgs++
	ms.state.LastSeq = seq
	ms.mu.Unlock()
	return seq
}

// AllLastSeqs will return a sorted list of last sequences for all subjects.
func (ms *memStore) AllLastSeqs() ([]uint64, error) { // want AllLastSeqs:`^RLock\(recv\.mu\)$`
	ms.mu.RLock()
	defer ms.mu.RUnlock()

	if len(ms.msgs) == 0 {
		return nil, nil
	}

	seqs := make([]uint64, 0, ms.fss.Size())
	ms.fss.IterFast(func(subj []byte, ss *SimpleState) bool {
		seqs = append(seqs, ss.Last)
		return true
	})

	slices.Sort(seqs)
	return seqs, nil
}

// Helper to determine if the filter(s) represent all the subjects.
// Lock should be held.
func (ms *memStore) filterIsAll(filters []string) bool {
	if len(filters) != len(ms.cfg.Subjects) {
		return false
	}
	slices.Sort(filters)
	for i, subj := range filters {
		if ms.cfg.Subjects[i] != subj {
			return false
		}
	}
	return true
}

// MultiLastSeqs will return a sorted list of sequences that match all subjects presented in filters.
// We will not exceed the maxSeq, which if 0 becomes the store's last sequence.
func (ms *memStore) MultiLastSeqs(filters []string, maxSeq uint64, maxAllowed int) ([]uint64, error) { // want MultiLastSeqs:`^RLock\(recv\.mu\)$`
	ms.mu.RLock()
	defer ms.mu.RUnlock()

	if len(ms.msgs) == 0 {
		return nil, nil
	}

	// See if we can short circuit if we think they are asking for all last sequences and have no maxSeq or maxAllowed set.
	if maxSeq == 0 && maxAllowed <= 0 && ms.filterIsAll(filters) {
		return ms.AllLastSeqs() // want `ms.AllLastSeqs read-locks ms.mu, whose read lock this goroutine already holds: recursive read locking`
	}

	// Implied last sequence.
	if maxSeq == 0 {
		maxSeq = ms.state.LastSeq
	}

	seqs := make([]uint64, 0, 64)
	seen := make(map[uint64]struct{})

	addIfNotDupe := func(seq uint64) {
		if _, ok := seen[seq]; !ok {
			seqs = append(seqs, seq)
			seen[seq] = struct{}{}
		}
	}

	for _, filter := range filters {
		ms.fss.Match([]byte(filter), func(subj []byte, ss *SimpleState) {
			if ss.Last <= maxSeq {
				addIfNotDupe(ss.Last)
			} else if ss.Msgs > 1 {
				s := string(subj)
				for seq := maxSeq; seq > 0; seq-- {
					if sm, ok := ms.msgs[seq]; ok && sm.subj == s {
						addIfNotDupe(seq)
						break
					}
				}
			}
		})
		if maxAllowed > 0 && len(seqs) > maxAllowed {
			return nil, nil
		}
	}
	slices.Sort(seqs)
	return seqs, nil
}
