package checkthenactreal

import (
	"time"

	cache "checkthenactgocache"
)

// The "if not found then set" sequence on github.com/patrickmn/go-cache
// that https://github.com/patrickmn/go-cache/pull/117 describes: two
// goroutines both miss in Get and both Set, and the first value handed
// out is silently replaced. Get and Set each take the cache's mu; the
// facts that say so come from the library's package.

type tokenIssuer struct {
	tokens *cache.Cache
	mint   func(user string) string
}

func (t *tokenIssuer) Token(user string) string {
	if v, found := t.tokens.Get(user); found {
		return v.(string)
	}
	tok := t.mint(user)
	t.tokens.Set(user, tok, cache.DefaultExpiration) // want `Set of t.tokens after Get of the same key at line 21, with no lock held across both: each call locks t.tokens.mu on its own`
	return tok
}

// TokenFixed uses Add, which checks and stores under one lock, and
// reads back the winner when it loses.
func (t *tokenIssuer) TokenFixed(user string) string {
	if v, found := t.tokens.Get(user); found {
		return v.(string)
	}
	tok := t.mint(user)
	if err := t.tokens.Add(user, tok, time.Hour); err != nil {
		v, _ := t.tokens.Get(user)
		return v.(string)
	}
	return tok
}
