// SPDX-License-Identifier: MIT
//
// bench-server: driven by bench_http (`bench_http --server PROG`).
//
// Hello world on Go's net/http, the standard library server (keep-alive,
// a goroutine per connection). It adds a Date header the minimal servers
// do not send. Listens on 127.0.0.1:PORT (os.Args[1]) until killed; pinned
// to one CPU by the driver, so GOMAXPROCS is 1.
//
// Build: go build http_go.go
package main

import (
	"fmt"
	"net/http"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		os.Exit(2)
	}
	body := []byte("Hello, world!")
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})
	err := http.ListenAndServe("127.0.0.1:"+os.Args[1], nil)
	fmt.Fprintln(os.Stderr, "http_go:", err)
	os.Exit(1)
}
