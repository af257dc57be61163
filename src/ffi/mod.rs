//! The C ABI. TODO
