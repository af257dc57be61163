//! GraphQL over HTTP, paced by cost rather than by count.
//!
//! A GraphQL request is a POST of `{"query", "variables", "operationName"}` whose
//! query is parsed when it is built ([`cost`]): a query that does not parse is refused
//! there, the operation's kind decides whether it may be retried (a query reads only;
//! a mutation is retried only when the request opts in), and its cost in points is
//! estimated by GitHub's rule unless the caller gives it. The client takes that many
//! points from its cost limits (`Config::cost_limit`) before sending; the worker reads
//! what the server reported back ([`report`]), and the scheduler refunds the
//! difference, lowers its bucket to what the server says is left, and treats a
//! `THROTTLED` answer like a 429.

mod cost;
mod report;

pub use cost::{analyse, score, Analysis, OperationKind};
pub use report::{read, Report};

use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Result};
use crate::request::Request;

impl Request {
    /// A GraphQL request: a POST to `path_or_url` with the JSON body `{"query",
    /// "variables", "operationName"}` (`Content-Type: application/json`).
    /// `variables_json`, when given, must be a JSON object; `operation_name` picks one
    /// of several operations. The query is parsed now: one that does not parse, names
    /// no operation, or is a subscription is refused ([`ErrorKind::Graphql`]). A query
    /// is retried like any idempotent request; a mutation only after
    /// [`Request::retry_non_idempotent`]. Its cost in points is GitHub's estimate
    /// until [`Request::cost`] sets it.
    pub fn graphql(
        path_or_url: &str,
        query: &str,
        variables_json: Option<&str>,
        operation_name: Option<&str>,
    ) -> Result<Request> {
        let mut request = Request::new("POST", path_or_url)?;
        let variables = match variables_json {
            Some(text) => Some(parse_variables(text)?),
            None => None,
        };
        if operation_name.is_some_and(|n| n.is_empty()) {
            return Err(Error::new(ErrorKind::Graphql, "the GraphQL operation name is empty"));
        }
        let analysis = analyse(query, variables.as_ref(), operation_name)?;
        if analysis.kind == OperationKind::Subscription {
            return Err(Error::new(
                ErrorKind::Graphql,
                "a GraphQL subscription needs a WebSocket; an HTTP request runs a query or a mutation",
            ));
        }
        let mut body = Map::new();
        body.insert("query".into(), Value::String(query.to_string()));
        if let Some(variables) = variables {
            body.insert("variables".into(), Value::Object(variables));
        }
        if let Some(name) = operation_name {
            body.insert("operationName".into(), Value::String(name.to_string()));
        }
        request.body_vec(Value::Object(body).to_string().into_bytes());
        request.header("Content-Type", "application/json")?;
        request.header("Accept", "application/json")?;
        request.retry_non_idempotent(analysis.kind == OperationKind::Query);
        request.points = Some(analysis.points);
        Ok(request)
    }

    /// The points this GraphQL request takes from the client's cost limits (the
    /// estimate, or what [`Request::cost`] set); `None` for a plain HTTP request.
    pub fn graphql_points(&self) -> Option<u32> {
        self.points
    }
}

fn parse_variables(text: &str) -> Result<Map<String, Value>> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Error::new(ErrorKind::Graphql, "the GraphQL variables must be a JSON object")),
        Err(e) => Err(Error::new(
            ErrorKind::Graphql,
            format!("the GraphQL variables are not valid JSON: {e}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_json_body_and_the_retry_rule() {
        let r = Request::graphql(
            "/graphql",
            "query Q($n: Int) { items(first: $n) { id } }",
            Some(r#"{"n": 5}"#),
            Some("Q"),
        )
        .unwrap();
        assert_eq!(r.method(), "POST");
        let body: Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["query"], "query Q($n: Int) { items(first: $n) { id } }");
        assert_eq!(body["variables"]["n"], 5);
        assert_eq!(body["operationName"], "Q");
        assert!(r.headers.iter().any(|(n, v)| n == "Content-Type" && v == "application/json"));
        assert!(r.may_retry(), "a query reads only");
        assert_eq!(r.graphql_points(), Some(1));

        let m = Request::graphql("/graphql", "mutation { add(x: 1) { id } }", None, None).unwrap();
        assert!(!m.may_retry(), "a mutation is not retried unless it opts in");
        let body: Value = serde_json::from_slice(&m.body).unwrap();
        assert!(body.get("variables").is_none() && body.get("operationName").is_none());
    }

    #[test]
    fn a_given_cost_replaces_the_estimate_and_counts_one_request() {
        let mut r = Request::graphql("/graphql", "{ a }", None, None).unwrap();
        r.cost(250).unwrap();
        assert_eq!(r.graphql_points(), Some(250));
        assert_eq!(r.cost, 1, "one request against request-counting limits");
    }

    #[test]
    fn refuses_bad_variables_and_operations() {
        let q = "{ a }";
        for (vars, what) in [("[1]", "JSON object"), ("{", "not valid JSON"), ("3", "JSON object")]
        {
            let err = Request::graphql("/g", q, Some(vars), None).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Graphql);
            assert!(err.message().contains(what), "{}", err.message());
        }
        let err = Request::graphql("/g", "subscription { a }", None, None).unwrap_err();
        assert!(err.message().contains("WebSocket"));
        assert_eq!(
            Request::graphql("/g", q, None, Some("")).unwrap_err().kind(),
            ErrorKind::Graphql
        );
        assert_eq!(
            Request::graphql("nope", q, None, None).unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }
}
