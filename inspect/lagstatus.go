package inspect

import (
	"fmt"
	"strings"
)

// Status is a consumer's health, Burrow's words and order: a higher status is
// worse. Groups are OK, WARN or ERR; partitions are OK, WARN, STOP, STALL or
// REWIND. StatusUnknown means eddy has not seen enough samples to judge.
type Status int

// Statuses, in Burrow's order (its protocol.StatusConstant values).
const (
	StatusUnknown Status = iota
	StatusOK
	StatusWarn
	StatusErr
	StatusStop
	StatusStall
	StatusRewind
)

var statusNames = [...]string{"UNKNOWN", "OK", "WARN", "ERR", "STOP", "STALL", "REWIND"}

func (s Status) String() string {
	if s < 0 || int(s) >= len(statusNames) {
		return fmt.Sprintf("Status(%d)", int(s))
	}
	return statusNames[s]
}

// ParseStatus reads a status name (any case).
func ParseStatus(s string) (Status, error) {
	for i, n := range statusNames {
		if strings.EqualFold(s, n) {
			return Status(i), nil
		}
	}
	return 0, fmt.Errorf("unknown status %q (want OK, WARN, ERR, STOP, STALL or REWIND)", s)
}
