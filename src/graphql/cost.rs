//! What a GraphQL operation is and what it may cost, read from the query before it
//! is sent. Parsing is `apollo-parser`'s; the cost rule is GitHub's documented one:
//! every connection (a field with a `first` or `last` argument) needs one request per
//! node its parents may return, assuming every `first`/`last` is filled; the sum of
//! those requests, divided by 100 and rounded, is the score, and the least a call
//! costs is 1 point.

use apollo_parser::{cst, Parser};
use serde_json::{Map, Value};

use crate::error::{Error, ErrorKind, Result};

/// The kind of operation a document asks the server to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OperationKind {
    /// Reads only: safe to retry.
    Query,
    /// Writes: not retried unless the request opts in.
    Mutation,
    /// A stream of results: needs a WebSocket, not an HTTP POST.
    Subscription,
}

/// What the client learns from a query before sending it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Analysis {
    /// The operation that runs.
    pub kind: OperationKind,
    /// The estimated cost in points (GitHub's rule; at least 1).
    pub points: u32,
}

/// The largest query accepted, and the deepest nesting: a hostile string must not
/// cost the caller's thread more than a bounded parse.
const MAX_QUERY_BYTES: usize = 1024 * 1024;
const RECURSION_LIMIT: usize = 128;
/// The first/last assumed when a variable gives none: GitHub's maximum page.
const UNKNOWN_PAGE: u128 = 100;

fn graphql_error(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Graphql, message)
}

/// Parses `query`, picks the operation that runs (`operation_name`, or the only one),
/// and estimates its cost with `variables` (a JSON object) filling `$variables` in
/// `first`/`last`. Refuses a query that does not parse, a document with no operation
/// or several without a name, and a name that matches none.
pub fn analyse(
    query: &str,
    variables: Option<&Map<String, Value>>,
    operation_name: Option<&str>,
) -> Result<Analysis> {
    if query.trim().is_empty() {
        return Err(graphql_error("the GraphQL query is empty"));
    }
    if query.len() > MAX_QUERY_BYTES {
        return Err(graphql_error("the GraphQL query is longer than 1 MiB"));
    }
    let tree = Parser::new(query).recursion_limit(RECURSION_LIMIT).parse();
    if let Some(e) = tree.errors().next() {
        let what = e.message();
        let at = e.index();
        return Err(graphql_error(format!(
            "the GraphQL query does not parse: {what} (at byte {at}, near {:?})",
            e.data()
        )));
    }
    let document = tree.document();
    let mut operations = Vec::new();
    let mut fragments = Vec::new();
    for definition in document.definitions() {
        match definition {
            cst::Definition::OperationDefinition(op) => operations.push(op),
            cst::Definition::FragmentDefinition(f) => fragments.push(f),
            _ => {
                return Err(graphql_error(
                    "the GraphQL document defines types (a schema); a request needs an operation",
                ))
            }
        }
    }
    let operation = pick(operations, operation_name)?;
    let kind = match operation.operation_type() {
        Some(t) if t.mutation_token().is_some() => OperationKind::Mutation,
        Some(t) if t.subscription_token().is_some() => OperationKind::Subscription,
        _ => OperationKind::Query,
    };
    let defaults = defaults_of(&operation);
    let walk = Walk { variables, defaults: &defaults, fragments: &fragments };
    let requests =
        operation.selection_set().map_or(0, |set| walk.requests(&set, 1, &mut Vec::new()));
    Ok(Analysis { kind, points: score(requests) })
}

/// GitHub's score: requests / 100, rounded to the nearest whole point, at least 1.
pub fn score(requests: u128) -> u32 {
    let points = requests.saturating_add(50) / 100;
    u32::try_from(points.max(1)).unwrap_or(u32::MAX)
}

fn pick(
    operations: Vec<cst::OperationDefinition>,
    name: Option<&str>,
) -> Result<cst::OperationDefinition> {
    match name {
        Some(wanted) => operations
            .into_iter()
            .find(|op| op.name().is_some_and(|n| n.text() == wanted))
            .ok_or_else(|| {
                graphql_error(format!("the GraphQL document has no operation named {wanted:?}"))
            }),
        None => {
            let count = operations.len();
            let mut ops = operations.into_iter();
            match (ops.next(), count) {
                (Some(op), 1) => Ok(op),
                (None, _) => Err(graphql_error("the GraphQL document holds no operation")),
                _ => Err(graphql_error(format!(
                    "the GraphQL document holds {count} operations: give the operation name to run"
                ))),
            }
        }
    }
}

/// The default values of the operation's variables that are integers.
fn defaults_of(operation: &cst::OperationDefinition) -> Vec<(String, u128)> {
    let Some(definitions) = operation.variable_definitions() else { return Vec::new() };
    definitions
        .variable_definitions()
        .filter_map(|d| {
            let name = d.variable()?.name()?.text().to_string();
            let value = match d.default_value()?.value()? {
                cst::Value::IntValue(i) => i32::try_from(i).ok()?,
                _ => return None,
            };
            Some((name, u128::try_from(value).unwrap_or(0)))
        })
        .collect()
}

struct Walk<'a> {
    variables: Option<&'a Map<String, Value>>,
    defaults: &'a [(String, u128)],
    fragments: &'a [cst::FragmentDefinition],
}

impl Walk<'_> {
    /// The requests the connections under `set` need when its parents may return
    /// `parents` nodes. `spreads` holds the fragments being expanded (a cycle, which
    /// GraphQL forbids, is not followed twice).
    fn requests(&self, set: &cst::SelectionSet, parents: u128, spreads: &mut Vec<String>) -> u128 {
        let mut total: u128 = 0;
        for selection in set.selections() {
            let inner = match selection {
                cst::Selection::Field(field) => {
                    let Some(children) = field.selection_set() else { continue };
                    match self.page_size(&field) {
                        Some(page) => {
                            // One request per parent node to fetch this connection.
                            total = total.saturating_add(parents);
                            self.requests(&children, parents.saturating_mul(page), spreads)
                        }
                        None => self.requests(&children, parents, spreads),
                    }
                }
                cst::Selection::InlineFragment(fragment) => match fragment.selection_set() {
                    Some(children) => self.requests(&children, parents, spreads),
                    None => 0,
                },
                cst::Selection::FragmentSpread(spread) => {
                    let Some(name) = spread.fragment_name().and_then(|n| n.name()) else {
                        continue;
                    };
                    let name = name.text().to_string();
                    if spreads.contains(&name) {
                        continue;
                    }
                    let definition = self.fragments.iter().find(|f| {
                        f.fragment_name().and_then(|n| n.name()).is_some_and(|n| n.text() == name)
                    });
                    let Some(children) = definition.and_then(|d| d.selection_set()) else {
                        continue;
                    };
                    spreads.push(name);
                    let n = self.requests(&children, parents, spreads);
                    spreads.pop();
                    n
                }
            };
            total = total.saturating_add(inner);
        }
        total
    }

    /// The larger of a field's `first` and `last`, when it has either (a connection).
    fn page_size(&self, field: &cst::Field) -> Option<u128> {
        let arguments = field.arguments()?;
        arguments
            .arguments()
            .filter(|a| a.name().is_some_and(|n| n.text() == "first" || n.text() == "last"))
            .map(|a| a.value().map_or(UNKNOWN_PAGE, |v| self.value_of(&v)))
            .max()
    }

    fn value_of(&self, value: &cst::Value) -> u128 {
        match value {
            cst::Value::IntValue(i) => {
                i32::try_from(i).map_or(UNKNOWN_PAGE, |n| u128::try_from(n).unwrap_or(0))
            }
            cst::Value::Variable(v) => {
                let Some(name) = v.name() else { return UNKNOWN_PAGE };
                let name = name.text();
                let given = self.variables.and_then(|vars| vars.get(name.as_str()));
                match given {
                    Some(Value::Number(n)) => n.as_u64().map_or(0, u128::from),
                    Some(Value::Null) | None => self
                        .defaults
                        .iter()
                        .find(|(d, _)| d.as_str() == name.as_str())
                        .map_or(UNKNOWN_PAGE, |(_, v)| *v),
                    Some(_) => UNKNOWN_PAGE,
                }
            }
            _ => UNKNOWN_PAGE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// GitHub's worked example ("rate limits and node limits for the GraphQL API"):
    /// 1 request for the repositories, 100 for their issues, 5,000 for the issues'
    /// labels: 5,101 requests, a score of 51.
    const GITHUB_51: &str = r#"
        query {
          viewer {
            login
            repositories(first: 100) {
              edges {
                node {
                  id
                  issues(first: 50) {
                    edges {
                      node {
                        id
                        labels(first: 60) {
                          edges {
                            node {
                              id
                              name
                            }
                          }
                        }
                      }
                    }
                  }
                }
              }
            }
          }
        }"#;

    /// GitHub's example of reading the rate limit: no connection at all, so the
    /// minimum of 1 point.
    const GITHUB_1: &str = r#"
        query {
          viewer {
            login
          }
          rateLimit {
            limit
            cost
            remaining
            resetAt
          }
        }"#;

    fn points(query: &str) -> u32 {
        analyse(query, None, None).unwrap().points
    }

    #[test]
    fn githubs_documented_examples() {
        assert_eq!(points(GITHUB_51), 51);
        assert_eq!(points(GITHUB_1), 1);
        assert_eq!(analyse(GITHUB_51, None, None).unwrap().kind, OperationKind::Query);
    }

    #[test]
    fn the_same_query_through_fragments_and_variables_costs_the_same() {
        let q = r#"
            query Labels($repos: Int!, $issues: Int = 50) {
              viewer { repositories(first: $repos) { nodes { ...Issues } } }
            }
            fragment Issues on Repository {
              issues(last: $issues) { nodes { ... on Issue { labels(first: 60) { nodes { name } } } } }
            }"#;
        let vars = serde_json::json!({"repos": 100});
        let a = analyse(q, vars.as_object(), None).unwrap();
        assert_eq!(a.points, 51);
        // Without the variable, GitHub's largest page is assumed: the same here.
        assert_eq!(analyse(q, None, None).unwrap().points, 51);
        let small = serde_json::json!({"repos": 10, "issues": 10});
        // 1 + 10 + 100 = 111 requests: 1 point.
        assert_eq!(analyse(q, small.as_object(), None).unwrap().points, 1);
    }

    #[test]
    fn rounding_and_the_minimum() {
        assert_eq!(score(0), 1);
        assert_eq!(score(149), 1);
        assert_eq!(score(150), 2);
        assert_eq!(score(5101), 51);
        assert_eq!(score(u128::MAX), u32::MAX);
    }

    #[test]
    fn operation_kinds_and_names() {
        let doc = "query A { a } mutation B { b(x: 1) { id } } subscription C { c }";
        assert_eq!(analyse(doc, None, Some("A")).unwrap().kind, OperationKind::Query);
        assert_eq!(analyse(doc, None, Some("B")).unwrap().kind, OperationKind::Mutation);
        assert_eq!(analyse(doc, None, Some("C")).unwrap().kind, OperationKind::Subscription);
        assert_eq!(analyse("{ a }", None, None).unwrap().kind, OperationKind::Query);
        let err = analyse(doc, None, None).unwrap_err();
        assert!(err.message().contains("3 operations"), "{}", err.message());
        let err = analyse(doc, None, Some("D")).unwrap_err();
        assert!(err.message().contains("no operation named \"D\""), "{}", err.message());
    }

    #[test]
    fn garbage_is_refused_with_a_clear_error() {
        for garbage in
            ["", "   ", "{", "query {", "hello world", "{ a(first: ) }", "type Q { a: Int }"]
        {
            let err = analyse(garbage, None, None).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Graphql, "{garbage:?}");
            assert!(err.message().starts_with("the GraphQL"), "{garbage:?}: {}", err.message());
        }
        let deep = format!("{}{}", "{ a ".repeat(10_000), "}".repeat(10_000));
        assert_eq!(analyse(&deep, None, None).unwrap_err().kind(), ErrorKind::Graphql);
    }

    #[test]
    fn a_fragment_cycle_is_not_followed_for_ever() {
        let q = "query { a(first: 10) { ...F } } fragment F on A { b(first: 10) { ...F } }";
        assert_eq!(analyse(q, None, None).unwrap().points, 1);
    }
}
