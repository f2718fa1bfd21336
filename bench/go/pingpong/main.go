// pingpong (Go twin of bench/pingpong.c): unbuffered chan int ping and pong.
// B loops N times: v := <-ping; pong <- v. Main loops N times: ping <- i;
// sum += <-pong. Timed: from just before `go B` until main's loop ends.
// Figure: ns per round trip. Check: sum == N(N-1)/2.
// -timer D (not in the anchor): a timer set D ahead stays pending through
// the run (benchutil.PendingTimer).
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
	n := flag.Int("n", 5000000, "round trips")
	timer := flag.Duration("timer", 0, "a timer pending this far ahead (0: none)")
	flag.Parse()
	benchutil.Positive("p", *p)
	benchutil.Positive("n", *n)
	runtime.GOMAXPROCS(*p)
	pending := benchutil.PendingTimer(*timer)

	ping, pong := make(chan int), make(chan int)
	rounds := *n
	sum := 0
	t0 := time.Now()
	go func() {
		for i := 0; i < rounds; i++ {
			pong <- <-ping
		}
	}()
	for i := 0; i < rounds; i++ {
		ping <- i
		sum += <-pong
	}
	el := time.Since(t0).Nanoseconds()
	benchutil.CheckPending(pending)

	if want := rounds * (rounds - 1) / 2; sum != want {
		benchutil.Fail("sum %d, want %d", sum, want)
	}
	fmt.Printf("pingpong/P%d: %.2f ns/op roundtrips=%d total_ms=%.1f%s\n",
		*p, float64(el)/float64(rounds), rounds, float64(el)/1e6, benchutil.TimerKey(*timer))
}
