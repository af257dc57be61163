//! What a completed request hands back.

/// An HTTP response of any status, with the number of attempts it took.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
    pub(crate) attempts: u32,
    /// What a GraphQL server reported, read by the worker for a GraphQL request.
    pub(crate) graphql: Option<Box<crate::graphql::Report>>,
}

impl Response {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// All headers in the order received; names as the server sent them.
    pub fn headers(&self) -> &[(String, String)] {
        &self.headers
    }

    /// The first header named `name`, compared without regard to case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Takes the body out, leaving it empty.
    pub fn take_body(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.body)
    }

    /// The `errors` array of a GraphQL response, as JSON text; `None` when the
    /// request was not a GraphQL request or the response carries no errors.
    pub fn graphql_errors(&self) -> Option<&str> {
        self.graphql.as_ref().and_then(|r| r.errors.as_deref())
    }

    /// What the GraphQL server reported about the query's cost and its budget.
    pub fn graphql_report(&self) -> Option<&crate::graphql::Report> {
        self.graphql.as_deref()
    }

    /// How many attempts it took (1 when the first one answered).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}
