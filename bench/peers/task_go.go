// SPDX-License-Identifier: MIT
//
// The work of bench/bench_task.c in Go, metric for metric, with the same
// names and units (every unit lower-is-better). Go has no event loop and no
// awaitable tasks, so each row uses the closest idiom, named per row:
//
//	task.rss_sleep       KiB of VmRSS per goroutine: 1M goroutines each
//	                     waiting in a select on a one-hour time.NewTimer and
//	                     a shared done channel (Go's cancellable sleep); the
//	                     VmRSS delta from before the first `go` to all of
//	                     them waiting; then done is closed and all are
//	                     awaited (WaitGroup)
//	task.create_1m       s to start those goroutines until each has reached
//	                     its wait (a WaitGroup each signals just before it)
//	task.spawn_await     ns per goroutine: start N (each does one
//	                     runtime.Gosched, the sleep(0), then wg.Done()), then
//	                     wg.Wait() (a WaitGroup is how Go awaits many);
//	                     N = 1M; median of 3 rounds
//	task.sleep0          ns per runtime.Gosched, 1 goroutine, 10M in 5
//	                     batches (median)
//	task.sleep0_100      the same with 100 goroutines
//	task.future_pingpong ns per hop: two goroutines hand a value back and
//	                     forth over two channels of capacity 1 (a send that
//	                     never blocks, as completing a future never does),
//	                     1M hops in 5 batches (median)
//
// Build with `go build task_go.go`; run pinned (taskset -c 0: GOMAXPROCS is
// then 1, a single-threaded scheduler like the loops it is compared with).
// --smoke: a tiny run.
package main

import (
	"bufio"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

const batches = 5

// cpuNow is the process's CPU time in ns (clock_gettime of
// CLOCK_PROCESS_CPUTIME_ID, all threads: the runtime's own work counts), the
// clock bench_task.c and the Python peers use: equal to the wall clock on
// an idle machine, and not stretched by other jobs' time slices.
// With --wall it is the wall clock instead.
var useWall bool

func cpuNow() int64 {
	if useWall {
		return time.Now().UnixNano()
	}
	var ts syscall.Timespec
	const clockProcessCPUTimeID = 2
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockProcessCPUTimeID,
		uintptr(unsafe.Pointer(&ts)), 0)
	return ts.Nano()
}

func since(t0 int64) float64 {
	return float64(cpuNow() - t0)
}

func statusKiB(field string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, field+":") {
			v, _ := strconv.ParseInt(strings.Fields(line)[1], 10, 64)
			return v
		}
	}
	return -1
}

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

func rssSleep(n int) (kib float64, createS float64) {
	var started, finished sync.WaitGroup
	done := make(chan struct{})
	before := statusKiB("VmRSS")
	t0 := cpuNow()
	started.Add(n)
	finished.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			t := time.NewTimer(time.Hour)
			started.Done()
			select {
			case <-t.C:
			case <-done:
				t.Stop()
			}
			finished.Done()
		}()
	}
	started.Wait()
	createS = since(t0) / 1e9
	after := statusKiB("VmRSS")
	close(done)
	finished.Wait()
	return float64(after-before) / float64(n), createS
}

func spawnAwait(n int) float64 {
	var wg sync.WaitGroup
	t0 := cpuNow()
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			runtime.Gosched()
			wg.Done()
		}()
	}
	wg.Wait()
	return since(t0) / float64(n)
}

func sleep0(n int) float64 {
	per := n / batches
	ns := make([]float64, batches)
	for b := range ns {
		t0 := cpuNow()
		for i := 0; i < per; i++ {
			runtime.Gosched()
		}
		ns[b] = since(t0) / float64(per)
	}
	return median(ns)
}

func sleep0x100(n int) float64 {
	perTask := n / batches / 100
	ns := make([]float64, batches)
	for b := range ns {
		var wg sync.WaitGroup
		t0 := cpuNow()
		wg.Add(100)
		for i := 0; i < 100; i++ {
			go func() {
				for j := 0; j < perTask; j++ {
					runtime.Gosched()
				}
				wg.Done()
			}()
		}
		wg.Wait()
		ns[b] = since(t0) / float64(perTask*100)
	}
	return median(ns)
}

func pingpong(n int) float64 {
	hops := n / batches / 2
	ns := make([]float64, batches)
	for b := range ns {
		var wg sync.WaitGroup
		slot := [2]chan int{make(chan int, 1), make(chan int, 1)}
		t0 := cpuNow()
		slot[0] <- 0
		wg.Add(2)
		for me := 0; me < 2; me++ {
			go func(me int) {
				for i := 0; i < hops; i++ {
					<-slot[me]
					slot[1-me] <- i
				}
				wg.Done()
			}(me)
		}
		wg.Wait()
		ns[b] = since(t0) / float64(2*hops)
	}
	return median(ns)
}

func main() {
	nTasks, nSleep0, nPingpong := 1000000, 10000000, 1000000
	for _, a := range os.Args[1:] {
		if a == "--smoke" {
			nTasks, nSleep0, nPingpong = 10000, 100000, 10000
		} else if a == "--wall" {
			useWall = true
		} else if strings.HasPrefix(a, "--tasks=") {
			nTasks, _ = strconv.Atoi(a[8:])
		}
	}
	kib, createS := rssSleep(nTasks)
	report("task.rss_sleep", kib, "KiB/task")
	report("task.create_1m", createS, "s")
	ns := make([]float64, 3)
	for i := range ns {
		ns[i] = spawnAwait(nTasks)
	}
	report("task.spawn_await", median(ns), "ns/task")
	report("task.sleep0", sleep0(nSleep0), "ns/switch")
	report("task.sleep0_100", sleep0x100(nSleep0), "ns/switch")
	report("task.future_pingpong", pingpong(nPingpong), "ns/hop")
}
