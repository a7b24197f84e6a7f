//! The `taskprov` report extension (taskprov-06 section 4): an empty
//! `Extension` of type `taskprov(0xff00)` in both Aggregators'
//! `PlaintextInputShare`s.

use crate::draft09::{Extension, ExtensionType};

/// The `taskprov` extension a Client puts in each input share. Its
/// `extension_data` MUST be empty; the task configuration rides in the
/// `dap-taskprov` header instead.
pub fn taskprov_extension() -> Extension {
    Extension::new(ExtensionType::Taskprov, Vec::new())
}

/// Whether `extensions` holds the `taskprov` extension exactly once and with
/// empty data, as an Aggregator of a taskprov task requires of every report
/// share (taskprov-06 sections 5.1 and 6).
pub fn has_valid_taskprov_extension(extensions: &[Extension]) -> bool {
    let mut taskprov = extensions
        .iter()
        .filter(|e| e.extension_type == ExtensionType::Taskprov);
    matches!(
        (taskprov.next(), taskprov.next()),
        (Some(e), None) if e.extension_data.is_empty()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::Encode;

    #[test]
    fn extension_is_type_ff00_with_no_data() {
        assert_eq!(taskprov_extension().get_encoded().unwrap(), [0xff, 0, 0, 0]);
    }

    #[test]
    fn validity_of_the_extension_list() {
        let tp = taskprov_extension();
        let other = Extension::new(ExtensionType::Tbd, vec![1]);
        assert!(has_valid_taskprov_extension(&[other.clone(), tp.clone()]));
        assert!(!has_valid_taskprov_extension(&[other]));
        assert!(!has_valid_taskprov_extension(&[tp.clone(), tp]));
        let with_data = Extension::new(ExtensionType::Taskprov, vec![0]);
        assert!(!has_valid_taskprov_extension(&[with_data]));
    }
}
