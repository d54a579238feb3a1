// SPDX-License-Identifier: MIT
//
// bench-server: driven by bench_echo (`bench_echo --server PROG`).
//
// The echo server in Go as Go writes one: a goroutine per connection that
// reads into a buffer and writes back what it read (net.TCPConn has
// TCP_NODELAY by default). Listens on 127.0.0.1:PORT (os.Args[1]) until
// killed. Pinned to one CPU by the driver, so GOMAXPROCS is 1.
//
// Build: go build echo_go.go
package main

import (
	"fmt"
	"net"
	"os"
)

func serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 65536)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return
		}
		if _, err := c.Write(buf[:n]); err != nil {
			return
		}
	}
}

func main() {
	if len(os.Args) < 2 {
		os.Exit(2)
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo_go:", err)
		os.Exit(1)
	}
	for {
		c, err := l.Accept()
		if err != nil {
			continue
		}
		go serve(c)
	}
}
