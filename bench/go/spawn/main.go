// spawn (Go twin of bench/spawn.c): wg.Add(N) once, then N goroutines whose
// only work is wg.Done(), then wg.Wait(). The spawner never yields.
// Timed: from just before the first go statement until Wait returns.
// Figure: ns per goroutine; peak_rss_kb (VmHWM after) and base_rss_kb
// (VmHWM before the loop).
package main

import (
	"flag"
	"fmt"
	"runtime"
	"sync"
	"time"

	"gorbench/internal/benchutil"
)

func main() {
	p := flag.Int("p", 1, "GOMAXPROCS")
	n := flag.Int("n", 1000000, "goroutines")
	flag.Parse()
	benchutil.Positive("p", *p)
	benchutil.Positive("n", *n)
	runtime.GOMAXPROCS(*p)

	base := benchutil.KB("VmHWM")
	var wg sync.WaitGroup
	wg.Add(*n)
	t0 := time.Now()
	for i := 0; i < *n; i++ {
		go func() { wg.Done() }()
	}
	wg.Wait()
	el := time.Since(t0).Nanoseconds()
	hwm := benchutil.KB("VmHWM")

	fmt.Printf("spawn/P%d: %.2f ns/op goroutines=%d total_ms=%.1f peak_rss_kb=%d base_rss_kb=%d\n",
		*p, float64(el)/float64(*n), *n, float64(el)/1e6, hwm, base)
}
