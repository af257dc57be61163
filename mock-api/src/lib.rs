//! TODO(helper): the mock API.
