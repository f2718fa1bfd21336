// yield (Go twin of bench/yield.c): two goroutines each call
// runtime.Gosched() N times; main waits on a sync.WaitGroup.
// Timed: from just before the first go statement until Wait returns.
// Figure: ns per switch = elapsed / (2N). Check: both did all N.
// -timer D (not in the anchor): a timer set D ahead stays pending through
// the run (benchutil.PendingTimer).
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
	n := flag.Int("n", 10000000, "Gosched calls per goroutine")
	timer := flag.Duration("timer", 0, "a timer pending this far ahead (0: none)")
	flag.Parse()
	benchutil.Positive("p", *p)
	benchutil.Positive("n", *n)
	runtime.GOMAXPROCS(*p)
	pending := benchutil.PendingTimer(*timer)

	var wg sync.WaitGroup
	var counts [2]int
	wg.Add(2)
	t0 := time.Now()
	for w := 0; w < 2; w++ {
		go func(c *int) {
			i := 0
			for ; i < *n; i++ {
				runtime.Gosched()
			}
			*c = i
			wg.Done()
		}(&counts[w])
	}
	wg.Wait()
	el := time.Since(t0).Nanoseconds()
	benchutil.CheckPending(pending)

	for w, c := range counts {
		if c != *n {
			benchutil.Fail("worker %d did %d yields, want %d", w, c, *n)
		}
	}
	fmt.Printf("yield/P%d: %.2f ns/op switches=%d total_ms=%.1f%s\n",
		*p, float64(el)/(2*float64(*n)), 2*(*n), float64(el)/1e6, benchutil.TimerKey(*timer))
}
