package main

// backlogFlag is --backlog's usage line, the same on every command that reads
// RabbitMQ queues (tail, trace, trace flows, expect, dlq ls, dlq show).
const backlogFlag = "RabbitMQ: also read the messages a classic or quorum queue holds now, by a peek " +
	"(fetched and requeued: marked redelivered; see TOUCHING A QUEUE'S MESSAGES)"

// backlogHelp says exactly what --backlog does to a queue's messages. Every
// command with the flag carries it, so the words are one contract.
const backlogHelp = `TOUCHING A QUEUE'S MESSAGES (--backlog)
  Without --backlog eddy never touches a RabbitMQ queue's messages: live ones
  are copied to a temporary tap queue, and a stream queue is read from an
  offset, which changes nothing. A classic or quorum queue cannot give back
  the messages it already holds without handing them out, so a start in the
  past on one (--from beginning, a time, --since) is refused unless you pass
  --backlog, which peeks: eddy gets the messages the queue holds now (at most
  10,000 messages or 256 MiB) without acknowledging them, then gives them all
  back at once (basic.nack with requeue), before it shows them. Then:
` + peekEffects

// peekEffects is what a peek leaves on the messages it read: --backlog's and
// a RabbitMQ dry run's (replay, dlq redrive) are the same peek.
const peekEffects = `    - they are back in the queue, not consumed, with the redelivered flag set,
      which their consumers see (and some treat as a possible duplicate);
    - while eddy holds them (milliseconds to seconds) no consumer can get
      them, so consumers may get them after messages that arrived later, or
      from another consumer than they would have (consumer priorities and
      single-active-consumer do not apply to eddy);
    - a quorum queue counts one more delivery of each (x-delivery-count);
      eddy refuses to peek at one with a delivery limit, at which RabbitMQ
      dead-letters or drops a message;
    - if eddy dies or loses its connection mid-peek, the broker requeues what
      it held when the connection closes: nothing is lost, the flag is set.`

// dryRunPeekHelp says what a dry run does to a RabbitMQ source queue's
// messages (replay, dlq redrive): it cannot plan without reading them.
const dryRunPeekHelp = `  RabbitMQ: a dry run cannot plan without reading the messages, and reads
  a classic or quorum queue with the peek of --backlog (as in eddy tail): it
  gets the messages the queue holds when it starts (at most 10,000 messages or
  256 MiB; a note says when there were more) without acknowledging any, and
  gives them all back at once (basic.nack with requeue) as soon as it has read
  them, before planning: they are held for that read alone, not for the rest
  of the run. Nothing is acked, nothing is removed, and if eddy dies mid-read
  the broker requeues what it held. Then:
` + peekEffects + `
  A stream queue is read by offset, which changes nothing.`
