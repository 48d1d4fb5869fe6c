package sshsig

import (
	"strings"
	"time"
)

// options parses the comma-separated options field tok found at offset at into e.
func (p *lineParser) options(e *entry, tok string, at int) error {
	seen := map[string]bool{}
	for _, opt := range splitOptions(tok) {
		pos := at + opt.off
		name, value, hasValue := strings.Cut(opt.text, "=")
		name = strings.ToLower(name)
		if seen[name] {
			return p.errorf(pos, "option %s given twice", name)
		}
		seen[name] = true
		if name == "cert-authority" {
			if hasValue {
				return p.errorf(pos, "cert-authority takes no value")
			}
			e.certAuthority = true
			continue
		}
		if name != "namespaces" && name != "valid-after" && name != "valid-before" {
			return p.errorf(pos, "unknown option %q", opt.text)
		}
		if !hasValue || len(value) < 2 || value[0] != '"' || value[len(value)-1] != '"' {
			return p.errorf(pos, `option %s needs a quoted value, like %s="..."`, name, name)
		}
		if err := p.option(e, name, value[1:len(value)-1], pos); err != nil {
			return err
		}
	}
	if e.validAfter != 0 && e.validBefore != 0 && e.validBefore <= e.validAfter {
		return p.errorf(at, "valid-before is not after valid-after")
	}
	return nil
}

// option stores the (unquoted) value of one valued option.
func (p *lineParser) option(e *entry, name, value string, pos int) error {
	if strings.Contains(value, `"`) {
		return p.errorf(pos, "stray quote in option %s", name)
	}
	switch name {
	case "namespaces":
		list := strings.Split(value, ",")
		for _, ns := range list {
			if strings.TrimPrefix(ns, "!") == "" {
				return p.errorf(pos, "empty namespace in namespaces=%q", value)
			}
		}
		e.namespaces, e.hasNamespaces = list, true
		return nil
	}
	t, err := parseTime(value)
	if err != nil {
		return p.errorf(pos, "option %s: %v", name, err)
	}
	if name == "valid-after" {
		e.validAfter = t
	} else {
		e.validBefore = t
	}
	return nil
}

// optionText is one option and its offset inside the options field.
type optionText struct {
	text string
	off  int
}

// splitOptions splits the options field on commas outside double quotes.
func splitOptions(tok string) []optionText {
	var out []optionText
	start, quoted := 0, false
	for i := 0; i <= len(tok); i++ {
		if i < len(tok) && tok[i] == '"' {
			quoted = !quoted
		}
		if i == len(tok) || (tok[i] == ',' && !quoted) {
			out = append(out, optionText{text: tok[start:i], off: start})
			start = i + 1
		}
	}
	return out
}

// parseTime reads YYYYMMDD[HHMM[SS]][Z] as Unix seconds. Without Z the time is UTC too
// (ssh-keygen would use the local zone; a worker must not depend on its zone).
func parseTime(s string) (int64, error) {
	s = strings.TrimSuffix(strings.TrimSuffix(s, "Z"), "z")
	layouts := map[int]string{8: "20060102", 12: "200601021504", 14: "20060102150405"}
	layout, ok := layouts[len(s)]
	if !ok || strings.Trim(s, "0123456789") != "" {
		return 0, errInvalidTime(s)
	}
	t, err := time.ParseInLocation(layout, s, time.UTC)
	if err != nil {
		return 0, errInvalidTime(s)
	}
	if t.Unix() <= 0 {
		return 0, errInvalidTime(s)
	}
	return t.Unix(), nil
}

type errInvalidTime string

func (e errInvalidTime) Error() string {
	return "invalid time " + string(e) + ", want YYYYMMDD[HHMM[SS]][Z]"
}
