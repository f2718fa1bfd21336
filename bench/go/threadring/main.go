// threadring (Go twin of bench/threadring.c): 503 goroutines in a ring, each
// with an unbuffered inbound chan int; k receives t, reports k if t == 0,
// else passes t-1 to k%503+1. Main injects N at goroutine 1.
// Timed: from before the channels and goroutines are made until the id
// arrives. Figures: ns per hop, total ms. Check: id == N%503 + 1.
package main

import (
	"flag"
	"fmt"
	"runtime"
	"time"

	"gorbench/internal/benchutil"
)

const ringSize = 503

func main() {
	p := flag.Int("p", 1, "GOMAXPROCS")
	n := flag.Int("n", 10000000, "token value (hops)")
	flag.Parse()
	benchutil.Positive("p", *p)
	benchutil.Positive("n", *n)
	runtime.GOMAXPROCS(*p)

	t0 := time.Now()
	done := make(chan int)
	in := make([]chan int, ringSize+1)
	for k := 1; k <= ringSize; k++ {
		in[k] = make(chan int)
	}
	for k := 1; k <= ringSize; k++ {
		mine, next, id := in[k], in[k%ringSize+1], k
		go func() {
			for {
				t := <-mine
				if t == 0 {
					done <- id
					return
				}
				next <- t - 1
			}
		}()
	}
	in[1] <- *n
	answer := <-done
	el := time.Since(t0).Nanoseconds()

	if want := *n%ringSize + 1; answer != want {
		benchutil.Fail("answer %d, want %d", answer, want)
	}
	fmt.Printf("threadring/P%d: %.2f ns/op hops=%d total_ms=%.1f answer=%d\n",
		*p, float64(el)/float64(*n), *n, float64(el)/1e6, answer)
}
