//! Upload messages (DAP-09 section 4.4): HPKE configuration, reports, input
//! shares and their AAD.

use crate::{check, convert, strategies};
use dyad_messages::testing;
use proptest::prelude::*;

proptest! {
    #[test]
    fn role(v in testing::role()) {
        check(&v, &convert::role(&v))?;
    }

    #[test]
    fn interval(v in testing::interval()) {
        check(&v, &convert::interval(&v))?;
    }

    #[test]
    fn hpke_config(v in testing::hpke_config()) {
        check(&v, &convert::hpke_config(&v))?;
    }

    #[test]
    fn hpke_config_list(v in testing::hpke_config_list()) {
        check(&v, &convert::hpke_config_list(&v))?;
    }

    #[test]
    fn hpke_ciphertext(v in testing::hpke_ciphertext()) {
        check(&v, &convert::hpke_ciphertext(&v))?;
    }

    #[test]
    fn extension(v in strategies::extension()) {
        check(&v, &convert::extension(&v))?;
    }

    #[test]
    fn report_metadata(v in testing::report_metadata()) {
        check(&v, &convert::report_metadata(&v))?;
    }

    #[test]
    fn plaintext_input_share(v in strategies::plaintext_input_share()) {
        check(&v, &convert::plaintext_input_share(&v))?;
    }

    #[test]
    fn input_share_aad(v in testing::input_share_aad()) {
        check(&v, &convert::input_share_aad(&v))?;
    }

    #[test]
    fn report(v in testing::report()) {
        check(&v, &convert::report(&v))?;
    }
}
