package inspect

import "github.com/eddy-sh/eddy/event"

// LineFields are the parts of an event's pretty line, for a caller that
// lays them out as columns (the TUI's tail): the same text AppendLine
// writes, each part terminal-safe, with the Renderer's colour setting and
// without the line's labels (key=, id=). A part the line would leave out
// is empty: the key of an event with no key (an empty key is `""`), a type
// or id the Schema does not find. The line's origin is Origin (where the
// event is: topic[partition]@offset, or the queue) then, for RabbitMQ,
// Route (exchange→routing key, and "redelivered").
type LineFields struct {
	Time, Origin, Route, Key, Type, ID, Payload []byte
}

// Fields fills f with e's parts, reusing f's buffers. Width does not
// apply (the caller fits each part to its column); MaxValue does.
func (r *Renderer) Fields(e *event.Event, f *LineFields) {
	f.Time = r.appendTime(f.Time[:0], e.Timestamp)
	f.Origin = r.appendWhere(f.Origin[:0], e)
	f.Route = r.appendRoute(f.Route[:0], e)
	f.Key = f.Key[:0]
	if e.Key != nil {
		f.Key = r.appendKey(f.Key, e)
	}
	x := r.schema.Extract(e)
	f.Type = appendCapped(f.Type[:0], x.Type)
	f.ID = appendCapped(f.ID[:0], x.ID)
	f.Payload = r.appendValue(f.Payload[:0], e)
}
