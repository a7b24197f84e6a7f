//! The DAP protocol itself, sans-IO: report validation, Leader and Helper
//! preparation steps, batch rules and collection rules, as functions and small
//! state machines over messages, tasks and stored state. No HTTP, no SQL, no
//! async runtime. Filled in by the end-to-end aggregation work.
