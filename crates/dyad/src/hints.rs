//! Library errors as the command line states them: the cause once, in
//! words an operator acts on, with a hint where one helps (a
//! [`crate::report::Hinted`] error, which `report` prints on a `hint:` line).

use dyad_client::ClientError;
use dyad_collector::CollectorError;
use dyad_messages::problem::DapProblemType;
use std::error::Error as StdError;

/// An error message with an optional hint, as one `anyhow::Error`.
pub fn with_hint(message: String, hint: Option<String>) -> anyhow::Error {
    match hint {
        Some(hint) => crate::report::hinted(message, hint),
        None => anyhow::anyhow!("{message}"),
    }
}

/// The innermost cause of a transport error (`Connection refused (os error
/// 111)`, `operation timed out`), which says more than the outer layers'
/// "error sending request".
pub fn root_cause(error: &(dyn StdError + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

/// Why a client request failed, in a few words: the transport's root cause
/// or the aggregator's answer.
pub fn client_cause(error: &ClientError) -> String {
    match error {
        ClientError::Http(http) => {
            let cause = root_cause(http);
            if http.is_timeout() {
                format!("timed out ({cause})")
            } else {
                cause
            }
        }
        other => other.to_string(),
    }
}

/// A DAP problem type's hint for a collector.
fn collection_problem_hint(problem: DapProblemType) -> Option<&'static str> {
    Some(match problem {
        DapProblemType::InvalidBatchSize => {
            "the batch holds fewer reports than the task's min_batch_size (or, for \
             --current-batch, no batch is full yet); upload more reports or collect a longer interval"
        }
        DapProblemType::BatchInvalid => {
            "a time-interval batch must start and last a multiple of the task's time precision, \
             and end before 2^63 seconds"
        }
        DapProblemType::BatchOverlap => {
            "the interval overlaps a batch collected before; collect exactly that interval, or one that does not touch it"
        }
        DapProblemType::BatchQueriedTooManyTimes => {
            "the batch was already collected as many times as the task allows"
        }
        DapProblemType::UnauthorizedRequest => {
            "the Leader refused the collector's token: check --credentials (or --bearer-token)"
        }
        DapProblemType::UnrecognizedTask => "the Leader does not know this task ID",
        _ => return None,
    })
}

/// A collection failure as one clear error.
pub fn collector_error(error: CollectorError) -> anyhow::Error {
    match &error {
        CollectorError::Http(http) => with_hint(
            format!("cannot reach the Leader: {}", root_cause(http)),
            Some("check the Leader URL and that the Leader is running".to_owned()),
        ),
        CollectorError::ErrorResponse(response) => {
            let hint = response
                .problem_type()
                .and_then(collection_problem_hint)
                .map(str::to_owned);
            let status = response.status;
            let text = match &response.problem {
                Some(problem) => {
                    let detail = problem.detail.as_ref().or(problem.title.as_ref());
                    match (problem.dap_type(), detail) {
                        (Some(kind), Some(detail)) => format!("{kind}: {detail}"),
                        (Some(kind), None) => kind.to_string(),
                        (None, _) => problem.to_string(),
                    }
                }
                None => "no problem document".to_owned(),
            };
            with_hint(
                format!("the Leader refused the collection (HTTP {status}, {text})"),
                hint,
            )
        }
        _ => anyhow::Error::new(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_collector::ErrorResponse;
    use dyad_messages::problem::ProblemDocument;

    #[test]
    fn a_problem_document_becomes_one_line_and_a_hint() {
        let mut problem = ProblemDocument::new(DapProblemType::InvalidBatchSize);
        problem.detail = Some("the batch holds 3 of 10 reports".to_owned());
        let error = collector_error(CollectorError::ErrorResponse(Box::new(ErrorResponse {
            status: 400,
            problem: Some(problem),
            retry_after: None,
        })));
        let text = crate::report::render(&error);
        let mut lines = text.lines();
        let first = lines.next().unwrap();
        assert!(
            first.starts_with("error: the Leader refused the collection (HTTP 400, "),
            "{text}"
        );
        assert!(first.contains("the batch holds 3 of 10 reports"), "{text}");
        assert!(lines
            .next()
            .unwrap()
            .starts_with("hint: the batch holds fewer reports"));
        assert_eq!(
            text.matches("3 of 10").count(),
            1,
            "the cause is stated once: {text}"
        );
    }

    #[test]
    fn the_root_cause_is_the_innermost_error() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "Connection refused");
        let outer = anyhow::Error::new(io).context("error sending request");
        assert_eq!(root_cause(outer.as_ref()), "Connection refused");
    }
}
