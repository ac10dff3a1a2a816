// Package rollout gray-releases a change: it assigns units (users,
// instances) to the arms of an experiment deterministically, records
// exposures to a Sink (Kafka, a JSON-lines file, memory), and analyses
// them per arm, over units.
//
// # Assignment
//
// Assignment follows the established feature-flag systems: a unit is
// enrolled if murmur3_32(salt + ":" + unit) falls below the experiment's
// total weight, and its arm is picked by a second murmur3 hash with a
// different seed, over ranges laid out in the arms' fixed order. Because
// enrolment and arm use independent hashes, raising the total traffic
// (keeping the arms' proportions) only enrols more units and never moves
// an enrolled unit to another arm; using one hash for both skews the arms.
//
// # Analysis over units
//
// Units, not exposures, are randomized, so units are what the analysis
// compares: an Aggregator first reduces each unit's values of a metric to
// one value (their mean, or their sum with reduce: sum), then compares
// the arms' unit values by Welch's t-test; MetricStats.N counts units.
// Treating each exposure as independent overstates the evidence whenever
// units differ from each other more than a unit's exposures do. With 400
// units per arm, 50 exposures each, unit means spread with standard
// deviation 5.74 around the arm's mean, exposures spread with standard
// deviation 1.8 around their unit's mean, and arms 0.3 apart:
//
//	per exposure: n = 20000 per arm, sd ≈ 6.0,  se = 6.0·√(2/20000) ≈ 0.060, t ≈ 5.0,  p ≈ 6e-7
//	per unit:     n = 400 per arm,   sd ≈ 5.74, se = 5.74·√(2/400)  ≈ 0.41,  t ≈ 0.74, p ≈ 0.46
//
// The per-exposure test calls a difference the design cannot resolve
// significant; the per-unit one does not (TestPerUnitAnalysis).
//
// A ratio metric, configured as
//
//	metrics:
//	  - {name: error_rate, numerator: errors, denominator: requests}
//
// is sum over an arm's units of the numerator's values divided by the sum
// of the denominator's, R = Σx/Σy = x̄/ȳ, with x and y each unit's sums.
// Its variance comes from the delta method,
//
//	Var(R) ≈ (s_x² − 2·R·s_xy + R²·s_y²) / (n·ȳ²)
//
// over the n units with either metric (s are the sample variances and
// covariance of the unit sums), and an arm is compared with the control
// by z = (R_arm − R_control) / √(Var_arm + Var_control), with the 95%
// interval ±1.96 standard errors. Three units with (errors, requests) of
// (1, 100), (0, 50) and (4, 150): R = 5/300 = 0.0167, x̄ = 1.667,
// ȳ = 100, s_x² = 4.333, s_y² = 2500, s_xy = 100, so
// Var(R) = (4.333 − 2·0.0167·100 + 0.0167²·2500)/(3·100²) = 5.65e-5 and
// the standard error is 0.0075.
//
// A metric may name a covariate, a recorded metric the arm cannot have
// changed (the unit's value before the experiment, sent with its
// exposure):
//
//	metrics:
//	  - {name: latency_ms, covariate: pre_latency_ms}
//
// The report then also compares the arms with CUPED's variance reduction
// (MetricStats.Adjusted): over the units with both, each unit's value y
// becomes y − θ·(x − x̄), with x its covariate, x̄ the mean over all
// units and θ = cov(y, x)/var(x) pooled over the arms, and Welch's test
// compares the adjusted values. The difference estimated is the same;
// its variance shrinks by the factor 1 − ρ², ρ the correlation of y and x.
//
// # Outcomes
//
// An event with an arm is an exposure; one without is an outcome, whose
// metrics count for the arm of its unit's first exposure, by Event.Time
// (events without a time sort first). An outcome before its unit's first
// exposure is not attributed (Report.PreExposure), nor is one of a unit
// never exposed (Report.Unattributed). A unit exposed to several arms is
// analysed in the arm of its first exposure and counted in
// Report.MixedUnits.
//
// # Streaming and merging
//
// An Aggregator keeps per unit its first exposure, its arm, and per
// metric the sum and count of the attributed values (16 bytes). Events
// may come in any order: an outcome not (yet) preceded by an exposure is
// held back, and attributed if an earlier exposure arrives later; since
// the first exposure only moves earlier, a value once attributed stays
// so. Aggregators fed disjoint parts of a stream, split in any way (a
// unit's events need not be in one part), merge into the Report one
// Aggregator fed everything gives: the same counts, the same sketches,
// and means and p-values equal up to floating-point rounding. This holds
// unless a unit holds back more than 64 outcome values at once (then
// whole outcomes are dropped and counted in Report.Dropped) or is exposed
// to more than one arm (then a value's percentile sketch is the arm the
// unit had when the value was attributed).
//
// P50 and P99 are of raw values (each event's value), from a DDSketch
// per arm and metric with relative accuracy SketchAccuracy (1%):
// mergeable exactly, in memory that grows with the logarithm of the
// values' range, not with their number.
//
// MarshalBinary's format, version 1, is the magic "MGRA", a version byte,
// then the experiment as JSON, the counters, the metric names, the
// sketches' bins, and the units, in unsigned and zigzag varints and
// little-endian float64s, closed by a CRC-32C of everything before it.
package rollout
