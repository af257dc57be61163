module rlc-bench/peers/go/binding

go 1.22

require github.com/rlc-project/rlc/bindings/go v0.0.0

replace github.com/rlc-project/rlc/bindings/go => ../../../../bindings/go
