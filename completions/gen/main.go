// Command gen regenerates the completion scripts in the completions
// directory (run by `go generate ./completions`).
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/coworkctl/coworkctl/completions"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run() error {
	dir := "."
	if len(os.Args) > 1 {
		dir = os.Args[1]
	}
	shells := make([]string, 0, len(completions.Files))
	for s := range completions.Files {
		shells = append(shells, s)
	}
	slices.Sort(shells)
	for _, shell := range shells {
		var buf bytes.Buffer
		if err := completions.Generate(completions.Root(), shell, &buf); err != nil {
			return fmt.Errorf("%s: %w", shell, err)
		}
		path := filepath.Join(dir, completions.Files[shell])
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}
