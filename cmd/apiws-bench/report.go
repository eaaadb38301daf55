package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
)

// figure is one measured value, with the baseline it is divided by and the
// target it is judged against.
type figure struct {
	Scenario string
	Name     string
	Value    float64
	Unit     string
	// Baseline names what Value is divided by; BaselineValue is that
	// value, 0 when there is none.
	Baseline      string
	BaselineValue float64
	// Target says what is wanted ("≥ 1.0 × baseline", "< 50 ms"); Met
	// reports whether it was, when Target is set.
	Target string
	Met    bool
	Note   string
}

// ratio is Value over BaselineValue, 0 without a baseline.
func (f figure) ratio() float64 {
	if f.BaselineValue == 0 {
		return 0
	}
	return f.Value / f.BaselineValue
}

// report gathers the figures and the functional failures of a run.
type report struct {
	mu       sync.Mutex
	figures  []figure
	failures []string
	notes    []string
}

func (r *report) add(f figure) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.figures = append(r.figures, f)
}

// fail records a functional failure: it makes the run exit non-zero.
func (r *report) fail(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *report) note(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// failed returns the functional failures recorded so far.
func (r *report) failed() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.failures...)
}

// write prints the figures as a Markdown table, then notes and failures.
func (r *report) write(w io.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintln(w, "| scenario | figure | value | baseline | ratio | target | met |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- |")
	for _, f := range r.figures {
		base, ratio := "", ""
		if f.Baseline != "" {
			base = f.Baseline
			if f.BaselineValue != 0 {
				base = fmt.Sprintf("%s: %s", f.Baseline, number(f.BaselineValue, f.Unit))
				ratio = fmt.Sprintf("%.2f", f.ratio())
			}
		}
		met := ""
		if f.Target != "" {
			met = map[bool]string{true: "met", false: "**missed**"}[f.Met]
		}
		name := f.Name
		if f.Note != "" {
			name += " (" + f.Note + ")"
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s |\n", f.Scenario, name, number(f.Value, f.Unit), base, ratio, f.Target, met)
	}
	for _, n := range r.notes {
		fmt.Fprintln(w, "\nnote:", n)
	}
	if len(r.failures) > 0 {
		fmt.Fprintf(w, "\nFUNCTIONAL FAILURES (%d):\n", len(r.failures))
		for _, f := range r.failures {
			fmt.Fprintln(w, "-", f)
		}
	}
}

// number formats v with a precision that suits its size and unit.
func number(v float64, unit string) string {
	var s string
	switch {
	case v == 0:
		s = "0"
	case v >= 100 || v <= -100:
		s = fmt.Sprintf("%.0f", v)
	case v >= 10 || v <= -10:
		s = fmt.Sprintf("%.1f", v)
	default:
		s = fmt.Sprintf("%.2f", v)
	}
	if unit == "" {
		return s
	}
	return strings.TrimSpace(s + " " + unit)
}
