package helptext

// Expect is eddy expect's long help: expectations over flows, for CI.
const Expect = `Check every flow that started (has the expectation's first step) in the
window against one or more expectations: its steps, in event-time order, all
within DURATION of the first. Arguments containing "->" are expectations, the
others SOURCEs; --file reads expectations one per line (# comments).

A flow fails an expectation when
  missing_step   a step never came (after the deadline, or the flow went idle
                 for --flow-timeout)
  too_slow       the last step came later than DURATION after the first
  out_of_order   a step's event time is before the previous step's
  dead_lettered  one of its events went to a dead-letter topic or queue
A flow still within its deadline when the input ends (or, with no DURATION,
not yet idle) is pending, not failed, unless --strict. The deadline is judged
against the time of the run for Kafka and RabbitMQ (or --until, when it is an
earlier time), and against the latest record timestamp read for captures.

An expectation naming a step type that no event read has fails (a typo, or
the wrong sources, would otherwise make a gate that can never fail), with
the closest type seen suggested, unless --allow-empty.

Kafka is read from --since ago (default 1h, the broker's time index) to the
end as of starting; captures are read whole unless --since is given. Flows are
correlated as by eddy trace (see eddy trace --help).

`
