package helptext

// TUI is eddy tui's long help: its views and keys, the command line, how it
// connects and reconnects, and where it draws.
const TUI = `Open eddy's terminal UI on the current context: its topics and queues, a live
tail, one event's envelope, its trace across topics, consumer lag and the
dead-letter queues. It reads exactly as the commands do (tail joins no group
and commits nothing; RabbitMQ queues are tapped, not consumed) and shows every
payload terminal-safe.

VIEWS (the number keys switch; ? lists the keys of the view on top)
  1 Sources   topics and queues, partitions, messages, rate; DLQs marked;
              / filters, space selects several, enter tails them
  2 Tail      live events: p pause, f edit the --filter expression, / search
              (n/N: next/previous; the status line counts the matches),
              @ jump to a time or position (from the past, the tail stays on
              the target and stops reading when --buffer is full; p reads
              on), enter opens an event, t traces it
  .. Event    the whole envelope, headers, the JSON payload folded and
              unfolded (enter, ←/→, z/Z); y copies it (OSC 52), w writes a file;
              ] and [ show the next and previous event of the list it was
              opened from (the tail, a trace's steps, a DLQ group)
  .. Trace    the event's flow: a timeline across topics, hop latencies as bars,
              the dead-lettered or stuck step marked, a latency histogram
              per edge; enter on a step opens its event
  3 Lag       groups and queues, status, lag history; / filters; enter:
              partitions, and enter on a partition tails it from the
              group's committed offset (on a queue: its tail);
              eddy's own redrive and replay jobs are hidden (J lists them,
              as jobs done or running, not as stopped consumers)
  4 DLQ       dead-letter topics and queues, counts, errors; / filters;
              enter: groups by error (ids, numbers and quoted values
              masked), / filters them, enter lists a group's messages,
              enter on one opens it; space selects, P plans a redrive (eddy dlq redrive --dry-run;
              nothing selected means the whole DLQ), Y runs exactly that
              plan: letters that arrived since are left, and counted
              (Kafka topics and RabbitMQ queues alike). RabbitMQ DLQs show
              counts and origins from the management API; their errors and
              groups need --backlog (a peek, as eddy dlq ls)
  5 Contexts  the configured contexts; / filters, enter switches

: opens a command line (k9s's): :sources, :tail ADDR..., :lag [GROUP],
:dlq [NAME], :ctx [NAME], :trace ID, :event, :help, :quit; Tab completes
the command and the topics, groups, DLQs and contexts already read; esc
cancels. The top bar shows the trail of views esc walks back (Sources ›
Tail › Event › Trace) and the context, or with none the brokers, never a
URL's user or password. ? lists the keys that work in the view as it is.

SOURCES, when given (kafka:TOPIC, kafka:/REGEX/, amqp:QUEUE), open the tail at
once. --demo starts the embedded demo shop (as eddy demo does, writing the
"demo" context) and opens the TUI on it.

CONNECTION: the header says each transport's state: connected, reconnecting
since T (a check or a read failed), or DOWN since T (failing for --timeout);
each client is checked every 2 s. A view whose read failed says why in its
body and keeps its last good rows, marked with when they were read. Sources
and Lag read again every 2 s; the DLQ list every 30 s and at once when its
broker answers again (under --backlog, where a read peeks at RabbitMQ, only
then and on r); a trace that failed to connect, when its broker answers
again. A tail whose source ended (its broker lost for good, its topic or
queue deleted) reopens by itself with backoff (1 s, doubling to 30 s): from
the end, what was published meanwhile not shown, or from the beginning of a
topic deleted and created again. A context switched to is checked at once,
and its failure said within --timeout.

The UI draws on the terminal's alternate screen through stderr, so stdout
stays clean; when stderr is redirected (eddy tui 2>debug.log) it draws on
the controlling terminal (/dev/tty) instead, and without any terminal it
exits 2. Colours suit the terminal's background as it reports it (--theme
dark or light when it does not); NO_COLOR turns colour off. q quits (exit
0), ctrl+c interrupts (exit 130); under --demo, or while a redrive runs, q
asks first (q or y again quits). Any key closes the help, q and esc too.`
