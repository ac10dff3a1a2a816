//go:build !race

package bench

// raceEnabled reports that the tests run under the race detector.
const raceEnabled = false
