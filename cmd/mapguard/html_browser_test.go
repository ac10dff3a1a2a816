package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/draw"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/mapguard/mapguard/bench"
)

// chromiumPath returns the headless browser to render the report with. It
// skips the test when there is none, unless MAPGUARD_REQUIRE_CHROMIUM=1
// (set by scripts/test, which installs it) makes that a failure.
func chromiumPath(t *testing.T) string {
	t.Helper()
	// Debian's chromium, or Google Chrome, which hosted CI runners
	// (Ubuntu, where chromium is a snap) have installed.
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("MAPGUARD_REQUIRE_CHROMIUM") == "1" {
		t.Fatal("chromium is not in PATH, and MAPGUARD_REQUIRE_CHROMIUM=1 requires it (Debian: apt-get install chromium)")
	}
	t.Skip("skipping the browser test of the HTML report: chromium is not in PATH " +
		"(Debian: apt-get install chromium; MAPGUARD_REQUIRE_CHROMIUM=1 turns this skip into a failure)")
	return ""
}

// headless runs chromium without a display, a sandbox (tests often run as
// root), the network or a profile of its own, and returns its stdout.
func headless(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	profile, err := os.MkdirTemp("", "mapguard-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	// Not t.TempDir: chromium's helpers may still be closing files there
	// when it returns, and a leftover profile is no failure.
	defer os.RemoveAll(profile)
	cmd := exec.CommandContext(ctx, bin, append([]string{"--headless", "--no-sandbox", "--disable-gpu",
		"--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
		"--disable-sync", "--disable-extensions", "--hide-scrollbars", "--user-data-dir=" + profile}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Run(); err != nil {
		e := stderr.String()
		t.Fatalf("chromium %s: %v\n...%s", strings.Join(args, " "), err, e[max(0, len(e)-3000):])
	}
	return stdout.Bytes()
}

// measureReport is a test page that shows report.html in a frame the
// size of the window and, once it has loaded, writes into #measured how
// many SVG texts it measured and a line for each text that sticks out of
// its SVG (clipped) and each tick label that touches the next, and into
// #dom the report's DOM as the browser built it. It needs chromium's
// --allow-file-access-from-files to read the frame.
const measureReport = `<!DOCTYPE html>
<html><head><meta charset="utf-8"><style>body{margin:0}iframe{border:0;display:block}</style></head><body>
<iframe id="report" src="report.html" width="1280" height="2000"></iframe>
<pre id="measured">not measured: the script did not run</pre>
<textarea id="dom"></textarea>
<script>
window.addEventListener("load", () => {
  const doc = document.getElementById("report").contentDocument;
  if (!doc) {
    document.getElementById("measured").textContent = "not measured: no access to the report's frame";
    return;
  }
  const out = [];
  let texts = 0;
  for (const svg of doc.querySelectorAll("svg")) {
    const vb = svg.viewBox.baseVal;
    const w = vb && vb.width ? vb.width : svg.width.baseVal.value;
    const h = vb && vb.height ? vb.height : svg.height.baseVal.value;
    let prev = null;
    for (const t of svg.querySelectorAll("text")) {
      texts++;
      const b = t.getBBox();
      if (b.width <= 0 || b.x < 0 || b.y < 0 || b.x + b.width > w || b.y + b.height > h) {
        out.push("clipped: " + svg.id + " " + JSON.stringify(t.textContent) + " spans x " + b.x.toFixed(1) + " to " +
          (b.x + b.width).toFixed(1) + ", y " + b.y.toFixed(1) + " to " + (b.y + b.height).toFixed(1) + " of " + w + "x" + h);
      }
      if (t.classList.contains("ticklabel")) {
        if (prev && prev.x + prev.width + 2 > b.x) {
          out.push("tick labels touch: " + svg.id + " " + JSON.stringify(t.textContent));
        }
        prev = b;
      }
    }
  }
  document.getElementById("measured").textContent = "texts " + texts + "\n" + out.join("\n");
  document.getElementById("dom").textContent = doc.documentElement.outerHTML;
});
</script></body></html>
`

// resultValue is what chart kind draws of one run of workload w.
func resultValue(kind string, w bench.Workload, r bench.Result) float64 {
	q := r.Latency[mainOp(w)]
	switch kind {
	case "nsop":
		return 1e9 / r.OpsPerSec
	case "rangepass":
		return float64(r.RangePass.Nanoseconds())
	case "p50":
		return float64(q.P50.Nanoseconds())
	case "p99":
		return float64(q.P99.Nanoseconds())
	case "p999":
		return float64(q.P999.Nanoseconds())
	case "allocs":
		return r.AllocsPerOp
	case "bytes":
		return r.BytesPerOp
	case "entry":
		return r.BytesPerEntry
	case "gc":
		return float64(r.GCCycles)
	case "pause":
		return float64(r.GCPauseP99.Nanoseconds())
	}
	panic("unknown chart " + kind)
}

// checkReportDOM checks the report's DOM doc (what names it in errors)
// against the -json results res of the same run, and returns each
// implementation's colour.
func checkReportDOM(t *testing.T, what string, doc *html.Node, res jsonReport, impls []string, cpus []int) (colour map[string]string) {
	t.Helper()
	t.Run(what, func(t *testing.T) {
		colour = checkDOM(t, doc, res, impls, cpus)
	})
	if t.Failed() {
		t.FailNow()
	}
	return colour
}

func checkDOM(t *testing.T, doc *html.Node, res jsonReport, impls []string, cpus []int) map[string]string {
	// Every SVG draws: a size, and a rectangle with an area.
	svgs := findAll(doc, elem("svg", ""))
	if len(svgs) == 0 {
		t.Fatal("the rendered report has no SVG")
	}
	for i, svg := range svgs {
		w, _ := strconv.ParseFloat(attr(svg, "width"), 64)
		h, _ := strconv.ParseFloat(attr(svg, "height"), 64)
		drawn := slices.ContainsFunc(findAll(svg, elem("rect", "")), func(r *html.Node) bool {
			rw, _ := strconv.ParseFloat(attr(r, "width"), 64)
			rh, _ := strconv.ParseFloat(attr(r, "height"), 64)
			return rw > 0 && rh > 0
		})
		if w <= 0 || h <= 0 || !drawn {
			t.Errorf("SVG %d (id %q) is %vx%v and draws no rectangle with an area", i, attr(svg, "id"), w, h)
		}
	}

	// The legend names every implementation with its colour.
	colour := map[string]string{}
	for _, li := range findAll(doc, func(n *html.Node) bool { return n.Data == "li" && attr(n, "data-impl") != "" }) {
		if rects := findAll(li, elem("rect", "")); len(rects) == 1 {
			colour[attr(li, "data-impl")] = attr(rects[0], "fill")
		}
	}
	for _, impl := range impls {
		if colour[impl] == "" {
			t.Errorf("the legend has no colour for %s (has %v)", impl, colour)
		}
	}

	got := charts(doc)
	drawn := 0
	for _, w := range res.Workloads {
		// median of the three rounds of kind for impl at cpu.
		median := func(kind, impl string, cpu int) float64 {
			var xs []float64
			for _, r := range res.Results {
				if r.Workload == w.Name && r.Impl == impl && r.GOMAXPROCS == cpu {
					xs = append(xs, resultValue(kind, w, r))
				}
			}
			if len(xs) != 3 {
				t.Fatalf("-json has %d rounds of %s on %s at GOMAXPROCS=%d; want 3", len(xs), w.Name, impl, cpu)
			}
			slices.Sort(xs)
			return xs[1]
		}
		for _, kind := range chartKinds {
			id := kind + "-" + w.Name
			top := 0.0
			for _, impl := range impls {
				for _, cpu := range cpus {
					top = max(top, median(kind, impl, cpu))
				}
			}
			svg := got[id]
			switch {
			case kind == "rangepass" && w.Rangers == 0, kind == "entry" && w.Prefill == 0, top == 0:
				if svg != nil {
					t.Errorf("chart %s is drawn, but the run did not measure it or measured 0 everywhere", id)
				}
				continue
			case svg == nil:
				t.Errorf("no chart %s, though the run measured up to %v", id, top)
				continue
			}
			drawn++
			x0, perUnit, last, div := axisScale(t, svg)
			if top/div > last {
				t.Errorf("chart %s: %v lies beyond the last tick %v", id, top, last)
			}
			var heads []string
			for _, g := range findAll(svg, elem("text", "group")) {
				heads = append(heads, textOf(g))
			}
			if strings.Join(heads, ",") != "GOMAXPROCS=1,GOMAXPROCS=2" {
				t.Errorf("chart %s headings %q; want GOMAXPROCS=1 and GOMAXPROCS=2", id, heads)
			}
			shown := map[string]bool{}
			for _, r := range rows(t, svg) {
				shown[fmt.Sprint(r.impl, r.cpu)] = true
				if r.color != colour[r.impl] {
					t.Errorf("chart %s draws %s in %s; the legend says %s", id, r.impl, r.color, colour[r.impl])
				}
				v, base := median(kind, r.impl, r.cpu), median(kind, "syncmap", r.cpu)
				if base == 0 {
					if r.ratio != "n/a" {
						t.Errorf("chart %s: %s at GOMAXPROCS=%d against a baseline of 0 has ratio %q; want n/a", id, r.impl, r.cpu, r.ratio)
					}
				} else if g, err := strconv.ParseFloat(strings.TrimSuffix(r.ratio, "x"), 64); err != nil || !strings.HasSuffix(r.ratio, "x") || math.Abs(g-v/base) > 0.0051 {
					t.Errorf("chart %s: %s at GOMAXPROCS=%d has ratio %q; the -json results give %.4fx", id, r.impl, r.cpu, r.ratio, v/base)
				}
				if want := perUnit * v / div; math.Abs(r.width-want) > 0.1 || r.x != x0 {
					t.Errorf("chart %s: %s's bar for %v spans x=%v+%v; the axis says %v+%.2f", id, r.impl, v, r.x, r.width, x0, want)
				}
			}
			for _, impl := range impls {
				for _, cpu := range cpus {
					if !shown[fmt.Sprint(impl, cpu)] {
						t.Errorf("chart %s has no row for %s at GOMAXPROCS=%d", id, impl, cpu)
					}
				}
			}
		}
		if got["nsop-"+w.Name] == nil || got["p99-"+w.Name] == nil {
			t.Errorf("workload %s lacks its ns/op or p99 chart", w.Name)
		}
	}
	if got["rangepass-iterate-while-writing"] == nil {
		t.Error("no range pass chart for iterate-while-writing")
	}
	if len(got) != drawn {
		t.Errorf("report has %d charts; %d expected", len(got), drawn)
	}

	return colour
}

// TestBenchHTMLReportInBrowser runs a small bench (two workloads, one of
// them iterating while writing, three implementations, two -cpu values,
// three rounds) with -json and -html. It checks the report as written,
// then renders it in headless chromium and checks the DOM the browser
// built the same way: every chart the run measured is there, with a row
// per implementation and GOMAXPROCS whose ratio to the baseline is the one
// the -json results give, on a linear axis with tick labels, in the
// implementation's colour from the legend; every SVG draws something.
// Then it checks that a screenshot shows each implementation's colour.
// Without chromium only the browser part is skipped, unless
// MAPGUARD_REQUIRE_CHROMIUM=1. MAPGUARD_HTML_SCREENSHOT=file keeps the
// screenshot.
func TestBenchHTMLReportInBrowser(t *testing.T) {
	dir := t.TempDir()
	page := filepath.Join(dir, "report.html")
	impls, cpus := []string{"syncmap", "xsync", "mapguard"}, []int{1, 2}
	start := time.Now()
	// A bound on the run, so that a stuck bench fails here and says so.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, stderr bytes.Buffer
	if err := run(ctx, []string{"bench", "-preset", "session-table,iterate-while-writing", "-impl", strings.Join(impls, ","),
		"-cpu", "1,2", "-rounds", "3", "-keys", "2000", "-duration", "20ms", "-json", "-html", page}, &out, &stderr); err != nil {
		t.Fatalf("bench run: %v after %v\n%s", err, time.Since(start), stderr.String())
	}
	t.Logf("bench run: %v", time.Since(start))
	var res jsonReport
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		t.Fatalf("-json output: %v\n%s", err, out.String())
	}
	if res.Baseline != "syncmap" || res.Rounds != 3 {
		t.Fatalf("run: baseline %q, %d rounds; want syncmap, 3", res.Baseline, res.Rounds)
	}
	written, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := html.Parse(bytes.NewReader(written))
	if err != nil {
		t.Fatal(err)
	}
	checkReportDOM(t, "the report as written", doc, res, impls, cpus)

	bin := chromiumPath(t)
	// One browser start: the page measureReport shows the report in a
	// frame as large as the window (what the screenshot shows), measures
	// its text, and copies the report's DOM into itself for --dump-dom.
	start = time.Now()
	shot, measure := filepath.Join(dir, "report.png"), filepath.Join(dir, "measure.html")
	if err := os.WriteFile(measure, []byte(measureReport), 0o644); err != nil {
		t.Fatal(err)
	}
	dump := headless(t, bin, "--allow-file-access-from-files", "--screenshot="+shot, "--window-size=1280,2000", "--dump-dom", "file://"+measure)
	t.Logf("chromium: %v", time.Since(start))
	outer, err := html.Parse(bytes.NewReader(dump))
	if err != nil {
		t.Fatal(err)
	}
	byID := func(id string) string {
		n := findAll(outer, func(n *html.Node) bool { return attr(n, "id") == id })
		if len(n) != 1 {
			t.Fatalf("chromium's DOM of the measuring page has %d #%s:\n%s", len(n), id, dump)
		}
		return textOf(n[0])
	}
	// Every text drawn lies inside its SVG, and no two tick labels touch.
	lines := strings.Split(strings.TrimSpace(byID("measured")), "\n")
	if n, err := strconv.Atoi(strings.TrimPrefix(lines[0], "texts ")); err != nil || n < 100 {
		t.Errorf("the browser measured %q; want more than 100 texts", lines[0])
	}
	t.Logf("the browser measured %s", lines[0])
	for _, l := range lines[1:] {
		t.Error(l)
	}
	if doc, err = html.Parse(strings.NewReader(byID("dom"))); err != nil {
		t.Fatal(err)
	}
	colour := checkReportDOM(t, "the DOM chromium rendered", doc, res, impls, cpus)

	// The screenshot shows every implementation's colour on more than a
	// few pixels, and is not a blank page.
	if keep := os.Getenv("MAPGUARD_HTML_SCREENSHOT"); keep != "" {
		if data, err := os.ReadFile(shot); err == nil {
			os.WriteFile(keep, data, 0o644)
		}
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("chromium wrote no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 2000 {
		t.Errorf("screenshot is %v; want 1280x2000", b.Size())
	}
	// Count pixels by colour, straight from the pixel bytes: At per pixel
	// takes seconds under -race.
	var pix []byte
	switch m := img.(type) {
	case *image.NRGBA:
		pix = m.Pix
	case *image.RGBA:
		pix = m.Pix
	default:
		rgba := image.NewRGBA(img.Bounds())
		draw.Draw(rgba, rgba.Bounds(), img, img.Bounds().Min, draw.Src)
		pix = rgba.Pix
	}
	seen := map[[3]uint8]int{}
	for i := 0; i+3 < len(pix); i += 4 {
		seen[[3]uint8{pix[i], pix[i+1], pix[i+2]}]++
	}
	if len(seen) < 50 {
		t.Errorf("screenshot has %d colours; a rendered report has text, bars and axes in many more", len(seen))
	}
	for _, impl := range impls {
		var want [3]uint8
		if _, err := fmt.Sscanf(colour[impl], "#%02x%02x%02x", &want[0], &want[1], &want[2]); err != nil {
			t.Errorf("%s's colour %q: %v", impl, colour[impl], err)
			continue
		}
		n := 0
		for c, k := range seen {
			if absDiff(c[0], want[0]) <= 2 && absDiff(c[1], want[1]) <= 2 && absDiff(c[2], want[2]) <= 2 {
				n += k
			}
		}
		if n < 500 {
			t.Errorf("screenshot shows %s's colour %s on %d pixels; its legend swatch and bars cover more", impl, colour[impl], n)
		}
	}
}

func absDiff(a, b uint8) uint8 {
	if a > b {
		return a - b
	}
	return b - a
}
