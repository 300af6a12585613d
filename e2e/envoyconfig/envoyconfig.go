// Package envoyconfig checks Envoy configuration files against Envoy's own API
// protos (github.com/envoyproxy/go-control-plane) and their protoc-gen-validate
// rules, the way Envoy itself would reject them at startup.
//
// Envoy's generated Validate/ValidateAll methods do not look inside
// google.protobuf.Any fields (typed_config, configuration, ...), so
// ValidateDeep unpacks every Any it finds and validates its content too.
package envoyconfig

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/anypb"
	"sigs.k8s.io/yaml"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	hcmv3 "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/network/http_connection_manager/v3"

	// Registered for their side effect: protojson and anypb resolve typed_config
	// "@type" URLs through the global registry.
	_ "github.com/envoyproxy/go-control-plane/envoy/config/cluster/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/listener/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/metrics/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/config/route/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/access_loggers/stream/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/cors/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/router/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/filters/http/wasm/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/transport_sockets/tls/v3"
	_ "github.com/envoyproxy/go-control-plane/envoy/extensions/wasm/v3"
	_ "google.golang.org/protobuf/types/known/structpb"
	_ "google.golang.org/protobuf/types/known/wrapperspb"
)

// YAMLToJSON converts YAML to JSON, refusing duplicate keys (Envoy's YAML
// loader refuses them too).
func YAMLToJSON(data []byte) ([]byte, error) {
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, fmt.Errorf("envoyconfig: yaml: %w", err)
	}
	return js, nil
}

// Unmarshal decodes Envoy YAML (or JSON) into m with proto3 JSON rules:
// unknown fields and unknown "@type" URLs are errors.
func Unmarshal(data []byte, m proto.Message) error {
	js, err := YAMLToJSON(data)
	if err != nil {
		return err
	}
	if err := (protojson.UnmarshalOptions{}).Unmarshal(js, m); err != nil {
		return fmt.Errorf("envoyconfig: %s: %w", m.ProtoReflect().Descriptor().FullName(), err)
	}
	return nil
}

// LoadBootstrap parses a static bootstrap and runs ValidateDeep on it.
func LoadBootstrap(data []byte) (*bootstrapv3.Bootstrap, error) {
	b := &bootstrapv3.Bootstrap{}
	if err := Unmarshal(data, b); err != nil {
		return nil, err
	}
	if err := ValidateDeep(b); err != nil {
		return nil, err
	}
	return b, nil
}

// validator is implemented by every message that protoc-gen-validate generated.
type validator interface{ ValidateAll() error }

// ValidateDeep runs ValidateAll on m and on the content of every
// google.protobuf.Any inside it, recursively, and refuses fields that Envoy's
// API marks deprecated. Errors name the field path, e.g.
// `static_resources.listeners[0].filter_chains[0].filters[0].typed_config<HttpConnectionManager>: ...`.
func ValidateDeep(m proto.Message) error {
	var errs []error
	validateMessage(m.ProtoReflect(), "", &errs)
	return errors.Join(errs...)
}

func validateMessage(m protoreflect.Message, path string, errs *[]error) {
	if v, ok := m.Interface().(validator); ok {
		if err := v.ValidateAll(); err != nil {
			where := path
			if where == "" {
				where = string(m.Descriptor().FullName())
			}
			*errs = append(*errs, fmt.Errorf("envoyconfig: %s: %w", where, err))
		}
	}
	walk(m, path, errs)
}

// walk visits every set field below m, unpacking Any values.
func walk(m protoreflect.Message, path string, errs *[]error) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		fpath := joinPath(path, string(fd.Name()))
		if opts, ok := fd.Options().(*descriptorpb.FieldOptions); ok && opts.GetDeprecated() {
			*errs = append(*errs, fmt.Errorf("envoyconfig: %s: field is deprecated in Envoy's API", fpath))
		}
		if fd.Message() == nil {
			return true
		}
		switch {
		case fd.IsList():
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				visit(l.Get(i).Message(), fmt.Sprintf("%s[%d]", fpath, i), errs)
			}
		case fd.IsMap():
			if fd.MapValue().Message() == nil {
				return true
			}
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				visit(mv.Message(), fmt.Sprintf("%s[%q]", fpath, k.String()), errs)
				return true
			})
		default:
			visit(v.Message(), fpath, errs)
		}
		return true
	})
}

// visit descends into a message value, unpacking it when it is an Any.
func visit(m protoreflect.Message, path string, errs *[]error) {
	a, ok := m.Interface().(*anypb.Any)
	if !ok {
		walk(m, path, errs)
		return
	}
	inner, err := a.UnmarshalNew()
	if err != nil {
		if errors.Is(err, protoregistry.NotFound) {
			err = fmt.Errorf("unknown type %q (not registered in envoyconfig)", a.GetTypeUrl())
		}
		*errs = append(*errs, fmt.Errorf("envoyconfig: %s: %w", path, err))
		return
	}
	validateMessage(inner.ProtoReflect(), fmt.Sprintf("%s<%s>", path, inner.ProtoReflect().Descriptor().Name()), errs)
}

func joinPath(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

// HTTPFilters returns every HTTP filter of every HTTP connection manager in
// the bootstrap's static listeners.
func HTTPFilters(b *bootstrapv3.Bootstrap) ([]*hcmv3.HttpFilter, error) {
	var out []*hcmv3.HttpFilter
	for _, l := range b.GetStaticResources().GetListeners() {
		for _, fc := range l.GetFilterChains() {
			for _, f := range fc.GetFilters() {
				tc := f.GetTypedConfig()
				if tc == nil || !tc.MessageIs(&hcmv3.HttpConnectionManager{}) {
					continue
				}
				hcm := &hcmv3.HttpConnectionManager{}
				if err := tc.UnmarshalTo(hcm); err != nil {
					return nil, fmt.Errorf("envoyconfig: listener %s: %w", l.GetName(), err)
				}
				out = append(out, hcm.GetHttpFilters()...)
			}
		}
	}
	return out, nil
}
