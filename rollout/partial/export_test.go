package partial

// Abandon makes m stop, when Run's context is done, without publishing
// the partials of the partitions it owns, as a crash after its last
// publication would; it still leaves the group, so that the others take
// its partitions over at once.
func Abandon(m *Member) { m.abandon.Store(true) }
