package rlc

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestLastErrorReadsArePinned is this package's version of git2go's
// check-MakeGitError-thread-lock: rlc_last_error is thread-local, so every path
// from an exported function to a read of it (lastError, check) must run inside
// call(...), which pins the goroutine with runtime.LockOSThread. A function that
// reads it outside call() "needs the lock", and so does every function that calls
// such a function outside call(); no exported function may need it.
func TestLastErrorReadsArePinned(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	funcs := map[string]*ast.FuncDecl{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			if fd, ok := d.(*ast.FuncDecl); ok && fd.Body != nil {
				funcs[fd.Name.Name] = fd
			}
		}
	}
	needsLock := map[string]bool{"lastError": true, "check": true}
	for changed := true; changed; {
		changed = false
		for name, fd := range funcs {
			if needsLock[name] || name == "call" {
				continue
			}
			if callsUnpinned(fd.Body, needsLock) {
				needsLock[name] = true
				changed = true
			}
		}
	}
	var bad []string
	for name := range needsLock {
		if ast.IsExported(name) {
			bad = append(bad, name)
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Fatalf("these exported functions reach rlc_last_error without runtime.LockOSThread (wrap the calls in call(...)): %v", bad)
	}
	for _, helper := range []string{"build", "apply", "fill", "withCStrings"} {
		if !needsLock[helper] {
			t.Errorf("the check itself is broken: %s should be found to need the lock", helper)
		}
	}
}

// callsUnpinned reports whether body calls a function in needsLock other than
// inside a function literal passed to call(...).
func callsUnpinned(body ast.Node, needsLock map[string]bool) bool {
	found := false
	ast.Inspect(body, func(n ast.Node) bool {
		if found {
			return false
		}
		ce, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		if id, ok := ce.Fun.(*ast.Ident); ok && id.Name == "call" {
			return false // pinned: do not look inside
		}
		if needsLock[calleeName(ce.Fun)] {
			found = true
			return false
		}
		return true
	})
	return found
}

func calleeName(fun ast.Expr) string {
	switch f := fun.(type) {
	case *ast.Ident:
		return f.Name
	case *ast.SelectorExpr:
		if x, ok := f.X.(*ast.Ident); ok && x.Name == "C" {
			return ""
		}
		return f.Sel.Name
	}
	return ""
}
