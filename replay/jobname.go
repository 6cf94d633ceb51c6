package replay

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// MaxJobName bounds a job name: it becomes a file name (a redrive's job log,
// eddy-redrive-JOB.log, within a file system's 255 bytes), a consumer group id
// and a transactional id.
const MaxJobName = 200

// JobNameChars says which characters a job name may have, for error messages.
const JobNameChars = "letters, digits, '.', '_' and '-'"

// CheckJobName reports whether name can name a job. A job's name becomes a
// path (a Kafka redrive's job log), a consumer group id and a transactional id
// (eddy-replay-JOB, eddy-redrive-JOB) and ledger keys, so it is held to the
// characters that are safe in all of them: no path separator, no "..", no
// space or control byte. Every command that takes --job, and every library
// entry point that turns a job into a path or an id, checks it here.
func CheckJobName(name string) error {
	if name == "" {
		return fmt.Errorf("a job name is 1 to %d %s; it is empty", MaxJobName, JobNameChars)
	}
	if len(name) > MaxJobName {
		return fmt.Errorf("a job name is 1 to %d %s; this one has %d characters", MaxJobName, JobNameChars, len(name))
	}
	for i := 0; i < len(name); i++ {
		if !jobByte(name[i]) {
			return fmt.Errorf("a job name is 1 to %d %s only", MaxJobName, JobNameChars)
		}
	}
	if strings.Trim(name, ".") == "" {
		return fmt.Errorf("a job name is not made of dots alone")
	}
	return nil
}

// SafeJobName turns any text (a queue's name, which RabbitMQ allows to hold
// '/', spaces or anything) into a valid job name: each character outside
// JobNameChars becomes '_', and the result is cut to max bytes (at most
// MaxJobName). A derived name adds a hash of the original, so two texts that
// map to the same safe name still name different jobs.
func SafeJobName(s string, max int) string {
	if max <= 0 || max > MaxJobName {
		max = MaxJobName
	}
	b := []byte(s)
	for i := range b {
		if !jobByte(b[i]) {
			b[i] = '_'
		}
	}
	if len(b) > max {
		b = b[:max]
	}
	return string(b)
}

func jobByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

// DefaultJobName is the job name of a replay of sources to target that
// --job does not name: the same command is the same job.
func DefaultJobName(sources []string, target string) string {
	h := sha256.Sum256([]byte(strings.Join(sources, " ") + " -> " + target))
	return "r-" + hex.EncodeToString(h[:6])
}
