package main

// configuredTransports says which transports the connection settings name
// (a flag, the environment or the context), for the commands that, without
// arguments, read "the configured transports": lag, dlq ls and the TUI, each
// with its rule for when neither is named. A transport named with a value
// that is wrong (Kafka brokers that are not HOST:PORT) counts as
// configured: the error comes when it is opened, where it always came. Only
// a context that cannot be resolved is an error here.
func configuredTransports(f *Factory) (kafka, amqp bool, err error) {
	if _, _, amqp, err = f.amqpSettings(); err != nil {
		return false, false, err
	}
	// amqpSettings resolved the context: kafkaSettings can then fail only on
	// seeds that were named.
	_, _, kafka, kerr := f.kafkaSettings()
	return kafka || kerr != nil, amqp, nil
}
