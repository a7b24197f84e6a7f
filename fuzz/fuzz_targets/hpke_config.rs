//! Decodes arbitrary bytes as a `draft09::HpkeConfig`: decoding must never panic, and a value
//! that decodes must re-encode to exactly the input (the encoding is canonical).
#![no_main]

use dyad_messages::{draft09::HpkeConfig, Decode, Encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(value) = HpkeConfig::get_decoded(data) {
        let encoded = value.get_encoded().expect("a decoded value re-encodes");
        assert_eq!(encoded, data, "re-encoding differs from the input");
    }
});
