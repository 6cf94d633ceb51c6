// Package dlq finds dead-letter queues (by name and, for RabbitMQ, by
// topology), groups their messages by error and origin, and redrives them
// to where they failed through package replay. What a dead letter is and
// says is package dlq/convention's.
package dlq
