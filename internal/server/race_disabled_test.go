//go:build !race

package server_test

// raceEnabled: the tests run under the race detector, which makes them
// several times slower; load tests scale down.
const raceEnabled = false
