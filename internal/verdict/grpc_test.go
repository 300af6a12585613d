package verdict

import (
	"os"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
)

// Every reason a reply can carry has a gRPC code, and the codes are grpc-go's.
func TestGRPCStatusCoversEveryDenyReason(t *testing.T) {
	for _, p := range policies {
		for _, r := range Reasons(p, Deny) {
			if _, ok := GRPCStatus(r); !ok {
				t.Errorf("%s deny reason %q has no gRPC code", p, r)
			}
		}
	}
	for _, r := range []Reason{Verified, NotRequired, WithinLimit, Unlimited, ShadowRateLimited, Filtered} {
		if c, ok := GRPCStatus(r); ok {
			t.Errorf("allow-only reason %q has gRPC code %v", r, c)
		}
	}
	for c, want := range map[GRPCCode]codes.Code{
		GRPCInvalidArgument: codes.InvalidArgument, GRPCPermissionDenied: codes.PermissionDenied,
		GRPCResourceExhausted: codes.ResourceExhausted, GRPCInternal: codes.Internal,
		GRPCUnavailable: codes.Unavailable, GRPCUnauthenticated: codes.Unauthenticated,
	} {
		if codes.Code(c) != want {
			t.Errorf("%v is %d, grpc-go's %v is %d", c, c, want, want)
		}
		if c.String() != strings.ToUpper(strings.ReplaceAll(snake(want.String()), " ", "_")) {
			t.Errorf("%d is named %s, grpc-go says %s", c, c, want)
		}
	}
}

// The codes the issue asks for, as a gRPC client sees them.
func TestGRPCStatusOfTheMainReasons(t *testing.T) {
	for r, want := range map[Reason]GRPCCode{
		MissingToken: GRPCUnauthenticated, BadSignature: GRPCUnauthenticated, TokenExpired: GRPCUnauthenticated,
		ClaimsFailed: GRPCPermissionDenied, RateLimited: GRPCResourceExhausted,
		NonCanonicalPath: GRPCInvalidArgument, MissingPath: GRPCInvalidArgument,
		JWKSUnavailable: GRPCUnavailable, InternalError: GRPCUnavailable, GlobalTimeout: GRPCUnavailable,
		StoreError: GRPCUnavailable, MalformedJSON: GRPCInternal,
	} {
		if got, _ := GRPCStatus(r); got != want {
			t.Errorf("%s: %v, want %v", r, got, want)
		}
	}
}

// docs/vocabulary.md's gRPC table says the code of every deny reason.
func TestVocabularyDocListsGRPCCodes(t *testing.T) {
	doc, err := os.ReadFile("../../docs/vocabulary.md")
	if err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(doc), "## gRPC codes")
	if !ok {
		t.Fatal("docs/vocabulary.md has no \"## gRPC codes\" section")
	}
	for _, p := range policies {
		for _, r := range Reasons(p, Deny) {
			c, _ := GRPCStatus(r)
			if !strings.Contains(table, "| `"+string(r)+"` | "+c.String()+" |") {
				t.Errorf("the gRPC table lacks | `%s` | %s |", r, c)
			}
		}
	}
}

// snake turns grpc-go's "InvalidArgument" into "Invalid Argument".
func snake(s string) string {
	var b strings.Builder
	for i, c := range s {
		if i > 0 && c >= 'A' && c <= 'Z' {
			b.WriteByte(' ')
		}
		b.WriteRune(c)
	}
	return b.String()
}
