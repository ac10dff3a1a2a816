package rollout

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"
)

// SketchAccuracy is the relative accuracy of the P50 and P99 in a
// Report: each is within 1% of a value whose rank is the requested one.
// 1% keeps a sketch of values spanning six decades to about 700 bins
// (5.6 KB) per arm and metric, and is finer than the run-to-run noise of
// a latency percentile.
const SketchAccuracy = 0.01

// maxMetrics bounds the distinct metric names an Aggregator tracks, so a
// stream of made-up names cannot grow it without bound; an event that
// would add a name past it is malformed. The per-unit metric index is a
// uint16.
const maxMetrics = 256

// maxPending bounds the outcome values one unit holds back while they
// are not attributed: outcomes that arrived before, or without, an
// exposure of their unit that precedes them in time. 64 values of 24
// bytes are 1.5 KB, held only by units whose outcomes come first; an
// outcome that does not fit is dropped and counted in Report.Dropped.
const maxPending = 64

// noMetric is the metric index of a held-back outcome that carries no
// metric: it is kept only to be counted.
const noMetric = math.MaxUint16

// The range of event times: time.Time.UnixNano is defined for years 1678
// to 2262; a time outside it is malformed.
const (
	minUnixSeconds = -9_200_000_000
	maxUnixSeconds = 9_200_000_000
)

// Aggregator summarises the events of one experiment as they stream in,
// keeping a small state per unit instead of the events, so that the arms
// can be compared over units (the randomization unit) rather than over
// exposures. Aggregators of the same experiment fed disjoint parts of a
// stream merge (Merge, or MarshalBinary and UnmarshalBinary between
// processes) into the Report one Aggregator fed the whole stream would
// give, whatever the order of the events and however a unit's events are
// split among them; see the package documentation for what that holds
// under, and for the statistics.
//
// The zero Aggregator has no experiment: it is only for UnmarshalBinary.
// An Aggregator is not safe for concurrent use; give each goroutine its
// own and Merge them. Copying one shares its state: copy it with Merge
// into a new one.
//
// Add costs a map lookup by unit and, per metric value, a sketch update;
// memory is about 100 bytes per unit plus 16 per unit and metric (see
// BenchmarkAggregatorMemory), plus the held-back outcomes, plus a sketch
// per arm and metric. Report walks every unit.
type Aggregator struct {
	exp  Experiment
	arms map[string]int // arm name -> index in exp.Arms
	// ratio names the ratio metrics, which events must not carry.
	ratio map[string]bool
	// metrics are the recorded metric names in order of first sight;
	// index maps a name to its position, the index units use.
	metrics []string
	index   map[string]uint16
	units   map[string]*unitState
	// sketches[arm][metric] holds the raw values attributed to the arm;
	// nil until the first.
	sketches [][]*ddsketch.DDSketch
	// exposures and outcomes count events per arm: exposures by the
	// event's arm, outcomes by the arm they were attributed to.
	exposures, outcomes []int
	events              int // every Add
	malformed, ignored  int
	dropped             int // outcomes dropped from a full hold-back
	err                 error
}

// unitState is what an Aggregator keeps of one unit.
type unitState struct {
	// first is the time (UnixNano, or math.MinInt64 for no time) of the
	// unit's first exposure, and arm its arm: the unit's arm. The least
	// (first, arm) wins, whatever order the exposures come in. arm is -1
	// while the unit has no exposure.
	first int64
	arm   int16
	// mixed says the unit was exposed to more than one arm.
	mixed bool
	// metrics are the sums of the unit's attributed values, one entry
	// per metric index.
	metrics []unitMetric
	// pending are outcome values not attributed (yet): all of a unit
	// without exposure, and those before first. first only moves
	// earlier, so a value once attributed stays attributed.
	pending []pendingValue
}

// unitMetric is one unit's attributed values of one metric.
type unitMetric struct {
	sum float64
	n   uint32
	idx uint16
}

// pendingValue is one metric value of an outcome held back. An outcome
// of k values is k entries, the first of them marked start (an outcome
// with no metric is one entry of metric noMetric), so outcomes can be
// counted.
type pendingValue struct {
	t     int64
	v     float64
	idx   uint16
	start bool
}

// NewAggregator returns an empty Aggregator of experiment e. If e's
// metrics are misconfigured or its arms are not distinct, every method
// returns that error.
func NewAggregator(e Experiment) *Aggregator {
	a := &Aggregator{}
	a.init(e)
	return a
}

func (a *Aggregator) init(e Experiment) {
	e.Arms = slices.Clone(e.Arms)
	e.Metrics = slices.Clone(e.Metrics)
	*a = Aggregator{exp: e, arms: map[string]int{}, ratio: map[string]bool{}, index: map[string]uint16{}, units: map[string]*unitState{},
		sketches: make([][]*ddsketch.DDSketch, len(e.Arms)), exposures: make([]int, len(e.Arms)), outcomes: make([]int, len(e.Arms))}
	a.err = e.checkAnalyzable()
	for i, arm := range e.Arms {
		a.arms[arm.Name] = i
	}
	for _, m := range e.Metrics {
		if m.IsRatio() {
			a.ratio[m.Name] = true
		}
	}
}

// maxArms bounds an analysed experiment's arms: the unit state keeps an
// arm in an int16, and a blob must not claim millions.
const maxArms = 1000

// checkAnalyzable reports what keeps e from being analysed: no key, arms
// without distinct names, or a misconfigured metric.
func (e *Experiment) checkAnalyzable() error {
	if e.Key == "" {
		return &FieldError{Experiment: e.Key, Field: "key", Msg: "must not be empty"}
	}
	if len(e.Arms) == 0 || len(e.Arms) > maxArms {
		return &FieldError{Experiment: e.Key, Field: "arms", Msg: fmt.Sprintf("%d arms; the analysis needs 1 to %d", len(e.Arms), maxArms)}
	}
	seen := map[string]bool{}
	for i, a := range e.Arms {
		if a.Name == "" || seen[a.Name] {
			return &FieldError{Experiment: e.Key, Field: fmt.Sprintf("arms[%d].name", i), Msg: fmt.Sprintf("%q is empty or not unique", a.Name)}
		}
		seen[a.Name] = true
	}
	return e.validateMetrics()
}

// Experiment returns the experiment a aggregates.
func (a *Aggregator) Experiment() Experiment { return a.exp }

// MalformedEventError is Add's error for an event it cannot use; the
// Aggregator counts it in Report.Malformed.
type MalformedEventError struct {
	Unit string
	Msg  string
}

func (e *MalformedEventError) Error() string {
	return fmt.Sprintf("rollout: malformed event of unit %q: %s", e.Unit, e.Msg)
}

// errNoExperiment is the error of a zero Aggregator's methods.
var errNoExperiment = errors.New("rollout: aggregator has no experiment: make it with NewAggregator or UnmarshalBinary")

func (a *Aggregator) usable() error {
	if a.arms == nil {
		return errNoExperiment
	}
	return a.err
}

// metricValue is one validated metric of an event.
type metricValue struct {
	name string // set only while idx is noMetric: a name not yet registered
	v    float64
	idx  uint16
}

// eventTime returns t as UnixNano, math.MinInt64 for the zero time
// (which sorts before every time), and false for a time out of range.
func eventTime(t time.Time) (int64, bool) {
	if t.IsZero() {
		return math.MinInt64, true
	}
	if s := t.Unix(); s < minUnixSeconds || s > maxUnixSeconds {
		return 0, false
	}
	return t.UnixNano(), true
}

// Add adds one event. An event of another experiment or of an arm the
// experiment does not have is counted in Report.Ignored. An event with no
// experiment or no unit, a time out of range, a metric with no name, a
// NaN or infinite value, or a value of a ratio metric (computed, never
// recorded) is counted in Report.Malformed, changes nothing else, and is
// returned as a *MalformedEventError.
//
// An event with an arm is an exposure; one without is an outcome, whose
// metrics count for the arm of its unit's first exposure (by Time) if it
// is not before it.
func (a *Aggregator) Add(ev Event) error {
	if err := a.usable(); err != nil {
		return err
	}
	a.events++
	malformed := func(format string, args ...any) error {
		a.malformed++
		return &MalformedEventError{Unit: ev.Unit, Msg: fmt.Sprintf(format, args...)}
	}
	if ev.Experiment == "" {
		return malformed("no experiment")
	}
	arm := -1
	if ev.Experiment != a.exp.Key {
		a.ignored++
		return nil
	}
	if ev.Arm != "" {
		i, ok := a.arms[ev.Arm]
		if !ok {
			a.ignored++
			return nil
		}
		arm = i
	}
	if ev.Unit == "" {
		return malformed("no unit")
	}
	t, ok := eventTime(ev.Time)
	if !ok {
		return malformed("time %v is out of range", ev.Time)
	}
	var buf [8]metricValue
	vals := buf[:0]
	added := 0
	for name, v := range ev.Metrics {
		if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > maxValue {
			return malformed("metric %q is %v", name, v)
		}
		idx, ok := a.lookup(name)
		if !ok {
			switch {
			case name == "":
				return malformed("a metric has no name")
			case a.ratio[name]:
				return malformed("metric %q is a ratio metric, computed from its numerator and denominator, not recorded", name)
			case len(a.metrics)+added >= maxMetrics:
				return malformed("metric %q is over the limit of %d metric names", name, maxMetrics)
			}
			added++
			idx = noMetric // registered below, once the event is known good
		}
		vals = append(vals, metricValue{idx: idx, v: v})
		if idx == noMetric {
			vals[len(vals)-1].name = name
		}
	}
	for i := range vals {
		if vals[i].idx == noMetric {
			vals[i].idx = a.register(vals[i].name)
		}
	}
	u := a.units[ev.Unit]
	if u == nil {
		u = &unitState{arm: -1}
		// A copy: the event's string may share memory with a large buffer.
		a.units[strings.Clone(ev.Unit)] = u
	}
	if arm >= 0 {
		a.exposures[arm]++
		a.expose(u, t, int16(arm))
		for _, mv := range vals {
			a.attribute(u, mv.idx, mv.v)
		}
		return nil
	}
	if u.arm >= 0 && t >= u.first {
		a.outcomes[u.arm]++
		for _, mv := range vals {
			a.attribute(u, mv.idx, mv.v)
		}
		return nil
	}
	a.hold(u, t, vals)
	return nil
}

// maxValue is the largest magnitude a metric value may have: the
// sketch's largest indexable value at SketchAccuracy, below
// math.MaxFloat64 by a factor of about 1.01.
var maxValue = func() float64 {
	s, _ := ddsketch.LogUnboundedDenseDDSketch(SketchAccuracy)
	return s.MaxIndexableValue()
}()

// lookup returns the index of metric name. A few names are compared in
// turn, which is faster than hashing the name: an experiment records a
// handful of metrics.
func (a *Aggregator) lookup(name string) (uint16, bool) {
	if len(a.metrics) <= 8 {
		for i, m := range a.metrics {
			if m == name {
				return uint16(i), true
			}
		}
		return 0, false
	}
	idx, ok := a.index[name]
	return idx, ok
}

// register adds a metric name and returns its index; the caller has
// checked the limit.
func (a *Aggregator) register(name string) uint16 {
	idx := uint16(len(a.metrics))
	a.metrics = append(a.metrics, name)
	a.index[name] = idx
	return idx
}

// hold keeps an outcome's values back, or drops the outcome if the
// unit's hold-back is full.
func (a *Aggregator) hold(u *unitState, t int64, vals []metricValue) {
	n := max(len(vals), 1)
	if len(u.pending)+n > maxPending {
		a.dropped++
		return
	}
	if len(vals) == 0 {
		u.pending = append(u.pending, pendingValue{t: t, idx: noMetric, start: true})
		return
	}
	for i, mv := range vals {
		u.pending = append(u.pending, pendingValue{t: t, v: mv.v, idx: mv.idx, start: i == 0})
	}
}

// expose records an exposure of u at t in arm, and attributes the held
// outcomes that the exposure now precedes.
func (a *Aggregator) expose(u *unitState, t int64, arm int16) {
	switch {
	case u.arm < 0:
		u.first, u.arm = t, arm
	case arm != u.arm:
		u.mixed = true
		if t < u.first || t == u.first && arm < u.arm {
			u.first, u.arm = t, arm
		}
	case t < u.first:
		u.first = t
	default:
		return
	}
	a.release(u)
}

// release attributes u's held values that are not before its first
// exposure.
func (a *Aggregator) release(u *unitState) {
	if u.arm < 0 || len(u.pending) == 0 {
		return
	}
	kept := u.pending[:0]
	for _, p := range u.pending {
		if p.t < u.first {
			kept = append(kept, p)
			continue
		}
		if p.start {
			a.outcomes[u.arm]++
		}
		if p.idx != noMetric {
			a.attribute(u, p.idx, p.v)
		}
	}
	clear(u.pending[len(kept):])
	u.pending = kept
	if len(kept) == 0 {
		u.pending = nil
	}
}

// attribute adds value v of metric idx to u and to its arm's sketch.
func (a *Aggregator) attribute(u *unitState, idx uint16, v float64) {
	found := false
	for i := range u.metrics {
		if u.metrics[i].idx == idx {
			u.metrics[i].sum += v
			u.metrics[i].n++
			found = true
			break
		}
	}
	if !found {
		u.metrics = append(u.metrics, unitMetric{sum: v, n: 1, idx: idx})
	}
	a.sketch(int(u.arm), idx).Add(v) // v is finite and within maxValue: no error
}

// sketch returns the sketch of arm and metric idx, making it if needed.
func (a *Aggregator) sketch(arm int, idx uint16) *ddsketch.DDSketch {
	row := a.sketches[arm]
	if int(idx) >= len(row) {
		row = append(row, make([]*ddsketch.DDSketch, int(idx)+1-len(row))...)
		a.sketches[arm] = row
	}
	if row[idx] == nil {
		row[idx] = newSketch()
	}
	return row[idx]
}

func newSketch() *ddsketch.DDSketch {
	s, err := ddsketch.LogUnboundedDenseDDSketch(SketchAccuracy)
	if err != nil {
		panic("rollout: " + err.Error()) // impossible: the accuracy is a valid constant
	}
	return s
}

// sameExperiment reports how b differs from a, in what a merge needs to
// match: key, salt, arms and metrics.
func sameExperiment(a, b *Experiment) error {
	switch {
	case a.Key != b.Key:
		return fmt.Errorf("rollout: merge: experiment %q with %q", a.Key, b.Key)
	case a.Salt != b.Salt:
		return fmt.Errorf("rollout: merge: experiment %q: salt %q with %q", a.Key, a.Salt, b.Salt)
	case !slices.Equal(a.Arms, b.Arms):
		return fmt.Errorf("rollout: merge: experiment %q: arms %v with %v", a.Key, a.Arms, b.Arms)
	case !slices.Equal(a.Metrics, b.Metrics):
		return fmt.Errorf("rollout: merge: experiment %q: metrics %v with %v", a.Key, a.Metrics, b.Metrics)
	}
	return nil
}

// Merge adds other's events to a, as if a had been given them. Both must
// be of the same experiment (key, salt, arms and metrics), else Merge
// returns an error and changes nothing. other is not changed.
func (a *Aggregator) Merge(other *Aggregator) error {
	if err := a.usable(); err != nil {
		return err
	}
	if err := other.usable(); err != nil {
		return err
	}
	if a == other {
		return errors.New("rollout: merge: an aggregator with itself")
	}
	if err := sameExperiment(&a.exp, &other.exp); err != nil {
		return err
	}
	added := 0
	for _, name := range other.metrics {
		if _, ok := a.index[name]; !ok {
			added++
		}
	}
	if len(a.metrics)+added > maxMetrics {
		return fmt.Errorf("rollout: merge: %d metric names together, over the limit of %d", len(a.metrics)+added, maxMetrics)
	}
	remap := make([]uint16, len(other.metrics))
	for i, name := range other.metrics {
		idx, ok := a.index[name]
		if !ok {
			idx = a.register(name)
		}
		remap[i] = idx
	}
	a.events += other.events
	a.malformed += other.malformed
	a.ignored += other.ignored
	a.dropped += other.dropped
	for arm := range a.exp.Arms {
		a.exposures[arm] += other.exposures[arm]
		a.outcomes[arm] += other.outcomes[arm]
		for i, s := range other.sketches[arm] {
			if s != nil {
				if err := a.sketch(arm, remap[i]).MergeWith(s); err != nil {
					panic("rollout: merging sketches of one mapping: " + err.Error()) // impossible
				}
			}
		}
	}
	for key, o := range other.units {
		u := a.units[key]
		if u == nil {
			u = &unitState{arm: -1}
			a.units[key] = u
		}
		a.mergeUnit(u, o, remap)
	}
	return nil
}

// mergeUnit adds o, a unit of another Aggregator whose metric indexes
// map to a's by remap, to u.
func (a *Aggregator) mergeUnit(u, o *unitState, remap []uint16) {
	for _, m := range o.metrics {
		idx := remap[m.idx]
		found := false
		for i := range u.metrics {
			if u.metrics[i].idx == idx {
				u.metrics[i].sum += m.sum
				u.metrics[i].n += m.n
				found = true
				break
			}
		}
		if !found {
			u.metrics = append(u.metrics, unitMetric{sum: m.sum, n: m.n, idx: idx})
		}
	}
	u.mixed = u.mixed || o.mixed
	for _, p := range o.pending {
		if p.idx != noMetric {
			p.idx = remap[p.idx]
		}
		u.pending = append(u.pending, p)
	}
	if o.arm >= 0 {
		a.expose(u, o.first, o.arm)
	}
	a.release(u)
	if len(u.pending) > maxPending {
		// Keep the whole outcomes that fit; drop the rest.
		cut := maxPending
		for cut > 0 && !u.pending[cut].start {
			cut--
		}
		for _, p := range u.pending[cut:] {
			if p.start {
				a.dropped++
			}
		}
		clear(u.pending[cut:])
		u.pending = u.pending[:cut]
	}
}
