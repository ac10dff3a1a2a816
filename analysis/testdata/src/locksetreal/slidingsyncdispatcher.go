package locksetreal

import (
	"context"
	"sync"
)

// matrix-org/sliding-sync, sync3/dispatcher.go: "concurrent map read and
// map write" panics seen in the wild, fixed by
// https://github.com/matrix-org/sliding-sync/pull/123 ("Ensure reads are
// protected with a RLock"). Register and Unregister write userToReceiver
// under userToReceiverMu; the filters that OnNewEvent, OnEphemeralEvent
// and OnReceipt hand to JoinedRoomsTracker.JoinedUsersForRoom read it
// with no lock. The tracker runs the filter under its own t.mu, which
// does not guard the dispatcher's map. The fix reads it through
// ReceiverForUser, which takes the read lock.

type set map[string]struct{}

type EventData struct {
	RoomID    string
	JoinCount int
}

type Receiver interface {
	OnNewEvent(ctx context.Context, event *EventData)
	OnRegistered(ctx context.Context, latestPos int64) error
}

const DispatcherAllUsers = "-"

type JoinedRoomsTracker struct {
	roomIDToJoinedUsers map[string]set
	mu                  *sync.RWMutex
}

func (t *JoinedRoomsTracker) UserJoinedRoom(userID, roomID string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	users := t.roomIDToJoinedUsers[roomID]
	if users == nil {
		users = make(set)
	}
	_, was := users[userID]
	users[userID] = struct{}{}
	t.roomIDToJoinedUsers[roomID] = users
	return !was
}

func (t *JoinedRoomsTracker) JoinedUsersForRoom(roomID string, filter func(userID string) bool) (matched []string, joinCount int) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	users := t.roomIDToJoinedUsers[roomID]
	if len(users) == 0 {
		return nil, 0
	}
	if filter == nil {
		filter = func(string) bool { return true }
	}
	for userID := range users {
		if filter(userID) {
			matched = append(matched, userID)
		}
	}
	return matched, len(users)
}

type Dispatcher struct {
	jrt              *JoinedRoomsTracker
	userToReceiver   map[string]Receiver
	userToReceiverMu *sync.RWMutex
	latestPos        int64
}

func NewDispatcher() *Dispatcher {
	return &Dispatcher{
		jrt:              &JoinedRoomsTracker{roomIDToJoinedUsers: map[string]set{}, mu: &sync.RWMutex{}},
		userToReceiver:   make(map[string]Receiver),
		userToReceiverMu: &sync.RWMutex{},
	}
}

func (d *Dispatcher) Unregister(userID string) {
	d.userToReceiverMu.Lock()
	defer d.userToReceiverMu.Unlock()
	delete(d.userToReceiver, userID)
}

func (d *Dispatcher) Register(ctx context.Context, userID string, r Receiver) error {
	d.userToReceiverMu.Lock()
	defer d.userToReceiverMu.Unlock()
	d.userToReceiver[userID] = r
	return r.OnRegistered(ctx, d.latestPos)
}

func (d *Dispatcher) OnNewEvent(ctx context.Context, roomID, sender string) {
	d.jrt.UserJoinedRoom(sender, roomID)
	ed := &EventData{RoomID: roomID}
	userIDs, joinCount := d.jrt.JoinedUsersForRoom(roomID, func(userID string) bool {
		if userID == DispatcherAllUsers {
			return false // safety guard to prevent dupe global callbacks
		}
		_, exists := d.userToReceiver[userID] // want `read of d.userToReceiver without d.userToReceiverMu held`
		return exists
	})
	ed.JoinCount = joinCount
	d.notifyListeners(ctx, ed, userIDs)
}

func (d *Dispatcher) OnReceipt(ctx context.Context, roomID string) {
	notify, _ := d.jrt.JoinedUsersForRoom(roomID, func(userID string) bool {
		if userID == DispatcherAllUsers {
			return false
		}
		_, exists := d.userToReceiver[userID] // want `read of d.userToReceiver without d.userToReceiverMu held`
		return exists
	})
	d.userToReceiverMu.RLock()
	defer d.userToReceiverMu.RUnlock()
	for _, userID := range notify {
		if l := d.userToReceiver[userID]; l != nil {
			l.OnNewEvent(ctx, &EventData{RoomID: roomID})
		}
	}
}

func (d *Dispatcher) notifyListeners(ctx context.Context, ed *EventData, userIDs []string) {
	d.userToReceiverMu.RLock()
	defer d.userToReceiverMu.RUnlock()
	if l := d.userToReceiver[DispatcherAllUsers]; l != nil {
		l.OnNewEvent(ctx, ed)
	}
	for _, userID := range userIDs {
		if l := d.userToReceiver[userID]; l != nil {
			edd := *ed
			l.OnNewEvent(ctx, &edd)
		}
	}
}

// DispatcherFixed reads the map in its filters through ReceiverForUser.
type DispatcherFixed struct {
	jrt              *JoinedRoomsTracker
	userToReceiver   map[string]Receiver
	userToReceiverMu *sync.RWMutex
}

func (d *DispatcherFixed) Register(userID string, r Receiver) {
	d.userToReceiverMu.Lock()
	defer d.userToReceiverMu.Unlock()
	d.userToReceiver[userID] = r
}

func (d *DispatcherFixed) Unregister(userID string) {
	d.userToReceiverMu.Lock()
	defer d.userToReceiverMu.Unlock()
	delete(d.userToReceiver, userID)
}

func (d *DispatcherFixed) ReceiverForUser(userID string) Receiver {
	d.userToReceiverMu.RLock()
	defer d.userToReceiverMu.RUnlock()
	return d.userToReceiver[userID]
}

func (d *DispatcherFixed) OnNewEvent(ctx context.Context, roomID string) {
	userIDs, _ := d.jrt.JoinedUsersForRoom(roomID, func(userID string) bool {
		if userID == DispatcherAllUsers {
			return false
		}
		return d.ReceiverForUser(userID) != nil
	})
	for _, u := range userIDs {
		if l := d.ReceiverForUser(u); l != nil {
			l.OnNewEvent(ctx, &EventData{RoomID: roomID})
		}
	}
}
