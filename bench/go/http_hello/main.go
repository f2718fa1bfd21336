// http_hello (Go twin of samples/http_hello.c): a net/http server that
// answers "Hello, World!" to every request, for wrk:
//
//	http_hello -p 2 -addr 127.0.0.1:8081
//	wrk -t2 -c100 -d5s http://127.0.0.1:8081/
//
// Not a bench/run.sh workload (wrk is not part of CI); bench/README.md
// says how the two were measured side by side.
package main

import (
	"flag"
	"io"
	"net/http"
	"runtime"

	"gorbench/internal/benchutil"
)

func main() {
	p := flag.Int("p", runtime.NumCPU(), "GOMAXPROCS")
	addr := flag.String("addr", "127.0.0.1:8081", "listen address (loopback)")
	flag.Parse()
	benchutil.Positive("p", *p)
	runtime.GOMAXPROCS(*p)
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "Hello, World!")
	})
	benchutil.Fail("%v", http.ListenAndServe(*addr, nil))
}
