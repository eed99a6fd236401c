// Command coworkctl is the real-time slot server, terminal dashboard and
// load generator of a coworking booking system.
package main

import (
	"os"

	"github.com/coworkctl/coworkctl/internal/cli"
)

func main() { os.Exit(cli.Main()) }
