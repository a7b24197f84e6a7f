//! The DAP collector library: create a collection job, poll it, open the
//! aggregate shares and unshard the result. Filled in by the end-to-end work.
