//! The fast path of envelope decoding: a typed read of the JSON text that borrows its strings,
//! with every rule of the profile checked, and the canonical bytes put together from the text
//! received. Whatever it refuses goes to the reference decoder, which finds the precise error.

use std::borrow::Cow;
use std::fmt;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use super::{Envelope, Signature, SIGNATURES_MAX, SIGNATURE_BYTES};
use crate::ids::KeyId;
use crate::jcs;

/// An envelope as written, its strings borrowed from the input where JSON allows.
pub(super) struct WireEnvelope<'a> {
    payload: Cow<'a, str>,
    payload_type: Cow<'a, str>,
    signatures: Vec<WireSignature<'a>>,
}

struct WireSignature<'a> {
    keyid: Cow<'a, str>,
    sig: Cow<'a, str>,
}

/// Decodes `json` if it is a valid envelope; `None` for anything the reference decoder must
/// judge.
pub(super) fn decode(json: &[u8]) -> Option<(Envelope, WireEnvelope<'_>)> {
    // Validating UTF-8 once here spares serde_json validating each string.
    let wire: WireEnvelope<'_> = serde_json::from_str(std::str::from_utf8(json).ok()?).ok()?;
    if wire.signatures.is_empty() || wire.signatures.len() > SIGNATURES_MAX {
        return None;
    }
    // STANDARD refuses the URL-safe alphabet, missing or extra padding and non-zero padding
    // bits: the text of a payload it decodes is the one canonical encoding of those bytes.
    let payload = STANDARD.decode(wire.payload.as_bytes()).ok()?;
    let signatures = wire
        .signatures
        .iter()
        .map(WireSignature::decode)
        .collect::<Option<Vec<_>>>()?;
    if !signatures.windows(2).all(|w| w[0].keyid < w[1].keyid) {
        return None;
    }
    let envelope = Envelope {
        payload_type: wire.payload_type.clone().into_owned(),
        payload,
        signatures,
    };
    Some((envelope, wire))
}

impl WireSignature<'_> {
    fn decode(&self) -> Option<Signature> {
        let keyid: KeyId = self.keyid.parse().ok()?;
        let mut sig = [0u8; SIGNATURE_BYTES + 2];
        let written = STANDARD.decode_slice(self.sig.as_bytes(), &mut sig).ok()?;
        let sig: [u8; SIGNATURE_BYTES] = sig.get(..written)?.try_into().ok()?;
        Some(Signature::new(keyid, sig))
    }
}

impl WireEnvelope<'_> {
    /// The canonical bytes of the envelope decoded from this text. Its base64 and hex texts
    /// were checked canonical when decoded, and hold no character JSON escapes, so they are
    /// copied as they are.
    pub(super) fn canonical_bytes(&self) -> Vec<u8> {
        let signatures_len: usize = self
            .signatures
            .iter()
            .map(|s| s.keyid.len() + s.sig.len() + 22)
            .sum();
        let mut out =
            Vec::with_capacity(self.payload.len() + self.payload_type.len() + signatures_len + 48);
        out.extend_from_slice(b"{\"payload\":\"");
        out.extend_from_slice(self.payload.as_bytes());
        out.extend_from_slice(b"\",\"payloadType\":");
        jcs::write_string(&mut out, &self.payload_type);
        out.extend_from_slice(b",\"signatures\":[");
        for (i, signature) in self.signatures.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"{\"keyid\":\"");
            out.extend_from_slice(signature.keyid.as_bytes());
            out.extend_from_slice(b"\",\"sig\":\"");
            out.extend_from_slice(signature.sig.as_bytes());
            out.extend_from_slice(b"\"}");
        }
        out.extend_from_slice(b"]}");
        out
    }
}

/// A JSON string, borrowed from the input unless it holds escapes.
struct JsonStr<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for JsonStr<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct StrVisitor;

        impl<'de> Visitor<'de> for StrVisitor {
            type Value = JsonStr<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }

            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<JsonStr<'de>, E> {
                Ok(JsonStr(Cow::Borrowed(v)))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<JsonStr<'de>, E> {
                Ok(JsonStr(Cow::Owned(v.to_owned())))
            }
        }

        d.deserialize_str(StrVisitor)
    }
}

fn set_once<T, E: de::Error>(slot: &mut Option<T>, value: T, name: &'static str) -> Result<(), E> {
    if slot.is_some() {
        return Err(E::duplicate_field(name));
    }
    *slot = Some(value);
    Ok(())
}

fn required<T, E: de::Error>(slot: Option<T>, name: &'static str) -> Result<T, E> {
    slot.ok_or_else(|| E::missing_field(name))
}

#[derive(Deserialize)]
#[serde(field_identifier)]
enum EnvelopeMember {
    #[serde(rename = "payload")]
    Payload,
    #[serde(rename = "payloadType")]
    PayloadType,
    #[serde(rename = "signatures")]
    Signatures,
}

#[derive(Deserialize)]
#[serde(field_identifier)]
enum SignatureMember {
    #[serde(rename = "keyid")]
    Keyid,
    #[serde(rename = "sig")]
    Sig,
}

// Both are read as JSON objects only (`deserialize_map`): serde's derived structs would also
// take an array of the member values.
impl<'de> Deserialize<'de> for WireEnvelope<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EnvelopeVisitor;

        impl<'de> Visitor<'de> for EnvelopeVisitor {
            type Value = WireEnvelope<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a DSSE envelope object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let (mut payload, mut payload_type, mut signatures) = (None, None, None);
                while let Some(member) = map.next_key()? {
                    match member {
                        EnvelopeMember::Payload => {
                            set_once(&mut payload, map.next_value::<JsonStr>()?.0, "payload")?;
                        }
                        EnvelopeMember::PayloadType => {
                            let value = map.next_value::<JsonStr>()?.0;
                            set_once(&mut payload_type, value, "payloadType")?;
                        }
                        EnvelopeMember::Signatures => {
                            set_once(&mut signatures, map.next_value()?, "signatures")?;
                        }
                    }
                }
                Ok(WireEnvelope {
                    payload: required(payload, "payload")?,
                    payload_type: required(payload_type, "payloadType")?,
                    signatures: required(signatures, "signatures")?,
                })
            }
        }

        d.deserialize_map(EnvelopeVisitor)
    }
}

impl<'de> Deserialize<'de> for WireSignature<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct SignatureVisitor;

        impl<'de> Visitor<'de> for SignatureVisitor {
            type Value = WireSignature<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a DSSE signature object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let (mut keyid, mut sig) = (None, None);
                while let Some(member) = map.next_key()? {
                    match member {
                        SignatureMember::Keyid => {
                            set_once(&mut keyid, map.next_value::<JsonStr>()?.0, "keyid")?;
                        }
                        SignatureMember::Sig => {
                            set_once(&mut sig, map.next_value::<JsonStr>()?.0, "sig")?;
                        }
                    }
                }
                Ok(WireSignature {
                    keyid: required(keyid, "keyid")?,
                    sig: required(sig, "sig")?,
                })
            }
        }

        d.deserialize_map(SignatureVisitor)
    }
}
