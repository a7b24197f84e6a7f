//! Aggregation messages (DAP-09 section 4.5): report shares, the prepare
//! messages, and the aggregation job requests and response.

use crate::{check, check_by_query_type, convert, strategies};
use dyad_messages::testing;
use proptest::prelude::*;

proptest! {
    #[test]
    fn partial_batch_selector(v in testing::partial_batch_selector()) {
        check_by_query_type(&v, &convert::partial_batch_selector(&v))?;
    }

    #[test]
    fn report_share(v in testing::report_share()) {
        check(&v, &convert::report_share(&v))?;
    }

    #[test]
    fn prepare_init(v in strategies::prepare_init()) {
        check(&v, &convert::prepare_init(&v))?;
    }

    #[test]
    fn prepare_error(v in testing::registered_prepare_error()) {
        check(&v, &convert::prepare_error(&v))?;
    }

    #[test]
    fn prepare_resp(v in strategies::prepare_resp()) {
        check(&v, &convert::prepare_resp(&v))?;
    }

    #[test]
    fn prepare_continue(v in strategies::prepare_continue()) {
        check(&v, &convert::prepare_continue(&v))?;
    }

    #[test]
    fn aggregation_job_init_req(v in strategies::aggregation_job_init_req()) {
        check_by_query_type(&v, &convert::aggregation_job_init_req(&v))?;
    }

    #[test]
    fn aggregation_job_resp(v in strategies::aggregation_job_resp()) {
        check(&v, &convert::aggregation_job_resp(&v))?;
    }

    #[test]
    fn aggregation_job_continue_req(v in strategies::aggregation_job_continue_req()) {
        check(&v, &convert::aggregation_job_continue_req(&v))?;
    }
}
