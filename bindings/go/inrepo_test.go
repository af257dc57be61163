//go:build rlc_inrepo

// Tests that need the rlc repository around the module (build tag rlc_inrepo, which
// `make test-go` sets).

package rlc_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// The module carries its own rlc.h so that it builds from the module cache; it
// must be the repository's header, byte for byte (`make header` copies it).
func TestModuleHeaderIsTheRepositoryHeader(t *testing.T) {
	repo, err := os.ReadFile(filepath.Join(repoRoot(t), "include", "rlc.h"))
	if err != nil {
		t.Fatal(err)
	}
	mine, err := os.ReadFile("rlc.h")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(repo, mine) {
		t.Fatal("bindings/go/rlc.h differs from include/rlc.h: run `make header` (or copy it)")
	}
}

// A program in a module outside the repository builds against `make install
// PREFIX=<tmp>` through pkg-config alone (no CGO_* flags, no build tag, no
// network: the binding comes through a replace directive) and runs against a
// real server.
func TestBuildsOutsideTheRepositoryAgainstAnInstall(t *testing.T) {
	for _, tool := range []string{"make", "pkg-config"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("this test needs %s (.ci/run installs it)", tool)
		}
	}
	root := repoRoot(t)
	// A fixed prefix, not t.TempDir(): the go command does not key its build cache
	// on pkg-config's output, so a package built against one temporary prefix would
	// be reused, with that prefix's -L, after the directory is gone.
	prefix := filepath.Join(root, "target", "go-install-test")
	if err := os.RemoveAll(prefix); err != nil {
		t.Fatal(err)
	}
	run(t, root, nil, "make", "--no-print-directory", "install", "PREFIX="+prefix)

	mod := t.TempDir()
	bindings := filepath.Join(root, "bindings", "go")
	write(t, filepath.Join(mod, "go.mod"), "module example.com/rlcuser\n\ngo 1.22\n\n"+
		"require github.com/rlc-project/rlc/bindings/go v0.0.0\n\n"+
		"replace github.com/rlc-project/rlc/bindings/go => "+bindings+"\n")
	write(t, filepath.Join(mod, "main.go"), `package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"

	rlc "github.com/rlc-project/rlc/bindings/go"
)

func main() {
	c, err := rlc.NewClient(rlc.Config{BaseURL: os.Args[1]})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	resp, err := c.Do(context.Background(), rlc.NewRequest("GET", "/ok"), 0)
	if err != nil {
		panic(err)
	}
	hc := &http.Client{Transport: c.Transport()}
	hr, err := hc.Get(os.Args[1] + "/ok")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(hr.Body)
	fmt.Printf("%s %d %s %d %s\n", rlc.Version(), resp.Status, resp.Body, hr.StatusCode, body)
}
`)
	env := []string{
		"PKG_CONFIG_PATH=" + filepath.Join(prefix, "lib", "pkgconfig"),
		"GOFLAGS=-mod=mod", "GOPROXY=off", "GOWORK=off", "CGO_ENABLED=1",
		// Only a define: it keys this build apart in the cache from builds of the
		// package made before the prefix was fixed (see above).
		"CGO_CFLAGS=-g -O2 -DRLC_GO_INSTALL_TEST",
	}
	exe := filepath.Join(mod, "rlcuser")
	run(t, mod, env, "go", "build", "-o", exe, ".")

	s := newTestServer(t)
	out := run(t, mod, []string{"LD_LIBRARY_PATH=" + filepath.Join(prefix, "lib")}, exe, s.URL)
	fields := strings.Fields(out)
	if len(fields) != 5 || fields[1] != "200" || fields[2] != "ok" || fields[3] != "200" || fields[4] != "ok" {
		t.Fatalf("the program printed %q", out)
	}
	// It ran against the installed library, which is the only one it can find.
	ldd, err := exec.CommandContext(context.Background(), "ldd", exe).CombinedOutput()
	if err == nil && strings.Contains(string(ldd), filepath.Join(root, "target")) {
		t.Fatalf("the program links the repository's library:\n%s", ldd)
	}
}

// run runs a command in dir with the environment minus every CGO_* variable and
// GOFLAGS (the build must not borrow flags from the outside) plus env, and returns
// its stdout.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CGO_") && !strings.HasPrefix(kv, "GOFLAGS=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s in %s: %v\n%s%s", name, strings.Join(args, " "), dir, err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
