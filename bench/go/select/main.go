// select (Go twin of bench/select.c): pingpong where B waits N times in
// select { case v := <-ping: pong <- v; case <-idle: fail }, idle being an
// unbuffered chan nobody sends on. Timed: from just before `go B` until
// main's loop ends. Figure: ns per round trip. Check: sum == N(N-1)/2.
package main

import (
	"flag"
	"fmt"
	"runtime"
	"time"

	"gorbench/internal/benchutil"
)

func main() {
	p := flag.Int("p", 1, "GOMAXPROCS")
	n := flag.Int("n", 3000000, "round trips")
	flag.Parse()
	benchutil.Positive("p", *p)
	benchutil.Positive("n", *n)
	runtime.GOMAXPROCS(*p)

	rounds := *n
	ping, pong, idle := make(chan int), make(chan int), make(chan int)
	sum := 0
	t0 := time.Now()
	go func() {
		for i := 0; i < rounds; i++ {
			select {
			case v := <-ping:
				pong <- v
			case <-idle:
				benchutil.Fail("idle case fired at %d", i)
			}
		}
	}()
	for i := 0; i < rounds; i++ {
		ping <- i
		sum += <-pong
	}
	el := time.Since(t0).Nanoseconds()

	if want := rounds * (rounds - 1) / 2; sum != want {
		benchutil.Fail("sum %d, want %d", sum, want)
	}
	fmt.Printf("select/P%d: %.2f ns/op roundtrips=%d total_ms=%.1f\n",
		*p, float64(el)/float64(rounds), rounds, float64(el)/1e6)
}
