package rollout

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// MaxLineBytes bounds one line of a JSON-lines events stream; a longer
// line is malformed, skipped, and reading goes on.
const MaxLineBytes = 1 << 20

// MaxLineErrors is how many malformed lines ScanStats keeps, with their
// line numbers; the rest are only counted.
const MaxLineErrors = 10

// LineError is a line of an events stream that was not used.
type LineError struct {
	Line int // 1-based
	Err  error
}

func (e LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }

// Unwrap returns the line's error.
func (e LineError) Unwrap() error { return e.Err }

// ScanStats counts what ScanEvents read.
type ScanStats struct {
	// Lines is the number of lines read, blank ones included.
	Lines int
	// Events is the number of lines that decoded as events and were
	// accepted by the callback.
	Events int
	// Malformed is the number of non-blank lines that did not: not JSON
	// events, longer than MaxLineBytes, or rejected by the callback.
	Malformed int
	// First holds the first MaxLineErrors of them.
	First []LineError
	// Torn is 1 when the stream's last line has no newline and is not an
	// event: a line its writer did not finish (a FileSink killed
	// mid-write leaves one). It is skipped and not counted in Malformed.
	Torn int
}

func (s *ScanStats) bad(line int, err error) {
	s.Malformed++
	if len(s.First) < MaxLineErrors {
		s.First = append(s.First, LineError{Line: line, Err: err})
	}
}

// ScanEvents decodes JSON-lines events from r one at a time, in O(1)
// memory, calling each for every event. A line that is not an event, is
// longer than MaxLineBytes, or for which each returns an error is
// counted in the stats as malformed (the first few kept with their line
// numbers) and reading goes on; a last line without a newline that is
// not an event is counted as torn; only an error reading r ends the scan
// early, and is returned with the stats so far. Blank lines are skipped.
func ScanEvents(r io.Reader, each func(Event) error) (ScanStats, error) {
	var st ScanStats
	br := bufio.NewReaderSize(r, 64<<10)
	var long []byte // a line longer than the reader's buffer, so far
	for {
		chunk, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(long) <= MaxLineBytes {
				long = append(long, chunk...)
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return st, fmt.Errorf("rollout: reading events: %w", err)
		}
		if len(chunk) == 0 && err != nil && len(long) == 0 {
			return st, nil // EOF after the last line
		}
		st.Lines++
		line := chunk
		if len(long) > 0 {
			line = append(long, chunk...)
			long = nil
		}
		switch line = bytes.TrimSpace(line); {
		case len(line) == 0:
		case len(line) > MaxLineBytes:
			st.bad(st.Lines, fmt.Errorf("longer than %d bytes", MaxLineBytes))
		default:
			var e Event
			if derr := json.Unmarshal(line, &e); derr != nil {
				if err != nil { // the last line, without a newline
					st.Torn++
				} else {
					st.bad(st.Lines, derr)
				}
			} else if cerr := each(e); cerr != nil {
				st.bad(st.Lines, cerr)
			} else {
				st.Events++
			}
		}
		if err != nil { // io.EOF after a last line without a newline
			return st, nil
		}
	}
}

// AddAll adds every event of the JSON-lines stream r, as ScanEvents: a
// line that is not an event counts in the stats as malformed, and so
// does an event Add rejects (which Report.Malformed counts as well). It
// returns an error only when reading r fails.
func (a *Aggregator) AddAll(r io.Reader) (ScanStats, error) {
	if err := a.usable(); err != nil {
		return ScanStats{}, err
	}
	return ScanEvents(r, a.Add)
}
