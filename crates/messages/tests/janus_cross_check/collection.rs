//! Collection messages (DAP-09 section 4.6): queries, collection requests and
//! results, aggregate share requests, shares and their AAD.

use crate::{check, check_by_query_type, convert};
use dyad_messages::testing;
use proptest::prelude::*;

proptest! {
    #[test]
    fn fixed_size_query(v in testing::fixed_size_query()) {
        check(&v, &convert::fixed_size_query(&v))?;
    }

    #[test]
    fn query(v in testing::query()) {
        check_by_query_type(&v, &convert::query(&v))?;
    }

    #[test]
    fn batch_selector(v in testing::batch_selector()) {
        check_by_query_type(&v, &convert::batch_selector(&v))?;
    }

    #[test]
    fn collection_req(v in testing::collection_req()) {
        check_by_query_type(&v, &convert::collection_req(&v))?;
    }

    #[test]
    fn collection(v in testing::collection()) {
        check_by_query_type(&v, &convert::collection(&v))?;
    }

    #[test]
    fn report_id_checksum(v in testing::report_id_checksum()) {
        check(&v, &convert::report_id_checksum(&v))?;
    }

    #[test]
    fn aggregate_share_req(v in testing::aggregate_share_req()) {
        check_by_query_type(&v, &convert::aggregate_share_req(&v))?;
    }

    #[test]
    fn aggregate_share(v in testing::aggregate_share()) {
        check(&v, &convert::aggregate_share(&v))?;
    }

    #[test]
    fn aggregate_share_aad(v in testing::aggregate_share_aad()) {
        check_by_query_type(&v, &convert::aggregate_share_aad(&v))?;
    }
}
