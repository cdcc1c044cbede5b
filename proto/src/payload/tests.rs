//! The fast path of `Payload::decode` against the reference decoder: on arbitrary valid
//! payloads both accept and agree, and on mutations of them (canonical ones made at the JSON
//! value level, and raw byte edits) `Payload::decode` gives exactly the reference's result,
//! error kind and path included. The reference checks canonical form with `jcs::encode`, an
//! encoder independent of the writer the fast path compares with.

use proptest::prelude::*;
use serde_json::{Map, Value};

use super::*;
use crate::ids::INT_MAX;

fn parsed<T: std::str::FromStr>(text: String) -> Option<T> {
    text.parse().ok()
}

fn id32() -> impl Strategy<Value = [u8; 32]> {
    any::<[u8; 32]>()
}

fn slug<T: std::str::FromStr + std::fmt::Debug>() -> impl Strategy<Value = T> {
    "[a-z0-9][a-z0-9-]{0,12}".prop_filter_map("slug", parsed)
}

/// Text with characters JSON escapes (`"`, `\`, newline, tab), `/`, non-ASCII and characters
/// whose UTF-16 and UTF-8 orders differ.
fn text<const N: usize>() -> impl Strategy<Value = Text<N>> {
    "[ -~\n\té€ﬁ😀]{1,24}".prop_filter_map("text", parsed)
}

fn int() -> impl Strategy<Value = Int> {
    prop_oneof![0..1_000u64, Just(INT_MAX), 0..=INT_MAX].prop_filter_map("int", Int::new)
}

fn date() -> impl Strategy<Value = Date> {
    (1970..2100u32, 1..=12u32, 1..=28u32)
        .prop_filter_map("date", |(y, m, d)| parsed(format!("{y:04}-{m:02}-{d:02}")))
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    (date(), 0..24u32, 0..60u32, 0..60u32, "(\\.[0-9]{1,9})?")
        .prop_filter_map("timestamp", |(date, h, m, s, fraction)| {
            parsed(format!("{date}T{h:02}:{m:02}:{s:02}{fraction}Z"))
        })
}

fn currency() -> impl Strategy<Value = Currency> {
    "[A-Z]{3}".prop_filter_map("currency", parsed)
}

fn party() -> impl Strategy<Value = Party> {
    let role = prop::sample::select(vec![
        Role::Commissioner,
        Role::Provider,
        Role::Investor,
        Role::Intermediary,
        Role::Verifier,
        Role::BeneficiaryRep,
    ]);
    (id32(), role, text()).prop_map(|(key, role, name)| Party {
        key: PublicKey::from_bytes(key),
        role,
        name,
    })
}

fn registered() -> impl Strategy<Value = Body> {
    let outcome =
        (slug(), text(), int(), int()).prop_map(|(id, name, price, cap_units)| OutcomeDef {
            id,
            name,
            price,
            cap_units,
        });
    let lists = (
        prop::collection::vec(party(), 0..4),
        prop::collection::vec(outcome, 0..3),
    );
    (text(), currency(), lists, int(), date(), date()).prop_map(
        |(title, currency, (parties, outcomes), cap, start, end)| {
            Body::ContractRegistered(ContractRegistered {
                title,
                currency,
                parties,
                outcomes,
                cap,
                start,
                end,
            })
        },
    )
}

fn claim_submitted() -> impl Strategy<Value = Body> {
    let evidence =
        (id32(), text(), prop::option::of(text())).prop_map(|(d, media_type, uri)| Evidence {
            sha256: Sha256Digest::from_bytes(d),
            media_type,
            uri,
        });
    let participants = prop::collection::vec(id32().prop_map(Pseudonym::from_bytes), 0..4);
    let lists = (participants, prop::collection::vec(evidence, 0..3));
    (slug(), date(), date(), int(), lists).prop_map(
        |(outcome, from, to, quantity, (participants, evidence))| {
            Body::ClaimSubmitted(ClaimSubmitted {
                outcome,
                period: Period { from, to },
                quantity,
                participants,
                evidence,
            })
        },
    )
}

fn small_bodies() -> impl Strategy<Value = Body> {
    let event = || id32().prop_map(EventId::from_bytes);
    let key = || id32().prop_map(KeyId::from_bytes);
    let decision = prop::sample::select(vec![
        Decision::Upheld,
        Decision::Overturned,
        Decision::Adjusted,
    ]);
    let stance = prop::sample::select(vec![Stance::Affirms, Stance::Contests, Stance::Comment]);
    let price = (slug(), int()).prop_map(|(outcome, price)| PriceChange { outcome, price });
    let line = (event(), int()).prop_map(|(claim, amount)| PaymentLine { claim, amount });
    prop_oneof![
        (prop::collection::vec(price, 0..3), text()).prop_map(|(prices, reason)| {
            Body::ContractAmended(ContractAmended { prices, reason })
        }),
        (key(), id32()).prop_map(|(old, new)| Body::KeyRotated(KeyRotated {
            old,
            new: PublicKey::from_bytes(new)
        })),
        (key(), text(), prop::option::of(id32())).prop_map(|(key, reason, successor)| {
            Body::KeyRevoked(KeyRevoked {
                key,
                reason,
                successor: successor.map(PublicKey::from_bytes),
            })
        }),
        (key(), id32(), text()).prop_map(|(party, new, reason)| {
            Body::KeyEnrolled(KeyEnrolled {
                party,
                new: PublicKey::from_bytes(new),
                reason,
            })
        }),
        (event(), int()).prop_map(|(claim, quantity)| {
            Body::ClaimVerified(ClaimVerified { claim, quantity })
        }),
        (event(), text())
            .prop_map(|(claim, reason)| { Body::ClaimRejected(ClaimRejected { claim, reason }) }),
        (event(), text())
            .prop_map(|(claim, reason)| { Body::ClaimDisputed(ClaimDisputed { claim, reason }) }),
        (event(), decision, prop::option::of(int())).prop_map(|(dispute, decision, quantity)| {
            Body::DisputeResolved(DisputeResolved {
                dispute,
                decision,
                quantity,
            })
        }),
        (
            prop::option::of(event()),
            prop::option::of(slug()),
            stance,
            text()
        )
            .prop_map(|(claim, outcome, stance, text)| {
                Body::FeedbackRecorded(FeedbackRecorded {
                    claim,
                    outcome,
                    stance,
                    text,
                })
            }),
        (prop::collection::vec(line, 0..4), int(), currency(), text()).prop_map(
            |(lines, total, currency, reference)| Body::PaymentMade(PaymentMade {
                lines,
                total,
                currency,
                reference,
            })
        ),
        (key(), int(), currency(), text()).prop_map(|(investor, amount, currency, reference)| {
            Body::DistributionMade(DistributionMade {
                investor,
                amount,
                currency,
                reference,
            })
        }),
        text().prop_map(|reason| Body::ContractClosed(ContractClosed { reason })),
    ]
}

fn payload() -> impl Strategy<Value = Payload> {
    let body = prop_oneof![registered(), claim_submitted(), small_bodies()];
    let prev = prop::option::of(id32().prop_map(EventId::from_bytes));
    (slug(), int(), prev, id32(), timestamp(), body).prop_map(
        |(contract, seq, prev, author, at, body)| Payload {
            contract,
            seq,
            prev,
            author: KeyId::from_bytes(author),
            at,
            body,
        },
    )
}

/// Every node of `value` as a JSON pointer, the root included.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(members) => {
            for (name, member) in members {
                pointers(member, format!("{at}/{}", jcs::escape_pointer(name)), out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                pointers(item, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
    out.push(at);
}

/// Member names of every kind's body and the header, for members put where they do not belong.
const NAMES: [&str; 30] = [
    "amount",
    "cap",
    "claim",
    "currency",
    "decision",
    "dispute",
    "end",
    "evidence",
    "investor",
    "key",
    "lines",
    "new",
    "old",
    "outcome",
    "outcomes",
    "participants",
    "parties",
    "period",
    "prices",
    "quantity",
    "reason",
    "reference",
    "stance",
    "start",
    "text",
    "title",
    "total",
    "uri",
    "prev",
    "v",
];

/// One change at the JSON value level; the result is still encoded canonically.
#[derive(Debug, Clone)]
enum Change {
    Remove,
    Null,
    /// Replaces the node by another node of the payload.
    CopyFrom(prop::sample::Index),
    /// Adds member `NAMES[name]` (to an object) holding a copy of another node.
    Add(prop::sample::Index, prop::sample::Index),
    /// An object becomes the array of its member values.
    ObjectToArray,
    Number(u64),
    Float,
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        Just(Change::Remove),
        Just(Change::Null),
        any::<prop::sample::Index>().prop_map(Change::CopyFrom),
        (any::<prop::sample::Index>(), any::<prop::sample::Index>())
            .prop_map(|(n, v)| Change::Add(n, v)),
        Just(Change::ObjectToArray),
        prop_oneof![
            Just(0),
            Just(1),
            Just(INT_MAX),
            Just(INT_MAX + 1),
            any::<u64>()
        ]
        .prop_map(Change::Number),
        Just(Change::Float),
    ]
}

fn apply(root: &mut Value, target: &str, change: &Change, nodes: &[String]) {
    let copy = |index: &prop::sample::Index| {
        let pointer = &nodes[index.index(nodes.len())];
        root.pointer(pointer).cloned().unwrap_or(Value::Null)
    };
    let replacement = match change {
        Change::Remove => None,
        Change::Null => Some(Value::Null),
        Change::CopyFrom(from) => Some(copy(from)),
        Change::Number(n) => Some(Value::from(*n)),
        Change::Float => Some(Value::from(1.5)),
        Change::Add(name, from) => {
            let value = copy(from);
            if let Some(Value::Object(members)) = root.pointer_mut(target) {
                members.insert(NAMES[name.index(NAMES.len())].to_owned(), value);
            }
            return;
        }
        Change::ObjectToArray => match root.pointer(target) {
            Some(Value::Object(members)) => Some(Value::Array(members.values().cloned().collect())),
            _ => return,
        },
    };
    let Some((parent, last)) = target.rsplit_once('/') else {
        *root = replacement.unwrap_or(Value::Null);
        return;
    };
    match (root.pointer_mut(parent), replacement) {
        (Some(Value::Object(members)), Some(value)) => {
            members.insert(last.replace("~1", "/").replace("~0", "~"), value);
        }
        (Some(Value::Object(members)), None) => {
            members.remove(&last.replace("~1", "/").replace("~0", "~"));
        }
        (Some(Value::Array(items)), replacement) => {
            if let Ok(i) = last.parse::<usize>() {
                match replacement {
                    Some(value) if i < items.len() => items[i] = value,
                    None if i < items.len() => {
                        items.remove(i);
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
}

fn assert_agree(bytes: &[u8]) -> Result<(), TestCaseError> {
    let reference = Payload::decode_reference(bytes);
    match (&reference, wire::decode_canonical(bytes)) {
        (Ok(valid), Some(fast)) => prop_assert_eq!(valid, &fast),
        (Ok(_), None) => prop_assert!(false, "the fast path refused a valid payload"),
        (Err(e), Some(_)) => prop_assert!(false, "the fast path accepted what fails: {}", e),
        (Err(_), None) => {}
    }
    prop_assert_eq!(Payload::decode(bytes), reference);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn valid_payloads_take_the_fast_path_and_round_trip(payload in payload()) {
        let bytes = payload.encode();
        prop_assert_eq!(Payload::decode_reference(&bytes), Ok(payload.clone()));
        prop_assert_eq!(wire::decode_canonical(&bytes), Some(payload));
    }

    #[test]
    fn decode_agrees_with_the_reference_on_value_changes(
        payload in payload(),
        changes in prop::collection::vec((any::<prop::sample::Index>(), change()), 1..3),
    ) {
        let mut value: Value = serde_json::from_slice(&payload.encode())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        for (target, change) in &changes {
            let mut nodes = Vec::new();
            pointers(&value, String::new(), &mut nodes);
            let target = nodes[target.index(nodes.len())].clone();
            apply(&mut value, &target, change, &nodes);
        }
        assert_agree(&jcs::encode(&value))?;
    }

    #[test]
    fn decode_agrees_with_the_reference_on_byte_edits(
        payload in payload(),
        edits in prop::collection::vec(
            (any::<prop::sample::Index>(), prop::sample::select(b" \n\"\\,:{}[]0a-eE.u".to_vec())),
            1..3,
        ),
        insert in any::<bool>(),
    ) {
        let mut bytes = payload.encode();
        for (at, byte) in edits {
            let i = at.index(bytes.len());
            if insert {
                bytes.insert(i, byte);
            } else {
                bytes[i] = byte;
            }
        }
        assert_agree(&bytes)?;
    }
}

/// Payloads the fast path's lenient typed read takes, each refused because it re-encodes to
/// other bytes; the expected codes and paths are the reference decoder's, per SPEC.md 1.2.
#[test]
fn what_the_lenient_read_takes_is_still_refused() {
    let id = "11".repeat(32);
    let header = |body: &str| {
        format!(
            "{{\"at\":\"2025-03-01T09:30:00Z\",\"author\":\"{id}\",\"body\":{body},\
             \"contract\":\"c-1\",\"kind\":\"claim.verified\",\"prev\":null,\"seq\":0,\"v\":1}}"
        )
    };
    let valid = header(&format!("{{\"claim\":\"{id}\",\"quantity\":2}}"));
    assert!(Payload::decode(valid.as_bytes()).is_ok(), "{valid}");
    let cases = [
        // A member of another kind's body.
        (
            header(&format!(
                "{{\"claim\":\"{id}\",\"quantity\":2,\"title\":\"t\"}}"
            )),
            DecodeErrorKind::UnknownField,
            "/body",
        ),
        // A struct written as the array of its member values.
        (
            header(&format!("[\"{id}\",2]")),
            DecodeErrorKind::Malformed,
            "",
        ),
        // A unit enum variant written as an object.
        (
            valid
                .replace("\"prev\":null", &format!("\"prev\":\"{id}\""))
                .replace("\"seq\":0", "\"seq\":1")
                .replace(
                    &format!("{{\"claim\":\"{id}\",\"quantity\":2}}"),
                    &format!("{{\"decision\":{{\"upheld\":null}},\"dispute\":\"{id}\"}}"),
                )
                .replace("claim.verified", "dispute.resolved"),
            DecodeErrorKind::Malformed,
            "",
        ),
        (
            valid.replace(",\"prev\":null", ""),
            DecodeErrorKind::Malformed,
            "",
        ),
        (
            valid.replace("\"quantity\":2", "\"quantity\":2,\"quantity\":2"),
            DecodeErrorKind::DuplicateKey,
            "/body/quantity",
        ),
        (
            valid.replace("claim.verified", "claim\\u002everified"),
            DecodeErrorKind::NonCanonical,
            "",
        ),
        (format!(" {valid}"), DecodeErrorKind::NonCanonical, ""),
    ];
    for (bytes, kind, path) in cases {
        let err = Payload::decode(bytes.as_bytes()).expect_err(&bytes);
        assert_eq!((err.kind(), err.path()), (kind, path), "{bytes}: {err}");
        assert_eq!(wire::decode_canonical(bytes.as_bytes()), None, "{bytes}");
    }
    let mut object = Map::new();
    object.insert("dispute".to_owned(), Value::String(id.clone()));
    object.insert("decision".to_owned(), Value::String("upheld".to_owned()));
    object.insert("quantity".to_owned(), Value::Null);
    let null_optional = header(&String::from_utf8_lossy(&jcs::encode(&Value::Object(
        object,
    ))))
    .replace("claim.verified", "dispute.resolved");
    let err = Payload::decode(null_optional.as_bytes()).expect_err("null for an optional");
    assert_eq!(err.kind(), DecodeErrorKind::Malformed, "{err}");
}
