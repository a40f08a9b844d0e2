package kernels

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestTeamFor checks that For covers [0, n) exactly once with the documented
// split, for sizes around the thread count and grain.
func TestTeamFor(t *testing.T) {
	for _, threads := range []int{1, 2, 3} {
		team := NewTeam(threads)
		for _, n := range []int{0, 1, 2, 3, 7, 100} {
			for _, grain := range []int{0, 1, 4, 60} {
				hits := make([]int32, n)
				var calls atomic.Int32
				ws := make([]atomic.Int32, threads)
				team.For(n, grain, func(w, lo, hi int) {
					calls.Add(1)
					ws[w].Add(1)
					for i := lo; i < hi; i++ {
						atomic.AddInt32(&hits[i], 1)
					}
				})
				for i, h := range hits {
					if h != 1 {
						t.Fatalf("threads %d n %d grain %d: item %d run %d times", threads, n, grain, i, h)
					}
				}
				want := max(1, min(threads, n/max(grain, 1), n))
				if int(calls.Load()) != want {
					t.Errorf("threads %d n %d grain %d: %d ranges, want %d", threads, n, grain, calls.Load(), want)
				}
				for w := range ws {
					if c := ws[w].Load(); c > 1 {
						t.Errorf("worker %d ran %d ranges", w, c)
					}
				}
			}
		}
		team.Close()
	}
}

// TestTeamRunConcurrent checks that Run's calls really overlap (each waits
// for the other), that the last part runs on the calling goroutine, and that
// a closed team still runs loops.
func TestTeamRunConcurrent(t *testing.T) {
	team := NewTeam(2)
	for range 50 {
		var wg sync.WaitGroup
		wg.Add(2)
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		team.Run(2, func(w int) {
			wg.Done()
			select {
			case <-done:
			case <-time.After(5 * time.Second):
				t.Errorf("part %d: the other part did not run concurrently", w)
			}
		})
	}
	h := team.helpers[0]
	team.Close()
	ran := 0
	team.For(10, 1, func(w, lo, hi int) { ran += hi - lo })
	if ran != 10 {
		t.Errorf("closed team ran %d items, want 10", ran)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !h.exited.Load() {
		if time.Now().After(deadline) {
			t.Fatal("helper still running 5 s after Close")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestTeamRunPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Run(3) on a team of 2 did not panic")
		}
	}()
	NewTeam(2).Run(3, func(int) {})
}

// BenchmarkTeamFor compares a 2-way split of a ~20 µs loop on a Team with
// starting a goroutine per call (what sync.WaitGroup-based loops do).
func BenchmarkTeamFor(b *testing.B) {
	data := make([]float32, 1<<15)
	work := func(lo, hi int) {
		for r := 0; r < 4; r++ {
			for i := lo; i < hi; i++ {
				data[i] = data[i]*0.999 + 1
			}
		}
	}
	b.Run("serial", func(b *testing.B) {
		for b.Loop() {
			work(0, len(data))
		}
	})
	b.Run("goroutine", func(b *testing.B) {
		for b.Loop() {
			var wg sync.WaitGroup
			wg.Go(func() { work(0, len(data)/2) })
			work(len(data)/2, len(data))
			wg.Wait()
		}
	})
	b.Run("team", func(b *testing.B) {
		team := NewTeam(2)
		defer team.Close()
		b.ReportAllocs()
		for b.Loop() {
			team.For(len(data), 1, func(_, lo, hi int) { work(lo, hi) })
		}
	})
}
