//! TODO
/// TODO
pub type RequestId = u64;
/// TODO
pub type Callback = Box<dyn FnOnce(RequestId, crate::Result<crate::Response>) + Send + 'static>;
/// TODO
pub struct Client;
