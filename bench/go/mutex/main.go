// mutex (Go twin of bench/mutex.c): G goroutines each do N times
// { mu.Lock(); counter++; mu.Unlock() } on one sync.Mutex.
// Timed: from before spawning until wg.Wait() returns. Figure: ns per lock
// = elapsed / (G*N). Check: counter == G*N. Primary P2.
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
	p := flag.Int("p", 2, "GOMAXPROCS")
	g := flag.Int("g", 4, "goroutines")
	n := flag.Int("n", 15000000, "locks per goroutine")
	flag.Parse()
	benchutil.Positive("p", *p)
	benchutil.Positive("g", *g)
	benchutil.Positive("n", *n)
	runtime.GOMAXPROCS(*p)

	var mu sync.Mutex
	counter := 0
	per := *n
	var wg sync.WaitGroup
	wg.Add(*g)
	t0 := time.Now()
	for i := 0; i < *g; i++ {
		go func() {
			for j := 0; j < per; j++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	el := time.Since(t0).Nanoseconds()

	tot := (*g) * per
	if counter != tot {
		benchutil.Fail("counter %d, want %d", counter, tot)
	}
	fmt.Printf("mutex/P%d: %.2f ns/op locks=%d total_ms=%.1f\n",
		*p, float64(el)/float64(tot), tot, float64(el)/1e6)
}
