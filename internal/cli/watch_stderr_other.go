//go:build !unix

package cli

// redirectStderr is a no-op where file descriptors cannot be duplicated.
func redirectStderr(string) (func(), error) { return func() {}, nil }
