//go:build !race

package schema

const raceOn = false
