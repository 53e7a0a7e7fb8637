package worker

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/bulksync/bulksync/internal/client"
	"golang.org/x/oauth2"
)

func TestClassify(t *testing.T) {
	refused := &oauth2.RetrieveError{Response: &http.Response{StatusCode: 400}, ErrorCode: "invalid_grant"}
	tests := []struct {
		name string
		err  error
		want Failure
	}{
		{"success", nil, Failure{Label: "2xx"}},
		{"429 with Retry-After", &client.APIError{Status: 429, RetryAfter: 2 * time.Second, Type: "TOO_MANY_REQUESTS", Message: "slow down"},
			Failure{Status: 429, Retry: true, RetryAfter: 2 * time.Second, Throttled: true, Type: "TOO_MANY_REQUESTS", Message: "slow down", Label: "429"}},
		{"500", &client.APIError{Status: 500}, Failure{Status: 500, Retry: true, MayHaveApplied: true, Type: "HTTP_500", Message: "500 Internal Server Error", Label: "500"}},
		{"502", &client.APIError{Status: 502}, Failure{Status: 502, Retry: true, MayHaveApplied: true, Type: "HTTP_502", Message: "502 Bad Gateway", Label: "502"}},
		{"503", &client.APIError{Status: 503, Type: "SERVICE_UNAVAILABLE", Message: "down"}, Failure{Status: 503, Retry: true, MayHaveApplied: true, Type: "SERVICE_UNAVAILABLE", Message: "down", Label: "503"}},
		{"504", &client.APIError{Status: 504}, Failure{Status: 504, Retry: true, MayHaveApplied: true, Type: "HTTP_504", Message: "504 Gateway Timeout", Label: "504"}},
		{"400", &client.APIError{Status: 400, Type: "BAD_REQUEST", Message: "no"}, Failure{Status: 400, Type: "BAD_REQUEST", Message: "no", Label: "400"}},
		{"401", &client.APIError{Status: 401}, Failure{Status: 401, Auth: true, Type: "HTTP_401", Message: "401 Unauthorized", Label: "401"}},
		{"403", &client.APIError{Status: 403}, Failure{Status: 403, Auth: true, Type: "HTTP_403", Message: "403 Forbidden", Label: "403"}},
		{"404", &client.APIError{Status: 404}, Failure{Status: 404, Type: "HTTP_404", Message: "404 Not Found", Label: "404"}},
		{"409", &client.APIError{Status: 409}, Failure{Status: 409, Type: "HTTP_409", Message: "409 Conflict", Label: "409"}},
		{"timeout", fmt.Errorf("post: %w", context.DeadlineExceeded),
			Failure{Retry: true, MayHaveApplied: true, Type: "TIMEOUT", Message: "post: context deadline exceeded", Label: "none"}},
		{"refused grant", &client.TokenError{Err: refused}, Failure{Auth: true, Type: "TOKEN", Message: "get access token: " + refused.Error(), Label: "none"}},
		{"token endpoint down", &client.TokenError{Err: &oauth2.RetrieveError{Response: &http.Response{StatusCode: 503}}},
			Failure{Retry: true, Type: "TOKEN", Message: `get access token: oauth2: cannot fetch token: \nResponse: `, Label: "none"}},
		{"broken connection", fmt.Errorf("post: %w", syscall.ECONNRESET),
			Failure{Retry: true, MayHaveApplied: true, Type: "TRANSPORT", Message: "post: connection reset by peer", Label: "none"}},
		{"local refusal", errors.New("serviceProviderId is empty"), Failure{Type: "ERROR", Message: "serviceProviderId is empty", Label: "none"}},
	}
	for _, tt := range tests {
		if got := Classify(tt.err); got != tt.want {
			t.Errorf("%s: Classify(%v):\n got %+v\nwant %+v", tt.name, tt.err, got, tt.want)
		}
	}
}
