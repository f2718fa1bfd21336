// sleepers (Go twin of bench/sleepers.c): wg.Add(N), N goroutines each
// time.Sleep(d) then wg.Done(), wg.Wait(). Timed: from before the spawn
// loop until Wait returns. Figures: total_ms, spawn_ms (the loop alone),
// overshoot_ms = total - d, ns/op = total / N. Check: total >= d.
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
	n := flag.Int("n", 100000, "sleepers")
	d := flag.Duration("d", 10*time.Millisecond, "sleep")
	flag.Parse()
	benchutil.Positive("p", *p)
	benchutil.Positive("n", *n)
	runtime.GOMAXPROCS(*p)

	sleep := *d
	var wg sync.WaitGroup
	wg.Add(*n)
	t0 := time.Now()
	for i := 0; i < *n; i++ {
		go func() {
			time.Sleep(sleep)
			wg.Done()
		}()
	}
	spawn := time.Since(t0)
	wg.Wait()
	el := time.Since(t0)

	if el < sleep {
		benchutil.Fail("all done in %v, less than the sleep %v", el, sleep)
	}
	fmt.Printf("sleepers/P%d: %.2f ns/op total_ms=%.2f spawn_ms=%.2f overshoot_ms=%.2f sleepers=%d\n",
		*p, float64(el.Nanoseconds())/float64(*n), float64(el.Nanoseconds())/1e6,
		float64(spawn.Nanoseconds())/1e6, float64((el-sleep).Nanoseconds())/1e6, *n)
}
