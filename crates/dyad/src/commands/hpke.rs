//! `dyad hpke`: HPKE key management for aggregators and collectors.

use anyhow::Context as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use clap::{Args, Subcommand};
use dyad_core::hpke::HpkeKeypair;
use dyad_messages::draft09::{HpkeAeadId, HpkeConfigId, HpkeKdfId, HpkeKemId};
use dyad_messages::Encode;

#[derive(Debug, Subcommand)]
pub enum HpkeCommand {
    /// Generate an HPKE keypair and print it as YAML: the encoded HpkeConfig
    /// (to hand to peers, e.g. as a task's collector HPKE config) and the
    /// private key (keep it secret).
    Keygen(KeygenArgs),
}

#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// The HPKE config ID.
    #[arg(long, default_value_t = 1)]
    id: u8,
    /// KEM ID (RFC 9180 section 7.1); default DHKEM(X25519, HKDF-SHA256).
    #[arg(long, default_value_t = 0x0020)]
    kem: u16,
    /// KDF ID (RFC 9180 section 7.2); default HKDF-SHA256.
    #[arg(long, default_value_t = 0x0001)]
    kdf: u16,
    /// AEAD ID (RFC 9180 section 7.3); default AES-128-GCM.
    #[arg(long, default_value_t = 0x0001)]
    aead: u16,
}

pub fn run(command: HpkeCommand) -> anyhow::Result<()> {
    match command {
        HpkeCommand::Keygen(args) => {
            let keypair = HpkeKeypair::generate(
                HpkeConfigId(args.id),
                HpkeKemId::from(args.kem),
                HpkeKdfId::from(args.kdf),
                HpkeAeadId::from(args.aead),
            )
            .context("generating the keypair")?;
            let config = keypair
                .config()
                .get_encoded()
                .context("encoding the config")?;
            outln!("# HpkeConfig (DAP-09 section 4.4.1), base64url: share it freely")?;
            outln!("hpke_config: {}", URL_SAFE_NO_PAD.encode(config))?;
            outln!("# Private key, base64url: keep it secret")?;
            outln!(
                "private_key: {}",
                URL_SAFE_NO_PAD.encode(keypair.private_key().as_bytes())
            )?;
            Ok(())
        }
    }
}
