//! `dyad datastore-key`: the keys that encrypt task secrets at rest (see
//! docs/CONFIGURING.md, "Datastore keys").

use clap::Subcommand;
use dyad_datastore::DatastoreKeys;

#[derive(Debug, Subcommand)]
pub enum DatastoreKeyCommand {
    /// Print a fresh random datastore key (16 bytes, base64url), for
    /// `DYAD_DATASTORE_KEYS` or the config's `datastore_keys`.
    Generate,
}

pub fn run(command: DatastoreKeyCommand) -> anyhow::Result<()> {
    match command {
        DatastoreKeyCommand::Generate => {
            println!("{}", DatastoreKeys::generate_encoded());
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_and_differ() {
        let a = DatastoreKeys::generate_encoded();
        let b = DatastoreKeys::generate_encoded();
        assert_ne!(a, b);
        assert_eq!(DatastoreKeys::from_list(&a).unwrap().len(), 1);
        assert!(run(DatastoreKeyCommand::Generate).is_ok());
    }
}
