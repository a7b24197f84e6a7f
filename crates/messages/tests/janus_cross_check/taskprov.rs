//! taskprov-06 structures against `janus_messages::taskprov`.

use crate::{check, convert, strategies};
use dyad_messages::testing;
use proptest::prelude::*;

proptest! {
    #[test]
    fn url(v in testing::url()) {
        check(&v, &convert::url(&v))?;
    }

    #[test]
    fn dp_config(v in strategies::dp_config()) {
        check(&v, &convert::dp_config(&v))?;
    }

    #[test]
    fn vdaf_config(v in strategies::vdaf_config()) {
        check(&v, &convert::vdaf_config(&v))?;
    }

    #[test]
    fn query_config(v in strategies::query_config()) {
        check(&v, &convert::query_config(&v))?;
    }

    #[test]
    fn task_config(v in strategies::task_config()) {
        check(&v, &convert::task_config(&v))?;
    }
}
