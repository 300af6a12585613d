package grpc

import (
	"context"
	"io"
	"strconv"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The services behind devproxy, described by hand so the suite needs no
// protoc: grpc-go serves any ServiceDesc, and the messages are the
// well-known google.protobuf.StringValue, so the bytes on the wire are the
// ones a generated stub would send. As a .proto:
//
//	package apiguard.e2e;
//	service Echo {
//	  rpc Say(google.protobuf.StringValue) returns (google.protobuf.StringValue);
//	  rpc Count(google.protobuf.StringValue) returns (stream google.protobuf.StringValue);
//	  rpc Collect(stream google.protobuf.StringValue) returns (google.protobuf.StringValue);
//	}
//	service Admin { rpc Stats(google.protobuf.StringValue) returns (google.protobuf.StringValue); }
const (
	methodSay     = "/apiguard.e2e.Echo/Say"
	methodCount   = "/apiguard.e2e.Echo/Count"
	methodCollect = "/apiguard.e2e.Echo/Collect"
	methodStats   = "/apiguard.e2e.Admin/Stats"
)

// service is the handler type grpc-go checks the implementation against.
type service interface{}

func unary(f func(string, metadata.MD) string) grpc.MethodHandler {
	return func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
		in := new(wrapperspb.StringValue)
		if err := dec(in); err != nil {
			return nil, err
		}
		md, _ := metadata.FromIncomingContext(ctx)
		return wrapperspb.String(f(in.GetValue(), md)), nil
	}
}

var echoDesc = grpc.ServiceDesc{
	ServiceName: "apiguard.e2e.Echo",
	HandlerType: (*service)(nil),
	Methods: []grpc.MethodDesc{{MethodName: "Say", Handler: unary(func(s string, md metadata.MD) string {
		// What the upstream received: the message, and whether apiguard
		// forwarded the credential.
		return "echo: " + s + " (authorization " + strconv.Itoa(len(md.Get("authorization"))) + ")"
	})}},
	Streams: []grpc.StreamDesc{
		{StreamName: "Count", ServerStreams: true, Handler: func(_ any, ss grpc.ServerStream) error {
			in := new(wrapperspb.StringValue)
			if err := ss.RecvMsg(in); err != nil {
				return err
			}
			n, _ := strconv.Atoi(in.GetValue())
			for i := 1; i <= n; i++ {
				if err := ss.SendMsg(wrapperspb.String(strconv.Itoa(i))); err != nil {
					return err
				}
			}
			ss.SetTrailer(metadata.Pairs("x-counted", strconv.Itoa(n)))
			return nil
		}},
		{StreamName: "Collect", ClientStreams: true, Handler: func(_ any, ss grpc.ServerStream) error {
			var got []string
			for {
				in := new(wrapperspb.StringValue)
				err := ss.RecvMsg(in)
				if err == io.EOF {
					return ss.SendMsg(wrapperspb.String(strings.Join(got, "+")))
				}
				if err != nil {
					return err
				}
				got = append(got, in.GetValue())
			}
		}},
	},
}

var adminDesc = grpc.ServiceDesc{
	ServiceName: "apiguard.e2e.Admin",
	HandlerType: (*service)(nil),
	Methods: []grpc.MethodDesc{{MethodName: "Stats", Handler: unary(func(string, metadata.MD) string {
		return `{"id":1,"secret":"admin only"}`
	})}},
}
