package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"
)

// progressBar draws a one-line bar on stderr when stderr is a terminal and
// --quiet is not set; otherwise it draws nothing. Library packages report
// progress through callbacks; commands forward them here.
type progressBar struct {
	mu     sync.Mutex
	w      io.Writer
	label  string
	total  int64
	start  time.Time
	last   time.Time
	active bool
}

// newProgress returns a bar for total units of work (0 = unknown).
func newProgress(stderr io.Writer, quiet bool, label string, total int64) *progressBar {
	p := &progressBar{w: stderr, label: label, total: total, start: time.Now()}
	if f, ok := stderr.(*os.File); ok && !quiet && term.IsTerminal(int(f.Fd())) {
		p.active = true
	}
	return p
}

// Update redraws the bar (at most 10 times a second) with done units and an
// extra status text such as "loss 0.31 acc 91.2%".
func (p *progressBar) Update(done int64, extra string) {
	if p == nil || !p.active {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if now.Sub(p.last) < 100*time.Millisecond && (p.total == 0 || done < p.total) {
		return
	}
	p.last = now
	rate := float64(done) / now.Sub(p.start).Seconds()
	var bar string
	if p.total > 0 {
		const width = 24
		filled := int(float64(width) * float64(done) / float64(p.total))
		filled = min(max(filled, 0), width)
		bar = fmt.Sprintf("[%s%s] %d/%d", strings.Repeat("=", filled), strings.Repeat(" ", width-filled), done, p.total)
	} else {
		bar = fmt.Sprintf("%d", done)
	}
	fmt.Fprintf(p.w, "\r\033[K%s %s %.0f/s %s", p.label, bar, rate, extra)
}

// Relabel changes the label and the total, e.g. at the start of an epoch.
func (p *progressBar) Relabel(label string, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.label, p.total = label, total
}

// Finish ends the bar's line.
func (p *progressBar) Finish() {
	if p == nil || !p.active {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprint(p.w, "\r\033[K")
}
