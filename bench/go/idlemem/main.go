// idlemem (Go twin of bench/idlemem.c): N goroutines, each with its own
// unbuffered chan struct{} made in the creation loop, do started.Done() and
// block on <-ch. The handle slice is allocated and written before
// runtime.GC() and the rss0 sample, so its pages are not in the figure.
// create: from before the loop until started.Wait() returns, per goroutine
// (ns/op). bytes_per_g: (VmRSS 50 ms later - rss0) * 1024 / N. release:
// close every channel and wait for all to return, per goroutine.
package main

import (
	"flag"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"gorbench/internal/benchutil"
)

func main() {
	p := flag.Int("p", 1, "GOMAXPROCS")
	n := flag.Int("n", 100000, "goroutines")
	flag.Parse()
	benchutil.Positive("p", *p)
	benchutil.Positive("n", *n)
	runtime.GOMAXPROCS(*p)

	chans := make([]chan struct{}, *n)
	for i := range chans {
		chans[i] = nil // touch the pages, as the C version does
	}
	var started, finished sync.WaitGroup
	var bad int64
	started.Add(*n)
	finished.Add(*n)
	runtime.GC()
	rss0 := benchutil.KB("VmRSS")
	t0 := time.Now()
	for i := range chans {
		ch := make(chan struct{})
		chans[i] = ch
		go func() {
			started.Done()
			if _, ok := <-ch; ok {
				atomic.AddInt64(&bad, 1)
			}
			finished.Done()
		}()
	}
	started.Wait()
	create := time.Since(t0).Nanoseconds()
	time.Sleep(50 * time.Millisecond)
	rss1 := benchutil.KB("VmRSS")

	t1 := time.Now()
	for _, ch := range chans {
		close(ch)
	}
	finished.Wait()
	release := time.Since(t1).Nanoseconds()

	if bad != 0 {
		benchutil.Fail("%d goroutines got a value instead of a close", bad)
	}
	nn := float64(*n)
	fmt.Printf("idlemem/P%d: %.2f ns/op goroutines=%d bytes_per_g=%.0f create_ms=%.1f release_ns_per_g=%.1f rss_before_kb=%d rss_after_kb=%d\n",
		*p, float64(create)/nn, *n, float64(rss1-rss0)*1024/nn,
		float64(create)/1e6, float64(release)/nn, rss0, rss1)
}
