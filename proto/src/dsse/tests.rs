//! The fast path of envelope decoding against the reference decoder: valid envelopes in any
//! spelling (whitespace, member order, JSON escapes) take the fast path, decode alike and give
//! the same canonical bytes as `to_jcs`; on changes and byte edits of them, decoding gives
//! exactly the reference's result, error kind and path included.

use proptest::prelude::*;
use serde_json::{json, Value};

use super::*;

fn envelope() -> impl Strategy<Value = Envelope> {
    let payload_type = prop_oneof![
        3 => Just(PAYLOAD_TYPE.to_owned()),
        1 => "[ -~é\n]{0,12}",
    ];
    let signature =
        (any::<[u8; 32]>(), prop::collection::vec(any::<u8>(), 64)).prop_map(|(keyid, sig)| {
            let mut bytes = [0u8; SIGNATURE_BYTES];
            bytes.copy_from_slice(&sig);
            Signature::new(KeyId::from_bytes(keyid), bytes)
        });
    (
        payload_type,
        prop::collection::vec(any::<u8>(), 0..48),
        prop::collection::vec(signature, 1..4),
    )
        .prop_filter_map("distinct key ids", |(payload_type, payload, signatures)| {
            Envelope::new(payload_type, payload, signatures).ok()
        })
}

/// The envelope as JSON text: canonical, or with whitespace, members in reverse order and
/// JSON escapes for characters that need none.
fn spelled(envelope: &Envelope, plain: bool) -> Vec<u8> {
    if plain {
        return envelope.to_jcs();
    }
    let escaped = |text: String| {
        let json = serde_json::to_string(&text).unwrap_or_default();
        json.replace('/', "\\/").replace('+', "\\u002B")
    };
    let signatures: Vec<String> = envelope
        .signatures()
        .iter()
        .map(|s| {
            format!(
                "{{ \"sig\" : {}, \"keyid\":{} }}",
                escaped(STANDARD.encode(s.sig())),
                escaped(s.keyid().to_hex())
            )
        })
        .collect();
    format!(
        "\n{{\"signatures\": [{}],\n \"payloadType\": {},\t\"payload\": {} }} ",
        signatures.join(" ,\n"),
        escaped(envelope.payload_type().to_owned()),
        escaped(STANDARD.encode(envelope.payload()))
    )
    .into_bytes()
}

fn assert_agree(json: &[u8]) -> Result<(), TestCaseError> {
    let reference = Envelope::decode_reference(json);
    match (&reference, wire::decode(json)) {
        (Ok(valid), Some((fast, text))) => {
            prop_assert_eq!(valid, &fast);
            prop_assert_eq!(text.canonical_bytes(), valid.to_jcs());
        }
        (Ok(_), None) => prop_assert!(false, "the fast path refused a valid envelope"),
        (Err(e), Some(_)) => prop_assert!(false, "the fast path accepted what fails: {}", e),
        (Err(_), None) => {}
    }
    prop_assert_eq!(Envelope::decode_any_type(json), reference.clone());
    let ledger = reference.and_then(Envelope::of_ledger_type);
    prop_assert_eq!(Envelope::decode(json), ledger.clone());
    let with_jcs = ledger.map(|e| {
        let jcs = e.to_jcs();
        (e, jcs)
    });
    prop_assert_eq!(Envelope::decode_with_jcs(json), with_jcs);
    Ok(())
}

/// One change at the JSON value level.
#[derive(Debug, Clone)]
enum Change {
    Remove,
    Null,
    Number,
    /// A copy of another node.
    CopyFrom(prop::sample::Index),
    /// Adds a member named after one of the profile's, or not.
    Add(prop::sample::Index),
    ObjectToArray,
    /// Doubles an array's last item.
    Repeat,
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        Just(Change::Remove),
        Just(Change::Null),
        Just(Change::Number),
        any::<prop::sample::Index>().prop_map(Change::CopyFrom),
        any::<prop::sample::Index>().prop_map(Change::Add),
        Just(Change::ObjectToArray),
        Just(Change::Repeat),
    ]
}

/// Every node of `value` with its path (member names and indices from the root).
fn nodes(value: &Value, at: Vec<String>, out: &mut Vec<Vec<String>>) {
    match value {
        Value::Object(members) => {
            for (name, member) in members {
                let mut path = at.clone();
                path.push(name.clone());
                nodes(member, path, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let mut path = at.clone();
                path.push(i.to_string());
                nodes(item, path, out);
            }
        }
        _ => {}
    }
    out.push(at);
}

fn node_mut<'a>(root: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    path.iter().try_fold(root, |node, step| match node {
        Value::Object(members) => members.get_mut(step),
        Value::Array(items) => step.parse::<usize>().ok().and_then(|i| items.get_mut(i)),
        _ => None,
    })
}

fn apply(root: &mut Value, target: &[String], change: &Change, all: &[Vec<String>]) {
    let copy = |root: &mut Value, from: &prop::sample::Index| {
        node_mut(root, &all[from.index(all.len())])
            .map(|v| v.clone())
            .unwrap_or(Value::Null)
    };
    let replacement = match change {
        Change::Null => Value::Null,
        Change::Number => json!(7),
        Change::CopyFrom(from) => copy(root, from),
        Change::Add(name) => {
            let names = [
                "payload",
                "payloadType",
                "signatures",
                "keyid",
                "sig",
                "extra",
            ];
            let name = names[name.index(names.len())];
            if let Some(Value::Object(members)) = node_mut(root, target) {
                members.insert(name.to_owned(), json!("e30="));
            }
            return;
        }
        Change::ObjectToArray => match node_mut(root, target) {
            Some(Value::Object(members)) => Value::Array(members.values().cloned().collect()),
            _ => return,
        },
        Change::Repeat => match node_mut(root, target) {
            Some(Value::Array(items)) => {
                let mut items = items.clone();
                if let Some(last) = items.last().cloned() {
                    items.push(last);
                }
                Value::Array(items)
            }
            _ => return,
        },
        Change::Remove => {
            if let Some((last, parent)) = target.split_last() {
                match node_mut(root, parent) {
                    Some(Value::Object(members)) => {
                        members.remove(last);
                    }
                    Some(Value::Array(items)) => {
                        if let Some(i) = last.parse::<usize>().ok().filter(|i| *i < items.len()) {
                            items.remove(i);
                        }
                    }
                    _ => {}
                }
            }
            return;
        }
    };
    if let Some(node) = node_mut(root, target) {
        *node = replacement;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn valid_envelopes_in_any_spelling_take_the_fast_path(
        envelope in envelope(),
        plain in any::<bool>(),
    ) {
        let json = spelled(&envelope, plain);
        let (fast, text) = wire::decode(&json).ok_or_else(|| TestCaseError::fail("refused"))?;
        prop_assert_eq!(&fast, &envelope);
        prop_assert_eq!(text.canonical_bytes(), envelope.to_jcs());
        assert_agree(&json)?;
    }

    #[test]
    fn decode_agrees_with_the_reference_on_value_changes(
        envelope in envelope(),
        changes in prop::collection::vec((any::<prop::sample::Index>(), change()), 1..3),
    ) {
        let mut value: Value = serde_json::from_slice(&envelope.to_jcs())
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        for (target, change) in &changes {
            let mut all = Vec::new();
            nodes(&value, Vec::new(), &mut all);
            let target = all[target.index(all.len())].clone();
            apply(&mut value, &target, change, &all);
        }
        assert_agree(&serde_json::to_vec(&value).map_err(|e| TestCaseError::fail(e.to_string()))?)?;
    }

    #[test]
    fn decode_agrees_with_the_reference_on_byte_edits(
        envelope in envelope(),
        plain in any::<bool>(),
        edits in prop::collection::vec(
            (any::<prop::sample::Index>(), prop::sample::select(b" \"\\,:{}[]0aA=+/-_u".to_vec())),
            1..3,
        ),
        insert in any::<bool>(),
    ) {
        let mut json = spelled(&envelope, plain);
        for (at, byte) in edits {
            let i = at.index(json.len());
            if insert {
                json.insert(i, byte);
            } else {
                json[i] = byte;
            }
        }
        assert_agree(&json)?;
    }
}

/// Envelopes serde's derived structs would take, refused as the profile says; the expected
/// codes and paths are the reference decoder's (SPEC.md 3.1).
#[test]
fn objects_written_as_arrays_and_repeated_members_are_refused() {
    let keyid = "11".repeat(32);
    let sig = STANDARD.encode([1u8; 64]);
    let cases = [
        (
            format!("[\"e30=\",\"{PAYLOAD_TYPE}\",[{{\"keyid\":\"{keyid}\",\"sig\":\"{sig}\"}}]]"),
            DecodeErrorKind::Malformed,
            "",
        ),
        (
            format!("{{\"payload\":\"e30=\",\"payloadType\":\"{PAYLOAD_TYPE}\",\"signatures\":[[\"{keyid}\",\"{sig}\"]]}}"),
            DecodeErrorKind::Malformed,
            "/signatures/0",
        ),
        (
            format!("{{\"payload\":\"e30=\",\"payloadType\":\"{PAYLOAD_TYPE}\",\"signatures\":[{{\"keyid\":\"{keyid}\",\"sig\":\"{sig}\"}},{{\"keyid\":\"{keyid}\",\"sig\":\"{sig}\"}}]}}"),
            DecodeErrorKind::Envelope,
            "/signatures",
        ),
        (
            format!("{{\"payload\":\"e30=\",\"payloadType\":\"{PAYLOAD_TYPE}\",\"signatures\":[{{\"keyid\":\"{keyid}\",\"sig\":\"{sig}\",\"keyid\":\"{keyid}\"}}]}}"),
            DecodeErrorKind::DuplicateKey,
            "/signatures/0/keyid",
        ),
    ];
    for (json, kind, path) in cases {
        assert!(wire::decode(json.as_bytes()).is_none(), "{json}");
        let err = Envelope::decode(json.as_bytes()).expect_err(&json);
        assert_eq!((err.kind(), err.path()), (kind, path), "{json}: {err}");
    }
}
