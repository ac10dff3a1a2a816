package mapguard

// Stats is a point-in-time description of a Map's table, cheap enough to
// take on every metrics scrape: it reads a few counters and never walks the
// entries. Fields are read one by one while writers run, so they need not be
// mutually consistent.
type Stats struct {
	// Entries is the number of entries, as Size reports it.
	Entries int
	// Buckets is the number of root buckets in the table.
	Buckets int
	// MinBuckets is the size the table never shrinks below.
	MinBuckets int
	// OverflowBuckets is the number of overflow buckets chained to root
	// buckets. Many of them mean long chains: a poor hash or adversarial keys.
	OverflowBuckets int
	// Capacity is the number of entries the table holds before it grows:
	// Buckets times the slots per bucket, times the maximum load factor.
	Capacity int
	// LoadFactor is Entries divided by the slots in root buckets.
	LoadFactor float64
	// Grows, Shrinks and Clears count table replacements since the map
	// was made.
	Grows, Shrinks, Clears uint64
	// Resizing reports whether a resize was in progress.
	Resizing bool
	// SizeStripes is the number of cells of the striped size counter.
	SizeStripes int
	// Inline reports whether the map stores its keys and values inline in
	// its table (K and V hold no pointers; see Map) rather than in entry
	// objects. A map not used yet reports false.
	Inline bool
	// LockedReads counts reads of an inline map (Load and the other
	// lookups, and iteration, chain by chain) that writers kept
	// invalidating until the read took the chain's lock. A steady rise
	// means a few keys are written so often that readers queue behind
	// their writers. It is always 0 for entry tables.
	LockedReads uint64
}

// Stats returns a description of the map's table. It costs O(GOMAXPROCS)
// and takes no lock.
func (m *Map[K, V]) Stats() Stats {
	s := Stats{
		MinBuckets: m.cfg.minBuckets(),
		Grows:      m.grows.Load(),
		Shrinks:    m.shrinks.Load(),
		Clears:     m.clears.Load(),
		Resizing:   m.resizing.Load() != nil,
	}
	t := m.table.Load()
	if t == nil {
		if it := m.itab.Load(); it != nil {
			s.MinBuckets = m.cfg.inlMinBuckets()
			s.Resizing = m.iresizing.Load() != nil
			s.LockedReads = m.lockedReads.Load()
			it.stats(&s)
		}
		return s
	}
	s.Entries = t.size()
	s.Buckets = len(t.buckets)
	s.OverflowBuckets = int(t.overflow.Load())
	s.Capacity = int(float64(s.Buckets) * slotsPerBucket * maxLoad)
	s.LoadFactor = float64(s.Entries) / float64(s.Buckets*slotsPerBucket)
	s.SizeStripes = len(t.stripes)
	return s
}
