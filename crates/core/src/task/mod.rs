//! The task model: every DAP-09 task parameter (section 4.2) plus what an aggregator needs to run the task.
