//go:build race

package main

// raceEnabled: the tests were built with -race, so the binary they build is too. It then reuses
// the packages go test already compiled (a link, not a cold build) and reports its own races.
const raceEnabled = true
