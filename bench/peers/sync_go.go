// SPDX-License-Identifier: MIT
//
// The work of bench/bench_sync.c in Go, metric for metric, with the same
// names and units (ns per hand-off, lower is better). Go has no asyncio-style
// lock for goroutines that hands ownership over (sync.Mutex is a spinning,
// barging lock, not a task hand-off), so each row uses channels:
//
//	sync.lock_handoff    the lock is a channel of capacity 1 holding a token
//	                     (acquire = send, release = receive): two goroutines
//	                     take turns, and a release while the other waits in
//	                     its send moves that send into the buffer and wakes
//	                     it, a hand-off like tulip's; ns per release
//	sync.queue_roundtrip two goroutines ping-pong a value over two channels of
//	                     capacity 1024 (the unbounded queue's stand-in); ns
//	                     per hop
//	sync.chan_msg        the same over two channels of capacity 1
//
// 2M hand-offs per metric in 5 batches (median batch). Build with
// `go build sync_go.go`; run pinned (taskset -c 0: GOMAXPROCS is then 1, a
// single-threaded scheduler like the loops it is compared with). --smoke: a
// tiny run. Time is the process's CPU time (CLOCK_PROCESS_CPUTIME_ID, all
// threads: the runtime's own work counts), as in bench_sync.c; --wall: the
// wall clock instead; --ops=N: another number of hand-offs per metric.
package main

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

const batches = 5

var useWall bool

func now() int64 {
	if useWall {
		return time.Now().UnixNano()
	}
	var ts syscall.Timespec
	const clockProcessCPUTimeID = 2
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockProcessCPUTimeID,
		uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

func report(name string, v float64, unit string) {
	digits := 0
	if v < 10 {
		digits = 2
	} else if v < 1000 {
		digits = 1
	}
	fmt.Printf("%s %.*f %s\n", name, digits, v, unit)
}

func lockBatch(n int) {
	lock := make(chan struct{}, 1)
	turns := n / 2
	var wg sync.WaitGroup
	ready := make(chan struct{})
	wg.Add(2)
	go func() { // first: holds it until the other waits
		defer wg.Done()
		lock <- struct{}{}
		close(ready)
		for i := 0; i < turns; i++ {
			<-lock
			lock <- struct{}{}
		}
		<-lock
	}()
	go func() {
		defer wg.Done()
		<-ready
		lock <- struct{}{}
		for i := 0; i < turns; i++ {
			<-lock
			if i+1 < turns {
				lock <- struct{}{}
			}
		}
	}()
	wg.Wait()
}

func pingpongBatch(n, capacity int) {
	a := make(chan int, capacity)
	b := make(chan int, capacity)
	hops := n / 2
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		a <- 0
		for i := 0; i < hops; i++ {
			v := <-b
			if i+1 == hops {
				break
			}
			a <- v
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < hops; i++ {
			b <- <-a
		}
	}()
	wg.Wait()
}

func measure(n int, batch func(int)) float64 {
	per := n / batches
	ns := make([]float64, batches)
	for i := range ns {
		t0 := now()
		batch(per)
		ns[i] = float64(now()-t0) / float64(per)
	}
	sort.Float64s(ns)
	return ns[batches/2]
}

func main() {
	n := 2000000
	for _, a := range os.Args[1:] {
		if a == "--smoke" {
			n = 10000
		} else if a == "--wall" {
			useWall = true
		} else if strings.HasPrefix(a, "--ops=") {
			n, _ = strconv.Atoi(a[6:])
		}
	}
	if n < 2*batches {
		n = 2 * batches
	}
	report("sync.lock_handoff", measure(n, lockBatch), "ns/op")
	report("sync.queue_roundtrip",
		measure(n, func(k int) { pingpongBatch(k, 1024) }), "ns/op")
	report("sync.chan_msg", measure(n, func(k int) { pingpongBatch(k, 1) }),
		"ns/op")
}
