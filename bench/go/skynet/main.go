// skynet (Go twin of bench/skynet.c; the algorithm of
// github.com/atemerev/skynet's Go version): skynet(c, num, size, div) sends
// num if size == 1, else spawns div children on a fresh unbuffered channel
// and sends the sum of their div answers. Root (0, 1000000, 10): 1,111,111
// goroutines. Timed: from before `go skynet(root)` until the result arrives.
// Figures: total ms, ns per goroutine, peak RSS. Check: 499999500000.
package main

import (
	"flag"
	"fmt"
	"runtime"
	"time"

	"gorbench/internal/benchutil"
)

func skynet(c chan<- int, num, size, div int) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan int)
	step := size / div
	for i := 0; i < div; i++ {
		go skynet(rc, num+i*step, step, div)
	}
	sum := 0
	for i := 0; i < div; i++ {
		sum += <-rc
	}
	c <- sum
}

func main() {
	p := flag.Int("p", 1, "GOMAXPROCS")
	flag.Parse()
	benchutil.Positive("p", *p)
	runtime.GOMAXPROCS(*p)

	c := make(chan int)
	t0 := time.Now()
	go skynet(c, 0, 1000000, 10)
	result := <-c
	el := time.Since(t0).Nanoseconds()

	if result != 499999500000 {
		benchutil.Fail("bad result %d, want 499999500000", result)
	}
	fmt.Printf("skynet/P%d: %.2f ns/op total_ms=%.1f result=%d goroutines=1111111 peak_rss_kb=%d\n",
		*p, float64(el)/1111111, float64(el)/1e6, result, benchutil.KB("VmHWM"))
}
