// echo (Go twin of bench/echo.c; the anchor's reference program): TCP echo
// over loopback, server and client in separate processes.
//
//	server (-mode=server -p P -addr 127.0.0.1:17007): net.Listen; one goroutine
//	  per accepted conn; loop { n := conn.Read(buf[4096]); conn.Write(buf[:n]) }.
//	client (-mode=client -p 1 -c 100 -m 2000): dials C connections (sequentially,
//	  untimed), then all C goroutines start together; each does M round trips:
//	  t = now; write 64 bytes; io.ReadFull 64 bytes; record now - t.
//
// Timed: wall from releasing the C client goroutines until all finish.
// Reported (by the client): ns/op = wall / (C*M); round trips per second;
// p50/p99 of the per-round-trip latency over all C*M samples.
// bench/run.sh runs this client against this server and against the gor
// server (bench/echo.c), at server P1 and P2. Unlike the anchor's copy, the
// client checks every echoed byte. -mode=both runs both in one process.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net"
	"runtime"
	"sort"
	"sync"
	"time"

	"gorbench/internal/benchutil"
)

func serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func(c net.Conn) {
			defer c.Close()
			buf := make([]byte, 4096)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					if _, werr := c.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}(c)
	}
}

func client(addr string, conns, msgs int, label string) {
	cs := make([]net.Conn, conns)
	for i := range cs {
		var err error
		for try := 0; try < 100; try++ {
			cs[i], err = net.Dial("tcp", addr)
			if err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			benchutil.Fail("dial %s: %v", addr, err)
		}
	}
	lat := make([][]time.Duration, conns)
	var ready, wg sync.WaitGroup
	start := make(chan struct{})
	ready.Add(conns)
	wg.Add(conns)
	for i := range cs {
		go func(i int) {
			defer wg.Done()
			c := cs[i]
			l := make([]time.Duration, msgs)
			out := make([]byte, 64)
			in := make([]byte, 64)
			for j := range out {
				out[j] = byte(i + j)
			}
			ready.Done()
			<-start
			for j := 0; j < msgs; j++ {
				t := time.Now()
				if _, err := c.Write(out); err != nil {
					benchutil.Fail("conn %d: write: %v", i, err)
				}
				if _, err := io.ReadFull(c, in); err != nil {
					benchutil.Fail("conn %d: read: %v", i, err)
				}
				l[j] = time.Since(t)
				if !bytes.Equal(in, out) {
					benchutil.Fail("conn %d: round trip %d: wrong bytes back", i, j)
				}
			}
			lat[i] = l
		}(i)
	}
	ready.Wait()
	t0 := time.Now()
	close(start)
	wg.Wait()
	el := time.Since(t0)
	for _, c := range cs {
		c.Close()
	}
	all := make([]time.Duration, 0, conns*msgs)
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(a, b int) bool { return all[a] < all[b] })
	tot := float64(conns * msgs)
	p50 := all[len(all)*50/100]
	p99 := all[len(all)*99/100]
	fmt.Printf("echo/%s: %.2f ns/op rt_per_s=%.0f p50_us=%.1f p99_us=%.1f conns=%d msgs=%d total_ms=%.1f\n",
		label, float64(el.Nanoseconds())/tot, tot/el.Seconds(),
		float64(p50.Nanoseconds())/1e3, float64(p99.Nanoseconds())/1e3, conns, msgs,
		float64(el.Nanoseconds())/1e6)
}

func main() {
	mode := flag.String("mode", "both", "server | client | both")
	p := flag.Int("p", 1, "GOMAXPROCS of this process")
	addr := flag.String("addr", "127.0.0.1:17007", "listen/dial address (loopback)")
	conns := flag.Int("c", 100, "client connections")
	msgs := flag.Int("m", 2000, "round trips per connection")
	label := flag.String("label", "", "result label (default from mode/p)")
	flag.Parse()
	benchutil.Positive("p", *p)
	benchutil.Positive("c", *conns)
	benchutil.Positive("m", *msgs)
	runtime.GOMAXPROCS(*p)

	switch *mode {
	case "server":
		ln, err := net.Listen("tcp", *addr)
		if err != nil {
			benchutil.Fail("%v", err)
		}
		serve(ln)
	case "client":
		if *label == "" {
			*label = "client"
		}
		client(*addr, *conns, *msgs, *label)
	case "both":
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			benchutil.Fail("%v", err)
		}
		go serve(ln)
		if *label == "" {
			*label = fmt.Sprintf("inproc-P%d", *p)
		}
		client(ln.Addr().String(), *conns, *msgs, *label)
	}
}
