package rlc

// This file holds the //export'ed trampoline; cgo then allows only declarations
// in its preamble (the C shim lives in shim.c).

/*
#include "shim.h"
*/
import "C"

import (
	"log"
	"runtime/cgo"
	"runtime/debug"
)

// pending is what a submitted request's cgo.Handle refers to until its callback.
type pending struct {
	client *Client
	fn     func(*Response, error)
}

// rlcgoComplete is called by the C shim on the client's completion thread, exactly
// once per accepted request. It deletes the handle, copies the borrowed response
// into Go memory, and runs the user's callback with panics recovered: nothing may
// unwind into C.
//
//export rlcgoComplete
func rlcgoComplete(handle C.uintptr_t, id C.rlc_request_id, result C.enum_rlc_result, resp *C.rlc_response) {
	h := cgo.Handle(handle)
	p := h.Value().(*pending)
	h.Delete()
	r, err := copyCompletion(result, resp)
	c := p.client
	C.rlcgo_set_callback_client(C.uint64_t(c.serial))
	defer func() {
		C.rlcgo_set_callback_client(0)
		c.release()
	}()
	c.runCallback(RequestID(id), p.fn, r, err)
}

// runCallback calls fn, recovering a panic and reporting it to the client's hook
// (or the log); a panic in the hook itself is dropped.
func (c *Client) runCallback(id RequestID, fn func(*Response, error), r *Response, err error) {
	defer func() {
		v := recover()
		if v == nil {
			return
		}
		stack := debug.Stack()
		if hook := c.onPanic; hook != nil {
			defer func() { _ = recover() }()
			hook(id, v, stack)
			return
		}
		log.Printf("rlc: the callback of request %d panicked (recovered): %v\n%s", id, v, stack)
	}()
	fn(r, err)
}
