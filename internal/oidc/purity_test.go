package oidc

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestVerificationIsPure guards the promise Temporal Update validators rely
// on: the package's non-test code imports nothing that reads a clock, the
// disk, the network or randomness, and starts no goroutine.
func TestVerificationIsPure(t *testing.T) {
	forbiddenImports := map[string]bool{
		"os": true, "io/ioutil": true, "net": true, "net/http": true, "crypto/rand": true,
		"math/rand": true, "math/rand/v2": true, "sync": true, "os/exec": true, "syscall": true, "unsafe": true,
	}
	forbiddenCalls := map[string]bool{
		"time.Now": true, "time.Since": true, "time.Until": true, "time.After": true, "time.Tick": true,
		"time.NewTimer": true, "time.NewTicker": true, "time.Sleep": true, "time.AfterFunc": true,
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		fset := token.NewFileSet()
		file, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range file.Imports {
			if path, _ := strconv.Unquote(imp.Path.Value); forbiddenImports[path] {
				t.Errorf("%s imports %s", fset.Position(imp.Pos()), path)
			}
		}
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GoStmt:
				t.Errorf("%s starts a goroutine", fset.Position(n.Pos()))
			case *ast.SelectorExpr:
				if id, ok := n.X.(*ast.Ident); ok && forbiddenCalls[id.Name+"."+n.Sel.Name] {
					t.Errorf("%s uses %s.%s", fset.Position(n.Pos()), id.Name, n.Sel.Name)
				}
			}
			return true
		})
	}
	if checked < 3 {
		t.Fatalf("checked %d source files, want the package's files", checked)
	}
}
