package migrate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/golang-migrate/migrate/v4"
	"github.com/golang-migrate/migrate/v4/database"
	"github.com/jackc/pgx/v5/pgconn"
	"go.temporal.io/sdk/temporal"
)

// errFileLocked: another migrator held the SQLite lock file too long.
var errFileLocked = errors.New("another migrator holds the lock file")

// invalid is a non-retryable ErrInvalid. Callers never format a connection
// string into it.
func invalid(format string, args ...any) error {
	return temporal.NewNonRetryableApplicationError(fmt.Sprintf(format, args...), ErrInvalid, nil)
}

// fail turns an error of the drivers into the application error the
// workflow sees, the connection string's secrets removed. No cause is
// attached: Temporal would serialise its unredacted text.
func (c *conn) fail(ctx context.Context, what string, err error) error {
	if err == nil {
		return nil
	}
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) {
		return ae // ours, already redacted
	}
	if ctx.Err() != nil {
		return ctx.Err() // the activity was cancelled: Temporal records a cancel
	}
	msg := fmt.Sprintf("%s %s: %s", what, c.display, c.redact.String(describe(err)))
	pe := pgErrorOf(err)
	switch {
	case isLocked(err):
		return temporal.NewApplicationError(fmt.Sprintf("another migrator holds the lock on %s; it is retried", c.display), ErrLocked)
	case causes(err, func(e error) bool { return errors.Is(e, fs.ErrNotExist) }):
		return invalid("%s: the migrations directory lacks a version the database or the input names", msg)
	case pe != nil && pe.Code == "3D000":
		return invalid("%s: create the database, or fix the connection string", msg)
	case pe != nil && strings.HasPrefix(pe.Code, "28"):
		return temporal.NewApplicationError(msg+": check the credentials in the connection string", ErrFailed)
	}
	return temporal.NewApplicationError(msg, ErrFailed)
}

// causes reports whether visit is true for err or anything it wraps,
// including the OrigErr of golang-migrate's database.Error, which has no
// Unwrap method.
func causes(err error, visit func(error) bool) bool {
	for err != nil {
		if visit(err) {
			return true
		}
		switch e := err.(type) {
		case database.Error:
			err = e.OrigErr
		case *database.Error:
			err = e.OrigErr
		case interface{ Unwrap() []error }:
			for _, inner := range e.Unwrap() {
				if causes(inner, visit) {
					return true
				}
			}
			return false
		default:
			err = errors.Unwrap(err)
		}
	}
	return false
}

// pgErrorOf returns the Postgres error inside err, if any.
func pgErrorOf(err error) *pgconn.PgError {
	var pe *pgconn.PgError
	causes(err, func(e error) bool { return errors.As(e, &pe) })
	return pe
}

// isLocked: the lock wait ran out. 55P03 is Postgres' lock_not_available
// (lock_timeout); SQLite's BUSY and LOCKED mean busy_timeout ran out.
func isLocked(err error) bool {
	return causes(err, func(e error) bool {
		if e == migrate.ErrLockTimeout || e == errFileLocked {
			return true
		}
		if pe, ok := e.(*pgconn.PgError); ok {
			return pe.Code == "55P03"
		}
		c, ok := e.(interface{ Code() int })
		return ok && (c.Code()&0xff == 5 || c.Code()&0xff == 6)
	})
}

// describe is err's message without golang-migrate's habit of quoting the
// whole query (a migration file) in database.Error.
func describe(err error) string {
	switch e := err.(type) {
	case database.Error:
		return describeDB(e)
	case *database.Error:
		return describeDB(*e)
	case interface{ Unwrap() []error }:
		var parts []string
		for _, inner := range e.Unwrap() {
			parts = append(parts, describe(inner))
		}
		return strings.Join(parts, "; ")
	}
	return err.Error()
}

func describeDB(e database.Error) string {
	switch {
	case e.OrigErr == nil:
		return e.Err
	case e.Err == "":
		return describe(e.OrigErr)
	}
	return e.Err + ": " + describe(e.OrigErr)
}

// pgMessage is a Postgres error with its detail and hint.
func pgMessage(pe *pgconn.PgError) string {
	s := fmt.Sprintf("%s: %s (SQLSTATE %s)", pe.Severity, pe.Message, pe.Code)
	if pe.Detail != "" {
		s += "; " + pe.Detail
	}
	if pe.Hint != "" {
		s += "; hint: " + pe.Hint
	}
	return s
}
