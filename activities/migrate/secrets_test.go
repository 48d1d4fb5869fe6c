package migrate

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/runbookhq/runbook/internal/testenv/pg"
	"go.temporal.io/sdk/temporal"
)

// secretForms are the spellings of a password that must never show.
func secretForms(pw string) []string {
	return []string{pw, url.QueryEscape(pw), url.PathEscape(pw), strings.TrimPrefix(url.UserPassword("", pw).String(), ":")}
}

// noSecret fails when v (an error with its details, or a result) shows any
// spelling of the passwords.
func noSecret(t *testing.T, what string, v any, passwords ...string) {
	t.Helper()
	text := fmt.Sprintf("%v %+v", v, v)
	if b, err := json.Marshal(v); err == nil {
		text += string(b)
	}
	var ae *temporal.ApplicationError
	if err, ok := v.(error); ok && errors.As(err, &ae) && ae.HasDetails() {
		var d DirtyDetails
		if ae.Details(&d) == nil {
			text += fmt.Sprintf("%+v", d)
		}
	}
	for _, pw := range passwords {
		for _, s := range secretForms(pw) {
			if strings.Contains(text, s) {
				t.Errorf("%s shows the password (%q): %s", what, s, text)
			}
		}
	}
}

// TestPasswordNeverShown drives every kind of failure with a password in
// the connection string and checks errors, details and results.
func TestPasswordNeverShown(t *testing.T) {
	t.Parallel()
	d := newDB(t, Postgres, "app")
	pw := pg.Shared(t).Password
	u, _ := url.Parse(d.dsn)
	a := &Activities{}
	target := func(dsn string) Target {
		return Target{URL: fileRef(t, dsn), Migrations: d.target.Migrations}
	}

	wrong := *u
	wrong.User = url.UserPassword(u.User.Username(), "Wr0ng/p@ss:word")
	_, err := a.Status(t.Context(), StatusInput{target(wrong.String())})
	ae := appErr(t, err, ErrFailed, false)
	if !strings.Contains(ae.Message(), "check the credentials") {
		t.Errorf("wrong password: %s", ae.Message())
	}
	noSecret(t, "wrong password", err, pw, "Wr0ng/p@ss:word")

	closed := *u
	closed.Host = net.JoinHostPort("127.0.0.1", strconv.Itoa(closedPort(t)))
	_, err = a.Up(t.Context(), UpInput{Target: target(closed.String())})
	appErr(t, err, ErrFailed, false)
	noSecret(t, "unreachable port", err, pw)

	missing := *u
	missing.Path = "/no_such_db"
	_, err = a.Status(t.Context(), StatusInput{target(missing.String())})
	appErr(t, err, ErrInvalid, true)
	noSecret(t, "missing database", err, pw)

	broken := "postgres://runbook:" + pw + "@127.0.0.1:notaport/db"
	_, err = a.Status(t.Context(), StatusInput{target(broken)})
	appErr(t, err, ErrInvalid, true)
	noSecret(t, "malformed URL", err, pw)

	res, err := a.Up(t.Context(), UpInput{Target: d.target, To: 2})
	if err != nil {
		t.Fatal(err)
	}
	noSecret(t, "up result", res, pw)
	writeFile(t, filepath.Join(d.target.Migrations, "003_drop_note.up.sql"), "ALTER TABLE items DROP COLUMN nope;\n")
	_, err = a.Up(t.Context(), UpInput{Target: d.target, AllowContract: true})
	appErr(t, err, ErrDirty, true)
	noSecret(t, "failed migration", err, pw)
	st, err := a.Status(t.Context(), StatusInput{d.target})
	noSecret(t, "status", st, pw)
	noSecret(t, "status error", err, pw)
}

func TestRedactor(t *testing.T) {
	dsn := "postgres://app:s3cr%2Ft@db:5432/app?sslpassword=k3y&sslmode=require"
	u, _ := url.Parse(dsn)
	r := newRedactor(dsn, u)
	for _, in := range []string{
		dsn,
		`cannot parse "postgres://app:s3cr%2Ft@db" password s3cr/t`,
		"sslpassword=k3y",
	} {
		out := r.String(in)
		for _, s := range append(secretForms("s3cr/t"), "k3y") {
			if strings.Contains(out, s) {
				t.Errorf("%q -> %q still has %q", in, out, s)
			}
		}
	}
}

// closedPort returns a port nothing listens on.
func closedPort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return p
}
