package runbooks

import (
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
)

// Metric templates are resolved when a runbook is loaded: the preset's,
// then each included file's, then the runbook's own, later ones replacing
// earlier ones of the same name. The result travels in the workflow input,
// so a release measures with the templates it was validated with, and no
// worker reads a file a runbook names.

// templateResolver merges the templates of every environment.
type templateResolver struct {
	c    *collector
	locs map[string]*loc
	// dir is where included files are read relative to.
	dir string
	// files caches parsed include files by path, so environments sharing
	// a file read it (and report its problems) once.
	files map[string]map[string]MetricTemplate
}

// resolveTemplates fills every environment's metrics.templates with the
// templates it can use. Problems of included files are reported in them.
func resolveTemplates(c *collector, locs map[string]*loc, filename string, rb *Runbook) {
	r := &templateResolver{c: c, locs: locs, dir: filepath.Dir(filename), files: map[string]map[string]MetricTemplate{}}
	for i := range rb.Environments {
		e := &rb.Environments[i]
		albSlotValues(e.Traffic)
		if e.Metrics != nil {
			r.environment(fmt.Sprintf("environments[%d].metrics", i), e)
		}
	}
}

func (r *templateResolver) environment(path string, e *Environment) {
	merged := map[string]MetricTemplate{}
	preset := PresetTemplates(e)
	for _, name := range slices.Sorted(maps.Keys(preset)) {
		t := preset[name]
		t.From = "preset " + EffectivePreset(e)
		merged[name] = t
	}
	for j, f := range e.Metrics.Include {
		maps.Copy(merged, r.include(fmt.Sprintf("%s.include[%d]", path, j), f))
	}
	maps.Copy(merged, e.Metrics.Templates)
	if len(merged) == 0 {
		merged = nil
	}
	e.Metrics.Templates = merged
}

// include reads one template file; problems go to the file's own
// positions, a file that cannot be read to the include entry's.
func (r *templateResolver) include(path, name string) map[string]MetricTemplate {
	file := name
	if !filepath.IsAbs(file) {
		file = filepath.Join(r.dir, name)
	}
	if ts, ok := r.files[file]; ok {
		return ts
	}
	r.files[file] = nil
	at := pos{}
	if l := r.locs[path]; l != nil {
		at = l.val
	}
	data, err := readLimited(file)
	if err != nil {
		r.c.addf(at, "metrics.include %q: cannot read the template file: %s", name, reason(err))
		return nil
	}
	c := newCollector(file)
	tf := parseTemplateFile(c, data)
	r.c.absorb(c)
	if tf == nil {
		return nil
	}
	ts := make(map[string]MetricTemplate, len(tf.Templates))
	for _, k := range slices.Sorted(maps.Keys(tf.Templates)) {
		t := tf.Templates[k]
		t.From = "file " + name
		ts[k] = t
	}
	r.files[file] = ts
	return ts
}

// readLimited reads a file of at most MaxSize bytes.
func readLimited(file string) ([]byte, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxSize {
		return nil, fmt.Errorf("larger than 1 MiB")
	}
	return data, nil
}

// parseTemplateFile decodes and checks a template file, or returns nil
// after recording why it cannot.
func parseTemplateFile(c *collector, data []byte) *TemplateFile {
	if blank(data) {
		c.addf(pos{}, "template file is empty; it holds a templates: map of named metric templates")
		return nil
	}
	root := readYAML(c, data)
	if root == nil {
		return nil
	}
	tf := new(TemplateFile)
	d := newDecoder(c)
	d.locs[""] = &loc{key: at(root), val: at(root)}
	if !d.value(root, reflect.ValueOf(tf).Elem(), "", "the template file", 0) || d.aborted {
		return nil
	}
	v := newValidator(c, d.locs, nil)
	if !v.has("templates") {
		c.addf(at(root), "a template file holds a templates: map of named metric templates; add templates: {error-ratio: {bad: ..., total: ...}}")
	}
	v.templates("templates", tf.Templates)
	if !c.empty() {
		return nil
	}
	return tf
}

// absorb adds the problems another collector found (in another file).
func (c *collector) absorb(o *collector) {
	for _, p := range o.list {
		if !c.seen[p] && len(c.list) < maxProblems {
			c.seen[p] = true
			c.list = append(c.list, p)
		}
	}
	c.dropped += o.dropped
}
