//! The running aggregator: the DAP HTTP API, the upload path, the Helper's
//! handlers, the Leader's job creator and drivers, and collection. Filled in by
//! the end-to-end aggregation work.
