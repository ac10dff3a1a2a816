package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestBenchPrintsSideBySideTable(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"bench", "-duration", "1s", "-size", "1024", "-impls", "syncmap,xsync,mapguard"}, &out, &errOut)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, errOut.String())
	}
	got := out.String()
	for _, want := range []string{"GOMAXPROCS=", "syncmap", "xsync", "mapguard/syncmap", "mapguard/xsync", "reads=99%", "reads=25%", "loadorstore-hot"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "rwmutex") {
		t.Errorf("output shows rwmutex, which -impls left out:\n%s", got)
	}
	// Every workload row ends in two ratios.
	rows := 0
	for _, line := range strings.Split(got, "\n") {
		if f := strings.Fields(line); len(f) == 6 && strings.HasPrefix(f[0], "reads=") {
			rows++
			if !strings.HasSuffix(f[4], "x") || !strings.HasSuffix(f[5], "x") {
				t.Errorf("row without ratios: %q", line)
			}
		}
	}
	if rows != 4 {
		t.Errorf("%d mix rows; want 4:\n%s", rows, got)
	}
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		nil,
		{"frobnicate"},
		{"bench", "-duration", "0s"},
		{"bench", "-keys", "float"},
		{"bench", "-size", "1000"},
		{"bench", "-impls", "syncmap,nosuchmap"},
		{"bench", "-nosuchflag"},
		{"bench", "extra"},
	} {
		err := run(context.Background(), args, io.Discard, io.Discard)
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Errorf("run(%q) = %v; want a usage error", args, err)
		}
		if code := exitCode(err, io.Discard); code != 2 {
			t.Errorf("run(%q) exits %d; want 2", args, code)
		}
	}
	if code := exitCode(errors.New("disk full"), io.Discard); code != 1 {
		t.Errorf("other errors exit %d; want 1", code)
	}
}

func TestBenchStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := run(ctx, []string{"bench", "-duration", "1s"}, io.Discard, io.Discard)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("run with a cancelled context = %v; want context.Canceled", err)
	}
}
