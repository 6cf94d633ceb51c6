package kafka

// WithoutControlRecords makes Sources drop transaction markers, so that tests
// reach the end of a transactional partition through probeEnd alone, the
// fallback for gaps that no marker covers (compaction).
func WithoutControlRecords() Option { return func(o *cfg) { o.noControlRecords = true } }
