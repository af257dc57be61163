module github.com/rlc-project/rlc/bindings/go

go 1.22
