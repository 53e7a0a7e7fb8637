// Command bulksync keeps the Alexa Smart Properties WebRTC account
// associations of a property in line with a CSV export.
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}
