package rlc

/*
#include "rlc.h"
*/
import "C"

import (
	"encoding/json"
	"math"
	"net/http"
	"unsafe"
)

// Response is an HTTP response of any status (a 404 or a 503 is a Response, not an
// error). It is Go memory, copied out of the library's borrowed response.
type Response struct {
	// Status is the HTTP status code.
	Status int
	// Header holds the response headers, keyed by canonical name.
	Header http.Header
	// Body is the whole response body.
	Body []byte
	// Attempts is how many attempts it took (1 when the first one answered).
	Attempts int
	// Tag is the request's Tag ("" when it had none).
	Tag string
	// GraphQLErrors is a GraphQL answer's "errors" array as JSON; nil for other
	// requests or when it had none.
	GraphQLErrors json.RawMessage
}

// DecodeJSON decodes the body, as JSON, into out (a pointer), with
// encoding/json. It does not look at the status: check Status first when an
// error answer has another shape.
func (r *Response) DecodeJSON(out any) error {
	return json.Unmarshal(r.Body, out)
}

// copyCompletion copies a completion the library lends to a callback into Go
// memory: a *Response for RLC_OK, an *Error otherwise. resp is only valid during
// the callback.
func copyCompletion(result C.enum_rlc_result, resp *C.rlc_response) (*Response, error) {
	if result != C.RLC_OK {
		e := &Error{Code: Code(result)}
		if resp != nil {
			if msg := C.rlc_response_error_message(resp); msg != nil {
				e.Message = C.GoString(msg)
			}
			e.Attempts = int(C.rlc_response_attempts(resp))
		}
		return nil, e
	}
	if resp == nil {
		return nil, newError(ErrPanic, "the library completed a request without a response")
	}
	r := &Response{
		Status:   int(C.rlc_response_status(resp)),
		Attempts: int(C.rlc_response_attempts(resp)),
		Tag:      responseTag(resp),
	}
	var n C.size_t
	body, err := copyCBytes(unsafe.Pointer(C.rlc_response_body(resp, &n)), uint64(n))
	if err != nil {
		return nil, err
	}
	r.Body = body
	if e := C.rlc_response_graphql_errors(resp); e != nil {
		r.GraphQLErrors = json.RawMessage(C.GoString(e))
	}
	count := int(C.rlc_response_header_count(resp))
	r.Header = make(http.Header, count)
	for i := 0; i < count; i++ {
		var name, value *C.char
		if C.rlc_response_header_at(resp, C.size_t(i), &name, &value) != C.RLC_OK {
			continue
		}
		r.Header.Add(C.GoString(name), C.GoString(value))
	}
	return r, nil
}

// copyCBytes copies n bytes at p (C memory) into a fresh Go slice; a nil p or a zero
// n gives an empty, non-nil slice. C.GoBytes is not used because it takes a C.int:
// a body over 2 GiB made it panic (a negative length), one over 4 GiB was truncated.
// n comes in as uint64, which holds any size_t; a length that does not fit an int is
// refused rather than wrapped.
func copyCBytes(p unsafe.Pointer, n uint64) ([]byte, error) {
	if p == nil || n == 0 {
		return []byte{}, nil
	}
	if n > math.MaxInt {
		return nil, newError(ErrBodyTooLarge, "a body of %d bytes does not fit in a Go slice", n)
	}
	out := make([]byte, int(n))
	copy(out, unsafe.Slice((*byte)(p), int(n)))
	return out, nil
}
