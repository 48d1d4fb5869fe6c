package pg

import (
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// TestPasswordLogin: the server takes password logins over TCP and refuses a
// wrong password, so DSNs in tests carry a real secret.
func TestPasswordLogin(t *testing.T) {
	dsn := NewDatabase(t)
	c, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	var db string
	if err := c.QueryRow(t.Context(), "SELECT current_database()").Scan(&db); err != nil || !strings.HasPrefix(db, "t_testpasswordlogin_") {
		t.Errorf("current_database = %q, %v", db, err)
	}
	_ = c.Close(t.Context())

	s := Shared(t)
	escaped := strings.TrimPrefix(url.UserPassword("", s.Password).String(), ":")
	wrong := strings.Replace(dsn, escaped, "wrong", 1)
	if wrong == dsn {
		t.Fatalf("password not found in %s", dsn)
	}
	if c, err := pgx.Connect(t.Context(), wrong); err == nil {
		_ = c.Close(t.Context())
		t.Fatal("a wrong password was accepted: pg_hba.conf is not password-authenticated")
	}
}
