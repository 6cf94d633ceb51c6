package all

import (
	"context"

	"github.com/eddy-sh/eddy/bus"
	"github.com/eddy-sh/eddy/bus/file"
)

// Preflight checks a run's target before anything is read or written, for
// the real run and its dry run alike (a dry run fails where and as the real
// run would): a Kafka topic or a RabbitMQ exchange or queue exists
// (bus.Preflighter, what the sink's first write checks), a capture can be
// created or appended to (file.Preflight). It writes nothing. The client it
// opens through c is closed before it returns (c.Borrowed is not read).
func Preflight(ctx context.Context, c Clients, to bus.Address) error {
	switch to.Transport {
	case "file":
		return file.Preflight(to.Name)
	case "kafka":
		k, err := c.Kafka()
		if err != nil {
			return err
		}
		defer k.Close()
		// An unreachable broker is exit 4, as for every command.
		if err := k.Ping(ctx); err != nil {
			return err
		}
		s, err := k.Sink(to.Name)
		if err != nil {
			return err
		}
		defer s.Close()
		return s.(bus.Preflighter).Preflight(ctx)
	case "amqp":
		a, err := c.AMQP()
		if err != nil {
			return err
		}
		defer a.Close()
		s, err := a.Sink(to)
		if err != nil {
			return err
		}
		defer s.Close()
		return s.(bus.Preflighter).Preflight(ctx)
	}
	return nil
}
