// prodcons (Go twin of bench/prodcons.c): one chan int of capacity 128; a
// producer sends 0..N-1 and closes it; main ranges over it summing.
// Timed: from just before `go producer` until the range ends.
// Figure: ns per item. Check: N items, sum == N(N-1)/2. Primary P2.
package main

import (
	"flag"
	"fmt"
	"runtime"
	"time"

	"gorbench/internal/benchutil"
)

func main() {
	p := flag.Int("p", 2, "GOMAXPROCS")
	n := flag.Int("n", 20000000, "items")
	flag.Parse()
	benchutil.Positive("p", *p)
	benchutil.Positive("n", *n)
	runtime.GOMAXPROCS(*p)

	items := *n
	ch := make(chan int, 128)
	sum, got := 0, 0
	t0 := time.Now()
	go func() {
		for i := 0; i < items; i++ {
			ch <- i
		}
		close(ch)
	}()
	for v := range ch {
		sum += v
		got++
	}
	el := time.Since(t0).Nanoseconds()

	if want := items * (items - 1) / 2; got != items || sum != want {
		benchutil.Fail("got %d items summing to %d, want %d summing to %d", got, sum, items, want)
	}
	fmt.Printf("prodcons/P%d: %.2f ns/op items=%d total_ms=%.1f\n",
		*p, float64(el)/float64(items), items, float64(el)/1e6)
}
