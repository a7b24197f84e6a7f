//! The `Datastore` trait, its models, its conformance test suite and its
//! backends (SQLite, the embedded default, and PostgreSQL). Filled in by the
//! end-to-end aggregation work.
