//go:build race

package schema

// raceOn: the race detector is on; its shadow memory and slowdown make
// heap measurements meaningless and 60,000 registry calls slow.
const raceOn = true
