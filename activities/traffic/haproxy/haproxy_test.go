package haproxy

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"go.temporal.io/sdk/temporal"
)

// stateAnswer is `show servers state app` as HAProxy 2.6.12 prints it.
const stateAnswer = "1\n# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port\n" +
	"3 app 1 a 127.0.0.1 2 0 7 50 0 1 0 2 0 0 0 0 - 1 - 0 0 - - 0\n" +
	"3 app 2 b 127.0.0.1 2 0 50 50 0 1 0 2 0 0 0 0 - 2 - 0 0 - - 0\n\n"

func TestParseServersState(t *testing.T) {
	got, err := parseServersState("app", stateAnswer)
	if err != nil {
		t.Fatal(err)
	}
	want := []server{{"a", 7}, {"b", 50}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	_, err = parseServersState("nope", "Can't find backend.\n\n")
	wantInvalid(t, err, `backend "nope" not found`)
	if _, err := parseServersState("app", "Unknown command.\n"); err == nil {
		t.Fatal("garbage parsed")
	}
}

func TestParseInFlight(t *testing.T) {
	csv := "# pxname,svname,qcur,qmax,scur,smax\napp,a,1,0,2,5\napp,b,0,0,0,0\n\n"
	if n, err := parseInFlight(csv, "a"); err != nil || n != 3 {
		t.Fatalf("a: %d %v, want 3", n, err)
	}
	if n, err := parseInFlight(csv, "b"); err != nil || n != 0 {
		t.Fatalf("b: %d %v, want 0", n, err)
	}
	if _, err := parseInFlight("No such proxy.\n", "a"); err == nil {
		t.Fatal("missing server parsed")
	}
}

func TestNewOptions(t *testing.T) {
	for _, tc := range []struct {
		opts map[string]string
		msg  string
	}{
		{map[string]string{"backend": "app"}, "option socket is required"},
		{map[string]string{"socket": "/s"}, "option backend"},
		{map[string]string{"socket": "/s", "backend": "app;shutdown"}, "option backend"},
		{map[string]string{"socket": "/s", "backend": "app", "state-file": "rel/path"}, "absolute path"},
		{map[string]string{"socket": "/s", "backend": "app", "admin": "x"}, `unknown option "admin"`},
	} {
		_, err := New(tc.opts)
		wantInvalid(t, err, tc.msg)
	}
	r, err := New(map[string]string{"socket": "/run/a.sock", "backend": "app", "state-file": "/var/lib/s"})
	if err != nil || r.String() != "haproxy backend app at /run/a.sock" {
		t.Fatalf("%v %v", r, err)
	}
}

func TestOrderRaisesFirst(t *testing.T) {
	got := order(map[string]int{"a": 0, "b": 100, "c": 10}, map[string]int{"a": 100, "b": 0, "c": 10})
	if want := []string{"b", "a", "c"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func TestVerify(t *testing.T) {
	err := verify("x", map[string]int{"a": 1, "b": 2, "c": 3}, map[string]int{"a": 1, "b": 5})
	if err == nil || !strings.Contains(err.Error(), "b=2 (read back 5), c=3 (read back missing)") {
		t.Fatalf("%v", err)
	}
}

// wantInvalid fails unless err is a non-retryable TrafficInvalid whose
// message contains msg.
func wantInvalid(t *testing.T, err error, msg string) {
	t.Helper()
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || ae.Type() != ErrTypeInvalid || !ae.NonRetryable() {
		t.Fatalf("%v, want non-retryable %s", err, ErrTypeInvalid)
	}
	if !strings.Contains(ae.Message(), msg) {
		t.Fatalf("%q does not contain %q", ae.Message(), msg)
	}
}
