//! `dyad decode`: decodes any DAP-09 message (raw bytes, hex or base64url) from
//! a file or stdin and pretty-prints it, or says precisely why it is malformed.

use anyhow::{bail, Context as _};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use clap::{Args, ValueEnum};
use dyad_messages::draft09::*;
use dyad_messages::taskprov::TaskConfig;
use dyad_messages::Decode;
use std::io::Read as _;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// The message type.
    #[arg(value_enum)]
    message: MessageType,
    /// The file to read; stdin when absent or `-`.
    file: Option<PathBuf>,
    /// How the input is written.
    #[arg(long, value_enum, default_value_t = InputEncoding::Binary)]
    encoding: InputEncoding,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum InputEncoding {
    /// Raw bytes, as sent on the wire.
    Binary,
    /// Hexadecimal text.
    Hex,
    /// Base64url text, with or without padding.
    Base64url,
}

/// Every top-level message, named as in DAP-09 (section 4) and taskprov-06.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum MessageType {
    HpkeConfigList,
    HpkeConfig,
    Report,
    PlaintextInputShare,
    InputShareAad,
    AggregationJobInitReq,
    AggregationJobResp,
    AggregationJobContinueReq,
    CollectionReq,
    Collection,
    AggregateShareReq,
    AggregateShare,
    AggregateShareAad,
    TaskConfig,
}

pub fn run(args: DecodeArgs) -> anyhow::Result<()> {
    let raw = match &args.file {
        Some(path) if path.as_os_str() != "-" => {
            std::fs::read(path).with_context(|| format!("reading {}", path.display()))?
        }
        _ => {
            let mut buf = Vec::new();
            std::io::stdin()
                .read_to_end(&mut buf)
                .context("reading stdin")?;
            buf
        }
    };
    let bytes = decode_text(&raw, args.encoding)?;
    outln!("{}", pretty(args.message, &bytes)?)?;
    Ok(())
}

fn decode_text(raw: &[u8], encoding: InputEncoding) -> anyhow::Result<Vec<u8>> {
    let text = || -> anyhow::Result<String> {
        let s = std::str::from_utf8(raw).context("input is not text")?;
        Ok(s.split_whitespace().collect())
    };
    Ok(match encoding {
        InputEncoding::Binary => raw.to_vec(),
        InputEncoding::Hex => hex::decode(text()?).context("input is not hexadecimal")?,
        InputEncoding::Base64url => URL_SAFE_NO_PAD
            .decode(text()?.trim_end_matches('='))
            .context("input is not base64url")?,
    })
}

fn pretty(message: MessageType, bytes: &[u8]) -> anyhow::Result<String> {
    fn show<T: Decode + std::fmt::Debug>(bytes: &[u8]) -> anyhow::Result<String> {
        match T::get_decoded(bytes) {
            Ok(value) => Ok(format!("{value:#?}")),
            Err(error) => bail!("malformed message: {error}"),
        }
    }
    match message {
        MessageType::HpkeConfigList => show::<HpkeConfigList>(bytes),
        MessageType::HpkeConfig => show::<HpkeConfig>(bytes),
        MessageType::Report => show::<Report>(bytes),
        MessageType::PlaintextInputShare => show::<PlaintextInputShare>(bytes),
        MessageType::InputShareAad => show::<InputShareAad>(bytes),
        MessageType::AggregationJobInitReq => show::<AggregationJobInitReq>(bytes),
        MessageType::AggregationJobResp => show::<AggregationJobResp>(bytes),
        MessageType::AggregationJobContinueReq => show::<AggregationJobContinueReq>(bytes),
        MessageType::CollectionReq => show::<CollectionReq>(bytes),
        MessageType::Collection => show::<Collection>(bytes),
        MessageType::AggregateShareReq => show::<AggregateShareReq>(bytes),
        MessageType::AggregateShare => show::<AggregateShare>(bytes),
        MessageType::AggregateShareAad => show::<AggregateShareAad>(bytes),
        MessageType::TaskConfig => show::<TaskConfig>(bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dyad_messages::Encode;

    #[test]
    fn decodes_a_config_list_from_hex() {
        let list = HpkeConfigList(vec![HpkeConfig {
            id: HpkeConfigId(7),
            kem_id: HpkeKemId::X25519HkdfSha256,
            kdf_id: HpkeKdfId::HkdfSha256,
            aead_id: HpkeAeadId::Aes128Gcm,
            public_key: HpkePublicKey(vec![1; 32]),
        }]);
        let text = hex::encode(list.get_encoded().unwrap());
        let bytes = decode_text(text.as_bytes(), InputEncoding::Hex).unwrap();
        let out = pretty(MessageType::HpkeConfigList, &bytes).unwrap();
        assert!(out.contains("X25519HkdfSha256"), "{out}");
    }

    #[test]
    fn malformed_input_names_the_field() {
        let err = pretty(MessageType::HpkeConfig, &[7, 0, 0x20]).unwrap_err();
        assert!(err.to_string().contains("HpkeConfig.kdf_id"), "{err}");
    }
}
