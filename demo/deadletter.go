package demo

import (
	"encoding/binary"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Spring Kafka's dead-letter header names (org.springframework.kafka.support.KafkaHeaders).
const (
	SpringExceptionFQCN       = "kafka_dlt-exception-fqcn"
	SpringExceptionCauseFQCN  = "kafka_dlt-exception-cause-fqcn"
	SpringExceptionMessage    = "kafka_dlt-exception-message"
	SpringExceptionStacktrace = "kafka_dlt-exception-stacktrace"
	SpringOriginalTopic       = "kafka_dlt-original-topic"
	SpringOriginalPartition   = "kafka_dlt-original-partition"
	SpringOriginalOffset      = "kafka_dlt-original-offset"
	SpringOriginalTimestamp   = "kafka_dlt-original-timestamp"
	SpringOriginalTSType      = "kafka_dlt-original-timestamp-type"
	SpringOriginalGroup       = "kafka_dlt-original-consumer-group"
)

// Kafka Connect's dead-letter context header names
// (org.apache.kafka.connect.runtime.errors.DeadLetterQueueReporter).
const (
	ConnectTopic            = "__connect.errors.topic"
	ConnectPartition        = "__connect.errors.partition"
	ConnectOffset           = "__connect.errors.offset"
	ConnectConnectorName    = "__connect.errors.connector.name"
	ConnectTaskID           = "__connect.errors.task.id"
	ConnectStage            = "__connect.errors.stage"
	ConnectClassName        = "__connect.errors.class.name"
	ConnectExceptionClass   = "__connect.errors.exception.class.name"
	ConnectExceptionMessage = "__connect.errors.exception.message"
	ConnectExceptionTrace   = "__connect.errors.exception.stacktrace"
)

// The listener method Spring names in ListenerExecutionFailedException's message
// (HandlerAdapter.getMethodAsString is Method.toGenericString).
const paymentsListenerMethod = "public void com.example.shop.payments.PaymentListener.onOrderPlaced(com.example.shop.events.OrderPlaced)"

// springDeadLetter is the record Spring Kafka's DeadLetterPublishingRecoverer
// (default settings, a destination resolver that names payments.DLT) publishes
// for a record whose listener threw: key and value unchanged, the original
// headers, then the exception headers (replacing earlier ones of the same
// name), then the original-* headers appended, in that order. The partition is
// the failed record's; the timestamp is left to the producer, i.e. now.
func springDeadLetter(rec *kgo.Record, topic, group string, f *failure, now time.Time) *kgo.Record {
	h := append([]kgo.RecordHeader(nil), rec.Headers...)
	var class, causeClass, msg, trace string
	if f.Deserialization {
		// ErrorHandlingDeserializer put a DeserializationException in a header;
		// the recoverer builds the exception headers from it, not from the
		// listener exception that carried it.
		class = "org.springframework.kafka.support.serializer.DeserializationException"
		causeClass = f.CauseClass
		msg = "failed to deserialize; " + f.CauseMessage
		causes := []cause{{"org.apache.kafka.common.errors.SerializationException", "Can't deserialize data  from topic [" + rec.Topic + "]", []string{
			"org.springframework.kafka.support.serializer.JsonDeserializer.deserialize(JsonDeserializer.java:593)",
			"org.springframework.kafka.support.serializer.ErrorHandlingDeserializer.deserialize(ErrorHandlingDeserializer.java:190)",
		}}, {f.CauseClass, f.CauseMessage, []string{
			"com.fasterxml.jackson.core.JsonParser._constructReadException(JsonParser.java:2648)",
			"com.fasterxml.jackson.core.base.ParserMinimalBase._reportError(ParserMinimalBase.java:754)",
			"com.fasterxml.jackson.databind.ObjectReader.readValue(ObjectReader.java:1321)",
		}}}
		if f.Serde != "" {
			// Confluent's deserializer throws the SerializationException
			// itself.
			causes = []cause{{f.CauseClass, f.CauseMessage, []string{
				f.Serde + ".deserialize(" + javaFile(f.Serde) + ":108)",
				"org.springframework.kafka.support.serializer.ErrorHandlingDeserializer.deserialize(ErrorHandlingDeserializer.java:190)",
			}}}
		}
		trace = javaTrace(class, "failed to deserialize", []string{
			"org.springframework.kafka.support.serializer.ErrorHandlingDeserializer.deserializationException(ErrorHandlingDeserializer.java:218)",
			"org.springframework.kafka.support.serializer.ErrorHandlingDeserializer.deserialize(ErrorHandlingDeserializer.java:193)",
			"org.apache.kafka.clients.consumer.internals.CompletedFetch.parseRecord(CompletedFetch.java:331)",
			"org.apache.kafka.clients.consumer.internals.CompletedFetch.fetchRecords(CompletedFetch.java:283)",
			"org.apache.kafka.clients.consumer.internals.FetchCollector.fetchRecords(FetchCollector.java:168)",
			"org.apache.kafka.clients.consumer.internals.ClassicKafkaConsumer.poll(ClassicKafkaConsumer.java:615)",
			"org.springframework.kafka.listener.KafkaMessageListenerContainer$ListenerConsumer.pollConsumer(KafkaMessageListenerContainer.java:1709)",
		}, causes...)
	} else {
		// The container wraps what the listener threw in a
		// ListenerExecutionFailedException; the recoverer names it, its root
		// cause, and joins both messages with "; ".
		class = "org.springframework.kafka.listener.ListenerExecutionFailedException"
		causeClass = f.Class
		lefe := "Listener method '" + paymentsListenerMethod + "' threw exception"
		msg = lefe + "; " + f.Message
		trace = javaTrace(class, lefe, []string{
			"org.springframework.kafka.listener.KafkaMessageListenerContainer$ListenerConsumer.decorateException(KafkaMessageListenerContainer.java:2996)",
			"org.springframework.kafka.listener.KafkaMessageListenerContainer$ListenerConsumer.doInvokeOnMessage(KafkaMessageListenerContainer.java:2903)",
			"org.springframework.kafka.listener.KafkaMessageListenerContainer$ListenerConsumer.invokeOnMessage(KafkaMessageListenerContainer.java:2867)",
			"org.springframework.kafka.listener.KafkaMessageListenerContainer$ListenerConsumer.doInvokeRecordListener(KafkaMessageListenerContainer.java:2779)",
			"org.springframework.kafka.listener.KafkaMessageListenerContainer$ListenerConsumer.invokeRecordListener(KafkaMessageListenerContainer.java:2617)",
			"org.springframework.kafka.listener.KafkaMessageListenerContainer$ListenerConsumer.pollAndInvoke(KafkaMessageListenerContainer.java:1530)",
			"org.springframework.kafka.listener.KafkaMessageListenerContainer$ListenerConsumer.run(KafkaMessageListenerContainer.java:1412)",
			"java.base/java.util.concurrent.CompletableFuture$AsyncRun.run(CompletableFuture.java:1804)",
			"java.base/java.lang.Thread.run(Thread.java:1583)",
		}, cause{f.Class, f.Message, append(slicesClone(f.Frames),
			"java.base/jdk.internal.reflect.DirectMethodHandleAccessor.invoke(DirectMethodHandleAccessor.java:103)",
			"java.base/java.lang.reflect.Method.invoke(Method.java:580)",
			"org.springframework.messaging.handler.invocation.InvocableHandlerMethod.doInvoke(InvocableHandlerMethod.java:169)",
			"org.springframework.kafka.listener.adapter.HandlerAdapter.invoke(HandlerAdapter.java:70)",
			"org.springframework.kafka.listener.adapter.MessagingMessageListenerAdapter.invokeHandler(MessagingMessageListenerAdapter.java:457)",
		)})
	}
	h = replaceHeader(h, SpringExceptionFQCN, []byte(class))
	h = replaceHeader(h, SpringExceptionCauseFQCN, []byte(causeClass))
	h = replaceHeader(h, SpringExceptionMessage, []byte(msg))
	h = replaceHeader(h, SpringExceptionStacktrace, []byte(trace))

	h = append(h,
		kgo.RecordHeader{Key: SpringOriginalTopic, Value: []byte(rec.Topic)},
		kgo.RecordHeader{Key: SpringOriginalPartition, Value: binary.BigEndian.AppendUint32(nil, uint32(rec.Partition))},
		kgo.RecordHeader{Key: SpringOriginalOffset, Value: binary.BigEndian.AppendUint64(nil, uint64(rec.Offset))},
		kgo.RecordHeader{Key: SpringOriginalTimestamp, Value: binary.BigEndian.AppendUint64(nil, uint64(rec.Timestamp.UnixMilli()))},
		kgo.RecordHeader{Key: SpringOriginalTSType, Value: []byte(timestampType(rec))},
		kgo.RecordHeader{Key: SpringOriginalGroup, Value: []byte(group)},
	)
	return &kgo.Record{Topic: topic, Partition: rec.Partition, Key: rec.Key, Value: rec.Value, Headers: h, Timestamp: now}
}

// timestampType is Java's TimestampType.toString().
func timestampType(rec *kgo.Record) string {
	if rec.Attrs.TimestampType() == 1 {
		return "LogAppendTime"
	}
	return "CreateTime"
}

// connectDeadLetter is the record Kafka Connect's DeadLetterQueueReporter writes
// with errors.deadletterqueue.context.headers.enable=true: key, value, headers
// and timestamp of the original, no partition (the DLQ Connect creates has one),
// then the context headers appended, every value a UTF-8 string.
func connectDeadLetter(rec *kgo.Record, topic, connector string, task int, f *failure) *kgo.Record {
	h := append([]kgo.RecordHeader(nil), rec.Headers...)
	var stage, executing, class, msg, trace string
	if f.Deserialization {
		stage = "VALUE_CONVERTER"
		executing = "org.apache.kafka.connect.json.JsonConverter"
		class = "org.apache.kafka.connect.errors.DataException"
		msg = "Converting byte[] to Kafka Connect data failed due to serialization error: "
		causes := []cause{{"org.apache.kafka.common.errors.SerializationException", f.CauseClass + ": " + f.CauseMessage, []string{
			"org.apache.kafka.connect.json.JsonDeserializer.deserialize(JsonDeserializer.java:69)",
			"org.apache.kafka.connect.json.JsonConverter.toConnectData(JsonConverter.java:331)",
		}}, {f.CauseClass, f.CauseMessage, []string{
			"com.fasterxml.jackson.core.JsonParser._constructReadException(JsonParser.java:2648)",
			"com.fasterxml.jackson.core.base.ParserMinimalBase._reportError(ParserMinimalBase.java:754)",
			"com.fasterxml.jackson.databind.ObjectMapper.readTree(ObjectMapper.java:3324)",
		}}}
		if f.Converter != "" {
			// Confluent's converters wrap the deserializer's exception in
			// a DataException that names the topic.
			executing = f.Converter
			msg = "Failed to deserialize data for topic " + rec.Topic + " to " + strings.TrimSuffix(javaFile(f.Converter), "Converter.java") + ": "
			causes = []cause{{f.CauseClass, f.CauseMessage, []string{
				f.Serde + ".deserialize(" + javaFile(f.Serde) + ":108)",
				f.Converter + ".toConnectData(" + javaFile(f.Converter) + ":131)",
			}}}
		}
		trace = javaTrace(class, msg, []string{
			executing + ".toConnectData(" + javaFile(executing) + ":333)",
			"org.apache.kafka.connect.storage.Converter.toConnectData(Converter.java:91)",
			"org.apache.kafka.connect.runtime.WorkerSinkTask.lambda$convertAndTransformRecord$6(WorkerSinkTask.java:558)",
			"org.apache.kafka.connect.runtime.errors.RetryWithToleranceOperator.execAndRetry(RetryWithToleranceOperator.java:208)",
			"org.apache.kafka.connect.runtime.errors.RetryWithToleranceOperator.execAndHandleError(RetryWithToleranceOperator.java:242)",
			"org.apache.kafka.connect.runtime.errors.RetryWithToleranceOperator.execute(RetryWithToleranceOperator.java:157)",
			"org.apache.kafka.connect.runtime.WorkerSinkTask.convertAndTransformRecord(WorkerSinkTask.java:558)",
			"org.apache.kafka.connect.runtime.WorkerSinkTask.convertMessages(WorkerSinkTask.java:530)",
			"org.apache.kafka.connect.runtime.WorkerSinkTask.poll(WorkerSinkTask.java:355)",
			"org.apache.kafka.connect.runtime.WorkerSinkTask.iteration(WorkerSinkTask.java:247)",
			"org.apache.kafka.connect.runtime.WorkerSinkTask.execute(WorkerSinkTask.java:216)",
			"org.apache.kafka.connect.runtime.WorkerTask.doRun(WorkerTask.java:226)",
			"org.apache.kafka.connect.runtime.WorkerTask.run(WorkerTask.java:281)",
			"java.base/java.lang.Thread.run(Thread.java:1583)",
		}, causes...)
	} else {
		// The task reported the record through the ErrantRecordReporter
		// (KIP-610) from put().
		stage = "TASK_PUT"
		executing = "com.example.shop.inventory.ReservationSinkTask"
		class, msg = f.Class, f.Message
		trace = javaTrace(class, msg, append(slicesClone(f.Frames),
			"org.apache.kafka.connect.runtime.WorkerSinkTask.deliverMessages(WorkerSinkTask.java:606)",
			"org.apache.kafka.connect.runtime.WorkerSinkTask.poll(WorkerSinkTask.java:345)",
			"org.apache.kafka.connect.runtime.WorkerSinkTask.iteration(WorkerSinkTask.java:247)",
			"org.apache.kafka.connect.runtime.WorkerSinkTask.execute(WorkerSinkTask.java:216)",
			"org.apache.kafka.connect.runtime.WorkerTask.doRun(WorkerTask.java:226)",
			"org.apache.kafka.connect.runtime.WorkerTask.run(WorkerTask.java:281)",
			"java.base/java.lang.Thread.run(Thread.java:1583)",
		))
	}
	h = append(h,
		kgo.RecordHeader{Key: ConnectTopic, Value: []byte(rec.Topic)},
		kgo.RecordHeader{Key: ConnectPartition, Value: []byte(strconv.Itoa(int(rec.Partition)))},
		kgo.RecordHeader{Key: ConnectOffset, Value: []byte(strconv.FormatInt(rec.Offset, 10))},
		kgo.RecordHeader{Key: ConnectConnectorName, Value: []byte(connector)},
		kgo.RecordHeader{Key: ConnectTaskID, Value: []byte(strconv.Itoa(task))},
		kgo.RecordHeader{Key: ConnectStage, Value: []byte(stage)},
		kgo.RecordHeader{Key: ConnectClassName, Value: []byte(executing)},
		kgo.RecordHeader{Key: ConnectExceptionClass, Value: []byte(class)},
		kgo.RecordHeader{Key: ConnectExceptionMessage, Value: []byte(msg)},
		kgo.RecordHeader{Key: ConnectExceptionTrace, Value: []byte(trace)},
	)
	return &kgo.Record{Topic: topic, Key: rec.Key, Value: rec.Value, Headers: h, Timestamp: rec.Timestamp}
}

// replaceHeader removes every header named key and appends one, as Kafka's
// Headers.remove + add do.
func replaceHeader(h []kgo.RecordHeader, key string, v []byte) []kgo.RecordHeader {
	out := h[:0]
	for _, x := range h {
		if x.Key != key {
			out = append(out, x)
		}
	}
	return append(out, kgo.RecordHeader{Key: key, Value: v})
}

type cause struct {
	class, msg string
	frames     []string
}

// javaTrace renders what Throwable.printStackTrace prints: the exception, its
// frames, then each cause with the frames it does not share with the enclosing
// trace folded into "... n more". The frames are illustrative, not recorded.
func javaTrace(class, msg string, frames []string, causes ...cause) string {
	var b strings.Builder
	line := func(class, msg string) {
		b.WriteString(class)
		if msg != "" {
			b.WriteString(": ")
			b.WriteString(msg)
		}
		b.WriteString("\n")
	}
	line(class, msg)
	for _, f := range frames {
		b.WriteString("\tat " + f + "\n")
	}
	for _, c := range causes {
		b.WriteString("Caused by: ")
		line(c.class, c.msg)
		for _, f := range c.frames {
			b.WriteString("\tat " + f + "\n")
		}
		b.WriteString("\t... " + strconv.Itoa(len(frames)) + " more\n")
	}
	return b.String()
}

func slicesClone(s []string) []string { return append([]string(nil), s...) }

// javaFile is the source file of a class: its simple name with ".java".
func javaFile(class string) string { return class[strings.LastIndexByte(class, '.')+1:] + ".java" }
