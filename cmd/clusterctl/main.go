// Command clusterctl runs every worker of a compose service as its own
// container, behind a front door, with zero-downtime replacement.
package main

import (
	"os"

	"github.com/clusterctl/clusterctl/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args, os.Stdout, os.Stderr))
}
