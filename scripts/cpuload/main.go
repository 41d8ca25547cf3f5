// Command cpuload keeps every CPU busy, for make test-repeat: the tests run
// beside it as they would on a loaded, shared machine, which is when flaky
// tests show. It stops after -for, or when killed.
package main

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"runtime"
	"time"
)

func main() {
	workers := flag.Int("workers", runtime.NumCPU(), "busy goroutines (default: one per CPU)")
	d := flag.Duration("for", 6*time.Hour, "stop after this long")
	flag.Parse()
	if *workers < 1 {
		fmt.Fprintln(os.Stderr, "cpuload: -workers must be at least 1")
		os.Exit(2)
	}
	for range *workers {
		go func() {
			var sum [32]byte
			for {
				sum = sha256.Sum256(sum[:])
			}
		}()
	}
	fmt.Fprintf(os.Stderr, "cpuload: %d busy goroutines for %v\n", *workers, *d)
	time.Sleep(*d) // the program's purpose is to run this long
}
