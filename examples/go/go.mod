module github.com/rlc-project/rlc/examples/go

go 1.22

require github.com/rlc-project/rlc/bindings/go v0.0.0

// Use the binding from this repository. In your own project, drop this line and
// `go get github.com/rlc-project/rlc/bindings/go` instead.
replace github.com/rlc-project/rlc/bindings/go => ../../bindings/go
