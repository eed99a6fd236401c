//go:build !unix

package cli

// redirectStderr is a no-op where file descriptors cannot be duplicated;
// the library's logger is still silenced.
func redirectStderr(string) (func(), error) { return func() {}, nil }
