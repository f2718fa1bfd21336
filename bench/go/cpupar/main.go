// cpupar (Go twin of bench/cpupar.c): G goroutines each compute fib(K) by
// naive recursion (fib not inlinable); main waits on a WaitGroup.
// Timed: from before the spawn loop until Wait returns. Figures: wall_ms,
// ns/op = wall / G; run.sh prints the speedup wall(P1) / wall(P2).
// Check: every result equals fib(K) computed iteratively.
package main

import (
	"flag"
	"fmt"
	"runtime"
	"sync"
	"time"

	"gorbench/internal/benchutil"
)

//go:noinline
func fib(x int) int {
	if x < 2 {
		return x
	}
	return fib(x-1) + fib(x-2)
}

func main() {
	p := flag.Int("p", 1, "GOMAXPROCS")
	g := flag.Int("g", 8, "goroutines")
	k := flag.Int("k", 32, "fib argument")
	flag.Parse()
	benchutil.Positive("p", *p)
	benchutil.Positive("g", *g)
	if *k < 0 || *k > 90 {
		benchutil.Fail("-k must be in 0..90")
	}
	runtime.GOMAXPROCS(*p)

	arg := *k
	res := make([]int, *g)
	var wg sync.WaitGroup
	wg.Add(*g)
	t0 := time.Now()
	for i := range res {
		go func(r *int) {
			*r = fib(arg)
			wg.Done()
		}(&res[i])
	}
	wg.Wait()
	el := time.Since(t0).Nanoseconds()

	a, b := 0, 1
	for i := 0; i < arg; i++ {
		a, b = b, a+b
	}
	for i, r := range res {
		if r != a {
			benchutil.Fail("task %d: fib(%d) = %d, want %d", i, arg, r, a)
		}
	}
	fmt.Printf("cpupar/P%d: %.2f ns/op wall_ms=%.1f tasks=%d fib=%d\n",
		*p, float64(el)/float64(*g), float64(el)/1e6, *g, arg)
}
