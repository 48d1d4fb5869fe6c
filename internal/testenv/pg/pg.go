// Package pg starts a real PostgreSQL server from the Debian binaries for
// tests: initdb into a temporary directory, pg_ctl start on 127.0.0.1 and a
// free port, one password-authenticated superuser, so every connection string
// holds a password exactly as in production.
//
// A test package shares one server through TestMain and makes a database per
// test:
//
//	func TestMain(m *testing.M) { os.Exit(pg.Main(m)) }
//
//	func TestX(t *testing.T) {
//		dsn := pg.NewDatabase(t) // postgres://runbook:...@127.0.0.1:port/t_x_1?sslmode=disable
//	}
//
// Without the binaries (Debian package postgresql) NewDatabase skips the test,
// unless CI is set, where it fails: CI must not go green by skipping.
package pg

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/runbookhq/runbook/internal/testenv"
)

// ErrNotInstalled means no initdb/pg_ctl was found: install the Debian
// package postgresql.
var ErrNotInstalled = errors.New("PostgreSQL server binaries (initdb, pg_ctl) not found: install the Debian package postgresql")

// User is the superuser every server is created with.
const User = "runbook"

// Server is a running PostgreSQL server owned by the test process.
type Server struct {
	Host     string // always 127.0.0.1
	Port     int
	User     string
	Password string // has URL-special characters on purpose, to test escaping and redaction
	Bin      string // directory of initdb, pg_ctl, postgres

	root string              // temporary directory holding data/, run/ and the log
	cred *syscall.Credential // the postgres OS user when the tests run as root, else nil
	pid  int                 // the postmaster, for a last-resort kill
}

// FindBin returns the directory of the server binaries: the newest
// /usr/lib/postgresql/N/bin (Debian keeps them off PATH), else the directory
// pg_ctl on PATH resolves to.
func FindBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return majorOf(b) - majorOf(a) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	p, err := exec.LookPath("pg_ctl")
	if err != nil {
		return "", ErrNotInstalled
	}
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r // pg_ctl finds postgres next to its real path
	}
	d := filepath.Dir(p)
	if !isExec(filepath.Join(d, "initdb")) {
		return "", ErrNotInstalled
	}
	return d, nil
}

func majorOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func isExec(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// Start initialises and starts a server in a new temporary directory and
// waits until it accepts password logins. Stop it with Stop.
func Start(ctx context.Context) (*Server, error) {
	bin, err := FindBin()
	if err != nil {
		return nil, err
	}
	s := &Server{Host: "127.0.0.1", User: User, Password: "pw-" + randHex(8) + "/@:%?#", Bin: bin}
	if s.cred, err = runAs(); err != nil {
		return nil, err
	}
	if s.root, err = os.MkdirTemp("", "testenv-pg-"); err != nil {
		return nil, err
	}
	if err := s.initdb(ctx); err != nil {
		_ = os.RemoveAll(s.root)
		return nil, err
	}
	// A free port can be taken between probing and binding: try a few.
	err = testenv.Retry(func() error {
		if s.Port, err = testenv.FreePort(); err != nil {
			return err
		}
		return s.start(ctx)
	})
	if err != nil {
		_ = os.RemoveAll(s.root)
		return nil, err
	}
	return s, nil
}

// runAs returns the postgres OS user's credentials when running as root:
// initdb and postgres refuse to run as root.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("running as root, and initdb refuses root: need the postgres OS user (Debian package postgresql creates it): %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// initdb creates the cluster with password (SCRAM) authentication over TCP.
func (s *Server) initdb(ctx context.Context) error {
	if err := os.Chmod(s.root, 0o755); err != nil { // the postgres user must traverse it
		return err
	}
	for _, d := range []string{"data", "run"} {
		if err := s.mkdir(filepath.Join(s.root, d)); err != nil {
			return err
		}
	}
	pwfile := filepath.Join(s.root, "run", "pwfile")
	if err := s.writeFile(pwfile, s.Password+"\n"); err != nil {
		return err
	}
	defer func() { _ = os.Remove(pwfile) }()
	out, err := s.command(ctx, "initdb", "-D", s.dataDir(), "-U", s.User, "--pwfile="+pwfile,
		"--auth-host=scram-sha-256", "--auth-local=trust", "-E", "UTF8", "--locale=C", "--no-sync").CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	return nil
}

// start runs pg_ctl start on 127.0.0.1:s.Port with the socket in run/ (not
// /var/run/postgresql, which may not exist or belong to another cluster),
// then waits for a password login. Durability is off: the data is thrown away.
func (s *Server) start(ctx context.Context) error {
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories='%s' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
		s.Port, filepath.Join(s.root, "run"))
	out, err := s.command(ctx, "pg_ctl", "start", "-D", s.dataDir(), "-l", s.logFile(), "-w", "-t", "60", "-o", opts).CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl start on port %d: %v\n%s\n%s", s.Port, err, out, s.LogTail())
	}
	s.pid = s.readPID()
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var last error
	err = testenv.Poll(wait, func(ctx context.Context) (bool, error) {
		c, err := pgx.Connect(ctx, s.URL("postgres"))
		if last = err; err != nil {
			return false, nil
		}
		return true, c.Close(ctx)
	})
	if err != nil {
		_ = s.Stop()
		return fmt.Errorf("PostgreSQL on port %d did not accept a login within 30s: %v (last: %v)\n%s", s.Port, err, last, s.LogTail())
	}
	return nil
}

// Stop stops the server (fast shutdown: open sessions are disconnected),
// kills the postmaster by pid if pg_ctl could not, and removes its directory.
func (s *Server) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 40*time.Second)
	defer cancel()
	out, err := s.command(ctx, "pg_ctl", "stop", "-D", s.dataDir(), "-m", "fast", "-w", "-t", "30").CombinedOutput()
	if err != nil && s.pid > 0 {
		_ = syscall.Kill(s.pid, syscall.SIGQUIT) // immediate shutdown
		err = fmt.Errorf("pg_ctl stop: %v: %s (sent SIGQUIT to %d)", err, out, s.pid)
	}
	if rmErr := os.RemoveAll(s.root); err == nil {
		err = rmErr
	}
	return err
}

// URL is the connection string of database db, password included.
func (s *Server) URL(db string) string {
	u := url.URL{Scheme: "postgres", User: url.UserPassword(s.User, s.Password),
		Host: net.JoinHostPort(s.Host, strconv.Itoa(s.Port)), Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// CreateDatabase creates database name and returns its URL.
func (s *Server) CreateDatabase(ctx context.Context, name string) (string, error) {
	return s.URL(name), s.admin(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
}

// DropDatabase drops database name, disconnecting its sessions.
func (s *Server) DropDatabase(ctx context.Context, name string) error {
	return s.admin(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
}

func (s *Server) admin(ctx context.Context, sql string) error {
	c, err := pgx.Connect(ctx, s.URL("postgres"))
	if err != nil {
		return err
	}
	defer func() { _ = c.Close(ctx) }()
	_, err = c.Exec(ctx, sql)
	return err
}

// LogTail returns the end of the server log, for failure messages.
func (s *Server) LogTail() string {
	b, _ := os.ReadFile(s.logFile())
	return string(b[max(0, len(b)-4000):])
}

func (s *Server) dataDir() string { return filepath.Join(s.root, "data") }
func (s *Server) logFile() string { return filepath.Join(s.root, "run", "postgres.log") }

func (s *Server) readPID() int {
	b, _ := os.ReadFile(filepath.Join(s.dataDir(), "postmaster.pid"))
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	return pid
}

// command runs a server binary as the postgres user when we are root.
func (s *Server) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(s.Bin, name), args...)
	cmd.Dir = s.root
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	if s.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: s.cred}
	}
	return cmd
}

func (s *Server) mkdir(d string) error {
	if err := os.Mkdir(d, 0o700); err != nil {
		return err
	}
	return s.chown(d)
}

func (s *Server) writeFile(p, content string) error {
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		return err
	}
	return s.chown(p)
}

func (s *Server) chown(p string) error {
	if s.cred == nil {
		return nil
	}
	return os.Chown(p, int(s.cred.Uid), int(s.cred.Gid))
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
