package doctor

import (
	commonpb "go.temporal.io/api/common/v1"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// payloadName is the full name of Temporal's Payload message.
var payloadName = (&commonpb.Payload{}).ProtoReflect().Descriptor().FullName()

// eachPayload calls fn with every Payload inside m, wherever the event
// keeps it (inputs, results, failures' encoded attributes, memos,
// headers), so the codec check needs no list of event types.
func eachPayload(m protoreflect.Message, fn func(*commonpb.Payload)) {
	if m.Descriptor().FullName() == payloadName {
		if p, ok := m.Interface().(*commonpb.Payload); ok {
			fn(p)
		}
		return
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			if fd.MapValue().Kind() == protoreflect.MessageKind {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					eachPayload(mv.Message(), fn)
					return true
				})
			}
		case fd.IsList():
			if fd.Kind() == protoreflect.MessageKind {
				for i := range v.List().Len() {
					eachPayload(v.List().Get(i).Message(), fn)
				}
			}
		case fd.Kind() == protoreflect.MessageKind:
			eachPayload(v.Message(), fn)
		}
		return true
	})
}
