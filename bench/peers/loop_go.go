// SPDX-License-Identifier: MIT
//
// The work of bench/bench_loop.c in Go, metric for metric, with the same
// names and units (every unit lower-is-better). Go has no event loop and no
// call_soon, so each row uses the closest idiom:
//
//	loop.call_soon_chain  a ready queue as Go writes one: a buffered channel
//	                      of funcs drained by one goroutine; each of 1M
//	                      funcs sends the next into the channel: ns per func
//	loop.call_soon_batch  1M funcs sent into that channel up front (capacity
//	                      1M), then drained: ns per func, sends included
//	loop.timers_1m        1M time.AfterFunc with distinct random delays (a
//	                      random permutation of 0 .. 1M-1 ns), then waiting
//	                      until every func has run: ns per timer, scheduling
//	                      included. Each AfterFunc func runs in a goroutine
//	                      of its own (the Go idiom; there is no other way to
//	                      be called back by the runtime's timer heap)
//
// Build with `go build loop_go.go`; run pinned (taskset -c 0: GOMAXPROCS is
// then 1, a single-threaded scheduler like the loops it is compared with).
// --smoke: 1000 of each.
package main

import (
	"fmt"
	"math/rand"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

func report(name string, value float64, unit string) {
	digits := 0
	if value < 10 {
		digits = 2
	} else if value < 1000 {
		digits = 1
	}
	fmt.Printf("%s %.*f %s\n", name, digits, value, unit)
}

func median(v []float64) float64 {
	sort.Float64s(v)
	n := len(v)
	if n%2 == 1 {
		return v[n/2]
	}
	return (v[n/2-1] + v[n/2]) / 2
}

// drain runs funcs from q until one of them closes done.
func drain(q chan func(), done chan struct{}) {
	for {
		select {
		case f := <-q:
			f()
		case <-done:
			return
		}
	}
}

func runChain(n int) float64 {
	q := make(chan func(), 1024)
	done := make(chan struct{})
	count := 0
	var cb func()
	cb = func() {
		count++
		if count < n {
			q <- cb
		} else {
			close(done)
		}
	}
	t0 := time.Now()
	q <- cb
	drain(q, done)
	return float64(time.Since(t0).Nanoseconds()) / float64(n)
}

func runBatch(n int) float64 {
	q := make(chan func(), n)
	done := make(chan struct{})
	count := 0
	cb := func() {
		count++
		if count == n {
			close(done)
		}
	}
	t0 := time.Now()
	for i := 0; i < n; i++ {
		q <- cb
	}
	drain(q, done)
	return float64(time.Since(t0).Nanoseconds()) / float64(n)
}

func runTimers(n int, offsets []int) float64 {
	var count int64
	var wg sync.WaitGroup
	wg.Add(n)
	cb := func() {
		atomic.AddInt64(&count, 1)
		wg.Done()
	}
	t0 := time.Now()
	for _, off := range offsets {
		time.AfterFunc(time.Duration(off), cb)
	}
	wg.Wait()
	return float64(time.Since(t0).Nanoseconds()) / float64(n)
}

func main() {
	smoke := len(os.Args) > 1 && os.Args[1] == "--smoke"
	n, reps := 1000000, 5
	if smoke {
		n, reps = 1000, 1
	}
	v := make([]float64, reps)
	for r := range v {
		v[r] = runChain(n)
	}
	report("loop.call_soon_chain", median(v), "ns/op")
	for r := range v {
		v[r] = runBatch(n)
	}
	report("loop.call_soon_batch", median(v), "ns/op")
	offsets := rand.New(rand.NewSource(12345)).Perm(n)
	if !smoke {
		reps = 3
	}
	v = v[:reps]
	for r := range v {
		v[r] = runTimers(n, offsets)
	}
	report("loop.timers_1m", median(v), "ns/op")
}
