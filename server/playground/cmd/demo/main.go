// Command demo serves the playground alone on a local port, for looking at
// it in a browser (npm/browsercheck.mjs drives it). There is no GraphQL
// endpoint behind it, so running operations fails; the page itself renders.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"

	"github.com/apiws/apiws/server/playground"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8089", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	mux := http.NewServeMux()
	h := playground.Handler(playground.Options{Endpoint: "/graphql"})
	mux.Handle("/playground", h)
	mux.Handle("/playground/", h)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	// The address line tells a driving script where to point the browser.
	log.Printf("playground on http://%s/playground", ln.Addr())
	return http.Serve(ln, mux)
}
