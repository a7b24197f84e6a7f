//! The DAP client library: fetch HPKE configs, shard a measurement, seal the
//! input shares and upload the report. Filled in by the end-to-end work.
