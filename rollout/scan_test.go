package rollout_test

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/mapguard/mapguard/rollout"
)

// TestScanEventsCountsMalformedLines: bad lines (not JSON, too long,
// rejected by Add) are counted with their line numbers and reading goes
// on; nothing is dropped silently.
func TestScanEventsCountsMalformedLines(t *testing.T) {
	long := `{"experiment":"map-impl","arm":"control","unit":"` + strings.Repeat("x", rollout.MaxLineBytes) + `"}`
	input := strings.Join([]string{
		`{"experiment":"map-impl","arm":"control","unit":"a","metrics":{"m":1}}`, // 1
		`not json`, // 2
		``,         // 3: blank
		long,       // 4
		`{"experiment":"map-impl","arm":"variant","unit":""}`,                    // 5: no unit, Add rejects it
		`{"experiment":"map-impl","arm":"variant","unit":"b","metrics":{"m":3}}`, // 6, no newline after it
	}, "\n")
	a := rollout.NewAggregator(experiment(50, 50))
	st, err := a.AddAll(strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	if st.Lines != 6 || st.Events != 2 || st.Malformed != 3 || len(st.First) != 3 {
		t.Fatalf("stats %+v; want 6 lines, 2 events, 3 malformed", st)
	}
	for i, line := range []int{2, 4, 5} {
		if st.First[i].Line != line {
			t.Errorf("malformed line %d reported as line %d", line, st.First[i].Line)
		}
	}
	if !errors.As(st.First[2], new(*rollout.MalformedEventError)) {
		t.Errorf("line 5's error %v; want Add's *MalformedEventError", st.First[2])
	}
	rep, err := a.Report("control")
	if err != nil {
		t.Fatal(err)
	}
	if rep.Arms[0].Units != 1 || rep.Arms[1].Units != 1 || rep.Malformed != 1 {
		t.Fatalf("report %+v; want one unit per arm and one malformed event", rep)
	}

	many := strings.Repeat("x\n", 3*rollout.MaxLineErrors)
	st, err = rollout.ScanEvents(strings.NewReader(many), func(rollout.Event) error { return nil })
	if err != nil || st.Malformed != 3*rollout.MaxLineErrors || len(st.First) != rollout.MaxLineErrors {
		t.Fatalf("%d bad lines: %+v, %v; want all counted, the first %d kept", 3*rollout.MaxLineErrors, st, err, rollout.MaxLineErrors)
	}
}

// TestScanEventsReadError: an error reading the stream ends the scan
// and is returned with what was read.
func TestScanEventsReadError(t *testing.T) {
	r := io.MultiReader(strings.NewReader(`{"experiment":"e","unit":"u"}`+"\n"), iotest.ErrReader(errors.New("disk gone")))
	n := 0
	st, err := rollout.ScanEvents(r, func(rollout.Event) error { n++; return nil })
	if err == nil || !strings.Contains(err.Error(), "disk gone") || n != 1 || st.Events != 1 {
		t.Fatalf("ScanEvents = %+v, %v after %d events; want the read error after 1 event", st, err, n)
	}
}

// TestScanEventsTornLastLine: a last line without a newline that is not
// an event is torn, counted apart from the malformed lines; one that is
// an event is used; a torn line followed by more lines is malformed.
func TestScanEventsTornLastLine(t *testing.T) {
	ev := `{"experiment":"map-impl","arm":"control","unit":"a"}`
	for _, tc := range []struct {
		in                      string
		events, malformed, torn int
	}{
		{ev + "\n" + ev + "\n" + ev[:20], 2, 0, 1},
		{ev + "\n" + ev, 2, 0, 0},
		{ev + "\n" + ev[:20] + "\n" + ev + "\n", 2, 1, 0},
		{ev[:20], 0, 0, 1},
		{ev + "\n", 1, 0, 0},
	} {
		st, err := rollout.ScanEvents(strings.NewReader(tc.in), func(rollout.Event) error { return nil })
		if err != nil || st.Events != tc.events || st.Malformed != tc.malformed || st.Torn != tc.torn {
			t.Errorf("ScanEvents(%q) = %+v, %v; want %d events, %d malformed, %d torn", tc.in, st, err, tc.events, tc.malformed, tc.torn)
		}
	}
}
